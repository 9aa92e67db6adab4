"""A provider admin onboards a firm from the console, not only with `manage.py create_firm`."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from tenants.models import Domain, Firm
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CEDAR = {"name": "Cedar Capital", "slug": "cedar", "admin_email": "Admin@Cedar.example", "domain": ""}


def _provider_client(role):
    with schema_context("public"):
        user = user_ensure(username=f"{role}@provider.test", email=f"{role}@provider.test", roles=[role],
                           password=PASSWORD)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def test_a_provider_admin_onboards_a_firm_from_the_console_and_its_admin_gets_a_link():
    client = _provider_client(ProviderRole.PROVIDER_ADMIN)
    console = client.get("/").content.decode()
    assert 'href="/firms/new/"' in console  # reached by following a link

    response = client.post("/firms/new/", CEDAR, follow=True)

    assert response.status_code == 200
    assert "Cedar Capital is onboarded at cedar.localhost" in response.content.decode()
    assert schema_exists("firm_cedar")
    with schema_context("firm_cedar"):
        admin = get_user_model().objects.get(username="admin@cedar.example")
        assert list(admin.groups.values_list("name", flat=True)) == [FirmRole.FIRM_ADMIN.value]
    (sent,) = mail.outbox
    assert sent.to == ["admin@cedar.example"]
    link = next(line for line in sent.body.splitlines() if "/accounts/set-password/" in line)
    assert "://cedar.localhost/" in link
    # The link works on the firm's host: the admin chooses a password there.
    path = link.split("cedar.localhost", 1)[1]
    page = Client(HTTP_HOST="cedar.localhost").get(path, follow=True, secure=link.startswith("https"))
    assert page.status_code == 200 and b'name="new_password1"' in page.content


@pytest.mark.parametrize(("changes", "message", "field"), [
    ({"slug": "Bad Slug"}, "Invalid slug &#x27;Bad Slug&#x27;", "slug"),
    ({"slug": "public"}, "reserved", "slug"),
    ({"admin_email": "not-an-email"}, "not a valid e-mail", "admin_email"),
    ({"name": "  "}, "needs a name", "name"),
    ({"domain": "bad host!"}, "not a valid host name", "domain"),
    # a host the deployment does not answer on: the firm and its admin's link would be dead
    ({"domain": "t1.evil.com"}, "This deployment does not serve &#x27;t1.evil.com&#x27;", "domain"),
    ({"admin_first_name": "A" * 151}, "first name has at most 150 characters; this one has 151", "admin_first_name"),
    ({"admin_last_name": "L" * 200}, "last name has at most 150 characters; this one has 200", "admin_last_name"),
    # names that cannot be seen as they are (people.name_checked's rule, config.input_limits)
    ({"admin_first_name": "A\u202eda"}, "first name contains right-to-left override (U+202E) at position 2",
     "admin_first_name"),
    ({"admin_last_name": "Love\u0007lace"}, "last name contains a control character (U+0007) at position 5",
     "admin_last_name"),
])
def test_a_refused_onboarding_names_the_problem_keeps_the_input_and_writes_nothing(changes, message, field):
    client = _provider_client(ProviderRole.PROVIDER_ADMIN)
    before = (Firm.objects.count(), Domain.objects.count())
    posted = {**CEDAR, **changes}

    response = client.post("/firms/new/", posted)

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert page.count('aria-invalid="true"') == 1 and re.search(rf'name="{field}"[^>]*aria-invalid="true"', page)
    for value in posted.values():
        if value.strip():
            assert f'value="{value.strip()}"' in page
    assert (Firm.objects.count(), Domain.objects.count()) == before
    assert not mail.outbox


def test_a_slug_of_another_firm_is_refused_naming_it(firm_a):
    client = _provider_client(ProviderRole.PROVIDER_ADMIN)

    response = client.post("/firms/new/", {**CEDAR, "slug": firm_a.slug})

    assert response.status_code == 400
    assert f"A firm with slug &#x27;{firm_a.slug}&#x27; already exists" in response.content.decode()


def test_an_operator_neither_sees_the_link_nor_onboards():
    client = _provider_client(ProviderRole.PROVIDER_OPERATOR)

    assert "/firms/new/" not in client.get("/").content.decode()
    assert client.get("/firms/new/").status_code == 403
    assert client.post("/firms/new/", CEDAR).status_code == 403
    assert not Firm.objects.filter(slug="cedar").exists()


def test_the_first_admins_name_is_asked_for_at_onboarding_and_greets_them():
    client = _provider_client(ProviderRole.PROVIDER_ADMIN)
    form = client.get("/firms/new/").content.decode()
    assert 'name="admin_first_name"' in form and 'name="admin_last_name"' in form

    client.post("/firms/new/", {**CEDAR, "admin_first_name": " Ada ", "admin_last_name": "Lovelace"})

    with schema_context("firm_cedar"):
        admin = get_user_model().objects.get(username="admin@cedar.example")
        assert (admin.first_name, admin.last_name) == ("Ada", "Lovelace")
    (sent,) = mail.outbox
    assert sent.body.startswith("Dear Ada Lovelace,\n\nYou are the first firm admin of Cedar Capital")


def test_the_onboarding_form_says_it_takes_a_while_and_is_not_sent_twice():
    from pathlib import Path

    form = _provider_client(ProviderRole.PROVIDER_ADMIN).get("/firms/new/").content.decode()
    assert 'data-busy="Onboarding: creating and migrating the firm\'s schema takes about twenty seconds' in form
    assert "data-busy-note hidden" in form and "it takes about twenty seconds" in form
    script = (Path(__file__).resolve().parents[2] / "frontend" / "static" / "frontend" / "app.js").read_text()
    assert "form.dataset.busy" in script and "button.disabled = true" in script


def test_another_firm_of_an_existing_firms_name_is_refused_naming_it_and_the_run_menu_tells_firms_apart(
        firm_a, firm_b):
    client = _provider_client(ProviderRole.PROVIDER_ADMIN)
    before = (Firm.objects.count(), Domain.objects.count())

    response = client.post("/firms/new/", {**CEDAR, "name": f"  {firm_a.name.upper()} "})

    page = response.content.decode()
    assert response.status_code == 400
    assert (f"A firm named &#x27;{firm_a.name}&#x27; is already onboarded (slug &#x27;{firm_a.slug}&#x27;); "
            "give this firm another name.") in page
    assert re.search(r'name="name"[^>]*aria-invalid="true"', page)
    assert (Firm.objects.count(), Domain.objects.count()) == before and not mail.outbox
    # the run menu names each firm with its host, so two firms never read alike there
    menu = _provider_client(ProviderRole.PROVIDER_OPERATOR).get("/runs/").content.decode()
    assert f'<option value="{firm_a.slug}">{firm_a.name} ({firm_a.primary_domain})</option>' in menu
    assert f'<option value="{firm_b.slug}">{firm_b.name} ({firm_b.primary_domain})</option>' in menu

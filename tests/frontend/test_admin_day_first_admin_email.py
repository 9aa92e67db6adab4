"""A first admin's address mistyped at onboarding is corrected on the provider's firm page, while
they have not chosen a password: the invitation then goes to the right address, the change is
audited, and it is refused, saying why, once they have chosen one."""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.models import Firm
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

DOGWOOD = {"name": "Dogwood Wealth", "slug": "dogwood", "admin_email": "dan@dogwod.example", "domain": ""}


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


@pytest.fixture
def provider_admin():
    with schema_context("public"):
        user = user_ensure(username="padmin@provider.test", email="padmin@provider.test",
                           roles=[ProviderRole.PROVIDER_ADMIN], password=PASSWORD)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    client.post("/firms/new/", DOGWOOD)
    mail.outbox.clear()
    return client


def test_a_mistyped_first_admin_address_is_corrected_and_the_invitation_goes_there(provider_admin):
    page = provider_admin.get("/firms/dogwood/")
    assert 'name="email"' in page.content.decode()  # offered on the firm's page

    done = provider_admin.post("/firms/dogwood/invite/", {"email": " Dan@Dogwood.example "}, follow=True)

    assert "Dogwood Wealth's first admin is now dan@dogwood.example, and has been e-mailed a link" in text(done)
    (sent,) = mail.outbox
    assert sent.to == ["dan@dogwood.example"]
    assert Firm.objects.get(slug="dogwood").admin_email == "dan@dogwood.example"
    with schema_context("firm_dogwood"):
        User = get_user_model()
        assert not User.objects.filter(username="dan@dogwod.example").exists()
        admin = User.objects.get(username="dan@dogwood.example")
        assert admin.email == "dan@dogwood.example"
        record = AuditEvent.objects.filter(action="firm.admin_invite", before__isnull=False).get()
        assert (record.before, record.after["admin"]) == ({"admin": "dan@dogwod.example"}, "dan@dogwood.example")
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="firm.admin_invite", before={"admin": "dan@dogwod.example"}).exists()
    # The link works for the corrected address on the firm's host
    link = next(line for line in sent.body.splitlines() if "/accounts/set-password/" in line)
    path = link.split("dogwood.localhost", 1)[1]
    choose = Client(HTTP_HOST="dogwood.localhost").get(path, follow=True, secure=link.startswith("https"))
    assert b'name="new_password1"' in choose.content


def test_an_address_that_is_not_one_is_refused_beside_the_field_and_nothing_changes(provider_admin):
    done = provider_admin.post("/firms/dogwood/invite/", {"email": "dan at dogwood"}, follow=True)

    page = done.content.decode()
    assert "“dan at dogwood” is not an e-mail address." in text(done)
    assert re.search(r'name="email"[^>]*value="dan at dogwood"[^>]*aria-invalid="true"', page)
    assert 'id="a-email-error"' in page
    assert not mail.outbox
    assert Firm.objects.get(slug="dogwood").admin_email == "dan@dogwod.example"


def test_once_the_admin_has_chosen_a_password_the_address_is_not_changed_and_it_says_why(provider_admin):
    with schema_context("firm_dogwood"):
        admin = get_user_model().objects.get(username="dan@dogwod.example")
        admin.set_password(PASSWORD)
        admin.save()

    done = provider_admin.post("/firms/dogwood/invite/", {"email": "dan@dogwood.example"}, follow=True)

    assert "dan@dogwod.example has already chosen a password and signs in with that address" in text(done)
    assert not mail.outbox
    assert Firm.objects.get(slug="dogwood").admin_email == "dan@dogwod.example"
    with schema_context("firm_dogwood"):
        assert get_user_model().objects.filter(username="dan@dogwod.example").exists()

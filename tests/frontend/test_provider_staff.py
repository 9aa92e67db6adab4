"""A provider admin manages the provider's own staff in the browser - invite, roles, deactivate,
reactivate - by the same rules as a firm's people page (tenants.people), not in the admin site."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _staff(username, role):
    with schema_context("public"):
        return user_ensure(username=username, email=username, roles=[role], password=PASSWORD)


def _signed_in(user):
    with schema_context("public"):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _public_user(username):
    with schema_context("public"):
        return get_user_model().objects.filter(username=username).first()


def _sign_in(username, password) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.post("/accounts/login/", {"username": username, "password": password})
    return client


def test_a_provider_admin_invites_an_operator_who_chooses_a_password_and_signs_in(django_capture_on_commit_callbacks):
    admin = _signed_in(_staff("pat@provider.test", ProviderRole.PROVIDER_ADMIN))
    assert 'href="/staff/"' in text(admin.get("/"))

    with django_capture_on_commit_callbacks(execute=True):  # the e-mail leaves once the invitation is saved
        done = text(admin.post("/staff/", {"action": "invite", "email": " Olga@Provider.test ", "first_name": "Olga",
                                           "last_name": "Ops", "role": [ProviderRole.PROVIDER_OPERATOR.value]},
                               follow=True))

    assert "Invited olga@provider.test" in done and "Olga Ops" in done
    olga = _public_user("olga@provider.test")
    assert list(olga.groups.values_list("name", flat=True)) == ["provider_operator"]
    assert not olga.is_staff and not olga.has_usable_password()
    (sent,) = mail.outbox
    link = next(line for line in sent.body.splitlines() if "/accounts/set-password/" in line)
    assert "://localhost" in link and "Provider operator" in sent.body
    path = link.split("localhost", 1)[1].split("/", 1)[1]
    visitor = Client(HTTP_HOST="localhost")
    form = visitor.get("/" + path, follow=True)
    assert form.status_code == 200 and b'name="new_password1"' in form.content
    visitor.post(form.redirect_chain[-1][0], {"new_password1": "a-Long-passphrase-42", "new_password2":
                                              "a-Long-passphrase-42"}, follow=True)
    signed = _sign_in("olga@provider.test", "a-Long-passphrase-42")
    console = text(signed.get("/"))
    assert "Signed in as Provider operator" in console and 'href="/staff/"' not in console
    assert signed.get("/staff/").status_code == 403
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="user.invite", actor="pat@provider.test").count() == 1


def test_roles_and_deactivation_keep_the_provider_with_an_admin_and_name_what_was_refused():
    pat = _staff("pat@provider.test", ProviderRole.PROVIDER_ADMIN)
    oli = _staff("oli@provider.test", ProviderRole.PROVIDER_OPERATOR)
    admin = _signed_in(pat)

    alone = admin.post("/staff/", {"action": "roles", "user": pat.pk, "role": ["provider_operator"]})
    assert alone.status_code == 400
    assert "pat@provider.test is the provider&#x27;s last active admin and cannot be removed as admin" in text(alone)
    unknown = admin.post("/staff/", {"action": "roles", "user": oli.pk, "role": ["firm_admin"]})
    assert unknown.status_code == 400 and "Unknown role &#x27;firm_admin&#x27;" in text(unknown)
    bad = admin.post("/staff/", {"action": "invite", "email": "not-an-address", "role": ["provider_operator"]})
    assert bad.status_code == 400 and "is not an e-mail address" in text(bad) and 'value="not-an-address"' in text(bad)
    assert _public_user("not-an-address") is None and not mail.outbox

    admin.post("/staff/", {"action": "roles", "user": oli.pk, "role": ["provider_operator", "provider_admin"]})
    oli.refresh_from_db()
    assert set(oli.groups.values_list("name", flat=True)) == {"provider_operator", "provider_admin"} and oli.is_staff
    # with a second admin, the first may step down
    admin.post("/staff/", {"action": "roles", "user": pat.pk, "role": ["provider_operator"]})
    pat.refresh_from_db()
    assert list(pat.groups.values_list("name", flat=True)) == ["provider_operator"] and not pat.is_staff

    second = _signed_in(oli)
    gone = text(second.post("/staff/", {"action": "deactivate", "user": pat.pk}, follow=True))
    assert "pat@provider.test can no longer sign in" in gone
    pat.refresh_from_db()
    assert not pat.is_active
    assert _sign_in("pat@provider.test", PASSWORD).get("/").status_code == 302  # back to signing in
    refused = second.post("/staff/", {"action": "deactivate", "user": oli.pk})
    assert refused.status_code == 400 and "You cannot deactivate yourself" in text(refused)
    second.post("/staff/", {"action": "reactivate", "user": pat.pk})
    pat.refresh_from_db()
    assert pat.is_active
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="user.deactivate", object_id=str(pat.pk)).count() == 1
        assert AuditEvent.objects.filter(action="user.reactivate", object_id=str(pat.pk)).count() == 1


def test_the_staff_page_is_the_provider_admins_and_on_the_provider_host_only(firm_a, client_for, firm_user):
    operator = _signed_in(_staff("oli@provider.test", ProviderRole.PROVIDER_OPERATOR))
    assert operator.get("/staff/").status_code == 403
    assert operator.post("/staff/", {"action": "invite", "email": "x@provider.test",
                                     "role": ["provider_admin"]}).status_code == 403
    assert _public_user("x@provider.test") is None
    from tenants.roles import FirmRole

    firm_admin = client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))
    assert firm_admin.get("/staff/").status_code == 404
    from tenants import people
    from tenants.errors import PermissionDenied

    oli = _public_user("oli@provider.test")
    with schema_context("public"), pytest.raises(PermissionDenied, match="Only a provider admin"):
        people.deactivate(people.PROVIDER_STAFF, user=oli, by=None)  # nobody signed in may not either


def test_django_guardians_anonymous_user_is_nobody_on_either_page(firm_a, client_for, firm_user):
    from guardian.conf import settings as guardian_settings

    from tenants.roles import FirmRole

    anonymous = {}
    for schema in ("public", firm_a.schema_name):
        with schema_context(schema):
            anonymous[schema], _ = get_user_model().objects.get_or_create(username=guardian_settings.ANONYMOUS_USER_NAME)
    admin = _signed_in(_staff("pat@provider.test", ProviderRole.PROVIDER_ADMIN))
    firm_admin = client_for(firm_a, firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN))
    for client, url, schema, person in ((admin, "/staff/", "public", "pat@provider.test"),
                                        (firm_admin, "/people/", firm_a.schema_name, "admin@a.example")):
        page = text(client.get(url))
        assert person in page and guardian_settings.ANONYMOUS_USER_NAME not in page, url
        refused = client.post(url, {"action": "deactivate", "user": anonymous[schema].pk})
        assert refused.status_code == 404, url

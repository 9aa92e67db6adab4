"""Attack 3: 60 wrong passwords then the right one signed in, on firm, provider and admin sign-in alike.
Now a user name is locked after LOGIN_FAILURE_LIMIT failures (django-axes), a firm admin (provider
admin) lifts it in the browser, and sign-ins, failures and lockouts are audited."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD, host_of

pytestmark = pytest.mark.django_db
PROVIDER = "localhost"


def _sign_in(host: str, username: str, password: str, path: str = "/accounts/login/"):
    client = Client(HTTP_HOST=host)
    return client, client.post(path, {"username": username, "password": password}, REMOTE_ADDR="203.0.113.7")


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _hammer(host: str, username: str, times: int = 60, path: str = "/accounts/login/") -> None:
    for _ in range(times):
        _sign_in(host, username, "wrong-password", path)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_sixty_wrong_passwords_then_the_right_one_is_locked_out_at_a_firm(firm_a, firm_user, path):
    user = firm_user(firm_a, "target@firm-a.example", FirmRole.FIRM_ADMIN, is_staff=True)
    host = host_of(firm_a)

    _hammer(host, user.username, path=path)
    client, response = _sign_in(host, user.username, PASSWORD, path)

    assert response.status_code == 429 and not _signed_in(client)
    assert "Too many failed sign-ins" in response.content.decode()
    assert "Your firm admin can lift the lockout" in response.content.decode()
    with tenant_context(firm_a):
        failed = AuditEvent.objects.filter(action="auth.sign_in_failed", object_id=str(user.pk))
        assert failed.count() == 61  # the right password, refused while locked, is a failure too
        # the failure that reaches the limit locks the name; every later one finds it locked
        assert failed.filter(after__locked_out=True).count() == 61 - settings.AXES_FAILURE_LIMIT + 1
        assert AuditEvent.objects.filter(action="auth.locked_out", object_id=str(user.pk)).exists()
        assert failed.first().actor_kind == AuditEvent.ActorKind.ANONYMOUS
        assert failed.first().after["ip"] == "203.0.113.7" and failed.first().after["path"] == path
        assert not AuditEvent.objects.filter(action="auth.sign_in", object_id=str(user.pk)).exists()


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_provider_and_its_admin_site_lock_out_too(db, path):
    staff = user_ensure(username="operator@provider.example", email="operator@provider.example",
                        roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD, is_staff=True)

    _hammer(PROVIDER, staff.username, path=path)
    client, response = _sign_in(PROVIDER, staff.username, PASSWORD, path)

    assert response.status_code == 429 and not _signed_in(client)
    assert "A provider admin can lift the lockout" in response.content.decode()
    with schema_context("public"):
        assert AccessAttempt.objects.filter(username=staff.username).exists()
        assert AuditEvent.objects.filter(action="auth.locked_out", object_id=str(staff.pk)).exists()


def test_the_limit_counts_from_the_setting_and_a_success_starts_again(firm_a, firm_user):
    user = firm_user(firm_a, "careless@firm-a.example")
    host = host_of(firm_a)
    below = settings.AXES_FAILURE_LIMIT - 1

    for _ in range(2):
        _hammer(host, user.username, times=below)
        client, response = _sign_in(host, user.username, PASSWORD)
        assert response.status_code == 302 and _signed_in(client)

    _hammer(host, user.username, times=settings.AXES_FAILURE_LIMIT)
    assert _sign_in(host, user.username, PASSWORD)[1].status_code == 429


def test_a_lockout_at_one_firm_is_not_a_lockout_at_another(firm_a, firm_b, firm_user):
    at_a = firm_user(firm_a, "same.name@example.com")
    firm_user(firm_b, "same.name@example.com")

    _hammer(host_of(firm_a), at_a.username)

    assert _sign_in(host_of(firm_a), at_a.username, PASSWORD)[1].status_code == 429
    client, response = _sign_in(host_of(firm_b), at_a.username, PASSWORD)
    assert response.status_code == 302 and _signed_in(client)
    with schema_context(firm_b.schema_name):
        assert not AccessAttempt.objects.exists()


def test_the_lockout_ends_after_the_cool_off(firm_a, firm_user):
    user = firm_user(firm_a, "patient@firm-a.example")
    _hammer(host_of(firm_a), user.username)
    with tenant_context(firm_a):
        AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    client, response = _sign_in(host_of(firm_a), user.username, PASSWORD)

    assert response.status_code == 302 and _signed_in(client)


def test_a_firm_admin_sees_the_lockout_and_lifts_it_in_the_browser(firm_a, firm_user, client_for):
    user = firm_user(firm_a, "locked@firm-a.example")
    admin = firm_user(firm_a, "boss@firm-a.example", FirmRole.FIRM_ADMIN)
    _hammer(host_of(firm_a), user.username)
    _hammer(host_of(firm_a), "nobody-by-this-name@firm-a.example")
    browser = client_for(firm_a, admin)

    page = browser.get("/security/").content.decode()
    lifted = browser.post("/security/", {"action": "lift", "username": user.username}, follow=True)
    client, response = _sign_in(host_of(firm_a), user.username, PASSWORD)

    assert 'aria-label="Lift the lockout of locked@firm-a.example"' in page
    assert "Locked names that are nobody here" in page and "nobody-by-this-name@firm-a.example" in page
    assert f"{user.username} may sign in again." in lifted.content.decode()
    assert response.status_code == 302 and _signed_in(client)
    with tenant_context(firm_a):
        event = AuditEvent.objects.get(action="auth.lockout_lift")
        assert (event.actor, event.object_id) == (admin.username, str(user.pk))
        assert AuditEvent.objects.filter(action="auth.sign_in", object_id=str(user.pk)).exists()


@pytest.mark.parametrize("role", [FirmRole.PORTFOLIO_MANAGER, FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_only_a_firm_admin_lifts_a_lockout(firm_a, firm_user, client_for, role):
    user = firm_user(firm_a, "locked2@firm-a.example")
    other = firm_user(firm_a, f"{role}@firm-a.example", role)
    _hammer(host_of(firm_a), user.username, times=settings.AXES_FAILURE_LIMIT)
    browser = client_for(firm_a, other)

    assert browser.get("/security/").status_code == 403
    assert browser.post("/security/", {"action": "lift", "username": user.username}).status_code == 403
    assert _sign_in(host_of(firm_a), user.username, PASSWORD)[1].status_code == 429


def test_a_provider_admin_lifts_a_provider_lockout(db, client):
    staff = user_ensure(username="op2@provider.example", email="op2@provider.example",
                        roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
    padmin = user_ensure(username="padmin2@provider.example", email="padmin2@provider.example",
                         roles=[ProviderRole.PROVIDER_ADMIN], password=PASSWORD)
    _hammer(PROVIDER, staff.username)
    client.force_login(padmin)

    assert client.post("/security/", {"action": "lift", "username": staff.username}, HTTP_HOST=PROVIDER).status_code == 302
    assert _sign_in(PROVIDER, staff.username, PASSWORD)[1].status_code == 302
    operator = Client(HTTP_HOST=PROVIDER)
    operator.force_login(staff)
    assert operator.get("/security/").status_code == 403  # operators look after runs, not sign-ins


def test_sign_in_and_sign_out_are_audited(firm_a, firm_user):
    user = firm_user(firm_a, "regular@firm-a.example")
    client, _ = _sign_in(host_of(firm_a), user.username, PASSWORD)

    client.post("/accounts/logout/")

    with tenant_context(firm_a):
        actions = list(AuditEvent.objects.filter(object_id=str(user.pk), action__startswith="auth.")
                       .order_by("id").values_list("action", "actor"))
    assert actions == [("auth.sign_in", user.username), ("auth.sign_out", user.username)]

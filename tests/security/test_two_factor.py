"""Attack 4: no second factor. Now firm and provider users set up TOTP with recovery codes in the
browser, a firm admin makes it mandatory for the firm, and a session that owes a second factor reaches
nothing else (pages redirect, the API answers 403)."""

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context, tenant_context

from tenants.audit.models import AuditEvent
from tenants.models import Firm
from tenants.roles import FirmRole, ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD, host_of

pytestmark = pytest.mark.django_db
PROVIDER = "localhost"


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows (django-otp's own TOTP), ``steps_ahead`` periods from now:
    a code once accepted is never accepted again, so a second sign-in in the same 30 s uses the next."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def wait_out_the_throttle(schema: str, user) -> None:
    """django-otp makes a user wait 2**(n-1) seconds after n wrong codes; let that time pass."""
    with schema_context(schema):
        for model in (TOTPDevice, StaticDevice):
            model.objects.filter(user=user).update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


def verified_client(firm_host: str, schema: str, user) -> Client:
    """A session that has signed in with both factors (its authenticator created directly)."""
    client = Client(HTTP_HOST=firm_host)
    with schema_context(schema):  # sessions live in the schema of the host
        device = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def sign_in(host: str, username: str) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def enrol(client: Client, schema: str, user) -> tuple[TOTPDevice, list[str]]:
    """Set up the authenticator through the page, as a person would; returns the device and the codes."""
    page = client.get("/accounts/two-factor/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    with schema_context(schema):
        device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post("/accounts/two-factor/", {"action": "confirm", "code": code(device)})
    assert done.status_code == 200, done.content.decode()[-2000:]
    codes = re.search(r'<pre class="recovery-codes"[^>]*>(.*?)</pre>', done.content.decode(), re.S).group(1).split()
    return device, codes


@pytest.fixture
def advisor(firm_a, firm_user):
    return firm_user(firm_a, "twofa@firm-a.example", FirmRole.ADVISOR)


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "secadmin@firm-a.example", FirmRole.FIRM_ADMIN)


@pytest.fixture
def admin_browser(firm_a, admin):
    """The firm admin, signed in with both factors (one must have it to require it of everyone)."""
    return verified_client(host_of(firm_a), firm_a.schema_name, admin)


def test_a_user_sets_up_totp_and_sees_recovery_codes_once(firm_a, advisor):
    client = sign_in(host_of(firm_a), advisor.username)
    page = client.get("/accounts/two-factor/").content.decode()
    with tenant_context(firm_a):
        pending = TOTPDevice.objects.get(user=advisor, confirmed=False)

    wrong = client.post("/accounts/two-factor/", {"action": "confirm", "code": "000000" if code(pending) != "000000" else "111111"})
    wait_out_the_throttle(firm_a.schema_name, advisor)
    device, codes = enrol(client, firm_a.schema_name, advisor)

    assert "Firm%20A%20Wealth%20%28rebalancing%29" in pending.config_url  # the app shows the firm's name
    assert re.search(r"<code>([A-Z2-7]{4} ){7}[A-Z2-7]{4}</code>", page)  # the key, for typing in
    assert wrong.status_code == 400 and "not the code the app shows now" in wrong.content.decode()
    assert device.pk == pending.pk and len(codes) == 10 and len(set(codes)) == 10
    again = client.get("/accounts/two-factor/").content.decode()
    assert "10 of 10 recovery codes left" in again and not any(c in again for c in codes)
    with tenant_context(firm_a):
        assert TOTPDevice.objects.get(pk=device.pk).confirmed
        assert AuditEvent.objects.filter(action="auth.mfa_enable", object_id=str(advisor.pk)).exists()


def test_after_the_password_a_session_reaches_nothing_until_the_code(firm_a, advisor):
    device, _ = enrol(sign_in(host_of(firm_a), advisor.username), firm_a.schema_name, advisor)
    client = sign_in(host_of(firm_a), advisor.username)

    page = client.get("/accounts/?q=x")
    api = client.get("/api/v1/accounts/")
    admin_site = client.get("/admin/")
    wrong = client.post("/accounts/verify/", {"code": "12345", "next": "/accounts/?q=x"})
    wait_out_the_throttle(firm_a.schema_name, advisor)
    right = client.post("/accounts/verify/", {"code": code(device, 1), "next": "/accounts/?q=x"})

    assert page.status_code == 302 and page["Location"] == "/accounts/verify/?next=%2Faccounts%2F%3Fq%3Dx"
    assert api.status_code == 403 and api.json()["code"] == "mfa_required"
    assert admin_site.status_code == 302 and admin_site["Location"].startswith("/accounts/verify/")
    assert wrong.status_code == 400 and "That code is not valid" in wrong.content.decode()
    assert right.status_code == 302 and right["Location"] == "/accounts/?q=x"
    assert client.get("/accounts/").status_code == 200 and client.get("/api/v1/accounts/").status_code == 200
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="auth.mfa_failed", object_id=str(advisor.pk)).count() == 1
        assert AuditEvent.objects.filter(action="auth.mfa_verify", object_id=str(advisor.pk)).count() == 1


def test_a_code_is_accepted_once(firm_a, advisor):
    device, _ = enrol(sign_in(host_of(firm_a), advisor.username), firm_a.schema_name, advisor)
    used = code(device, 1)
    first, second = sign_in(host_of(firm_a), advisor.username), sign_in(host_of(firm_a), advisor.username)

    assert first.post("/accounts/verify/", {"code": used}).status_code == 302
    assert second.post("/accounts/verify/", {"code": used}).status_code == 400


def test_a_recovery_code_signs_in_once(firm_a, advisor):
    _, codes = enrol(sign_in(host_of(firm_a), advisor.username), firm_a.schema_name, advisor)
    first, second = sign_in(host_of(firm_a), advisor.username), sign_in(host_of(firm_a), advisor.username)

    used = first.post("/accounts/verify/", {"code": codes[0].upper()}, follow=True)
    again = second.post("/accounts/verify/", {"code": codes[0]})

    assert "You signed in with a recovery code; 9 left" in used.content.decode()
    assert again.status_code == 400
    with tenant_context(firm_a):
        assert StaticToken.objects.filter(device__user=advisor).count() == 9


def test_repeated_wrong_codes_slow_down_even_the_right_one(firm_a, advisor):
    device, _ = enrol(sign_in(host_of(firm_a), advisor.username), firm_a.schema_name, advisor)
    client = sign_in(host_of(firm_a), advisor.username)
    for _ in range(3):
        client.post("/accounts/verify/", {"code": "000001"})

    throttled = client.post("/accounts/verify/", {"code": code(device, 1)})

    assert throttled.status_code == 400 and "Too many wrong codes" in throttled.content.decode()


def test_new_recovery_codes_replace_the_old_ones(firm_a, advisor):
    client = sign_in(host_of(firm_a), advisor.username)
    device, old = enrol(client, firm_a.schema_name, advisor)

    renewed = client.post("/accounts/two-factor/", {"action": "renew", "code": code(device, 1)})

    new = re.search(r'<pre class="recovery-codes"[^>]*>(.*?)</pre>', renewed.content.decode(), re.S).group(1).split()
    assert len(new) == 10 and not set(new) & set(old)
    with tenant_context(firm_a):
        assert set(StaticToken.objects.filter(device__user=advisor).values_list("token", flat=True)) == set(new)


def test_an_admin_without_two_factor_cannot_require_it(firm_a, admin, client_for):
    refused = client_for(firm_a, admin).post("/security/", {"action": "policy", "required": "yes"}, follow=True)

    assert "Set up your own two-factor authentication first" in refused.content.decode()
    with schema_context("public"):
        assert not Firm.objects.get(pk=firm_a.pk).mfa_required


def test_a_firm_admin_makes_it_mandatory_in_the_browser(firm_a, advisor, admin, admin_browser):
    browser = admin_browser
    page = browser.get("/security/").content.decode()

    browser.post("/security/", {"action": "policy", "required": "yes"})
    client = sign_in(host_of(firm_a), advisor.username)
    blocked = client.get("/accounts/")
    api = client.get("/api/v1/accounts/")
    setup = client.get(blocked["Location"])

    assert "Require it of everyone" in page
    assert blocked.status_code == 302 and blocked["Location"] == "/accounts/two-factor/?next=%2Faccounts%2F"
    assert api.status_code == 403 and api.json()["detail"] == {"step": "enrol"}
    assert "requires two-factor authentication: set it up to continue" in setup.content.decode()
    device, _ = enrol(client, firm_a.schema_name, advisor)
    assert client.get("/accounts/").status_code == 200  # the set-up itself was the second factor
    with schema_context("public"):
        assert Firm.objects.get(pk=firm_a.pk).mfa_required
    with tenant_context(firm_a):
        event = AuditEvent.objects.get(action="auth.mfa_policy")
        assert (event.actor, event.before, event.after) == (admin.username, {"mfa_required": False},
                                                            {"mfa_required": True})


def test_the_security_page_counts_and_shows_invited_people_as_invited_not_as_without_two_factor(
        firm_a, advisor, admin, admin_browser):
    """Someone invited who has not chosen a password has never signed in: not among those who have not set
    up two-factor, and their sign-in reads "invited", not "allowed" (the People page's word)."""
    from rebalancing.services.people import FIRM_PEOPLE
    from tenants.people import invite

    with tenant_context(firm_a):
        invite(FIRM_PEOPLE, email="newcomer@firm-a.example", first_name="New", last_name="Comer",
               roles=[FirmRole.ADVISOR], by=admin, site_url="http://firm-a.localhost")

    page = re.sub(r"\s+", " ", admin_browser.get("/security/").content.decode())

    # the advisor and the firm's first admin (signed up, no authenticator); this admin has one; the newcomer
    # is invited, not a third without two-factor
    assert "2 people have not. 1 invited person has not signed in yet." in page
    newcomer = page.split("newcomer@firm-a.example</span>", 1)[1].split("</tr>", 1)[0]
    assert "invited" in newcomer and "not yet signed in" in newcomer and "allowed" not in newcomer
    assert '<span class="badge">off</span>' not in newcomer
    advisor_row = page.split(f"{advisor.username}</span>", 1)[1].split("</tr>", 1)[0]
    assert "allowed" in advisor_row and "off</span>" in advisor_row


def test_when_required_it_cannot_be_turned_off_but_an_admin_resets_a_lost_phone(firm_a, advisor, admin, admin_browser):
    client = sign_in(host_of(firm_a), advisor.username)
    device, _ = enrol(client, firm_a.schema_name, advisor)
    admin_browser.post("/security/", {"action": "policy", "required": "yes"})

    off = client.post("/accounts/two-factor/", {"action": "turn_off", "code": code(device, 1)})
    reset = admin_browser.post("/security/", {"action": "reset", "user": advisor.pk}, follow=True)
    later = sign_in(host_of(firm_a), advisor.username).get("/accounts/")

    assert off.status_code == 400 and "cannot be turned off" in off.content.decode()
    assert "authenticator and recovery codes are removed" in reset.content.decode()
    assert later["Location"].startswith("/accounts/two-factor/")  # set it up again
    with tenant_context(firm_a):
        assert not TOTPDevice.objects.filter(user=advisor, confirmed=True).exists()
        assert AuditEvent.objects.filter(action="auth.mfa_reset", object_id=str(advisor.pk), actor=admin.username).exists()


def test_optional_two_factor_can_be_turned_off_with_a_code(firm_a, advisor):
    client = sign_in(host_of(firm_a), advisor.username)
    device, _ = enrol(client, firm_a.schema_name, advisor)

    off = client.post("/accounts/two-factor/", {"action": "turn_off", "code": code(device, 1)})

    assert off.status_code == 302
    assert sign_in(host_of(firm_a), advisor.username).get("/accounts/").status_code == 200


@pytest.mark.parametrize("role", [FirmRole.PORTFOLIO_MANAGER, FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_only_a_firm_admin_sets_the_rule_or_resets_someone(firm_a, advisor, firm_user, client_for, role):
    other = firm_user(firm_a, f"not-admin-{role}@firm-a.example", role)
    browser = client_for(firm_a, other)

    assert browser.post("/security/", {"action": "policy", "required": "yes"}).status_code == 403
    assert browser.post("/security/", {"action": "reset", "user": advisor.pk}).status_code == 403
    with schema_context("public"):
        assert not Firm.objects.get(pk=firm_a.pk).mfa_required


def test_the_rule_of_one_firm_does_not_reach_another(firm_a, firm_b, admin_browser, firm_user):
    admin_browser.post("/security/", {"action": "policy", "required": "yes"})
    at_b = firm_user(firm_b, "free@firm-b.example")

    assert sign_in(host_of(firm_b), at_b.username).get("/").status_code == 200


def test_api_keys_are_their_own_credential(firm_a, advisor, admin_browser, api_key_for):
    token = api_key_for(firm_a, advisor)
    admin_browser.post("/security/", {"action": "policy", "required": "yes"})

    assert Client(HTTP_HOST=host_of(firm_a), HTTP_AUTHORIZATION=f"Bearer {token}").get(
        "/api/v1/accounts/").status_code == 200


@pytest.fixture
def api_key_for():
    from tenants.api_keys.services import api_key_create

    def make(firm, user):
        with schema_context(firm.schema_name):
            return api_key_create(user=user, name="feed", scopes=["read"], expires_at=None, by=None).token

    return make


def test_provider_staff_use_it_too_and_a_provider_admin_requires_it(db):
    padmin = user_ensure(username="padmin3@provider.example", email="padmin3@provider.example",
                         roles=[ProviderRole.PROVIDER_ADMIN], password=PASSWORD)
    operator = user_ensure(username="op3@provider.example", email="op3@provider.example",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
    admin_client = sign_in(PROVIDER, padmin.username)
    device, _ = enrol(admin_client, "public", padmin)

    admin_client.post("/security/", {"action": "policy", "required": "yes"})
    op_client = sign_in(PROVIDER, operator.username)
    again = sign_in(PROVIDER, padmin.username)

    assert op_client.get("/runs/")["Location"] == "/accounts/two-factor/?next=%2Fruns%2F"
    assert again.get("/")["Location"] == "/accounts/verify/?next=%2F"
    assert again.post("/accounts/verify/", {"code": code(device, 1)}).status_code == 302
    assert again.get("/").status_code == 200
    with schema_context("public"):
        assert Firm.objects.get(schema_name="public").mfa_required
        assert AuditEvent.objects.filter(action="auth.mfa_policy", actor=padmin.username).exists()


def test_no_admin_site_shows_second_factors_or_sign_in_attempts():
    from axes.models import AccessAttempt
    from django.contrib import admin

    import config.urls  # noqa: F401  the firm host's URLconf, loaded before any admin page is served
    from tenants.admin import provider_admin_site

    for site in (admin.site, provider_admin_site):
        for model in (TOTPDevice, StaticDevice, AccessAttempt):
            assert not site.is_registered(model), (site.name, model.__name__)

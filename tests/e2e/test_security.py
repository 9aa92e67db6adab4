"""Sign-in security in a real browser: a lockout after wrong passwords, lifted by the firm admin on
the Security page; the admin sets up an authenticator app from the QR page's key and makes two-factor
authentication mandatory; an advisor is then sent to set it up before anything else."""

import re
import time
from base64 import b32decode

from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tenants.audit.models import AuditEvent
from tenants.models import Firm
from tests.conftest import PASSWORD

from .conftest import PEOPLE


def _code_from_key(key_text: str, steps_ahead: int = 0) -> str:
    """What the person's authenticator app shows for the key typed from the page."""
    totp = TOTP(b32decode(key_text.replace(" ", "")), step=30, t0=0, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def _try(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/accounts/login/")
    page.get_by_label("User name (e-mail)").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_lockout_lifted_and_two_factor_made_mandatory_in_the_browser(e2e_firm, firm_url, browser, in_firm,
                                                                       shot):  # noqa: F811
    base = firm_url("").rstrip("/")
    compliance, admin_name, advisor = PEOPLE["compliance"][0], PEOPLE["admin"][0], PEOPLE["advisor"][0]
    firm = e2e_firm["firm"]
    try:
        # Five wrong passwords lock the name; the right one is refused.
        stranger = browser.new_page()
        for _ in range(5):
            _try(stranger, base, compliance, "not-the-password")
        _try(stranger, base, compliance, PASSWORD)
        expect(stranger.get_by_role("heading", name="Too many failed sign-ins")).to_be_visible()

        # The firm admin lifts it on the Security page.
        admin = browser.new_page()
        _try(admin, base, admin_name, PASSWORD)
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
        admin.get_by_role("button", name=f"Lift the lockout of {compliance}").click()
        expect(admin.locator(".messages")).to_contain_text(f"{compliance} may sign in again.")
        _try(stranger, base, compliance, PASSWORD)
        expect(stranger.get_by_role("link", name="Sign out")).to_have_count(0)
        expect(stranger.get_by_role("button", name="Sign out")).to_be_visible()

        # The admin sets up an authenticator, from the key shown beside the QR code.
        admin.get_by_role("link", name="Two-factor").click()
        expect(admin.get_by_role("img", name="QR code of your authenticator secret")).to_be_visible()
        shot(admin, "two-factor-setup")
        key = admin.locator("p.hint code").inner_text()
        admin.get_by_label("Code from the app").fill(_code_from_key(key))
        admin.get_by_role("button", name="Turn on").click()
        expect(admin.locator(".messages")).to_contain_text("Two-factor authentication is on.")
        codes = admin.get_by_label("Recovery codes", exact=True).inner_text().split()
        assert len(codes) == 10

        # ...and requires it of everyone.
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
        admin.get_by_role("button", name="Require it of everyone").click()
        expect(admin.locator(".messages")).to_contain_text("now required of everyone")
        shot(admin, "security")

        # The advisor's next sign-in leads to the set-up, whatever page they ask for.
        person = browser.new_page()
        _try(person, base, advisor, PASSWORD)
        person.goto(base + "/accounts/")
        expect(person).to_have_url(re.compile(r"/accounts/two-factor/\?next=%2Faccounts%2F$"))
        expect(person.get_by_text("requires two-factor authentication: set it up to continue")).to_be_visible()

        # The admin's own next sign-in asks for a code, and a recovery code does it once.
        again = browser.new_page()
        _try(again, base, admin_name, PASSWORD)
        expect(again.get_by_role("heading", name="Confirm it's you")).to_be_visible()
        again.get_by_label("Code").fill(codes[0])
        again.get_by_role("button", name="Continue").click()
        expect(again.locator(".messages")).to_contain_text("You signed in with a recovery code; 9 left")
        with in_firm():
            assert AuditEvent.objects.filter(action="auth.lockout_lift").exists()
            assert AuditEvent.objects.filter(action="auth.mfa_policy").exists()
    finally:
        with in_firm():  # the other browser tests expect two-factor authentication to be optional
            Firm.objects.filter(pk=firm.pk).update(mfa_required=False)
            TOTPDevice.objects.all().delete()
            StaticDevice.objects.all().delete()

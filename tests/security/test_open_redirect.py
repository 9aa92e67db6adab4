"""Attack 8: a form's ``next`` sends the browser only to a path on this host."""

import re
from urllib.parse import urlencode

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

pytestmark = pytest.mark.django_db

EVIL = ["https://evil.example/", "//evil.example/", "http://firm-a.localhost.evil.example/", "javascript:alert(1)",
        "/\\evil.example", "\\\\evil.example", "https:/evil.example", " //evil.example"]


@pytest.fixture
def proposal(book, firm_a):
    with tenant_context(firm_a):
        return Proposal.objects.get(account=book["mine"][0])


@pytest.mark.parametrize("target", EVIL)
def test_a_decision_never_redirects_off_the_host(as_user, proposal, target):
    response = as_user("advisor").post(f"/proposals/{proposal.pk}/decide/",
                                       {"action": "reject", "comment": "no", "next": target})

    assert response.status_code == 302
    assert response["Location"] == f"/proposals/{proposal.pk}/"


def test_a_decision_follows_a_path_on_this_host(as_user, proposal):
    response = as_user("advisor").post(f"/proposals/{proposal.pk}/decide/",
                                       {"action": "reject", "comment": "no", "next": "/approvals/?view=all"})

    assert response.status_code == 302 and response["Location"] == "/approvals/?view=all"


@pytest.mark.parametrize("target", EVIL)
def test_sign_in_never_redirects_off_the_host(firm_a, firm_user, client_for, target):
    from tests.conftest import PASSWORD

    user = firm_user(firm_a, "next@firm-a.example")
    response = client_for(firm_a).post(f"/accounts/login/?next={target}",
                                       {"username": user.username, "password": PASSWORD, "next": target})

    assert response.status_code == 302 and response["Location"] == "/"


def _two_factor_continue(firm_a, firm_user, client_for, target: str) -> str:
    """The page with the recovery codes just after enrolment, from a link ``/accounts/two-factor/?next=...``."""
    import time

    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tenants.roles import FirmRole

    user = firm_user(firm_a, f"2fa-next-{abs(hash(target))}@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    client = client_for(firm_a, user)
    url = "/accounts/two-factor/"
    assert client.get(url, {"next": target}).status_code == 200  # makes the pending authenticator
    with tenant_context(firm_a):
        device = TOTPDevice.objects.get(user=user, confirmed=False)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        totp.time = time.time()
        code = f"{totp.token():0{device.digits}d}"
    page = client.post(f"{url}?{urlencode({'next': target})}", {"action": "confirm", "code": code}).content.decode()
    assert 'class="recovery-codes"' in page, "enrolment confirmed, the codes shown"
    return page


@pytest.mark.parametrize("target", EVIL)
def test_the_continue_button_after_two_factor_enrolment_stays_on_the_host(firm_a, firm_user, client_for, target):
    page = _two_factor_continue(firm_a, firm_user, client_for, target)

    links = re.findall(r'<a href="([^"]*)" class="button primary">Continue</a>', page)
    assert links == ["/"], f"the Continue button leads to {links}"


def test_the_continue_button_after_two_factor_enrolment_follows_a_path_on_this_host(firm_a, firm_user, client_for):
    page = _two_factor_continue(firm_a, firm_user, client_for, "/runs/?view=all")

    assert '<a href="/runs/?view=all" class="button primary">Continue</a>' in page

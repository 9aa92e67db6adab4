"""Attack 10: a firm's host in capitals or with a trailing dot is the same firm, not a 404."""

import pytest

from tenants.middleware import host_normalise

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("host", ["firm-a.localhost", "FIRM-A.LOCALHOST", "Firm-A.LocalHost.", "firm-a.localhost.:8000",
                                  "FIRM-A.localhost:8000"])
def test_a_firm_host_in_any_case_or_with_a_trailing_dot_reaches_the_firm(firm_a, firm_user, client, host):
    user = firm_user(firm_a, "advisor@firm-a.example")

    page = client.get("/accounts/login/", HTTP_HOST=host)
    signed_in = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, HTTP_HOST=host)

    assert page.status_code == 200 and "Firm A Wealth" in page.content.decode()
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"


@pytest.mark.parametrize("host", ["LOCALHOST", "localhost.", "LocalHost.:8000"])
def test_the_provider_host_is_normalised_too(db, client, host):
    assert client.get("/accounts/login/", HTTP_HOST=host).status_code == 200


def test_an_unknown_firm_is_still_not_found(db, client):
    assert client.get("/accounts/login/", HTTP_HOST="NO-SUCH-FIRM.localhost.").status_code == 404


def test_a_host_outside_allowed_hosts_is_refused(db, client):
    assert client.get("/accounts/login/", HTTP_HOST="firm-a.evil.example").status_code in (400, 404)


@pytest.mark.parametrize(("raw", "normal"), [
    ("ACME.Example.COM", "acme.example.com"), ("acme.example.com.", "acme.example.com"),
    ("acme.example.com.:443", "acme.example.com"), ("[::1]:8000", "[::1]"),
])
def test_host_normalise(raw, normal):
    assert host_normalise(raw) == normal

"""The firm's restricted list through the API: every role lists it; compliance and firm admins add,
change and lift entries; a refusal names the problem; an account's effective parameters name the list."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RestrictedSecurity

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db

URL = f"{API}/restricted-list/"


def test_compliance_adds_changes_and_lifts_and_every_role_reads(firm_a, people, book, client_for):
    client = client_for(firm_a, people["compliance"])
    created = client.post(URL, {"symbol": "vti", "restriction": "do_not_buy", "reason": "Deal team",
                                "starts_on": "2026-01-05"}, content_type="application/json")
    assert created.status_code == 201, created.json()
    entry = created.json()
    assert (entry["symbol"], entry["restriction"], entry["until"], entry["added_by"]) == (
        "VTI", "do_not_buy", None, "cco@a.example")
    changed = client.patch(f"{URL}{entry['id']}/", {"restriction": "do_not_trade", "until": "2099-01-01"},
                           content_type="application/json")
    assert changed.status_code == 200 and changed.json()["restriction"] == "do_not_trade"

    listed = client_for(firm_a, people["advisor"]).get(URL).json()["results"]
    assert [(e["symbol"], e["in_force"]) for e in listed] == [("VTI", True)]
    assert client.get(URL, {"in_force_on": "2026-01-04"}).json()["results"] == []
    assert error_of(client.get(URL, {"in_force_on": "soon"}))["detail"] == {"field": "in_force_on"}

    # The account's effective parameters name the list as the source.
    answer = client.get(f"{API}/accounts/{book['own'].pk}/").json()
    leaves = {leaf["path"]: leaf for leaf in answer["effective_parameters"]["leaves"]}
    assert leaves["restrictions.do_not_buy"]["source"] == "restricted"
    assert leaves["restrictions.do_not_sell"]["value"] == ["VTI"]

    lifted = client.post(f"{URL}{entry['id']}/lift/", {"reason": "Deal announced"}, content_type="application/json")
    assert lifted.status_code == 200 and lifted.json()["lifted_on"] == date.today().isoformat()
    assert lifted.json()["in_force"] is False


def test_a_refusal_names_the_problem(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    unknown = client.post(URL, {"symbol": "NOPE", "restriction": "do_not_buy", "reason": "x",
                                "starts_on": "2026-01-05"}, content_type="application/json")
    assert unknown.status_code == 400 and "NOPE is not a security of the firm" in error_of(unknown)["message"]
    backwards = client.post(URL, {"symbol": "VTI", "restriction": "do_not_buy", "reason": "x",
                                  "starts_on": "2026-01-05", "until": "2026-01-01"}, content_type="application/json")
    assert backwards.status_code == 400 and "before the from date" in error_of(backwards)["message"]
    no_reason = client.post(URL, {"symbol": "VTI", "restriction": "do_not_buy", "starts_on": "2026-01-05"},
                            content_type="application/json")
    assert no_reason.status_code == 400 and "reason" in error_of(no_reason)["detail"]["fields"]
    with tenant_context(firm_a):
        assert not RestrictedSecurity.objects.exists()


@pytest.mark.parametrize("role", ["advisor", "pm"])
def test_other_roles_may_not_change_the_list(firm_a, people, book, client_for, role):
    refused = client_for(firm_a, people[role]).post(
        URL, {"symbol": "VTI", "restriction": "do_not_buy", "reason": "x", "starts_on": "2026-01-05"},
        content_type="application/json")
    assert refused.status_code == 403


def test_a_read_only_key_of_compliance_may_not_change_the_list(firm_a, people, book, api_key):
    token = api_key(firm_a, people["compliance"], scopes=("read",))
    refused = key_client(firm_a, token).post(
        URL, {"symbol": "VTI", "restriction": "do_not_buy", "reason": "x", "starts_on": "2026-01-05"},
        content_type="application/json")
    assert refused.status_code == 403 and error_of(refused)["code"] == "scope_missing"

"""The API's way to the RMD of an IRA whose spouse, sole beneficiary, is more than 10 years younger:
PATCH rmd-facts with the custodian's RMD for a year (``rmd_amount`` and ``rmd_amount_year``), then
the RMD read, planned by a cash flow without an amount, and refused figures named by their field."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API, error_of

pytestmark = pytest.mark.django_db
FACTS = {"owner_birth_date": "1950-06-01", "spouse_birth_date": "1970-03-01", "year_end_value": "100000.00",
         "year_end_year": AS_OF.year - 1}


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        yield make_unit_household(advisor=people["advisor"])


def _json(client, method, path, body=None):
    return getattr(client, method)(f"{API}/{path}", body or {}, content_type="application/json")


def test_the_custodians_rmd_is_entered_read_and_planned_through_the_api(lees, people, firm_a, client_for):
    advisor, ira = client_for(firm_a, people["advisor"]), lees["ira"].pk
    year = AS_OF.year
    # given: the facts say the Joint and Last Survivor Table applies: not computed, the figure asked for
    wanted = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", FACTS)
    assert wanted.status_code == 200, wanted.content
    wanted = advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": year, "as_of": str(AS_OF)}).json()
    assert (wanted["computed"], wanted["amount_wanted"]) == (None, True)
    assert "custodian computed for 2026" in wanted["problem"]
    # refused figures, named by their field; nothing written
    for body, field in (({"rmd_amount": "0.00", "rmd_amount_year": year}, "rmd_amount"),
                        ({"rmd_amount": "100000.01", "rmd_amount_year": year}, "rmd_amount"),
                        ({"rmd_amount": "3012.05"}, "rmd_amount_year")):
        refused = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", FACTS | body)
        assert refused.status_code == 400, refused.content
        assert field in str(error_of(refused)["detail"]), error_of(refused)
    with tenant_context(firm_a):
        assert Account.objects.get(pk=ira).rmd_amounts == {}
    # when: the custodian's figure is entered
    entered = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/",
                    {"rmd_amount": "3012.05", "rmd_amount_year": year})
    assert entered.status_code == 200, entered.content
    body = entered.json()
    assert (body["computed"]["amount"], body["computed"]["entered"], body["rmd_amounts"], body["remaining"]) == (
        "3012.05", True, {str(year): "3012.05"}, "3012.05")
    # then: an RMD without an amount takes it, and the year is satisfied
    planned = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd",
                                                     "account": ira, "as_of": str(AS_OF)})
    assert planned.status_code == 201, planned.content
    assert planned.json()["amount"] == "3012.05"
    after = advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": year, "as_of": str(AS_OF)}).json()
    assert (after["distributed"], after["remaining"]) == ("3012.05", "0.00")

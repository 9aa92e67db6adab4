"""A filed return's taxable income (the Capital Loss Carryover Worksheet's line 1) through the
household tax endpoint: stored per return and year, read by the next year's carried-in loss (the
Schedule D API), refused by its field with nothing written."""

from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Household, ReturnTaxableIncome
from rebalancing.services.tax_returns import household_tax_set
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def setting(firm_a, firm_user, client_for):
    filed = timezone.localdate().year - 2
    pm_user = firm_user(firm_a, "pm@income.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        household = Household.objects.create(name="The Okafors", external_id="HH-OKA", filing_status="single")
        household_tax_set(user=pm_user, household=household,
                          facts={"carryforward_year": filed, "carryforward_short_term": D(10000)})
    return {"filed": filed, "household": household, "pm": client_for(firm_a, pm_user),
            # not the household's advisor: it is not theirs to see; compliance reads, never writes
            "advisor": client_for(firm_a, firm_user(firm_a, "adv@income.example", FirmRole.ADVISOR)),
            "compliance": client_for(firm_a, firm_user(firm_a, "cco@income.example", FirmRole.COMPLIANCE))}


def _carried_in(client, year: int) -> str:
    answer = client.get(f"{API}/reports/schedule-d/", {"year": year, "household": "HH-OKA"})
    assert answer.status_code == 200, answer.content
    return answer.json()[0]["sheet"]["carried_in_short"]


def test_the_api_stores_a_returns_taxable_income_and_the_next_year_carries_in_more(setting, firm_a):
    pm, filed, household = setting["pm"], setting["filed"], setting["household"]
    assert D(_carried_in(pm, filed + 1)) == 7000
    answer = pm.patch(f"{API}/households/{household.pk}/tax/",
                      {"taxable_incomes": [{"year": filed, "amount": -1000}]}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["taxable_incomes"] == [{"year": filed, "spouse": "", "amount": "-1000.00"}]
    # line 3 = -1,000 + 3,000 = 2,000 = line 4: 10,000 - 2,000 carried
    assert D(_carried_in(pm, filed + 1)) == 8000
    # The filed year's sheet reads back what was entered and the deduction it absorbed.
    [row] = pm.get(f"{API}/reports/schedule-d/", {"year": filed, "household": "HH-OKA"}).json()
    sheet = row["sheet"]
    assert (sheet["taxable_income"], sheet["deduction"], sheet["deduction_used"]) == ("-1000.00", "3000.00", "2000.00")
    with tenant_context(firm_a):
        assert list(ReturnTaxableIncome.objects.values_list("year", "spouse", "amount")) == [(filed, "", -1000)]
        event = AuditEvent.objects.filter(action="household.tax").order_by("-id").first()
        assert event.after["taxable_income"] == {str(filed): "-1000.00"}
    removed = pm.patch(f"{API}/households/{household.pk}/tax/",
                       {"taxable_incomes": [{"year": filed, "amount": None}]}, content_type="application/json")
    assert removed.status_code == 200, removed.content
    assert D(_carried_in(pm, filed + 1)) == 7000


@pytest.mark.parametrize("entry, field", [
    ({"year": 9999, "amount": "100"}, "taxable_income_year"),
    ({"amount": "100", "spouse": "first"}, "taxable_income_spouse"),
    ({"amount": "1.005"}, "taxable_income"),
    ({"amount": "99999999999999999"}, "taxable_income"),
    ({"amount": "a lot"}, "amount"),  # not a number: the request's own refusal, by its path
])
def test_bad_taxable_income_is_refused_by_its_field_and_nothing_is_written(setting, firm_a, entry, field):
    pm, filed, household = setting["pm"], setting["filed"], setting["household"]
    with tenant_context(firm_a):
        events = AuditEvent.objects.count()
    answer = pm.patch(f"{API}/households/{household.pk}/tax/",
                      {"filing_status": "head_of_household", "taxable_incomes": [{"year": filed, **entry}]},
                      content_type="application/json")
    assert answer.status_code == 400, answer.content
    body = answer.json()
    if field == "amount":
        assert body["detail"]["fields"]["taxable_incomes"]["0"]["amount"]
    else:
        assert body["detail"]["field"] == field
        assert "taxable income" in body["message"].lower()
    with tenant_context(firm_a):
        assert not ReturnTaxableIncome.objects.exists()
        assert Household.objects.get(pk=household.pk).filing_status == "single"
        assert AuditEvent.objects.count() == events


def test_an_unknown_key_in_an_entry_is_refused(setting):
    answer = setting["pm"].patch(f"{API}/households/{setting['household'].pk}/tax/",
                                 {"taxable_incomes": [{"year": setting["filed"], "amount": "1", "income": "2"}]},
                                 content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "income" in answer.content.decode()


@pytest.mark.parametrize("who, status", [("advisor", 404), ("compliance", 403)])
def test_another_advisor_or_compliance_may_not_set_it(setting, firm_a, who, status):
    answer = setting[who].patch(f"{API}/households/{setting['household'].pk}/tax/",
                                {"taxable_incomes": [{"year": setting["filed"], "amount": "1"}]},
                                content_type="application/json")
    assert answer.status_code == status, answer.content
    with tenant_context(firm_a):
        assert not ReturnTaxableIncome.objects.exists()

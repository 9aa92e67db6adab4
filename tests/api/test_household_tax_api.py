"""A household's returns through the API: filing status, each spouse's opening carryover and whose
return each account is on (PATCH households/{id}/tax/), shown on the household and the account, and
Schedule D per spouse (GET reports/schedule-d/)."""

from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household
from tenants.audit.models import AuditEvent
from tests.ledger.helpers import spouses_loss_and_gain
from tests.rebalancing.book import make_account
from tests.rebalancing.household_book import make_unit_household

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        yield make_unit_household(advisor=people["advisor"])


def _patch(client, household, body):
    return client.patch(f"{API}/households/{household.pk}/tax/", body, content_type="application/json")


def test_the_advisor_sets_the_returns_and_reads_them_back(lees, people, firm_a, client_for):
    advisor, household = client_for(firm_a, people["advisor"]), lees["household"]
    answer = _patch(advisor, household, {
        "filing_status": "married_separate", "carryforward_year": 2026, "carryforward_short_term": "4000.00",
        "carryforward_second_long_term": "750.25",
        "spouses": {str(lees["joint"].pk): "joint", str(lees["roth"].pk): "second"}})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["filing_status"], body["carryforward_year"], body["carryforward_short_term"],
            body["carryforward_long_term"], body["carryforward_second_short_term"],
            body["carryforward_second_long_term"]) == ("married_separate", 2026, "4000.00", "0.00", "0.00", "750.25")
    accounts = {a["custodian_number"]: a["spouse"] for a in advisor.get(f"{API}/accounts/").json()["results"]}
    assert accounts == {"LEE-JT": "joint", "LEE-IRA": "first", "LEE-ROTH": "second"}
    # What is omitted is kept.
    assert _patch(advisor, household, {"carryforward_long_term": "10"}).json()["carryforward_short_term"] == "4000.00"
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="household.tax", object_id=str(household.pk)).count() == 2


def test_a_filing_status_from_a_year_keeps_the_years_before(lees, people, firm_a, client_for):
    advisor, household = client_for(firm_a, people["advisor"]), lees["household"]
    answer = _patch(advisor, household, {"filing_status": "married_separate", "filing_status_from": 2025})
    assert answer.status_code == 200, answer.content
    assert answer.json()["filing_history"] == [
        {"first_year": None, "last_year": 2024, "filing_status": "married_joint"},
        {"first_year": 2025, "last_year": None, "filing_status": "married_separate"}]
    # each sheet of the Schedule D report names the status of its year and whose return it is
    rows = advisor.get(f"{API}/reports/schedule-d/?year=2025&household={household.external_id}").json()
    assert [(r["spouse"], r["sheet"]["filing_status"], r["sheet"]["spouse"]) for r in rows] == [
        ("first", "married_separate", "first"), ("second", "married_separate", "second")]
    rows = advisor.get(f"{API}/reports/schedule-d/?year=2024&household={household.external_id}").json()
    assert [(r["spouse"], r["filing_status"], r["sheet"]["limit"]) for r in rows] == [
        ("", "Married filing jointly", "3000.00")]


def test_whose_return_a_single_year_after_married_ones_is(lees, people, firm_a, client_for):
    advisor, household = client_for(firm_a, people["advisor"]), lees["household"]
    answer = _patch(advisor, household, {"filing_status": "single", "filing_status_from": 2025, "sole_filer": "second"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["sole_filer"] == "second"
    # the Schedule D sheets carry what the other spouse's part would be (0 here: no loss carried)
    [row] = advisor.get(f"{API}/reports/schedule-d/?year=2025&household={household.external_id}").json()
    assert (row["sheet"]["not_carried_short"], row["sheet"]["not_carried_long"]) == ("0.00", "0.00")
    refused = _patch(advisor, household, {"sole_filer": "both"})
    assert refused.status_code == 400 and refused.json()["detail"]["field"] == "sole_filer"
    with tenant_context(firm_a):
        assert Household.objects.get(pk=household.pk).sole_filer == "second"


@pytest.mark.parametrize("body, field, says", [
    ({"spouses": {"ira": "joint"}}, "spouse", "an IRA or Roth IRA cannot be joint"),
    ({"spouses": {"joint": "both"}}, "spouse", "must be first, second or joint, not 'both'"),
    ({"filing_status": "married"}, "filing_status", "The filing status must be one of"),
    ({"filing_status_from": 2026}, "filing_status", "Say the filing status that applies from 2026"),
    ({"filing_status": "single", "filing_status_from": 1899}, "filing_status_from", "from 1900 to"),
    ({"carryforward_year": 2026, "carryforward_short_term": "-1.00"}, "carryforward_short_term", "positive amount"),
    ({"carryforward_short_term": "100.00"}, "carryforward_year", "Say the year"),
    ({"filing_status": "single", "carryforward_year": 2026, "carryforward_second_short_term": "5.00"},
     "carryforward_second_short_term", "for a year filed as a married couple (jointly or separately)"),
])
def test_what_makes_no_sense_is_refused_by_name_and_nothing_changes(lees, people, firm_a, client_for, body, field,
                                                                     says):
    if "spouses" in body:
        body = {"spouses": {str(lees[k].pk): v for k, v in body["spouses"].items()}}
    answer = _patch(client_for(firm_a, people["advisor"]), lees["household"], body)
    assert answer.status_code == 400, answer.content
    error = error_of(answer)
    assert error["detail"]["field"] == field and says in error["message"]
    with tenant_context(firm_a):
        h = Household.objects.get(pk=lees["household"].pk)
        assert (h.filing_status, h.carryforward_year, h.carryforward_short_term) == ("married_joint", None, 0)
        assert set(Account.objects.filter(household=h).values_list("spouse", flat=True)) == {"first"}


def test_an_account_of_another_household_or_a_colleagues_household_is_refused(lees, people, firm_a, client_for,
                                                                              api_key):
    with tenant_context(firm_a):
        stranger = make_account("OTHER-1", model=lees["model"])
    answer = _patch(client_for(firm_a, people["advisor"]), lees["household"], {"spouses": {str(stranger.pk): "second"}})
    assert answer.status_code == 400 and error_of(answer)["detail"]["accounts"] == [stranger.pk]
    assert _patch(client_for(firm_a, people["colleague"]), lees["household"], {"filing_status": "single"}).status_code \
        == 404
    read_only = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    assert error_of(_patch(read_only, lees["household"], {"filing_status": "single"}))["code"] == "scope_missing"
    unknown = _patch(client_for(firm_a, people["advisor"]), lees["household"], {"filing_statuss": "single"})
    assert unknown.status_code == 400
    with tenant_context(firm_a):
        assert Household.objects.get(pk=lees["household"].pk).filing_status == "married_joint"


def test_schedule_d_comes_one_sheet_per_spouse(lees, people, firm_a, client_for):
    # given: filing separately, spouse A loses 10,000 (short-term) and spouse B gains 10,000 (long-term)
    with tenant_context(firm_a):
        spouses_loss_and_gain(lees["model"], pm=people["pm"])
    # when
    rows = client_for(firm_a, people["pm"]).get(f"{API}/reports/schedule-d/?year=2026&household=HH-OK").json()
    # then
    assert [(r["spouse"], D(r["sheet"]["net"]), D(r["sheet"]["deduction"]), D(r["sheet"]["carried_out_short"]),
             D(r["sheet"]["taxable_long"]), D(r["sheet"]["limit"])) for r in rows] == [
        ("first", -10000, 1500, 8500, 0, 1500), ("second", 10000, 0, 0, 10000, 1500)]


@pytest.mark.parametrize("write", [
    lambda pk: str(pk).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),  # Arabic-Indic digits
    lambda pk: f" {pk}", lambda pk: f"+{pk}", lambda pk: "_".join(str(pk * 10)),
])
def test_an_account_id_not_written_in_0_to_9_is_refused_and_nothing_changes(lees, people, firm_a, client_for, write):
    # int() reads every one of these as the joint account's id; the key must be the id as written.
    key = write(lees["joint"].pk)
    answer = _patch(client_for(firm_a, people["advisor"]), lees["household"], {"spouses": {key: "joint"}})
    assert answer.status_code == 400, answer.content
    assert "written in the digits 0-9" in error_of(answer)["message"]
    with tenant_context(firm_a):
        assert Account.objects.get(pk=lees["joint"].pk).spouse == "first"


def test_the_returns_rates_through_the_api(lees, people, firm_a, client_for):
    advisor, household = client_for(firm_a, people["advisor"]), lees["household"]
    with tenant_context(firm_a):
        other = make_account("LEE-TX2", model=None, household=household, cash="100")
    answer = _patch(advisor, household, {"filing_status": "married_separate", "short_term_rate": "0.408",
                                         "long_term_rate": "0.238", "second_short_term_rate": "0.35",
                                         "second_long_term_rate": "0.15", "spouses": {str(other.pk): "second"}})
    assert answer.status_code == 200, answer.content
    assert answer.json()["tax_returns"] == [
        {"spouse": "first", "short_term_rate": "0.4080", "long_term_rate": "0.2380", "accounts": ["LEE-JT"]},
        {"spouse": "second", "short_term_rate": "0.3500", "long_term_rate": "0.1500", "accounts": ["LEE-TX2"]}]
    listed = advisor.get(f"{API}/households/").json()["results"]
    assert [h["tax_returns"] for h in listed if h["id"] == household.pk] == [answer.json()["tax_returns"]]

    # A joint account is on both returns: one account, one rate.
    refused = _patch(advisor, household, {"short_term_rate": "0.408", "second_short_term_rate": "0.35",
                                          "spouses": {str(lees["joint"].pk): "joint"}})
    assert refused.status_code == 400
    assert "Account LEE-JT is joint" in error_of(refused)["message"]
    with tenant_context(firm_a):
        assert Account.objects.get(pk=lees["joint"].pk).spouse == "first"
    assert _patch(advisor, household, {"long_term_rate": 2}).status_code == 400

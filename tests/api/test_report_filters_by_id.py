"""The tax reports' household and account filters take what the rest of the API takes - the id - as
well as the names a firm's files carry (a household's external id, an account's number); a value
naming nothing the user may see, or two different rows, is refused by name."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household
from tenants.roles import FirmRole
from tests.ledger.helpers import spouses_loss_and_gain
from tests.rebalancing.book import make_model, make_securities

from .conftest import API, error_of

pytestmark = pytest.mark.django_db
PERIOD = "start=2026-01-01&end=2026-12-31"


@pytest.fixture
def okafors(firm_a, people):
    """OK-A sold at a loss, OK-B at a gain, both in household HH-OK; a second household's sale beside."""
    with tenant_context(firm_a):
        make_securities()
        model = make_model(code="sixty-filters")
        household = spouses_loss_and_gain(model, pm=people["pm"])
        spouses_loss_and_gain(model, pm=people["pm"], external_id="HH-TWO", prefix="TW")
        return {"household": household, "a": Account.objects.get(custodian_number="OK-A")}


def _accounts(answer) -> set[str]:
    assert answer.status_code == 200, answer.content
    return {row["custodian_number"] for row in answer.json()["accounts"]}


def _keys(answer) -> set[str]:
    assert answer.status_code == 200, answer.content
    return {row["key"] for row in answer.json()["accounts"]}


@pytest.mark.parametrize("by", ["pk", "external_id"])
def test_the_realised_gains_report_takes_a_household_by_id_or_external_id(okafors, people, firm_a, client_for, by):
    pm = client_for(firm_a, people["pm"])
    value = getattr(okafors["household"], by)
    assert _keys(pm.get(f"{API}/reports/realised-gains/?{PERIOD}&household={value}")) == {"OK-A", "OK-B"}


@pytest.mark.parametrize("by", ["pk", "custodian_number"])
def test_an_account_is_named_by_id_or_number(okafors, people, firm_a, client_for, by):
    pm = client_for(firm_a, people["pm"])
    value = getattr(okafors["a"], by)
    assert _keys(pm.get(f"{API}/reports/realised-gains/?{PERIOD}&account={value}")) == {"OK-A"}
    assert {r["account_number"] for r in pm.get(f"{API}/reports/harvest/?{PERIOD}&account={value}").json()} <= {"OK-A"}


@pytest.mark.parametrize("value", ["٣", "+1", " 1", "1.0"])
def test_other_writings_of_a_number_name_no_id(okafors, people, firm_a, client_for, value):
    answer = client_for(firm_a, people["pm"]).get(f"{API}/reports/realised-gains/?{PERIOD}&account={value}")
    assert answer.status_code == 400 and error_of(answer)["detail"]["field"] == "account"


def test_an_account_outside_the_household_named_is_refused(okafors, people, firm_a, client_for):
    pm = client_for(firm_a, people["pm"])
    answer = pm.get(f"{API}/reports/realised-gains/?{PERIOD}&household={okafors['household'].pk}&account=TW-A")
    assert answer.status_code == 400
    assert error_of(answer)["detail"]["field"] == "account"


def test_schedule_d_of_an_unknown_household_is_refused_not_empty(okafors, people, firm_a, client_for):
    pm = client_for(firm_a, people["pm"])
    found = pm.get(f"{API}/reports/schedule-d/?year=2026&household={okafors['household'].pk}")
    assert found.status_code == 200 and {r["household"] for r in found.json()} == {"HH-OK"}
    refused = pm.get(f"{API}/reports/schedule-d/?year=2026&household=NO-SUCH")
    assert refused.status_code == 400
    assert error_of(refused)["message"] == "None of your households has the id or external id given in 'household'."
    assert error_of(refused)["detail"]["field"] == "household"


def test_a_value_that_is_one_households_id_and_anothers_external_id_is_refused(okafors, people, firm_a, client_for):
    with tenant_context(firm_a):
        Household.objects.create(name="Digits family", external_id=str(okafors["household"].pk))
    answer = client_for(firm_a, people["pm"]).get(
        f"{API}/reports/realised-gains/?{PERIOD}&household={okafors['household'].pk}")
    assert answer.status_code == 400 and "give the id" in error_of(answer)["message"]


def test_an_advisor_is_refused_a_household_not_theirs_by_id_as_by_external_id(okafors, firm_a, firm_user, client_for):
    stranger = client_for(firm_a, firm_user(firm_a, "adv2@filters.example", FirmRole.ADVISOR))
    for value in (okafors["household"].pk, okafors["household"].external_id):
        answer = stranger.get(f"{API}/reports/realised-gains/?{PERIOD}&household={value}")
        assert answer.status_code == 400 and error_of(answer)["detail"]["field"] == "household"

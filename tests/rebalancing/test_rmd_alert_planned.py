"""An IRA's open RMD alert is resolved once nothing of the RMD is left to take or plan - planned as
an RMD's sales or recorded as taken at the custodian - in the transaction that planned it; a plan
rejected later gives the money back and the next run's RMD check raises the alert again."""

from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Alert, HouseholdProposal
from rebalancing.selectors import RunScope
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide
from rebalancing.services.rmd import account_rmd_facts_set, rmd_due
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF
from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db
YEAR = AS_OF.year


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@rmd-alert.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        # 76 in 2026: 100,000 / 23.7 = 4,219.41, due by 31 December, within a quarter of it on AS_OF
        account_rmd_facts_set(user=advisor, account=made["ira"], owner_birth_date=date(1950, 6, 1),
                              spouse_birth_date=None, year_end_value=Decimal("100000"), year_end_year=YEAR - 1,
                              today=AS_OF)
        yield {**made, "advisor": advisor}


def _run(lees):
    run = run_start(scope=RunScope(household_id=lees["household"].pk), as_of=AS_OF, label="nightly")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)


def _open(lees) -> list[Alert]:
    return list(Alert.objects.filter(account=lees["ira"], kind=Alert.Kind.RMD, resolved_at__isnull=True))


def _enter(lees, amount=None, **kw):
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=amount,
                           account=lees["ira"], as_of=AS_OF, **kw).cash_flow


def test_planning_what_is_left_resolves_the_rmd_alert_and_a_rejection_lets_the_next_run_raise_it(lees):
    # Given the nightly run's open RMD alert of the IRA: $4,219.41 not yet taken or planned
    _run(lees)
    [alert] = _open(lees)
    assert alert.amount == Decimal("4219.41")
    # When part of it is planned, the alert stays open: money is still left
    first = _enter(lees, Decimal("4000"))
    assert [a.pk for a in _open(lees)] == [alert.pk]
    # When the rest is planned ("Plan the $219.41 left"), nothing is left and the alert is resolved
    _enter(lees)
    assert rmd_due(account=lees["ira"], year=YEAR).remaining == 0
    assert _open(lees) == []
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    # When the first plan is rejected its money never left: the next run raises the alert again
    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=first.run), user=lees["advisor"],
                              approve=False, comment="client took it in cash elsewhere")
    _run(lees)
    [again] = _open(lees)
    assert again.pk != alert.pk and again.amount == Decimal("4000.00")


def test_an_rmd_recorded_as_taken_at_the_custodian_resolves_the_alert(lees):
    _run(lees)
    assert _open(lees)
    _enter(lees, Decimal("4219.41"), taken_outside=True)
    assert _open(lees) == []
    _run(lees)  # the run's check agrees: nothing left, no alert
    assert _open(lees) == []


def test_an_rmd_refused_resolves_nothing(lees):
    _run(lees)
    [alert] = _open(lees)
    with pytest.raises(ValidationFailed):
        _enter(lees, Decimal("4219.41"), taken_outside=True, makes_up_year=YEAR - 5)
    assert [a.pk for a in _open(lees)] == [alert.pk]

"""A household managed as one, end to end through a real Celery worker: a run solves it whole
(engine.rebalance_household), one decision approves its accounts' proposals; a deposit entered for
it is credited and invested by a run the worker does."""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import (
    Account,
    CashFlow,
    Household,
    HouseholdProposal,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    RebalanceRun,
    Security,
)
from rebalancing.selectors import RunScope
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide
from rebalancing.services.runs import run_start
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..rebalancing.book import AS_OF
from ..rebalancing.household_book import make_unit_household
from ..rebalancing.workflow import policy
from .conftest import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def committed_household(django_db_blocker):
    """The Lees committed in firm A (a worker process cannot see an open test transaction), and a
    portfolio manager (the household has no advisor, so a portfolio manager approves)."""
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10,
                   compliance_min_estimated_tax=10**9)
            made = make_unit_household()
            pm = user_ensure(username="pm@household-run.example", email="pm@household-run.example",
                             roles=[FirmRole.PORTFOLIO_MANAGER], password="x-pass-12345")
    yield firm, made, pm
    with django_db_blocker.unblock(), tenant_context(firm):
        CashFlow.objects.all().delete()
        RebalanceRun.objects.all().delete()
        Account.objects.all().delete()
        Household.objects.all().delete()
        ModelPortfolio.objects.all().delete()
        ParameterTemplate.objects.all().delete()
        Security.objects.all().delete()
        pm.delete()


def _finished(firm, run_id):
    with tenant_context(firm):
        run = RebalanceRun.objects.get(pk=run_id)
        return run if run.status == RebalanceRun.Status.COMPLETED else None


def test_a_household_run_through_the_worker_is_decided_as_one(celery_worker_process, committed_household,
                                                               django_db_blocker):
    firm, made, pm = committed_household
    with django_db_blocker.unblock():
        with tenant_context(firm):
            run = run_start(scope=RunScope(account_ids=(made["roth"].pk,)), as_of=AS_OF, label="integration")
        done = wait_for(lambda: _finished(firm, run.pk), worker=celery_worker_process)
        with tenant_context(firm):
            assert (done.total, done.done, done.failed) == (3, 3, 0)  # one account brought the household
            together = HouseholdProposal.objects.get(run=run)
            assert together.proposals.count() == 3 and together.drift_after < together.drift_before

            after = household_proposal_decide(household_proposal=together, user=pm, approve=True, comment="go")

            assert {p.status for p in after} == {Proposal.Status.APPROVED}


def test_a_deposit_is_invested_by_a_household_run_the_worker_does(celery_worker_process, committed_household,
                                                                   django_db_blocker):
    firm, made, pm = committed_household
    with django_db_blocker.unblock():
        with tenant_context(firm):
            flow = cash_flow_enter(user=pm, household=made["household"], kind="deposit", amount=Decimal("5000"),
                                   account=made["joint"], as_of=AS_OF).cash_flow
        done = wait_for(lambda: _finished(firm, flow.run_id), worker=celery_worker_process)
        with tenant_context(firm):
            joint = Proposal.objects.get(run=done, account=made["joint"])
            assert joint.result["summary"]["cash_before"] == pytest.approx(7000)  # 2,000 + the deposit
            assert HouseholdProposal.objects.filter(run=done).count() == 1

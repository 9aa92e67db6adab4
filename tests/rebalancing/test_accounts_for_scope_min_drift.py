"""A run limited by minimum drift reads the drift each account's latest proposal leaves it at:
what it found until its trades executed, then what they left (``selectors.accounts_for_scope``).
Before, an account whose proposal had executed was still chosen by the drift it had before."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.selectors import RunScope, accounts_for_scope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db


def _proposals_at(status: str, drift_before: float, drift_after: float) -> list[Proposal]:
    run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    Proposal.objects.filter(run=run).update(status=status, drift_before=drift_before, drift_after=drift_after)
    return list(Proposal.objects.filter(run=run).order_by("account_id"))


@pytest.mark.parametrize(("status", "chosen"), [
    # Executed: its trades left 0.5% of drift, below the run's 3%: the account is left out
    (Proposal.Status.EXECUTED, False),
    # Released, its orders open or partly filled: it still counts at the 12% it found (its fills so far
    # are measured by no proposal; leaving it out could skip an account still drifted)
    (Proposal.Status.RELEASED, True),
    # Waiting for a decision: nothing has traded, the 12% it found stands
    (Proposal.Status.PENDING, True),
])
def test_min_drift_reads_what_the_latest_proposal_leaves(firm_a, status, chosen):
    with tenant_context(firm_a):
        # Given accounts whose latest proposal found 12% of drift and planned 0.5%
        make_book(2)
        proposals = _proposals_at(status, drift_before=0.12, drift_after=0.005)

        # When a run is limited to accounts drifted 3% or more
        ids = set(accounts_for_scope(RunScope(firm=True, min_drift=0.03)))

        # Then every account is in the run, or none is, as its latest proposal leaves it
        accounts = {p.account_id for p in proposals}
        assert (accounts & ids) == (accounts if chosen else set())


def test_an_executed_proposal_that_left_drift_is_chosen_by_it(firm_a):
    with tenant_context(firm_a):
        # Given an executed proposal that found 2% and, its tax budget spent, left 4%
        make_book(1)
        [proposal] = _proposals_at(Proposal.Status.EXECUTED, drift_before=0.02, drift_after=0.04)

        # Then a 3% run takes the account (before, it read the 2% and left it out)
        assert list(accounts_for_scope(RunScope(firm=True, min_drift=0.03))) == [proposal.account_id]

"""A proposal is as old as its prices, not its run: a run today on closes from three weeks ago is
three-week-old advice, which the policy's price-age limit (``max_price_age_days``) expires instead of
releasing. The book's closes are of AS_OF (2026-11-20); the runs here are ten days later."""

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Price, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import proposal_release, proposals_expire_stale
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.errors import Conflict
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import policy

pytestmark = pytest.mark.django_db
LATER = AS_OF + timedelta(days=10)
S = Proposal.Status


def _run(as_of) -> Proposal:
    run = run_start(scope=RunScope(firm=True), as_of=as_of)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return Proposal.objects.get(run=run)


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@priced.example", FirmRole.PORTFOLIO_MANAGER)


def test_a_run_on_old_closes_is_priced_on_their_day_and_expires_instead_of_being_released(firm_a, pm):
    with tenant_context(firm_a):
        make_book(1)
        policy(auto_approve=False)
        proposal = _run(LATER)
        assert (proposal.run.as_of, proposal.priced_on) == (LATER, AS_OF)
        Proposal.objects.filter(pk=proposal.pk).update(status=S.APPROVED)

        with pytest.raises(Conflict, match="priced on 2026-11-20 and has expired"):
            proposal_release(proposal=proposal, user=pm, today=LATER)
        assert Proposal.objects.get(pk=proposal.pk).status == S.EXPIRED


def test_the_nightly_expiry_judges_by_the_prices_day(firm_a):
    with tenant_context(firm_a):
        make_book(1)
        policy(auto_approve=False)
        proposal = _run(LATER)
        assert proposal.status == S.PENDING

        assert proposals_expire_stale(today=LATER) == 1
        assert Proposal.objects.get(pk=proposal.pk).status == S.EXPIRED


def test_fresh_closes_keep_a_proposal_releasable(firm_a, pm):
    with tenant_context(firm_a):
        make_book(1)
        policy(auto_approve=False)
        for price in list(Price.objects.filter(date=AS_OF)):  # every security priced again on the run's day
            Price.objects.create(security_id=price.security_id, date=LATER, close=price.close)
        proposal = _run(LATER)
        assert proposal.priced_on == LATER
        assert proposals_expire_stale(today=LATER) == 0

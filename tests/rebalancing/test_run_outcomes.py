"""What a run leaves behind: no proposal where there is nothing to do, and approved proposals not yet
released kept unless the run was told to replace them."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Proposal, RunOutcome
from rebalancing.selectors import RunScope, accounts_approved_unreleased
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db


def _process(run):
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    run.refresh_from_db()
    return run


def test_an_account_with_nothing_to_trade_gets_no_proposal_and_counts_as_nothing_to_do(firm_a):
    with tenant_context(firm_a):
        book = make_book(3)
        quiet = book["accounts"][0]
        # Bands wide enough that nothing is out of them: the engine proposes no trade.
        Account.objects.filter(pk=quiet.pk).update(overrides={})
        book["template"].parameters = {"drift": {"enabled": True, "absolute_band": 1.0, "relative_band": 10}}
        book["template"].save()
        run = _process(run_start(scope=RunScope(account_ids=(quiet.pk,)), as_of=AS_OF))
        assert not Proposal.objects.filter(run=run).exists()
        assert RunOutcome.objects.get(run=run, account=quiet).outcome == RunOutcome.Outcome.NO_TRADES
        assert (run.done, run.failed) == (1, 0)


def test_a_later_run_keeps_approved_unreleased_proposals_unless_told_to_replace_them(firm_a):
    with tenant_context(firm_a):
        book = make_book(3)
        first = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))
        approved, pending = Proposal.objects.filter(run=first).order_by("account_id")[:2]
        Proposal.objects.filter(pk=approved.pk).update(status=Proposal.Status.APPROVED)
        Proposal.objects.filter(run=first).exclude(pk=approved.pk).update(status=Proposal.Status.PENDING)
        assert accounts_approved_unreleased(RunScope(firm=True)) == 1

        second = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))

        assert second.total == 2  # the approved account is left out
        assert not Proposal.objects.filter(run=second, account_id=approved.account_id).exists()
        assert Proposal.objects.get(pk=approved.pk).status == Proposal.Status.APPROVED
        assert Proposal.objects.get(pk=pending.pk).status == Proposal.Status.SUPERSEDED

        third = _process(run_start(scope=RunScope(firm=True, replace_approved=True), as_of=AS_OF))

        assert third.total == len(book["accounts"])
        assert Proposal.objects.get(pk=approved.pk).status == Proposal.Status.SUPERSEDED
        assert AuditEvent.objects.filter(action="proposal.supersede", object_id=str(approved.pk)).exists()


def test_replace_approved_alone_is_not_a_scope(firm_a):
    from tenants.errors import ValidationFailed

    with tenant_context(firm_a):
        make_book(1)
        with pytest.raises(ValidationFailed, match="a run needs a scope"):
            run_start(scope=RunScope(replace_approved=True), as_of=AS_OF)

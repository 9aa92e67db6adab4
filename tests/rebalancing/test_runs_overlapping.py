"""Two runs over the same accounts, and a run's scope moving between its start and its dispatch
(found by a newcomer's audit of the demo: a run waited ten minutes for accounts no chunk solved, and
an older run finishing last superseded the newer run's proposals)."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_chunks_dispatched, run_process_chunk, run_start
from rebalancing.tasks import run_dispatch
from tenants.audit.models import AuditEvent

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db
S = Proposal.Status


def _process(run, chunks=None):
    for chunk in chunks if chunks is not None else run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    run.refresh_from_db()
    return run


def test_accounts_that_leave_the_scope_before_dispatch_are_not_waited_for(firm_a, monkeypatch):
    with tenant_context(firm_a):
        book = make_book(3)
        first = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="second")
        assert run.total == 3
        # Before it is dispatched, one account's proposal of the first run is approved: its approval
        # stands, so the account sits the second run out.
        Proposal.objects.filter(run=first, account=book["accounts"][0]).update(status=S.APPROVED)
        sent = []
        monkeypatch.setattr("rebalancing.tasks.rebalance_chunk.delay", lambda run_id, ids: sent.append(ids))
        run_dispatch.run(run.pk)
        run.refresh_from_db()
        assert run.total == 2 and sorted(a for c in sent for a in c) == sorted(a.pk for a in book["accounts"][1:])
        event = AuditEvent.objects.get(action="run.dispatch", object_id=str(run.pk))
        assert event.before == {"accounts": 3} and event.after == {"accounts": 2}
        assert event.comment.startswith("1 account(s) left the run's scope between its start and its dispatch")

        run = _process(run, sent)
        assert run.status == RebalanceRun.Status.COMPLETED and (run.done, run.failed, run.remaining) == (2, 0, 0)
        # Sent again (a redelivered message), the count stands and nothing is audited twice.
        assert run_chunks_dispatched(run) and RebalanceRun.objects.get(pk=run.pk).total == 2
        assert AuditEvent.objects.filter(action="run.dispatch").count() == 1


def test_a_run_whose_accounts_all_left_before_dispatch_completes(firm_a, monkeypatch):
    with tenant_context(firm_a):
        book = make_book(1)
        first = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        Proposal.objects.filter(run=first).update(status=S.APPROVED)
        monkeypatch.setattr("rebalancing.tasks.rebalance_chunk.delay", lambda *a: pytest.fail("nothing to send"))
        run_dispatch.run(run.pk)
        run.refresh_from_db()
        assert (run.status, run.total) == (RebalanceRun.Status.COMPLETED, 0) and run.finished_at is not None
        assert book


def test_an_older_run_finishing_last_leaves_the_newer_runs_proposals_standing(firm_a):
    with tenant_context(firm_a):
        book = make_book(2)
        older = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="whole firm")
        newer = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="one model")
        older_chunks = run_chunks(older)
        newer = _process(newer)
        older = _process(older, older_chunks)

        standing = Proposal.objects.filter(account__in=book["accounts"], status=S.PENDING)
        assert {p.run_id for p in standing} == {newer.pk} and standing.count() == 2
        assert not Proposal.objects.filter(run=older).exists()
        outcomes = RunOutcome.objects.filter(run=older)
        assert {(o.outcome, o.code) for o in outcomes} == {(RunOutcome.Outcome.NO_TRADES, "newer_run")}
        assert outcomes.first().message == f"run {newer.pk}, started after this one, proposed for it first; " \
                                           "its proposal stands"
        assert older.status == RebalanceRun.Status.COMPLETED and older.done == 2

        # In the usual order the later run supersedes the earlier one's, as before.
        later = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))
        assert {p.run_id for p in Proposal.objects.filter(account__in=book["accounts"], status=S.PENDING)} == {later.pk}
        assert Proposal.objects.filter(run=newer, status=S.SUPERSEDED).count() == 2

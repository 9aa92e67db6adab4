"""Runs processed in this process (the worker path is in tests/integration/test_batch_rebalance.py)."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Alert, Price, Proposal, ProposalApproval, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services import runs as run_services
from rebalancing.services.runs import run_cancel, run_chunks, run_process_chunk, run_start
from tenants.errors import Conflict, ValidationFailed

from .book import AS_OF, make_account, make_book

pytestmark = pytest.mark.django_db


def _process(run):
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    run.refresh_from_db()
    return run


def test_a_firm_run_makes_one_proposal_per_account(firm_a, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        book = make_book(4)
        with django_capture_on_commit_callbacks() as callbacks:
            run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="test")
        assert len(callbacks) == 1  # dispatch is queued only once the run is committed

        run = _process(run)

        assert run.status == RebalanceRun.Status.COMPLETED and run.total == 4
        assert (run.done, run.failed, run.remaining) == (4, 0, 0)
        assert Proposal.objects.filter(run=run).count() == 4
        proposal = Proposal.objects.filter(run=run).first()
        assert proposal.result["trades"] and proposal.trade_count == len(proposal.result["trades"])
        assert proposal.model_version_id == book["model"].current_version.pk
        assert set(run.timings) >= {"load", "solve", "write", "chunks"}


def test_a_runs_proposals_are_submitted_under_the_policy_as_they_are_written(firm_a):
    from tenants.audit.models import AuditEvent

    from .workflow import policy

    # given a policy that approves one account's proposal (discretionary, small) and not the other's
    with tenant_context(firm_a):
        book = make_book(2)
        small, large = book["accounts"]
        Account.objects.filter(pk=small.pk).update(discretionary=True)
        Account.objects.filter(pk=large.pk).update(discretionary=False)
        policy(auto_approve=True, auto_max_estimated_tax=1_000_000, auto_max_turnover=1, auto_max_trades=1000)

        # when a run proposes for both
        run = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))

        # then each proposal is written approved or pending, with its approval and audit row
        by_account = {p.account_id: p for p in Proposal.objects.filter(run=run)}
        approved, pending = by_account[small.pk], by_account[large.pk]
        assert (approved.status, pending.status) == (Proposal.Status.APPROVED, Proposal.Status.PENDING)
        assert approved.status_changed_at is not None and pending.status_changed_at is not None
        assert approved.approvals.get().capacity == ProposalApproval.Capacity.POLICY
        assert not pending.approvals.exists()
        audited = {(e.action, e.object_id): (e.before, e.after) for e in AuditEvent.objects.filter(
            action__in=["proposal.auto_approve", "proposal.submit"])}
        assert audited == {
            ("proposal.auto_approve", str(approved.pk)): ({"status": "draft"}, {"status": "approved"}),
            ("proposal.submit", str(pending.pk)): ({"status": "draft"}, {"status": "pending_approval"}),
        }


def test_processing_a_chunk_again_duplicates_nothing(firm_a):
    with tenant_context(firm_a):
        make_book(3)
        run = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))
        proposals = list(Proposal.objects.filter(run=run).values_list("pk", "account_id"))

        again = _process(run)

        assert list(Proposal.objects.filter(run=run).values_list("pk", "account_id")) == proposals
        assert (again.done, again.failed) == (3, 0)


def test_a_twin_of_a_chunk_that_wrote_first_leaves_it_nothing_to_write(firm_a, monkeypatch):
    # given a chunk whose twin (the same message delivered again) runs to the end while it solves
    with tenant_context(firm_a):
        make_book(3)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        [chunk] = run_chunks(run)
        load = run_services.rebalance_inputs_load
        twin_ran = []

        def load_while_a_twin_runs(*args, **kwargs):
            if not twin_ran:
                twin_ran.append(None)  # the twin itself loads as usual
                twin_ran[0] = run_process_chunk(run_id=run.pk, account_ids=chunk)
            return load(*args, **kwargs)

        monkeypatch.setattr(run_services, "rebalance_inputs_load", load_while_a_twin_runs)

        # when the chunk comes to write
        outcome = run_process_chunk(run_id=run.pk, account_ids=chunk)

        # then it finds the twin's outcomes and writes nothing again
        assert twin_ran[0].proposals == 3 and outcome.proposals == 0
        assert Proposal.objects.filter(run=run).count() == 3
        assert RunOutcome.objects.filter(run=run).count() == 3
        run.refresh_from_db()
        assert (run.done, run.failed) == (3, 0)


def test_a_chunk_that_dies_while_writing_leaves_nothing_and_is_redone(firm_a, monkeypatch):
    with tenant_context(firm_a):
        make_book(3)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        [chunk] = run_chunks(run)

        def lost_connection(*args, **kwargs):
            raise ConnectionError("server closed the connection")

        with monkeypatch.context() as patched:
            # The chunk's outcomes and alerts are written after its proposals: the connection goes there.
            patched.setattr(run_services, "objects_insert_by_copy", lost_connection)
            with pytest.raises(ConnectionError):
                run_process_chunk(run_id=run.pk, account_ids=chunk)
        assert Proposal.objects.filter(run=run).count() == 0
        assert RunOutcome.objects.filter(run=run).count() == 0

        run_process_chunk(run_id=run.pk, account_ids=chunk)
        assert Proposal.objects.filter(run=run).count() == 3


def test_a_failing_account_is_recorded_and_the_run_goes_on(firm_a):
    with tenant_context(firm_a):
        book = make_book(2)
        Price.objects.filter(security__symbol="SCHB").delete()
        broken = make_account("T-BROKEN", model=book["model"], holdings=[("SCHB", 10, 900, date(2024, 1, 2))])
        run = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))

        assert (run.done, run.failed, run.status) == (2, 1, RebalanceRun.Status.COMPLETED)
        failure = RunOutcome.objects.get(run=run, outcome=RunOutcome.Outcome.FAILED)
        assert failure.account_id == broken.pk
        assert failure.code == "missing_price" and "SCHB" in failure.message


def test_scopes_select_the_right_accounts(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@firm-a.example")
    with tenant_context(firm_a):
        book = make_book(3, advisor=advisor)
        other = make_account("T-OTHER", model=book["model"], holdings=[("VTI", 5, 400, date(2024, 1, 2))])
        one = run_start(scope=RunScope(account_ids=(other.pk,)), as_of=AS_OF)
        by_advisor = run_start(scope=RunScope(advisor_id=advisor.pk), as_of=AS_OF)
        by_template = run_start(scope=RunScope(template_code="standard"), as_of=AS_OF)
        by_household = run_start(scope=RunScope(household_id=other.household_id), as_of=AS_OF)

        assert (one.total, by_advisor.total, by_template.total, by_household.total) == (1, 3, 3, 1)
        with pytest.raises(ValidationFailed, match="a run needs a scope"):
            run_start(scope=RunScope(), as_of=AS_OF)


def test_a_cancelled_run_skips_the_chunks_not_yet_started(firm_a):
    with tenant_context(firm_a):
        make_book(2)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        run_cancel(run=run)

        assert run_process_chunk(run_id=run.pk, account_ids=run_chunks(run)[0]) is None
        assert Proposal.objects.filter(run=run).count() == 0
        with pytest.raises(Conflict, match="already cancelled"):
            run_cancel(run=run)


def test_firm_b_cannot_see_firm_a_runs(firm_a, firm_b):
    with tenant_context(firm_a):
        make_book(1)
        run = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF))
    with tenant_context(firm_b):
        assert not RebalanceRun.objects.filter(pk=run.pk).exists()
        assert not Proposal.objects.exists()
    assert connection.schema_name == "public"


def test_nightly_scan_proposes_only_where_there_is_something_to_do(firm_a, django_capture_on_commit_callbacks):
    from rebalancing.tasks import nightly_scan

    with tenant_context(firm_a):
        book = make_book(1)  # drifted: 300 VTI + 100 BND against 60/30/10
        on_model = make_account(
            "T-ONMODEL", model=book["model"], template=book["template"], cash="100",
            holdings=[("VTI", 600, 50000, date(2020, 1, 2)), ("BND", 375, 29000, date(2020, 1, 2)),
                      ("VNQ", 111, 9000, date(2020, 1, 2))],
        )
        book["template"].parameters = {"drift": {"enabled": True, "absolute_band": 0.05}}
        book["template"].save()

        with django_capture_on_commit_callbacks(execute=False):
            run = RebalanceRun.objects.get(pk=nightly_scan())
        run = _process(run)

        assert run.kind == RebalanceRun.Kind.NIGHTLY and run.status == RebalanceRun.Status.COMPLETED
        assert (run.done, run.failed) == (2, 0)
        assert list(Proposal.objects.filter(run=run).values_list("account_id", flat=True)) == [book["accounts"][0].pk]
        assert RunOutcome.objects.get(run=run, account=on_model).outcome == RunOutcome.Outcome.NO_TRADES
        assert Alert.objects.filter(run=run, account=book["accounts"][0], kind=Alert.Kind.DRIFT).exists()


def test_starting_and_cancelling_are_audited_and_need_the_capability(firm_a, firm_user):
    from tenants.audit.models import AuditEvent
    from tenants.errors import PermissionDenied
    from tenants.roles import FirmRole

    pm = firm_user(firm_a, "pm-audit@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    compliance = firm_user(firm_a, "co-audit@firm-a.example", FirmRole.COMPLIANCE)
    with tenant_context(firm_a):
        make_book(2)
        with pytest.raises(PermissionDenied):
            run_start(scope=RunScope(firm=True), as_of=AS_OF, user=compliance)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, user=pm)
        with pytest.raises(PermissionDenied):
            run_cancel(run=run, user=compliance)
        run_cancel(run=run, user=pm)

        started = AuditEvent.objects.get(action="run.start", object_id=str(run.pk))
        cancelled = AuditEvent.objects.get(action="run.cancel", object_id=str(run.pk))
    assert started.actor == "pm-audit@firm-a.example" and started.after["accounts"] == 2
    assert cancelled.before == {"status": "queued"} and cancelled.after["status"] == "cancelled"


def test_an_import_that_lands_is_audited_and_a_refused_one_is_not(firm_a, firm_user):
    from rebalancing.imports import ImportRejected, book_import
    from tenants.audit.models import AuditEvent

    pm = firm_user(firm_a, "pm-import@firm-a.example")
    with tenant_context(firm_a):
        book_import(kind="securities", source=b"symbol,name,asset_class\nAAA,Triple A,us_equity\n", by=pm)
        with pytest.raises(ImportRejected):
            book_import(kind="securities", source=b"symbol,name,asset_class\n,No symbol,us_equity\n", by=pm)
        events = list(AuditEvent.objects.filter(action="import.securities"))
    assert len(events) == 1
    assert events[0].actor == "pm-import@firm-a.example" and events[0].after["created"] == 1


@pytest.mark.parametrize("as_of", [date(1, 1, 1), date(1899, 12, 31), "the day after tomorrow", date(9999, 12, 31)])
def test_a_run_on_a_day_the_book_cannot_be_computed_on_is_refused_before_it_is_queued(firm_a, as_of):
    # A day near year 1 crashed every chunk (the wash-sale window ran off the calendar) and left the
    # run "running" for ever; a day after today looked for recent trades weeks ahead of them.
    from datetime import timedelta

    from django.utils import timezone

    as_of = timezone.localdate() + timedelta(days=2) if as_of == "the day after tomorrow" else as_of
    with tenant_context(firm_a):
        make_book(2)
        with pytest.raises(ValidationFailed, match="must be from 1900-01-01 to today") as refused:
            run_start(scope=RunScope(firm=True), as_of=as_of, label="test")
        assert refused.value.detail == {"field": "as_of"}
        assert not RebalanceRun.objects.exists()
        assert run_start(scope=RunScope(firm=True), as_of=timezone.localdate(), label="test").total == 2


def test_the_run_counts_each_accounts_outcome_once_as_its_ledger_does(firm_a, monkeypatch):
    # Given a run of four accounts in chunks of two, one account failing
    with tenant_context(firm_a):
        book = make_book(3)
        Price.objects.filter(security__symbol="SCHB").delete()
        make_account("T-BROKEN", model=book["model"], holdings=[("SCHB", 10, 900, date(2024, 1, 2))])
        monkeypatch.setattr(run_services, "CHUNK_ACCOUNTS", 2)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        chunks = run_chunks(run)
        ids = [a for chunk in chunks for a in chunk]
        loader = run_services.rebalance_inputs_load
        twins = []

        def twin_writes_first(account_ids, **kwargs):
            # A twin of this chunk (a message delivered again) writes its accounts while this one loads.
            if twins:
                run_process_chunk(run_id=run.pk, account_ids=twins.pop())
            return loader(account_ids, **kwargs)

        monkeypatch.setattr(run_services, "rebalance_inputs_load", twin_writes_first)
        # When chunks are processed, one again, one overlapping another, one whose twin writes first
        for chunk, twin in ((chunks[0], None), (chunks[0], None), (ids[1:3], None), (chunks[1], ids[2:]), (ids, None)):
            twins += [twin] if twin else []
            run_process_chunk(run_id=run.pk, account_ids=chunk)
            run.refresh_from_db()
            # Then after each, the run counts what its ledger holds
            ledger = RunOutcome.objects.filter(run=run)
            failed = ledger.filter(outcome=RunOutcome.Outcome.FAILED).count()
            assert (run.done, run.failed) == (ledger.count() - failed, failed)
        assert (run.done, run.failed, run.status) == (3, 1, RebalanceRun.Status.COMPLETED)
        assert run.timings["chunks"] == 6


def test_an_account_whose_released_orders_are_open_is_left_as_it_is_until_they_fill(firm_a):
    # Its orders are out at the custodian but not filled: the book still holds the lots and the drift,
    # so a new proposal would trade them a second time.
    with tenant_context(firm_a):
        make_book(3)
        first = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF, label="first"))
        released = Proposal.objects.filter(run=first).order_by("account_id").first()
        Proposal.objects.filter(pk=released.pk).update(status=Proposal.Status.RELEASED)

        second = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF, label="second"))
        held = RunOutcome.objects.get(run=second, account_id=released.account_id)
        assert (held.outcome, held.code) == (RunOutcome.Outcome.NO_TRADES, "orders_open")
        assert "still open at the custodian" in held.message
        assert not Proposal.objects.filter(run=second, account_id=released.account_id).exists()
        assert Proposal.objects.filter(run=second).count() == 2  # the others are rebalanced as usual
        assert Proposal.objects.get(pk=released.pk).status == Proposal.Status.RELEASED  # never superseded

        Proposal.objects.filter(pk=released.pk).update(status=Proposal.Status.EXECUTED)  # every order done
        third = _process(run_start(scope=RunScope(firm=True), as_of=AS_OF, label="third"))
        assert Proposal.objects.filter(run=third, account_id=released.account_id).exists()


@pytest.mark.parametrize(("code", "kind"), [
    ("harvest_opportunity", Alert.Kind.HARVEST), ("tax_limit_exceeded", Alert.Kind.TAX_LIMIT),
    ("max_names_exceeded", Alert.Kind.MAX_NAMES), ("wash_sale_disallowed", Alert.Kind.WASH_SALE),
    ("a_code_added_later", Alert.Kind.OTHER),
])
def test_each_alert_the_engine_names_is_stored_under_its_own_kind(code, kind):
    from types import SimpleNamespace

    from rebalancing.engine import Alert as EngineAlert

    result = SimpleNamespace(alerts=(EngineAlert(code, "what the engine says", amount=12.345),), trades=(),
                             summary=SimpleNamespace(drift_before=0.0))
    [alert] = run_services._alerts(None, 7, result)
    # (12.345 half up, as every stored amount: engine.money.cents)
    assert (alert.kind, alert.account_id, alert.message, alert.amount) == (kind, 7, "what the engine says", D("12.35"))

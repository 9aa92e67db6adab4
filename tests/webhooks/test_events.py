"""Events are announced by the services inside their transaction and queued on commit: only to the
firm's own endpoints subscribed to the type, never when the action rolls back, and never failing it."""

import pytest
from django.db import DatabaseError, transaction
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery, WebhookEvent
from rebalancing.services.proposals import proposal_approve, proposal_reject, proposal_release
from rebalancing.webhooks import events

pytestmark = pytest.mark.django_db
EVERYTHING = [t.value for t in events.EventType]


def _announced(firm) -> list[tuple[str, dict]]:
    with tenant_context(firm):
        return [(e.event_type, e.payload) for e in WebhookEvent.objects.order_by("occurred_at", "event_type")]


def test_approving_and_releasing_announce_to_subscribed_endpoints_on_commit(
        firm_a, book, people, endpoint_for, django_capture_on_commit_callbacks):
    everything = endpoint_for(firm_a, "http://127.0.0.1:9/all", EVERYTHING)
    endpoint_for(firm_a, "http://127.0.0.1:9/runs-only", ["run.finished"])
    proposal = book["own_proposal"]

    with tenant_context(firm_a), django_capture_on_commit_callbacks() as queued:
        proposal_release(proposal=proposal_approve(proposal=proposal, user=people["advisor"], comment="fine"),
                         user=people["pm"])
        deliveries = list(WebhookDelivery.objects.values_list("endpoint_id", "event__event_type"))

    assert sorted(deliveries) == [(everything.pk, "orders.released"), (everything.pk, "proposal.approved")]
    assert len(queued) == 2  # each action's deliveries are sent after its commit
    (approved_type, approved), (released_type, released) = sorted(_announced(firm_a), key=lambda e: e[0], reverse=True)
    assert approved_type == "proposal.approved" and approved == {
        "proposal": proposal.pk, "run": book["run"].pk, "status": "approved", "account_number": "T-000",
        "trades": proposal.trade_count, "estimated_tax": str(proposal.estimated_tax),
        "requires_compliance": False, "by": "adv1@a.example", "comment": "fine"}
    assert released_type == "orders.released" and released["released_by"] == "pm@a.example"
    assert [o["order_id"] for o in released["orders"]] == [f"P{proposal.pk}-{n}"
                                                          for n in range(1, len(released["orders"]) + 1)]


def test_a_rejection_is_announced_with_its_reason(firm_a, book, people, endpoint_for):
    endpoint_for(firm_a, "http://127.0.0.1:9/decisions", ["proposal.approved", "proposal.rejected"])

    with tenant_context(firm_a):
        proposal_reject(proposal=book["own_proposal"], user=people["advisor"], comment="client is moving")

    [(kind, data)] = _announced(firm_a)
    assert kind == "proposal.rejected" and data["comment"] == "client is moving" and data["status"] == "rejected"


def test_nothing_is_announced_when_the_action_rolls_back(firm_a, book, people, endpoint_for):
    endpoint_for(firm_a, "http://127.0.0.1:9/all", EVERYTHING)

    with tenant_context(firm_a):
        with pytest.raises(RuntimeError), transaction.atomic():
            proposal_approve(proposal=book["own_proposal"], user=people["advisor"])
            raise RuntimeError("the caller's transaction fails after the approval")

    assert _announced(firm_a) == []


def test_without_a_subscribed_endpoint_nothing_is_stored_and_the_payload_is_not_built(firm_a, endpoint_for):
    endpoint_for(firm_a, "http://127.0.0.1:9/other", ["orders.released"])
    off = endpoint_for(firm_a, "http://127.0.0.1:9/off", ["run.finished"])
    with tenant_context(firm_a):
        from rebalancing.webhooks.endpoints import webhook_endpoint_update

        webhook_endpoint_update(endpoint=off, user=None, active=False)

        def payload():
            raise AssertionError("built for nobody")

        assert events.webhook_emit(events.EventType.RUN_FINISHED, payload) == 0
    assert _announced(firm_a) == []


def test_a_firms_endpoints_never_receive_another_firms_events(firm_a, firm_b, book, people, endpoint_for):
    endpoint_for(firm_b, "http://127.0.0.1:9/firm-b", EVERYTHING)

    with tenant_context(firm_a):
        proposal_approve(proposal=book["own_proposal"], user=people["advisor"])

    assert _announced(firm_a) == [] and _announced(firm_b) == []
    with tenant_context(firm_b):
        assert not WebhookDelivery.objects.exists()


def test_a_webhook_failure_never_fails_the_action(firm_a, book, people, endpoint_for, monkeypatch):
    endpoint_for(firm_a, "http://127.0.0.1:9/all", EVERYTHING)

    def broken(*args, **kwargs):
        raise DatabaseError("the events table is unavailable")

    monkeypatch.setattr(WebhookEvent.objects, "bulk_create", broken)
    with tenant_context(firm_a):
        approved = proposal_approve(proposal=book["own_proposal"], user=people["advisor"])
        approved.refresh_from_db()

    assert approved.status == "approved"
    assert _announced(firm_a) == []


def test_a_run_announces_it_finished_with_its_counts_and_each_proposal_waiting(firm_a, people, endpoint_for):
    from rebalancing.models import ApprovalPolicy
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    from ..rebalancing.book import AS_OF, make_book

    endpoint_for(firm_a, "http://127.0.0.1:9/all", ["run.finished", "proposal.pending_approval"])
    with tenant_context(firm_a):
        ApprovalPolicy.current()
        ApprovalPolicy.objects.update(auto_approve=False, max_price_age_days=3650)
        make_book(3)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)

    announced = _announced(firm_a)
    pending = [data for kind, data in announced if kind == "proposal.pending_approval"]
    [finished] = [data for kind, data in announced if kind == "run.finished"]
    assert finished == {"run": run.pk, "kind": "manual", "status": "completed", "as_of": AS_OF.isoformat(),
                        "accounts": 3, "done": 3, "failed": 0, "proposed": 3, "no_trades": 0,
                        "pending_approval": 3, "approved": 0}
    assert sorted(p["account_number"] for p in pending) == ["T-000", "T-001", "T-002"]


def test_a_stalled_run_is_announced_once_the_watch_sends_it_again(firm_a, endpoint_for, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from rebalancing import dispatch
    from rebalancing.selectors import RunScope
    from rebalancing.services import runs as run_services
    from rebalancing.services.run_recovery import runs_watch
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    from ..rebalancing.book import AS_OF, make_book

    monkeypatch.setattr(run_services, "CHUNK_ACCOUNTS", 2)
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: sent.append((task, args)))
    endpoint_for(firm_a, "http://127.0.0.1:9/stalls", ["run.stalled"])
    with tenant_context(firm_a):
        make_book(4)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="test")
        run_process_chunk(run_id=run.pk, account_ids=run_chunks(run)[0])  # the second chunk's worker is lost
        t0 = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            runs_watch(now=t0)
        with django_capture_on_commit_callbacks(execute=True):
            runs_watch(now=t0 + timedelta(minutes=11))
        delivery = WebhookDelivery.objects.get()

    [(kind, data)] = _announced(firm_a)
    assert kind == "run.stalled" and data == {"run": run.pk, "kind": "manual", "accounts": 4, "done": 2,
                                              "failed": 0, "attempts": 1, "chunks_sent_again": 1,
                                              "given_up": False}
    assert (dispatch.WEBHOOK_DELIVER, (delivery.pk,)) in sent


def test_a_reconciliation_break_is_announced_and_a_match_is_not(firm_a, endpoint_for):
    from rebalancing.ledger.reconciliation import reconciliation_import

    from ..rebalancing.book import AS_OF, make_book

    endpoint_for(firm_a, "http://127.0.0.1:9/breaks", ["reconciliation.break"])
    header = "account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
    with tenant_context(firm_a):
        book = make_book(1)
        lots = [(lot.lot_id, lot.security.symbol, lot.quantity, lot.cost_basis, lot.acquired)
                for lot in book["accounts"][0].lots.select_related("security").order_by("lot_id")]
        same = header + "".join(f"T-000,{i},{s},{q},{c},{a}\n" for i, s, q, c, a in lots)
        reconciliation_import(source=same.encode(), as_of=AS_OF, file_name="same.csv")
        assert _announced(firm_a) == []
        short = header + "".join(f"T-000,{i},{s},{q - 1},{c},{a}\n" for i, s, q, c, a in lots)
        differing = reconciliation_import(source=short.encode(), as_of=AS_OF, file_name="short.csv")

    [(kind, data)] = _announced(firm_a)
    assert kind == "reconciliation.break" and data == {
        "reconciliation": differing.pk, "as_of": AS_OF.isoformat(), "file_name": "short.csv", "accounts": 1,
        "accounts_differing": ["T-000"]}

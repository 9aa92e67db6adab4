"""The events a firm can subscribe to, and how the services announce them.

``webhook_emit`` is called by a service inside its transaction. It stores the event and one
delivery per subscribed endpoint, and sends the deliveries to Celery in ``transaction.on_commit``:
an action that rolls back announces nothing, and an action never waits for, or fails because of, a
receiver. The tables are the firm's own (schema per firm), so only the firm's endpoints are found.
With no endpoint subscribed to the type it costs one query, and the payload is never built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from enum import StrEnum

from django.db import DatabaseError, transaction
from django.db.models import Count
from django.utils import timezone

from rebalancing import dispatch
from rebalancing.models import (
    Order,
    Proposal,
    RebalanceRun,
    Reconciliation,
    ReconciliationAccount,
    RunOutcome,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = ["EventType", "webhook_emit", "webhook_emit_many"]

logger = logging.getLogger(__name__)


class EventType(StrEnum):
    """``value`` is the ``type`` of the body; ``words`` what the pages say."""

    RUN_FINISHED = "run.finished", "A run finished (with its counts)"
    PROPOSAL_PENDING = "proposal.pending_approval", "A proposal is waiting for approval"
    PROPOSAL_APPROVED = "proposal.approved", "A proposal was approved"
    PROPOSAL_REJECTED = "proposal.rejected", "A proposal was rejected"
    ORDERS_RELEASED = "orders.released", "A proposal's orders were released"
    EXECUTIONS_IMPORTED = "executions.imported", "Executions were applied to the ledger"
    RECONCILIATION_BREAK = "reconciliation.break", "A custodian's positions differ from the ledger"
    RUN_STALLED = "run.stalled", "A run stalled (no progress; sent again or given up)"

    def __new__(cls, value: str, words: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.words = words
        return member


Payload = dict | Callable[[], dict]


def webhook_emit(event_type: EventType, payload: Payload) -> int:
    """Announce one event; ``payload`` (or a function making it) is the body's ``data``."""
    return webhook_emit_many(event_type, lambda: [payload() if callable(payload) else payload])


def webhook_emit_many(event_type: EventType, payloads: Callable[[], Iterable[dict]]) -> int:
    """Announce several events of a type at once (a run's chunk of proposals): a fixed number of
    queries however many. Returns the number of deliveries queued."""
    event_type = EventType(event_type)
    try:
        with transaction.atomic():  # a savepoint: a failure here is logged, the action goes on
            endpoints = list(WebhookEndpoint.objects.receiving().filter(event_types__contains=[event_type.value])
                             .values_list("pk", flat=True))
            if not endpoints:
                return 0
            now = timezone.now()
            events = WebhookEvent.objects.bulk_create(
                [WebhookEvent(event_type=event_type.value, payload=data, occurred_at=now) for data in payloads()])
            deliveries = WebhookDelivery.objects.bulk_create(
                [WebhookDelivery(event=event, endpoint_id=pk) for event in events for pk in endpoints])
    except DatabaseError:
        logger.exception("webhook event %s not recorded; the action goes on", event_type.value)
        return 0
    ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: _send(ids))
    return len(ids)


def _send(delivery_ids: list[int]) -> None:
    for pk in delivery_ids:
        try:
            dispatch.send(dispatch.WEBHOOK_DELIVER, pk)
        except Exception:  # the broker away: the delivery stays pending and can be re-sent from the log
            logger.exception("webhook delivery %s not queued", pk)


# --- What each event says (built only when an endpoint subscribes) ------------------------------

def run_finished(run_id: int) -> int:
    def payload() -> dict:
        run = RebalanceRun.objects.get(pk=run_id)
        outcomes = dict(RunOutcome.objects.filter(run_id=run_id).values_list("outcome").annotate(n=Count("id")))
        statuses = dict(Proposal.objects.filter(run_id=run_id).values_list("status").annotate(n=Count("id")))
        return {"run": run.pk, "kind": run.kind, "status": run.status,
                "as_of": run.as_of.isoformat(), "accounts": run.total, "done": run.done, "failed": run.failed,
                "proposed": outcomes.get(RunOutcome.Outcome.PROPOSED, 0),
                "no_trades": outcomes.get(RunOutcome.Outcome.NO_TRADES, 0),
                "pending_approval": statuses.get(Proposal.Status.PENDING, 0),
                "approved": statuses.get(Proposal.Status.APPROVED, 0)}

    return webhook_emit(EventType.RUN_FINISHED, payload)


def _proposals(ids: list[int], **extra) -> Callable[[], list[dict]]:
    def payloads() -> list[dict]:
        rows = (Proposal.objects.filter(pk__in=ids).order_by("pk")
                .values_list("pk", "run_id", "status", "account__custodian_number", "trade_count", "estimated_tax",
                             "requires_compliance"))
        return [{"proposal": pk, "run": run, "status": status, "account_number": number, "trades": trades,
                 "estimated_tax": str(tax), "requires_compliance": compliance, **extra}
                for pk, run, status, number, trades, tax, compliance in rows]

    return payloads


def proposals_decided(event_type: EventType, ids: list[int], *, by: str = "", comment: str = "") -> int:
    """PROPOSAL_PENDING, PROPOSAL_APPROVED or PROPOSAL_REJECTED for these proposals."""
    if not ids:
        return 0
    extra = {} if event_type == EventType.PROPOSAL_PENDING else {"by": by, "comment": comment}
    return webhook_emit_many(event_type, _proposals(ids, **extra))


def orders_released(proposal_id: int, *, by: str = "") -> int:
    def payload() -> dict:
        orders = list(Order.objects.filter(proposal_id=proposal_id).select_related("account", "security")
                      .order_by("pk"))
        return {"proposal": proposal_id, "account_number": orders[0].account.custodian_number if orders else None,
                "released_by": by, "orders": [
                    {"order_id": o.order_id, "symbol": o.security.symbol, "side": o.side, "quantity": str(o.quantity),
                     "reference_price": str(o.reference_price), "block_id": o.block_id} for o in orders]}

    return webhook_emit(EventType.ORDERS_RELEASED, payload)


def executions_imported(*, source: str, applied: int, unchanged: int, order_ids: list[str], notes) -> int:
    return webhook_emit(EventType.EXECUTIONS_IMPORTED, {
        "source": source, "applied": applied, "unchanged": unchanged, "orders": sorted(order_ids),
        "notes": list(notes)})


def reconciliation_break(reconciliation_id: int) -> int:
    def payload() -> dict:
        reconciliation = Reconciliation.objects.get(pk=reconciliation_id)
        differing = list(reconciliation.accounts.filter(decision=ReconciliationAccount.Decision.PENDING)
                         .order_by("account__custodian_number").values_list("account__custodian_number", flat=True))
        return {"reconciliation": reconciliation.pk, "as_of": reconciliation.as_of.isoformat(),
                "file_name": reconciliation.file_name, "accounts": reconciliation.accounts.count(),
                "accounts_differing": differing}

    return webhook_emit(EventType.RECONCILIATION_BREAK, payload)


def run_stalled(run, *, given_up: bool, attempts: int, chunks: int = 0) -> int:
    return webhook_emit(EventType.RUN_STALLED, lambda: {
        "run": run.pk, "kind": run.kind, "accounts": run.total, "done": run.done, "failed": run.failed,
        "attempts": attempts, "chunks_sent_again": chunks, "given_up": given_up})

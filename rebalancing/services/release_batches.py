"""Release every approved proposal in one decision: a portfolio manager asks (the Release page, the
API: ``release_batch_start`` - checked, stored with the proposals approved at that moment, audited,
queued) and a worker releases them one after the other (``release_batch_execute``), each through
``proposal_release`` in its own transaction, recording its progress as it goes.

One at a time per firm (a partial unique index is the guarantee; a request meanwhile is answered
with the one under way). A worker lost mid-way leaves its batch where it was: the message is
redelivered and goes on from the last proposal recorded (a proposal already released by then counts
as released), and a batch no worker has moved on for ``ABANDONED_AFTER`` is ended as failed by the
next request, saying so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from rebalancing import dispatch
from rebalancing.access import proposals_visible_to, require
from rebalancing.models import Proposal, ReleaseBatch
from rebalancing.services.proposals import proposal_release, proposals_release_ready
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import DomainError, ValidationFailed
from tenants.permissions import Capability
from tenants.selectors import firm_active_check

__all__ = ["ABANDONED_AFTER", "REFUSALS_KEPT", "ReleaseBatchStart", "release_batch_execute", "release_batch_fail",
           "release_batch_start"]

logger = logging.getLogger(__name__)

ABANDONED_AFTER = timedelta(minutes=15)  # no progress for this long: its worker is gone
REFUSALS_KEPT = 200  # the first refusals are kept with their reasons; the rest are counted
PROGRESS_EVERY = 20  # proposals between two progress records (each is one small UPDATE)
WORKER = "release worker"  # the audit trail's actor of what the worker ends on its own


@dataclass(frozen=True)
class ReleaseBatchStart:
    batch: ReleaseBatch
    started: bool  # False: one was already under way, and this is it


@transaction.atomic
def release_batch_start(*, user, comment: str = "") -> ReleaseBatchStart:
    """Queue the release of every approved proposal ``user`` may see, once this transaction commits."""
    require(user, Capability.RELEASE)
    firm_active_check("No trade is released")
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise ValidationFailed(f"The comment is {len(comment)} characters; at most 500.", detail={"field": "comment"})
    under_way = ReleaseBatch.objects.select_for_update().filter(status__in=ReleaseBatch.UNDER_WAY).first()
    if under_way is not None:
        if (under_way.progressed_at or under_way.created_at) > timezone.now() - ABANDONED_AFTER:
            return ReleaseBatchStart(under_way, started=False)
        _finish_failed(under_way.pk, f"its worker stopped after {under_way.done} of {under_way.total} proposals and "
                                     f"did not go on within {ABANDONED_AFTER.seconds // 60} minutes; a new release "
                                     "was asked for", actor=user)
    # A leg of a household proposal whose other legs are not all approved waits for them (the page lists it).
    ids = list(proposals_release_ready(proposals_visible_to(user))
               .order_by("status_changed_at", "pk").values_list("pk", flat=True))
    if not ids:
        raise ValidationFailed("No approved proposal is waiting to be released.", code="nothing_to_release")
    batch = ReleaseBatch(proposal_ids=ids, comment=comment, created_by=user)
    try:
        with transaction.atomic():
            batch.save()
    except IntegrityError:  # a twin request wrote one between the look above and this write
        return ReleaseBatchStart(ReleaseBatch.objects.get(status__in=ReleaseBatch.UNDER_WAY), started=False)
    audit_record(actor=user, action=Action.RELEASE_BATCH_START, obj=batch, comment=comment,
                 after={"proposals": len(ids)})
    transaction.on_commit(lambda: dispatch.send(dispatch.RELEASE_BATCH, batch.pk))
    return ReleaseBatchStart(batch, started=True)


def release_batch_execute(*, batch_id: int) -> ReleaseBatch | None:
    """Release the batch's proposals from where it stands (the worker's side). A finished batch is
    left alone; redelivered mid-way, it goes on from its last recorded proposal."""
    now = timezone.now()
    if not ReleaseBatch.objects.filter(pk=batch_id, status__in=ReleaseBatch.UNDER_WAY).update(
            status=ReleaseBatch.Status.RUNNING, progressed_at=now,
            started_at=Coalesce(F("started_at"), Value(now, output_field=DateTimeField()))):
        return None
    batch = ReleaseBatch.objects.select_related("created_by").get(pk=batch_id)
    user, pending = batch.created_by, batch.proposal_ids[batch.done:]
    if user is None or not user.is_active:
        _finish_failed(batch_id, "the person who asked for it can no longer sign in; nothing more was released")
        return ReleaseBatch.objects.get(pk=batch_id)
    found = {p.pk: p for p in Proposal.objects.filter(pk__in=pending).select_related("account")}
    released = refused = 0
    refusals: list[dict] = []
    for n, pk in enumerate(pending, start=1):
        proposal = found.get(pk)
        try:
            outcome = _release_one(proposal, user=user, comment=batch.comment)
        except DomainError as exc:  # refused for every proposal alike: stop, saying why, not 10,000 times
            _record(batch_id, released, refused, refusals)
            done = ReleaseBatch.objects.get(pk=batch_id).done
            _finish_failed(batch_id, f"stopped after {done} of {batch.total} proposals: {exc.message}")
            return ReleaseBatch.objects.get(pk=batch_id)
        if outcome is None:
            released += 1
        else:
            refused += 1
            refusals.append({"proposal": pk, "account": proposal.account.custodian_number if proposal else "",
                             "message": outcome})
        if n % PROGRESS_EVERY == 0 or n == len(pending):
            _record(batch_id, released, refused, refusals)
            released = refused = 0
            refusals = []
    ReleaseBatch.objects.filter(pk=batch_id, status=ReleaseBatch.Status.RUNNING).update(
        status=ReleaseBatch.Status.COMPLETED, finished_at=timezone.now())
    batch.refresh_from_db()
    audit_record(actor=user, action=Action.RELEASE_BATCH_FINISH, obj=batch,
                 after={"proposals": batch.total, "released": batch.released, "refused": batch.refused})
    return batch


def _release_one(proposal: Proposal | None, *, user, comment: str) -> str | None:
    """None once ``proposal`` is released (by this batch, or - a redelivered message - already), else
    why it was not."""
    if proposal is None:
        return "not found: deleted since the release was asked for"
    proposal.refresh_from_db(fields=["status"])
    if proposal.status in (Proposal.Status.RELEASED, Proposal.Status.EXECUTED):  # approved when asked: released
        return None
    try:
        proposal_release(proposal=proposal, user=user, comment=comment)
    except DomainError as exc:
        if exc.code in _REFUSED_FOR_ALL:
            raise
        return exc.message
    return None


# Refusals that are about the release, not the proposal: the firm suspended meanwhile, the asker's
# role taken away.
_REFUSED_FOR_ALL = {"firm_suspended", "permission_denied"}


def _record(batch_id: int, released: int, refused: int, refusals: list[dict]) -> None:
    with transaction.atomic():
        batch = ReleaseBatch.objects.select_for_update().get(pk=batch_id)
        batch.done += released + refused
        batch.released += released
        batch.refused += refused
        batch.refusals = (batch.refusals + refusals)[:REFUSALS_KEPT]
        batch.progressed_at = timezone.now()
        batch.save(update_fields=["done", "released", "refused", "refusals", "progressed_at"])


def release_batch_fail(*, batch_id: int, message: str) -> None:
    """End a batch its worker could not finish (after its retries), saying why."""
    _finish_failed(batch_id, message)


def _finish_failed(batch_id: int, message: str, *, actor=WORKER) -> None:
    """End an under-way batch as failed, saying why, audited (``release_batch.fail``) with how many
    of its proposals were released before it stopped: those went out, the rest did not."""
    with transaction.atomic():
        batch = ReleaseBatch.objects.select_for_update().filter(pk=batch_id, status__in=ReleaseBatch.UNDER_WAY).first()
        if batch is None:
            return  # already finished (a redelivered message, a twin request)
        before = batch.status
        batch.status, batch.error, batch.finished_at = ReleaseBatch.Status.FAILED, message[:2000], timezone.now()
        batch.save(update_fields=["status", "error", "finished_at"])
        audit_record(actor=actor, action=Action.RELEASE_BATCH_FAIL, obj=batch, comment=message,
                     before={"status": before},
                     after={"status": batch.status, "proposals": batch.total, "done": batch.done,
                            "released": batch.released, "refused": batch.refused})

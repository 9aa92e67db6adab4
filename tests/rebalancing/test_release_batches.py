"""Releasing every approved proposal in one decision: asked for (checked, stored with the proposals
approved then, audited, queued), released by the worker's service one after the other with its
progress recorded, each refusal with its reason, one at a time per firm, picked up again where it
stood when its message comes twice, and ended as failed when its worker is gone."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, ReleaseBatch
from rebalancing.services import release_batches
from rebalancing.services.release_batches import (
    ABANDONED_AFTER,
    release_batch_execute,
    release_batch_fail,
    release_batch_start,
)
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import make_book
from .workflow import make_proposal, policy

pytestmark = pytest.mark.django_db
S = Proposal.Status


@pytest.fixture
def people(firm_a, firm_user):
    return {"pm": firm_user(firm_a, "pm-release@firm-a.example", FirmRole.PORTFOLIO_MANAGER),
            "advisor": firm_user(firm_a, "adv-release@firm-a.example", FirmRole.ADVISOR)}


@pytest.fixture
def approved(firm_a):
    """Five accounts' proposals approved and priced on the book's day, one long ago, one pending."""
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        accounts = make_book(7)["accounts"]
        fresh = [make_proposal(a, status=S.APPROVED) for a in accounts[:5]]
        stale = make_proposal(accounts[5], status=S.APPROVED, as_of=date(2010, 1, 4))
        pending = make_proposal(accounts[6], status=S.PENDING)
        yield {"fresh": fresh, "stale": stale, "pending": pending}


def test_every_approved_proposal_is_released_by_the_worker_and_a_refusal_is_named(
        firm_a, people, approved, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        with django_capture_on_commit_callbacks() as queued:
            start = release_batch_start(user=people["pm"], comment="  month-end release ")

        batch = start.batch
        assert start.started and len(queued) == 1
        ids = [p.pk for p in approved["fresh"]] + [approved["stale"].pk]
        assert (batch.status, sorted(batch.proposal_ids), batch.comment, batch.done) == ("queued", sorted(ids),
                                                                                         "month-end release", 0)
        assert Proposal.objects.filter(pk__in=ids, status=S.APPROVED).count() == 6  # nothing released yet
        event = AuditEvent.objects.get(action="release_batch.start")
        assert (event.actor_id, event.after, event.comment) == (people["pm"].pk, {"proposals": 6}, "month-end release")

        done = release_batch_execute(batch_id=batch.pk)

        assert (done.status, done.done, done.released, done.refused) == ("completed", 6, 5, 1)
        assert done.started_at is not None and done.finished_at >= done.started_at
        # Released as each would be on its own (no trade to fill: straight to executed), with the comment.
        assert set(Proposal.objects.filter(pk__in=[p.pk for p in approved["fresh"]])
                   .values_list("status", flat=True)) == {S.EXECUTED}
        assert AuditEvent.objects.filter(action="proposal.release", comment="month-end release").count() == 5
        [refusal] = done.refusals
        assert refusal["proposal"] == approved["stale"].pk and "priced on 2010-01-04 and has expired" in refusal["message"]
        assert Proposal.objects.get(pk=approved["stale"].pk).status == S.EXPIRED
        assert Proposal.objects.get(pk=approved["pending"].pk).status == S.PENDING  # never asked for
        assert AuditEvent.objects.get(action="release_batch.finish").after == {"proposals": 6, "released": 5,
                                                                               "refused": 1}
        # A second delivery of its message leaves a finished batch alone.
        assert release_batch_execute(batch_id=batch.pk) is None


def test_one_release_at_a_time_and_a_redelivered_message_goes_on_where_it_stood(firm_a, people, approved,
                                                                                 monkeypatch):
    with tenant_context(firm_a):
        first = release_batch_start(user=people["pm"]).batch
        again = release_batch_start(user=people["pm"], comment="twice")
        assert not again.started and again.batch.pk == first.pk and ReleaseBatch.objects.count() == 1

        # The worker is lost after the third proposal was released but before it was recorded: the
        # batch stands at 2 (recorded every PROGRESS_EVERY proposals; here every 2).
        monkeypatch.setattr(release_batches, "PROGRESS_EVERY", 2)
        real = release_batches._release_one
        calls = []

        def lost_after_three(proposal, **kw):
            if len(calls) == 3:
                raise RuntimeError("worker lost")
            calls.append(proposal.pk)
            return real(proposal, **kw)

        monkeypatch.setattr(release_batches, "_release_one", lost_after_three)
        with pytest.raises(RuntimeError):
            release_batch_execute(batch_id=first.pk)
        stood = ReleaseBatch.objects.get(pk=first.pk)
        assert (stood.status, stood.done, stood.released) == ("running", 2, 2)
        assert Proposal.objects.get(pk=first.proposal_ids[2]).status == S.EXECUTED  # released, not yet recorded

        monkeypatch.setattr(release_batches, "_release_one", real)
        done = release_batch_execute(batch_id=first.pk)  # the message again

        assert (done.status, done.done, done.released, done.refused) == ("completed", 6, 5, 1)
        assert AuditEvent.objects.filter(action="proposal.release").count() == 5  # none released twice


def test_a_release_whose_worker_is_gone_is_ended_by_the_next_request(firm_a, people, approved):
    with tenant_context(firm_a):
        lost = release_batch_start(user=people["pm"]).batch
        ReleaseBatch.objects.filter(pk=lost.pk).update(status="running", done=0,
                                                       progressed_at=timezone.now() - ABANDONED_AFTER - timedelta(1))

        fresh = release_batch_start(user=people["pm"])

        assert fresh.started and fresh.batch.pk != lost.pk
        ended = ReleaseBatch.objects.get(pk=lost.pk)
        assert ended.status == "failed" and "its worker stopped after 0 of 6 proposals" in ended.error
        release_batch_fail(batch_id=fresh.batch.pk, message="the release stopped unexpectedly, 3 times")
        assert ReleaseBatch.objects.get(pk=fresh.batch.pk).error == "the release stopped unexpectedly, 3 times"


def test_who_may_ask_and_what_is_refused_writes_nothing(firm_a, people, approved):
    from tenants.services import firm_status_set

    with tenant_context(firm_a):
        with pytest.raises(PermissionDenied):
            release_batch_start(user=people["advisor"])
        with pytest.raises(ValidationFailed, match="The comment is 501 characters; at most 500"):
            release_batch_start(user=people["pm"], comment="x" * 501)
        Proposal.objects.filter(status=S.APPROVED).update(status=S.REJECTED)
        with pytest.raises(ValidationFailed, match="No approved proposal is waiting to be released"):
            release_batch_start(user=people["pm"])
        assert not ReleaseBatch.objects.exists()
    firm_status_set(firm=firm_a, status="suspended", reason="Invoice unpaid since October")
    with tenant_context(firm_a), pytest.raises(Conflict, match="Invoice unpaid since October. No trade is released"):
        release_batch_start(user=people["pm"])


def test_a_release_asked_for_by_someone_deactivated_since_releases_nothing(firm_a, people, approved):
    with tenant_context(firm_a):
        batch = release_batch_start(user=people["pm"]).batch
        people["pm"].is_active = False
        people["pm"].save()

        done = release_batch_execute(batch_id=batch.pk)

        assert (done.status, done.done) == ("failed", 0) and "can no longer sign in" in done.error
        assert Proposal.objects.filter(status=S.APPROVED).count() == 6


def test_a_firm_suspended_while_its_release_runs_stops_it_once_naming_why(firm_a, people, approved, monkeypatch):
    from tenants.services import firm_status_set

    with tenant_context(firm_a):
        batch = release_batch_start(user=people["pm"]).batch
    real = release_batches._release_one
    calls = []

    def suspended_after_two(proposal, **kw):
        if len(calls) == 2:
            firm_status_set(firm=firm_a, status="suspended", reason="Invoice unpaid since October")
        calls.append(proposal.pk)
        return real(proposal, **kw)

    monkeypatch.setattr(release_batches, "_release_one", suspended_after_two)
    with tenant_context(firm_a):
        done = release_batch_execute(batch_id=batch.pk)

        assert (done.status, done.done, done.released, done.refused, done.refusals) == ("failed", 2, 2, 0, [])
        assert done.error.startswith("stopped after 2 of 6 proposals: ") and done.error.endswith(
            "Invoice unpaid since October. No trade is released until it is reactivated.")
        assert Proposal.objects.filter(status=S.APPROVED).count() == 4

"""A release batch that ends as failed is audited (``release_batch.fail``) as its start and finish
are: which batch, why, and how many of its proposals went out before it stopped (STYLE.md: every
state change writes an audit row)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, ReleaseBatch
from rebalancing.services.release_batches import (
    ABANDONED_AFTER,
    release_batch_execute,
    release_batch_fail,
    release_batch_start,
)
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from .book import make_book
from .workflow import make_proposal, policy

pytestmark = pytest.mark.django_db


def _fail_events(batch) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="release_batch.fail", object_type="releasebatch",
                                          object_id=str(batch.pk)))


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm-batch@firm-a.example", FirmRole.PORTFOLIO_MANAGER)


def test_a_batch_whose_asker_can_no_longer_sign_in_fails_audited(firm_a, pm):
    with tenant_context(firm_a):
        # Given a batch asked for by a portfolio manager deactivated before its worker starts
        policy(max_price_age_days=3650)
        make_proposal(make_book(1)["accounts"][0], status=Proposal.Status.APPROVED)
        batch = release_batch_start(user=pm).batch
        pm.is_active = False
        pm.save(update_fields=["is_active"])

        # When its worker runs it
        release_batch_execute(batch_id=batch.pk)

        # Then it fails, with one audit row saying why and that nothing was released
        batch.refresh_from_db()
        [event] = _fail_events(batch)
    assert batch.status == ReleaseBatch.Status.FAILED
    assert event.comment == batch.error
    assert "can no longer sign in" in event.comment
    assert event.before == {"status": ReleaseBatch.Status.RUNNING}
    assert event.after == {"status": ReleaseBatch.Status.FAILED, "proposals": 1, "done": 0, "released": 0,
                           "refused": 0}
    assert event.actor == "release worker"


def test_an_abandoned_batch_ended_by_a_new_request_is_audited_as_that_persons(firm_a, pm):
    with tenant_context(firm_a):
        # Given a batch whose worker stopped after releasing one of two proposals
        policy(max_price_age_days=3650)
        accounts = make_book(2)["accounts"]
        for account in accounts:
            make_proposal(account, status=Proposal.Status.APPROVED)
        batch = release_batch_start(user=pm).batch
        ReleaseBatch.objects.filter(pk=batch.pk).update(
            status=ReleaseBatch.Status.RUNNING, done=1, released=1,
            progressed_at=timezone.now() - ABANDONED_AFTER - timedelta(minutes=1))
        Proposal.objects.filter(pk=batch.proposal_ids[0]).update(status=Proposal.Status.RELEASED)

        # When the portfolio manager asks for a release again
        release_batch_start(user=pm)

        # Then the old batch fails, audited as theirs, with the one proposal it released
        batch.refresh_from_db()
        [event] = _fail_events(batch)
    assert batch.status == ReleaseBatch.Status.FAILED
    assert "its worker stopped after 1 of 2 proposals" in event.comment
    assert event.after["released"] == 1 and event.after["done"] == 1 and event.after["proposals"] == 2
    assert event.actor_id == pm.pk


def test_a_batch_failed_twice_is_audited_once(firm_a, pm):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        make_proposal(make_book(1)["accounts"][0], status=Proposal.Status.APPROVED)
        batch = release_batch_start(user=pm).batch

        release_batch_fail(batch_id=batch.pk, message="the release stopped unexpectedly")
        release_batch_fail(batch_id=batch.pk, message="the release stopped unexpectedly")  # a redelivered message

        batch.refresh_from_db()
        events = _fail_events(batch)
    assert batch.status == ReleaseBatch.Status.FAILED
    assert [e.comment for e in events] == ["the release stopped unexpectedly"]
    assert events[0].before == {"status": ReleaseBatch.Status.QUEUED}

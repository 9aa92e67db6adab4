"""A backtest's message or worker lost: the replay lock keeps a message delivered twice from running
twice, and the watch sends again what no worker is replaying, then gives up saying so."""

from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing import dispatch
from rebalancing.models import Backtest
from rebalancing.services.backtests import OPEN_PER_USER, backtest_execute, backtest_start, backtests_watch
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db

STALL = timedelta(seconds=900)


def _start(user, **changes):
    values = dict(name="", template=None, basket=Backtest.Basket.SAMPLE, prices=Backtest.Prices.SAMPLE,
                  amount=Decimal("1000000"), start=date(2008, 6, 30), years=1, cohorts=1,
                  short_term_rate=Decimal("0.408"), long_term_rate=Decimal("0.238"))
    values.update(changes)
    return backtest_start(user=user, **values)


@contextmanager
def another_worker_replaying(backtest_id: int):
    """A second connection to the database holding the backtest's replay lock, as a worker
    replaying it does (advisory locks are the database's, not the test transaction's)."""
    db = connection.settings_dict
    key = f"{connection.schema_name}:backtest-replay:{backtest_id}"
    with psycopg.connect(dbname=db["NAME"], host=db["HOST"] or None, port=db["PORT"] or None,
                         user=db["USER"], password=db["PASSWORD"] or None, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
        try:
            yield
        finally:
            # Unlocked before closing: a closed connection's backend frees its locks only when it has
            # exited, which can be after the test's next statement.
            other.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: messages.append((task, *args)))
    return messages


def test_a_message_delivered_twice_is_replayed_once(firm_a, firm_user, django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        with django_capture_on_commit_callbacks():
            backtest = _start(pm)
        Backtest.objects.filter(pk=backtest.pk).update(status=Backtest.Status.RUNNING, done=3)
        # when: the second delivery comes while a worker replays it (before: it claimed the running
        # backtest, set it back to 0 cohorts done and replayed it a second time beside the first)
        with another_worker_replaying(backtest.pk):
            assert backtest_execute(backtest_id=backtest.pk) is None
        # then: left to the worker replaying it
        backtest.refresh_from_db()
        assert (backtest.status, backtest.done) == (Backtest.Status.RUNNING, 3)
        # and once that worker is gone (its lock with it), a redelivery replays it from the start
        assert backtest_execute(backtest_id=backtest.pk).status == Backtest.Status.COMPLETED


@override_settings(BACKTEST_STALL_SECONDS=900, BACKTEST_MAX_RESENDS=2)
def test_a_backtest_no_worker_replays_is_sent_again_then_given_up(firm_a, firm_user, sent,
                                                                   django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        lost = _start(pm, name="message lost")
        fresh = _start(pm, name="just sent")
        sent.clear()
        t0 = lost.sent_at
        Backtest.objects.filter(pk=fresh.pk).update(sent_at=t0 + STALL)

        # when: the watch runs just before the stall, then just after it
        assert backtests_watch(now=t0 + STALL - timedelta(seconds=1)) == {"resent": [], "given_up": []}
        with django_capture_on_commit_callbacks(execute=True):
            report = backtests_watch(now=t0 + STALL)
        # then: the lost one is sent again (after the watch commits), the fresh one is left waiting
        assert report == {"resent": [lost.pk], "given_up": []}
        assert sent == [(dispatch.BACKTEST_RUN, lost.pk)]
        lost.refresh_from_db()
        assert (lost.resends, lost.sent_at, lost.status) == (1, t0 + STALL, Backtest.Status.QUEUED)
        event = AuditEvent.objects.get(action="backtest.resend", object_id=str(lost.pk))
        assert event.actor == "backtest watch" and event.after == {"resends": 1}

        # and the next wait is twice as long
        assert backtests_watch(now=t0 + 3 * STALL - timedelta(seconds=1))["resent"] == [fresh.pk]
        assert backtests_watch(now=t0 + 3 * STALL)["resent"] == [lost.pk]
        # after BACKTEST_MAX_RESENDS sends again, it is ended as failed, saying why
        report = backtests_watch(now=t0 + 7 * STALL)
        assert lost.pk in report["given_up"]
        lost.refresh_from_db()
        assert lost.status == Backtest.Status.FAILED and lost.finished_at == t0 + 7 * STALL
        assert lost.error == "no worker replayed this backtest after it was sent 3 times; check the workers and " \
                             "start it again"
        assert AuditEvent.objects.filter(action="backtest.give_up", object_id=str(lost.pk)).count() == 1
        # it no longer counts against its owner's backtests waiting or running
        for k in range(OPEN_PER_USER - 1):
            _start(pm, name=f"again {k}")


@override_settings(BACKTEST_STALL_SECONDS=900)
def test_a_backtest_a_worker_is_replaying_is_not_sent_again_however_long_it_takes(
        firm_a, firm_user, sent, django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        slow = _start(pm)
        Backtest.objects.filter(pk=slow.pk).update(status=Backtest.Status.RUNNING, started_at=slow.sent_at)
        sent.clear()
        with another_worker_replaying(slow.pk):
            assert backtests_watch(now=slow.sent_at + 100 * STALL) == {"resent": [], "given_up": []}
        # its worker gone (the lock with its connection), the same backtest is sent again
        with django_capture_on_commit_callbacks(execute=True):
            assert backtests_watch(now=slow.sent_at + 100 * STALL)["resent"] == [slow.pk]
        assert sent == [(dispatch.BACKTEST_RUN, slow.pk)]


def test_finished_backtests_are_never_sent_again(firm_a, firm_user, sent):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        for status in (Backtest.Status.COMPLETED, Backtest.Status.FAILED):
            done = _start(pm, name=str(status))
            Backtest.objects.filter(pk=done.pk).update(status=status)
        assert backtests_watch(now=timezone.now() + timedelta(days=30)) == {"resent": [], "given_up": []}

"""The stall watch, pass by pass, with the clock in the test's hands (the real worker killed with kill -9:
tests/integration/test_stalled_runs.py)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from rebalancing import dispatch
from rebalancing.models import Account, Proposal, RebalanceRun, RunOutcome, RunWatch
from rebalancing.selectors import RunScope
from rebalancing.services import runs as run_services
from rebalancing.services.run_recovery import runs_watch, stalled_runs, unwatched_runs
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

from .book import AS_OF, make_book

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


@pytest.fixture
def sent(monkeypatch):
    """What the watch hands to the broker: (run id, account ids) per chunk sent again."""
    out: list[tuple[int, list[int]]] = []
    def send(task, run_id, ids):
        assert task == dispatch.REBALANCE_CHUNK
        out.append((run_id, list(ids)))

    monkeypatch.setattr(dispatch, "send", send)
    return out


@pytest.fixture
def half_done(firm_a, monkeypatch, django_capture_on_commit_callbacks):
    """A run over six accounts in three chunks of two; a worker finished the first and was lost."""
    monkeypatch.setattr(run_services, "CHUNK_ACCOUNTS", 2)
    with tenant_context(firm_a):
        make_book(6)
        with django_capture_on_commit_callbacks():  # the first dispatch is not the subject here
            run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="test")
        chunks = run_chunks(run)
        run_process_chunk(run_id=run.pk, account_ids=chunks[0])
        run.refresh_from_db()
        yield run, chunks


def watch(now, capture):
    with capture(execute=True):
        return runs_watch(now=now)


def test_a_run_without_progress_past_the_deadline_has_its_unfinished_chunks_sent_again(
        half_done, sent, django_capture_on_commit_callbacks, settings):
    run, chunks = half_done
    t0 = timezone.now()

    watch(t0, django_capture_on_commit_callbacks)  # first sight: the clock starts
    watch(t0 + 9 * MINUTE, django_capture_on_commit_callbacks)
    assert sent == [] and settings.RUN_STALL_SECONDS == 600

    report = watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)

    assert report.stalled == [run.pk]
    assert sent == [(run.pk, chunks[1]), (run.pk, chunks[2])]  # the finished chunk is not sent again
    stall = RunWatch.objects.get(run=run)
    assert (stall.state, stall.progress, stall.redispatches) == ("stalled", 2, 1)
    event = AuditEvent.objects.get(action="run.redispatch", object_id=str(run.pk))
    assert event.actor == "stall watch" and event.after == {"done": 2, "failed": 0, "total": 6, "chunks": 2,
                                                            "attempt": 1}
    assert [w.run_id for w in stalled_runs()] == [run.pk]


def test_it_is_sent_again_after_twice_as_long_then_left_for_a_person(
        half_done, sent, django_capture_on_commit_callbacks, settings):
    settings.RUN_STALL_MAX_REDISPATCHES = 2
    run, _ = half_done
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)
    watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)  # 1st: 10 minutes without progress

    watch(t0 + 30 * MINUTE, django_capture_on_commit_callbacks)  # 19 minutes after: not yet
    assert len(sent) == 2
    watch(t0 + 32 * MINUTE, django_capture_on_commit_callbacks)  # 2nd: 20 minutes after the 1st
    assert len(sent) == 4
    watch(t0 + 60 * MINUTE, django_capture_on_commit_callbacks)  # 28 minutes after: not yet
    report = watch(t0 + 73 * MINUTE, django_capture_on_commit_callbacks)  # 41: would be the 3rd

    assert report.given_up == [run.pk] and len(sent) == 4
    assert RunWatch.objects.get(run=run).state == "given up"
    assert AuditEvent.objects.filter(action="run.stall_give_up", object_id=str(run.pk)).exists()
    watch(t0 + 500 * MINUTE, django_capture_on_commit_callbacks)
    assert len(sent) == 4 and AuditEvent.objects.filter(action="run.stall_give_up").count() == 1


def test_progress_restarts_the_clock_and_completion_is_a_recovery(half_done, sent, django_capture_on_commit_callbacks):
    run, chunks = half_done
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)
    watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)

    run_process_chunk(run_id=run.pk, account_ids=chunks[1])  # a worker takes one of them
    watch(t0 + 12 * MINUTE, django_capture_on_commit_callbacks)
    assert RunWatch.objects.get(run=run).state == "recovering"
    watch(t0 + 21 * MINUTE, django_capture_on_commit_callbacks)  # 9 minutes since it moved
    assert len(sent) == 2

    run_process_chunk(run_id=run.pk, account_ids=chunks[2])
    report = watch(t0 + 22 * MINUTE, django_capture_on_commit_callbacks)

    run.refresh_from_db()
    stall = RunWatch.objects.get(run=run)
    assert run.status == RebalanceRun.Status.COMPLETED and (run.done, run.failed) == (6, 0)
    assert report.recovered == [run.pk] and stall.state == "recovered" and stall.recovered_at == run.finished_at
    assert Proposal.objects.filter(run=run).count() == 6
    assert AuditEvent.objects.filter(action="run.recovered", object_id=str(run.pk)).count() == 1
    watch(t0 + 23 * MINUTE, django_capture_on_commit_callbacks)
    assert AuditEvent.objects.filter(action="run.recovered", object_id=str(run.pk)).count() == 1


def test_a_sent_again_chunk_done_twice_writes_nothing_twice(half_done, sent, django_capture_on_commit_callbacks):
    run, chunks = half_done
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)
    watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)

    for _, ids in sent + sent:  # the lost message came back after all, and the resend too
        run_process_chunk(run_id=run.pk, account_ids=ids)

    run.refresh_from_db()
    assert (run.status, run.done) == (RebalanceRun.Status.COMPLETED, 6)
    assert RunOutcome.objects.filter(run=run).count() == 6 and Proposal.objects.filter(run=run).count() == 6


def test_a_run_whose_remaining_accounts_left_its_scope_is_completed(half_done, sent, django_capture_on_commit_callbacks):
    run, chunks = half_done
    Account.objects.filter(pk__in=chunks[1] + chunks[2]).update(model=None)  # no longer rebalanced
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)

    watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)

    run.refresh_from_db()
    assert sent == [] and run.status == RebalanceRun.Status.COMPLETED
    assert "4 account(s) left the run's scope" in RunWatch.objects.get(run=run).note


def test_finished_runs_are_not_watched_and_a_cancelled_one_is_left_alone(
        half_done, sent, django_capture_on_commit_callbacks):
    run, _ = half_done
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)
    run_services.run_cancel(run=run)

    watch(t0 + 60 * MINUTE, django_capture_on_commit_callbacks)

    assert sent == [] and not RunWatch.objects.filter(run=run).exists()


def test_a_run_no_watch_has_seen_is_reported(half_done):
    run, _ = half_done
    RebalanceRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - 31 * MINUTE)

    assert [r.pk for r in unwatched_runs()] == [run.pk]


# --- What the provider console and the run's page show --------------------------------------

@pytest.fixture
def operator(db):
    with schema_context("public"):  # provider staff and their sessions live in the public schema
        staff = user_ensure(username="watch-op@provider.example", email="watch-op@provider.example",
                            roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(staff)
    return client


def test_the_console_shows_a_stalled_firm_as_a_problem_and_the_run_as_stalled(
        half_done, sent, django_capture_on_commit_callbacks, operator, firm_a):
    run, _ = half_done
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)
    watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)

    console = operator.get("/").content.decode()
    runs = operator.get("/runs/").content.decode()
    detail = operator.get(f"/runs/firm-a/{run.pk}/").content.decode()

    assert "problem" in console and f"run {run.pk} stalled at 2/6" in console and "sent again 1×" in console
    assert 'data-stall="stalled"' in runs
    assert 'data-stall="stalled"' in detail and "No progress at 2 of 6" in detail


def test_the_console_and_the_firms_run_page_show_a_recovery(
        half_done, sent, django_capture_on_commit_callbacks, operator, firm_a, firm_user, client_for):
    run, chunks = half_done
    t0 = timezone.now()
    watch(t0, django_capture_on_commit_callbacks)
    watch(t0 + 11 * MINUTE, django_capture_on_commit_callbacks)
    for _, ids in sent:
        run_process_chunk(run_id=run.pk, account_ids=ids)
    watch(t0 + 12 * MINUTE, django_capture_on_commit_callbacks)
    pm = firm_user(firm_a, "pm-watch@firm-a.example", "portfolio_manager")

    console = operator.get("/").content.decode()
    runs = operator.get("/runs/").content.decode()
    page = client_for(firm_a, pm).get(f"/runs/{run.pk}/").content.decode()

    assert "1 run recovered from a stall this week" in console and f"run {run.pk} stalled" not in console
    assert 'data-stall="recovered"' in runs
    assert 'data-stall="recovered"' in page and "sent again 1 time and it completed" in page


def test_the_console_says_when_no_watch_runs(half_done, operator):
    run, _ = half_done
    RebalanceRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - 31 * MINUTE)

    assert "no stall watch has looked at it: is Celery beat running?" in operator.get("/").content.decode()

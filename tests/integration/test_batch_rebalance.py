"""Batch runs through real Celery worker processes, on committed data in a firm's schema."""

import signal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import (
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    RebalanceRun,
    RunOutcome,
    Security,
)
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_start
from rebalancing.tasks import rebalance_chunk
from tenants.models import Firm

from ..rebalancing.book import AS_OF, make_book
from .conftest import start_worker, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def committed_book(django_db_blocker):
    """A book committed in firm A (a worker process cannot see an open test transaction)."""
    made = {}

    def make(n_accounts: int):
        with django_db_blocker.unblock():
            firm = Firm.objects.get(slug="firm-a")
            with tenant_context(firm):
                made["book"] = make_book(n_accounts)
            made["firm"] = firm
        return made["firm"], made["book"]

    yield make
    with django_db_blocker.unblock(), tenant_context(made["firm"]):
        RebalanceRun.objects.all().delete()
        for account in made["book"]["accounts"]:
            account.delete()
        Household.objects.all().delete()
        ModelPortfolio.objects.all().delete()
        ParameterTemplate.objects.all().delete()
        Security.objects.all().delete()


def _run(firm, run_id):
    with tenant_context(firm):
        return RebalanceRun.objects.get(pk=run_id)


def test_a_run_over_the_firm_makes_one_proposal_per_account(celery_worker_process, committed_book, django_db_blocker):
    firm, book = committed_book(6)
    with django_db_blocker.unblock():
        with tenant_context(firm):
            run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="integration test")

        done = wait_for(lambda: _run(firm, run.pk).status == RebalanceRun.Status.COMPLETED and _run(firm, run.pk),
                        worker=celery_worker_process)

        with tenant_context(firm):
            assert (done.total, done.done, done.failed) == (6, 6, 0)
            assert Proposal.objects.filter(run=run).count() == 6
            assert done.timings["chunks"] >= 1 and done.timings["solve"] > 0


def test_a_duplicated_chunk_creates_nothing_twice(celery_worker_process, committed_book, django_db_blocker):
    firm, book = committed_book(4)
    with django_db_blocker.unblock():
        with tenant_context(firm):
            run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
            wait_for(lambda: _run(firm, run.pk).status == RebalanceRun.Status.COMPLETED, worker=celery_worker_process)
            before = sorted(Proposal.objects.filter(run=run).values_list("pk", flat=True))
            chunk = run_chunks(run)[0]
            # What a broker does after a lost acknowledgement: the same message, delivered again, twice.
            rebalance_chunk.delay(run.pk, chunk)
            rebalance_chunk.delay(run.pk, chunk)
            wait_for(lambda: _run(firm, run.pk).timings.get("chunks", 0) >= 3, worker=celery_worker_process)

            assert sorted(Proposal.objects.filter(run=run).values_list("pk", flat=True)) == before
            assert RunOutcome.objects.filter(run=run).count() == 4
            assert _run(firm, run.pk).done == 4


def test_a_worker_killed_mid_chunk_loses_nothing_when_the_chunk_is_redelivered(
    committed_book, django_db_blocker, tmp_path, celery_worker_process
):
    firm, book = committed_book(60)
    with django_db_blocker.unblock():
        with tenant_context(firm):
            run = RebalanceRun.objects.create(scope={"firm": True}, as_of=AS_OF, total=60)
            [chunk] = run_chunks(run)
            # A queue only the doomed worker reads, so the shared test worker cannot take the chunk.
            # solo pool: the task runs in the process we kill, not in a pool child that would outlive it.
            doomed = start_worker(tmp_path / "doomed.log", name="doomed", concurrency=1, queues="kill-test", pool="solo")
            rebalance_chunk.apply_async((run.pk, chunk), queue="kill-test")
            # The chunk solves in a few tenths of a second: watch closely to kill it in flight.
            wait_for(lambda: _run(firm, run.pk).status == RebalanceRun.Status.RUNNING, interval=0.01, worker=doomed)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=30)
            written = RunOutcome.objects.filter(run=run).count()

            # The broker redelivers the unacknowledged message (acks_late); a fresh worker takes it.
            rebalance_chunk.apply_async((run.pk, chunk), queue="kill-test")
            fresh = start_worker(tmp_path / "fresh.log", name="fresh", concurrency=1, queues="kill-test", pool="solo")
            try:
                finished = wait_for(
                    lambda: _run(firm, run.pk).status == RebalanceRun.Status.COMPLETED and _run(firm, run.pk),
                    worker=fresh, timeout=120,
                )
            finally:
                fresh.terminate()
                fresh.wait(timeout=30)

            assert written in (0, 60)  # a chunk's writes are one transaction: all or nothing
            assert (finished.done, finished.failed) == (60, 0)
            assert Proposal.objects.filter(run=run).count() == 60

"""A worker's main process killed with kill -9 in the middle of a run, on Redis (the production broker)
and on the filesystem broker: its chunk is lost (the filesystem broker deleted the message when it was
taken; Redis holds it back for its visibility timeout, an hour), so the run stalls short of its total
however many workers come after. Real Celery beat then sends the stall watch, which finds the run and
sends its unfinished chunks again, and the run completes with one outcome and one proposal per account.

The Redis variant needs Redis on 127.0.0.1:6379 (CI has it) and uses its database 3 only.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import Proposal, RebalanceRun, RunOutcome, RunWatch
from tenants.audit.models import AuditEvent
from tenants.roles import ProviderRole
from tenants.services import user_ensure

from ..conftest import PASSWORD
from ..rebalancing.book import AS_OF
from .conftest import ROOT, process_env, start_worker, wait_for
from .test_batch_rebalance import committed_book  # noqa: F401

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/3"
ACCOUNTS = 250
# The watch in seconds rather than minutes, so the test waits seconds; chunks of 10 accounts, so the
# run is 25 chunks and a kill lands while one is in flight (one chunk of 250 solves in half a second).
WATCH = {"RUN_STALL_SECONDS": "3", "RUN_WATCH_SECONDS": "1", "RUN_STALL_MAX_REDISPATCHES": "5",
         "RUN_CHUNK_ACCOUNTS": "10"}


def _redis_env() -> dict:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis did not answer on 127.0.0.1:6379 ({exc.__class__.__name__}: {exc}). This test runs the "
                    "production broker: start it with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379`.")
    redis.Redis.from_url(REDIS_URL).flushdb()  # database 3 is this test's alone
    return {"CELERY_BROKER_URL": REDIS_URL}


def _filesystem_env(folder: Path) -> dict:
    (folder / "control").mkdir(parents=True)  # its own folder: the session's shared worker never sees it
    return {"CELERY_BROKER_URL": "filesystem://localhost/", "CELERY_FILESYSTEM_BROKER_DIR": str(folder)}


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        found += [int(c) for c in children]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _start_beat(folder: Path, env: dict) -> subprocess.Popen:
    log = folder / "beat.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config.celery_app", "beat", "-l", "INFO",
             "-s", str(folder / "beat-schedule"), "--pidfile", str(folder / "beat.pid")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    process.log_path = log
    return process


def _stop(*processes) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _run(firm, run_id) -> RebalanceRun:
    with tenant_context(firm):
        return RebalanceRun.objects.select_related("watch").get(pk=run_id)


def _settled(firm, run_id, quiet: float = 6.0, timeout: float = 90.0) -> RebalanceRun:
    """The run once its progress has not moved for ``quiet`` seconds (or it finished)."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        run = _run(firm, run_id)
        if run.status == RebalanceRun.Status.COMPLETED:
            return run
        progress = run.done + run.failed
        if progress != last:
            last, since = progress, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return run
        time.sleep(0.2)
    pytest.fail(f"run {run_id} kept moving for {timeout} s")


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_a_run_stalled_by_a_worker_killed_with_kill_9_is_found_and_completed(
        broker, django_db_setup, committed_book, django_db_blocker, tmp_path):  # noqa: F811
    firm, book = committed_book(ACCOUNTS)
    env = process_env(**WATCH, **(_redis_env() if broker == "redis" else _filesystem_env(tmp_path / "broker")))
    doomed = fresh = beat = None
    with django_db_blocker.unblock():
        try:
            # The kill must land while the (only) pool process solves a chunk; on a busy machine it can
            # land between two chunks instead, and then nothing is lost: try again with a new run.
            for attempt in range(1, 4):
                # The run is queued first and the worker started after, so the run cannot finish
                # before the test watches it.
                started = subprocess.run(
                    [sys.executable, "manage.py", "rebalance", "--firm", firm.slug, "--as-of", AS_OF.isoformat()],
                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
                run_id = int(started.stdout.split("run ")[1].split()[0])
                doomed = start_worker(tmp_path / f"doomed-{attempt}.log", name=f"doomed-{broker}-{attempt}",
                                      concurrency=1, env=env)

                wait_for(lambda run_id=run_id: _run(firm, run_id).status == RebalanceRun.Status.RUNNING,
                         interval=0.02, worker=doomed)
                pool = _children(doomed.pid)
                doomed.send_signal(signal.SIGKILL)
                doomed.wait(timeout=30)
                wait_for(lambda pool=pool: not any(_alive(p) for p in pool), timeout=30)  # dies with its parent

                # A new worker takes every chunk still in the broker, and the run stops short of its total.
                fresh = start_worker(tmp_path / f"fresh-{attempt}.log", name=f"fresh-{broker}-{attempt}",
                                     concurrency=1, env=env)
                stuck = _settled(firm, run_id)
                if stuck.status == RebalanceRun.Status.RUNNING:
                    break
                _stop(fresh)
            assert stuck.status == RebalanceRun.Status.RUNNING, "three kills did not catch a chunk in flight"
            # The chunk in flight is lost, and with Redis a message the dead worker had reserved may be
            # too (held for the visibility timeout): the run stops short by one chunk or more.
            assert stuck.total > stuck.done and stuck.failed == 0

            # Beat sends the stall watch; it sends the lost chunk again and the run completes.
            beat = _start_beat(tmp_path, env)
            done = wait_for(lambda: (r := _run(firm, run_id)).status == RebalanceRun.Status.COMPLETED and r,
                            timeout=120, worker=fresh)
            # The next pass of the watch records the recovery.
            wait_for(lambda: _run(firm, run_id).watch.state == "recovered", timeout=60, worker=beat)
        finally:
            _stop(doomed, fresh, beat)

        with tenant_context(firm):
            assert (done.done, done.failed, done.total) == (ACCOUNTS, 0, ACCOUNTS)
            assert RunOutcome.objects.filter(run_id=run_id).count() == ACCOUNTS
            assert Proposal.objects.filter(run_id=run_id).count() == ACCOUNTS  # each account once
            watch = RunWatch.objects.get(run_id=run_id)
            assert watch.progress == stuck.done and watch.redispatches >= 1
            assert AuditEvent.objects.filter(action="run.redispatch", object_id=str(run_id)).exists()

        # The provider console shows it.
        with schema_context("public"):
            operator = user_ensure(username=f"op-{broker}@provider.example", email=f"op-{broker}@provider.example",
                                   roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
            console = Client(HTTP_HOST="localhost")
            console.force_login(operator)
        runs_page = console.get("/runs/").content.decode()
        assert f'Run {run_id}</a>' in runs_page and 'data-stall="recovered"' in runs_page
        assert "1 run recovered from a stall this week" in console.get("/").content.decode()

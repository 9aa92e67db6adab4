"""A real Celery worker process, connected to the test database and the test broker."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections
from django_tenants.utils import tenant_context

from config.celery_queues import ALL_QUEUES

ROOT = Path(__file__).resolve().parent.parent.parent


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    host = db["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'], safe='')}{password}@{host}{port}/{db['NAME']}"


def _broker_dir() -> Path:
    return Path(os.environ.get("CELERY_FILESYSTEM_BROKER_DIR", ROOT / ".data" / "test-broker"))


def process_env(**extra: str) -> dict:
    """The environment of a worker, beat or command process on the test database (``extra`` on top,
    e.g. another broker)."""
    return dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=_test_database_url(),
                CELERY_FILESYSTEM_BROKER_DIR=str(_broker_dir())) | extra


def start_worker(
    log: Path, *, name: str, concurrency: int = 2, queues: str = ",".join(ALL_QUEUES), pool: str = "prefork",
    env: dict | None = None,
) -> subprocess.Popen:
    """Start `celery worker` as its own OS process on the test database; wait until it is ready."""
    env = env or process_env()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "-l", "INFO",
             "-Q", queues, "-P", pool, "-c", str(concurrency), "-n", f"{name}-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    process.log_path = log
    return process


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, tmp_path_factory):
    """A worker shared by the integration tests; stopped at the end of the session."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        shutil.rmtree(_broker_dir(), ignore_errors=True)  # no stale messages from an earlier run
        (_broker_dir() / "control").mkdir(parents=True)
    process = start_worker(tmp_path_factory.mktemp("worker") / "worker.log", name="test-worker")
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(predicate, *, timeout: float = 60.0, interval: float = 0.2, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = worker.log_path.read_text()[-3000:] if worker is not None else ""
    pytest.fail(f"condition not met within {timeout}s\n{tail}")


def in_thread(firm, call, outcomes: dict, key: str) -> threading.Thread:
    """Run ``call`` in ``firm`` on a thread of its own (its own database connection); what it returns
    or raises goes in ``outcomes[key]``."""
    def run():
        try:
            with tenant_context(firm):
                outcomes[key] = call()
        except Exception as exc:  # the test names what was raised
            outcomes[key] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def at_once(firm, calls) -> list:
    """Run the calls in ``firm``, each on a thread of its own (its own database connection), released
    together; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i, call):
        try:
            with tenant_context(firm):
                barrier.wait(10)
                outcomes[i] = call()
        except Exception as exc:  # the test names what was raised
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def waiting_for_an_advisory_lock() -> bool:
    """Whether some connection waits for a PostgreSQL advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0

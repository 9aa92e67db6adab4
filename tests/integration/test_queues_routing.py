"""Which queue each Celery task goes to, and that every worker definition consumes every queue.

A run's dispatch once shared the "default" queue with webhook deliveries: one endpoint subscribed to
proposal.pending_approval queued ~165 deliveries per whole-firm run, and a one-household run waited
228 s to start. Runs now have the "rebalance" queue, notifications the "notify" queue
(config/celery_queues.py); a queue no worker reads would be worse than the delay, so each worker
definition is checked here too.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django_tenants.utils import tenant_context

from config.celery_app import app
from config.celery_queues import ALL_QUEUES, DEFAULT, NOTIFY, REBALANCE
from rebalancing.models import RebalanceRun

from ..rebalancing.book import AS_OF
from .conftest import ROOT, process_env, start_worker, wait_for
from .test_batch_rebalance import committed_book  # noqa: F401

# Every task of the project and the queue it must go to.
EXPECTED = {
    "rebalancing.tasks.run_dispatch": REBALANCE,
    "rebalancing.tasks.rebalance_chunk": REBALANCE,
    "rebalancing.tasks.nightly_scan": REBALANCE,
    "rebalancing.tasks.runs_watch": REBALANCE,
    "rebalancing.tasks.webhook_deliver": NOTIFY,
    "rebalancing.tasks.approvers_notify": NOTIFY,
    "rebalancing.tasks.approvals_digest": NOTIFY,
    "rebalancing.tasks.risk_model_refresh": DEFAULT,
    "rebalancing.tasks.release_batch_run": DEFAULT,
    "rebalancing.tasks.risk_model_estimate_run": DEFAULT,
    "rebalancing.tasks.proposals_expire": DEFAULT,
    "rebalancing.tasks.backtest_run": DEFAULT,
    "rebalancing.tasks.backtests_watch": DEFAULT,
    "rebalancing.tasks.webhook_secrets_expire": DEFAULT,
    "tenants.tasks.firm_usage_snapshot": DEFAULT,
    "tenants.api_keys.tasks.idempotency_records_purge": DEFAULT,
    "frontend.tasks.password_link_send": DEFAULT,
}


def _queue_of(task: str) -> str:
    return app.amqp.router.route({}, task)["queue"].name


def test_every_task_goes_to_its_queue():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert ours == set(EXPECTED), "a task was added or removed: say here which queue it belongs to"
    assert {task: _queue_of(task) for task in sorted(ours)} == EXPECTED


def test_nothing_that_starts_or_advances_a_run_shares_a_queue_with_notifications():
    run_queues = {_queue_of(t) for t in ("rebalancing.tasks.run_dispatch", "rebalancing.tasks.rebalance_chunk",
                                         "rebalancing.tasks.nightly_scan", "rebalancing.tasks.runs_watch")}
    notify_queues = {_queue_of(t) for t in ("rebalancing.tasks.webhook_deliver", "rebalancing.tasks.approvers_notify")}
    assert run_queues == {REBALANCE} and notify_queues == {NOTIFY}
    assert set(EXPECTED.values()) == set(ALL_QUEUES)


def _queues(flag_value: str) -> set[str]:
    return set(flag_value.split(","))


def test_every_worker_definition_consumes_every_queue():
    # The demo (scripts/run demo -> scripts/stack.py) and the tests' worker.
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import stack
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert set(stack.ALL_QUEUES) == set(ALL_QUEUES)
    assert '"-Q", ",".join(ALL_QUEUES)' in (ROOT / "scripts" / "stack.py").read_text()
    import inspect

    from . import conftest
    assert _queues(inspect.signature(conftest.start_worker).parameters["queues"].default) == set(ALL_QUEUES)
    # The container's default (docker compose runs it without CELERY_QUEUES) and the Procfile.
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert _queues(re.search(r'queues="\$\{CELERY_QUEUES:-([^}]*)\}"', entrypoint).group(1)) == set(ALL_QUEUES)
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    worker = compose["services"]["worker"]
    assert worker["command"] == ["worker"] and "CELERY_QUEUES" not in str(worker.get("environment", ""))
    procfile = (ROOT / "platform" / "Procfile").read_text()
    assert _queues(re.search(r"^worker: .*--queues=(\S+)", procfile, re.M).group(1)) == set(ALL_QUEUES)
    # Kubernetes: the pools together, each queue exactly once.
    consumed = []
    for path in sorted((ROOT / "platform" / "k8s").glob("*-deployment.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for container in (doc or {}).get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                if (container.get("args") or [None])[0] == "worker":
                    env = {e["name"]: e.get("value") for e in container.get("env", [])}
                    consumed += env["CELERY_QUEUES"].split(",")
    assert sorted(consumed) == sorted(ALL_QUEUES)
    kustomization = (ROOT / "platform" / "k8s" / "kustomization.yaml").read_text()
    for path in (ROOT / "platform" / "k8s").glob("worker-*-deployment.yaml"):
        assert f"- {path.name}" in kustomization, f"{path.name} is not deployed"


@pytest.mark.integration
def test_a_worker_of_the_rebalance_pool_alone_finishes_a_run(django_db_setup, committed_book,  # noqa: F811
                                                             django_db_blocker,
                                                             tmp_path: Path):
    """The Kubernetes solver pool consumes "rebalance" only: a run's dispatch must reach it there."""
    firm, _book = committed_book(3)
    folder = tmp_path / "broker"
    (folder / "control").mkdir(parents=True)  # its own folder: the session's shared worker never sees it
    env = process_env(CELERY_BROKER_URL="filesystem://localhost/", CELERY_FILESYSTEM_BROKER_DIR=str(folder))
    with django_db_blocker.unblock():
        started = subprocess.run(
            [sys.executable, "manage.py", "rebalance", "--firm", firm.slug, "--as-of", AS_OF.isoformat()],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
        run_id = int(started.stdout.split("run ")[1].split()[0])
        worker = start_worker(tmp_path / "rebalance.log", name="rebalance-pool", concurrency=1, queues=REBALANCE,
                              env=env)
        try:
            def finished():
                with tenant_context(firm):
                    run = RebalanceRun.objects.get(pk=run_id)
                return run if run.status == RebalanceRun.Status.COMPLETED else None

            run = wait_for(finished, timeout=90, worker=worker)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert run.done == 3 and run.failed == 0

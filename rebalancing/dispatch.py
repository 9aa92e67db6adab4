"""Work sent to the Celery workers by task name: services start work without importing the tasks
(which import the services), so the two never import each other. The firm's schema travels in
the message's headers (tenant-schemas-celery's ``send_task``); routing is by name
(``CELERY_TASK_ROUTES``). Call inside ``transaction.on_commit`` so workers see committed rows."""

from __future__ import annotations

from celery import current_app

__all__ = ["APPROVERS_NOTIFY", "BACKTEST_RUN", "PASSWORD_LINK_SEND", "REBALANCE_CHUNK", "RELEASE_BATCH", "RISK_MODEL_ESTIMATE", "RUN_DISPATCH", "WEBHOOK_DELIVER",
           "send"]

RUN_DISPATCH = "rebalancing.tasks.run_dispatch"
REBALANCE_CHUNK = "rebalancing.tasks.rebalance_chunk"
BACKTEST_RUN = "rebalancing.tasks.backtest_run"
WEBHOOK_DELIVER = "rebalancing.tasks.webhook_deliver"
APPROVERS_NOTIFY = "rebalancing.tasks.approvers_notify"
RISK_MODEL_ESTIMATE = "rebalancing.tasks.risk_model_estimate_run"
RELEASE_BATCH = "rebalancing.tasks.release_batch_run"
PASSWORD_LINK_SEND = "frontend.tasks.password_link_send"


def send(task: str, *args) -> None:
    current_app.send_task(task, args=list(args))

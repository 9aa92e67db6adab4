"""Which Celery queue each task goes to, and the queues a worker must consume.

Three queues, so that no kind of work waits behind another:

- ``rebalance``: everything that starts or advances a run (the dispatch that splits it into chunks,
  the chunks, the nightly scan that starts one, the stall watch that sends chunks again). A firm's
  run never waits behind other work's messages, only behind other runs.
- ``notify``: what tells the outside world (webhook deliveries and their retries, approvers'
  e-mails). One endpoint subscribed to every proposal queues a delivery per proposal - hundreds per
  whole-firm run - and those must not hold up any firm's runs or the pages' work.
- ``default``: the rest (release batches, backtests, risk model estimates, housekeeping, password
  links).

Plain Python, no Django: scripts/stack.py and the tests' worker read ``ALL_QUEUES`` too, and
tests/integration/test_queues_routing.py checks every worker definition (Procfile, compose,
Kubernetes) consumes them all.
"""

__all__ = ["ALL_QUEUES", "DEFAULT", "NOTIFY", "REBALANCE", "TASK_ROUTES"]

REBALANCE = "rebalance"
NOTIFY = "notify"
DEFAULT = "default"
ALL_QUEUES = (REBALANCE, DEFAULT, NOTIFY)

TASK_ROUTES = {
    "rebalancing.tasks.run_dispatch": {"queue": REBALANCE},
    "rebalancing.tasks.rebalance_chunk": {"queue": REBALANCE},
    "rebalancing.tasks.nightly_scan": {"queue": REBALANCE},
    "rebalancing.tasks.runs_watch": {"queue": REBALANCE},
    "rebalancing.tasks.webhook_deliver": {"queue": NOTIFY},
    "rebalancing.tasks.approvers_notify": {"queue": NOTIFY},
    "rebalancing.tasks.approvals_digest": {"queue": NOTIFY},
}

"""The Celery application.

tenant-schemas-celery's CeleryApp stamps the current schema on every message it sends and switches
the worker's connection to that schema before the task runs, so a task always sees exactly one
firm's data: the firm that was active where it was enqueued.
"""

import gc
import os

from celery.signals import worker_process_init
from tenant_schemas_celery.app import CeleryApp

from config.broker_files import register as register_filesystem_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

register_filesystem_broker()
app = CeleryApp("rebalancing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _settle_the_heap(**_kwargs) -> None:
    """Move what a worker process imported (Django, numpy, scipy, cvxpy) out of the garbage
    collector's sight and collect young objects less often.

    A chunk creates hundreds of thousands of short-lived objects (tax lots, trades, result
    dicts); with the defaults each full collection walked every imported module's objects again,
    a fifth of a worker's CPU time in the book benchmark.  Frozen objects live as long as the
    process anyway; cyclic garbage waits for 20,000 new objects instead of 700 (a bounded delay).
    """
    import rebalancing.engine  # noqa: F401 - the heavy imports, before the heap is frozen

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)

"""The Celery application.

tenant-schemas-celery's CeleryApp stamps the current schema on every message it sends and switches
the worker's connection to that schema before the task runs, so a task always sees exactly one
firm's data: the firm that was active where it was enqueued.
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("rebalancing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

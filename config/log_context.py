"""Log records carry the firm whose schema the connection is on (web request or Celery task)."""

import logging

__all__ = ["FirmFilter"]


class FirmFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "firm"):
            record.firm = _current_schema()
        return True


def _current_schema() -> str:
    try:
        from django.db import connection

        return getattr(connection, "schema_name", "-") or "-"
    except Exception:  # before settings are ready, or while the connection itself is failing
        return "-"

"""Log records carry the firm whose schema the connection is on (web request or Celery task)."""

import logging

__all__ = ["FirmFilter", "RefusalWithoutTraceback"]


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


class RefusalWithoutTraceback(logging.Filter):
    """A 403 answered for a ``PermissionDenied`` is a refusal the product means (its page or error
    body says why), not a fault: ``django.request`` logs it as one warning line with the reason,
    not with a traceback of the refusal's own raise (which buried real errors in the log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from django.core.exceptions import PermissionDenied

        refused = record.exc_info[1] if record.exc_info else None
        if getattr(record, "status_code", None) == 403 and isinstance(refused, PermissionDenied):
            record.msg, record.args = f"{record.getMessage()}: {refused}", ()
            record.exc_info = record.exc_text = None
        return True

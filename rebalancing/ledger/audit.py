"""Audit rows for the ledger's changes, one per changed object, written in bulk."""

from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record

__all__ = ["audit_many"]


def audit_many(*, actor, action: str, changes: list[tuple[str, str, dict | None, dict | None]],
               comment: str = "") -> int:
    """Record ``changes`` = [(object_type, object_id, before, after)] in the current transaction.

    The first goes through ``audit_record``, which resolves the actor (a user, a user through an
    API key, a process); the others copy its actor and are inserted in one statement.
    """
    if not changes:
        return 0
    (object_type, object_id, before, after), rest = changes[0], changes[1:]
    first = audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id,
                         before=before, after=after, comment=comment)
    AuditEvent.objects.bulk_create([
        AuditEvent(firm=first.firm, actor_kind=first.actor_kind, actor_id=first.actor_id, actor=first.actor,
                   action=action, object_type=kind, object_id=pk, before=b, after=a, comment=comment)
        for kind, pk, b, a in rest
    ])
    return len(changes)

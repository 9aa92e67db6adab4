"""Recording changes. Call inside the transaction that makes the change, so both land or neither."""

from dataclasses import dataclass
from typing import Any

from django.db import connection
from psycopg import sql
from psycopg.types.json import Jsonb

from .actions import Action
from .models import AuditEvent

__all__ = ["Visitor", "audit_many", "audit_record", "snapshot"]


@dataclass(frozen=True)
class Visitor:
    """Someone not signed in, named as they named themselves (the user name typed at a failed sign-in)."""

    label: str


def _actor(actor) -> tuple[str, int | None, str]:
    if isinstance(actor, Visitor):
        return AuditEvent.ActorKind.ANONYMOUS, None, actor.label
    if actor is None:
        return AuditEvent.ActorKind.SYSTEM, None, "system"
    if isinstance(actor, str):
        return AuditEvent.ActorKind.SYSTEM, None, actor
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:  # a request authenticated by an API key acts as its owner, through the key
        return AuditEvent.ActorKind.API_KEY, api_key.pk, f"{actor.get_username()} (key {api_key.prefix})"
    return AuditEvent.ActorKind.USER, actor.pk, actor.get_username()


def snapshot(obj, fields: list[str]) -> dict[str, Any]:
    """The audited fields of a model instance, as JSON-friendly values."""
    out = {}
    for name in fields:
        value = getattr(obj, name)
        if hasattr(value, "pk"):
            value = value.pk
        elif value is not None and not isinstance(value, str | int | float | bool | dict | list):
            value = str(value)
        out[name] = value
    return out


def audit_record(
    *,
    actor,
    action: str,
    obj=None,
    before: dict | None = None,
    after: dict | None = None,
    comment: str = "",
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Append one record. ``actor``: a user (possibly acting through an API key), a process name, a
    ``Visitor``, or None; ``action``: an ``Action`` (or its value; any other is refused)."""
    action = Action.of(action)
    kind, actor_id, label = _actor(actor)
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
    return AuditEvent.objects.create(
        firm=connection.schema_name,
        actor_kind=kind,
        actor_id=actor_id,
        actor=label[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
        comment=comment,
    )


def audit_many(*, actor, action, changes: list[tuple[str, str, dict | None, dict | None]], comment: str = "",
               comments: list[str] | None = None) -> int:
    """Record ``changes`` = [(object_type, object_id, before, after)] in the current transaction:
    the first through ``audit_record`` (which resolves the actor and checks the action), the others
    with the same actor in one statement. The one path for changes made in bulk. ``comments``: each
    change's own comment (in the order of ``changes``), where they differ; else ``comment`` for all."""
    if not changes:
        return 0
    if comments is not None and len(comments) != len(changes):
        raise ValueError(f"{len(comments)} comments for {len(changes)} changes")
    said = comments if comments is not None else [comment] * len(changes)
    (object_type, object_id, before, after), rest = changes[0], changes[1:]
    first = audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id,
                         before=before, after=after, comment=said[0])
    if rest:
        # COPY rather than one INSERT of every value as a parameter: a run's chunk records the
        # submission of hundreds of proposals, and binding their 5,500 values took most of its time.
        # The rows share the first's time, as one change made in bulk.
        columns = ("at", "firm", "actor_kind", "actor_id", "actor", "action", "object_type", "object_id",
                   "object_repr", "before", "after", "comment")
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(AuditEvent._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns)))
        with connection.cursor() as cursor, cursor.copy(statement.as_string(cursor.connection)) as copy:
            for (kind, pk, b, a), note in zip(rest, said[1:], strict=True):
                copy.write_row((first.at, first.firm, first.actor_kind, first.actor_id, first.actor, first.action,
                                kind, pk, "", None if b is None else Jsonb(b), None if a is None else Jsonb(a),
                                note))
    return len(changes)

"""Writing validated rows: compare with what is stored, then create, update or delete in bulk.

Nothing is written for a row equal to the stored one, so importing the same file twice changes nothing.
Every helper runs inside the import's transaction; a database error anywhere undoes the whole file.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd
from django.db import connection, models
from django_tenants.utils import get_public_schema_name
from psycopg import sql

from rebalancing.copy_writes import copy_rows
from tenants.errors import ValidationFailed

from .cells import INVALID

__all__ = ["Changes", "changes_apply", "changes_plan", "ids_by", "import_begin", "records"]

_CREATE_BATCH = 2000
_UPDATE_BATCH = 500


def import_begin(kind: str) -> None:
    """Refuse to run outside a firm; let one import of a kind run at a time in a firm.

    The lock (released at commit) keeps two uploads of the same kind from racing: both would find a
    row missing and one would fail on the unique key, or two lot snapshots would interleave.
    """
    if connection.schema_name == get_public_schema_name():
        raise ValidationFailed("An import runs inside a firm; none is selected.", detail={"field": "firm"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{connection.schema_name}:import:{kind}"])


def ids_by(model: type[models.Model], field: str, values: Iterable) -> dict:
    """``{value: id}`` of the rows whose ``field`` is one of ``values``, in one query."""
    return dict(model.objects.filter(**{f"{field}__in": list(values)}).order_by().values_list(field, "id"))


def records(columns: dict[str, pd.Series], *, keep_when_empty: Iterable[str] = ()) -> list[dict]:
    """Rows as dicts of field attname -> value; an empty cell of a ``keep_when_empty`` field is left out
    (the stored value stays; a new row gets the field's default)."""
    keep = [name for name in keep_when_empty if name in columns]
    names = list(columns)
    index = columns[names[0]].index
    assert all(column.index.equals(index) for column in columns.values()), "columns of different rows"
    rows = [dict(zip(names, values, strict=True)) for values in zip(*(c.tolist() for c in columns.values()), strict=True)]
    for row in rows:
        assert INVALID not in row.values(), "records() of a sheet with problems"
        for name in keep:
            if row[name] is None:
                del row[name]
    return rows


@dataclass
class Changes:
    create: list[dict] = field(default_factory=list)
    update: list[dict] = field(default_factory=list)  # stored row with the file's values, "id" included
    update_fields: set[str] = field(default_factory=set)
    unchanged: int = 0
    delete_ids: list[int] = field(default_factory=list)


def changes_plan(
    *, rows: Sequence[dict], existing: Iterable[dict], key: tuple[str, ...], replace: bool = False
) -> Changes:
    """Match file rows to stored rows (``existing``: ``.values("id", *key, *fields)``) by ``key``.

    With ``replace``, stored rows not matched by the file are to be deleted: ``existing`` must then hold
    exactly the rows the file replaces (e.g. all lots of the accounts in the file).
    """
    stored = {tuple(row[name] for name in key): row for row in existing}
    changes = Changes()
    matched: set[tuple] = set()
    for row in rows:
        row_key = tuple(row[name] for name in key)
        current = stored.get(row_key)
        if current is None:
            changes.create.append(row)
            continue
        matched.add(row_key)
        differing = {name for name, value in row.items() if current[name] != value}
        if differing:
            changes.update.append({**current, **row})
            changes.update_fields |= differing
        else:
            changes.unchanged += 1
    if replace:
        changes.delete_ids = [row["id"] for row_key, row in stored.items() if row_key not in matched]
    return changes


def _rows_insert_by_copy(model: type[models.Model], rows: list[dict]) -> None:
    # COPY is several times faster than INSERT for the 100k-row position and price files.
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    defaults = {f.attname: f.get_default() for f in fields}
    with connection.cursor() as cursor:
        copy_rows(
            cursor, sql.Identifier(model._meta.db_table), [f.column for f in fields],
            ([row.get(f.attname, defaults[f.attname]) for f in fields] for row in rows),
        )


def _rows_update_by_copy(model: type[models.Model], names: list[str], rows: list[dict]) -> None:
    # bulk_update's CASE WHEN takes ~25 s for 100k lots; COPY into a scratch table and one UPDATE ... FROM
    # takes about one. The scratch table is made from the real one, so its columns have the same types.
    table = sql.Identifier(model._meta.db_table)
    scratch = sql.Identifier("pg_temp", "import_changes")
    columns = [model._meta.get_field(name).column for name in names]
    column_list = sql.SQL(", ").join(map(sql.Identifier, ["id", *columns]))
    assignments = sql.SQL(", ").join(
        sql.SQL("{0} = changes.{0}").format(sql.Identifier(column)) for column in columns
    )
    with connection.cursor() as cursor:
        def run(statement: sql.Composed) -> None:
            cursor.execute(statement.as_string(cursor.connection))

        run(sql.SQL("CREATE TEMPORARY TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(scratch, column_list, table))
        copy_rows(cursor, scratch, ["id", *columns], ([row["id"], *(row[name] for name in names)] for row in rows))
        run(sql.SQL("UPDATE {} AS stored SET {} FROM {} AS changes WHERE stored.id = changes.id").format(
            table, assignments, scratch
        ))
        run(sql.SQL("DROP TABLE {}").format(scratch))


def changes_apply(model: type[models.Model], changes: Changes, *, copy: bool = False) -> None:
    """Delete, update, then create. ``copy`` writes through COPY: for models of plain columns (no JSON)."""
    if changes.delete_ids:
        model.objects.filter(pk__in=changes.delete_ids).delete()
    if changes.update:
        names = sorted(changes.update_fields)
        if copy:
            _rows_update_by_copy(model, names, changes.update)
        else:
            objects = [model(**{name: row[name] for name in ("id", *names)}) for row in changes.update]
            model.objects.bulk_update(objects, names, batch_size=_UPDATE_BATCH)
    if changes.create:
        if copy:
            _rows_insert_by_copy(model, changes.create)
        else:
            model.objects.bulk_create([model(**row) for row in changes.create], batch_size=_CREATE_BATCH)

"""Bulk writes through PostgreSQL COPY, several times faster than INSERT for large rows and files.

Django's client-side parameter quoting costs more than the insert itself for a proposal of a few
hundred KB of JSON (0.8 s against 0.23 s for 20 direct-index proposals, measured here); COPY hands
psycopg's C encoder the rows instead. Model instances go in COPY's binary format: no escaping of
large documents on either side (10 direct-index proposals of 180 KB: 3.4 ms against 5.7 ms in the
text format, measured here). Large values are compressed with lz4 where the server has it:
PostgreSQL's default (pglz) spent 4.2 ms on each 220 KB direct-index proposal, lz4 1.5 ms (stored
65 KB instead of 53 KB).
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import orjson
from django.db import connection, models, transaction
from psycopg import sql
from psycopg.types.json import Jsonb

from rebalancing.models.runs import DocumentField

__all__ = ["copy_rows", "objects_insert_by_copy"]


def copy_rows(cursor, table: sql.Composable, columns: list[str], rows: Iterable[list]) -> None:
    """COPY ``rows`` into ``table`` (a psycopg sql object) through a Django cursor."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with cursor.copy(statement.as_string(cursor.connection)) as copy:
        for row in rows:
            copy.write_row(row)


_LZ4: dict[tuple, bool] = {}
# Column type oids by table and columns (the same in every firm's schema): COPY's binary format needs them.
_COLUMN_TYPES: dict[tuple[str, ...], list[int]] = {}


def _compress_with_lz4(cursor) -> None:
    """For the rest of this transaction, TOAST-compress new values with lz4 (if the server has it)."""
    key = (connection.settings_dict.get("HOST"), connection.settings_dict.get("PORT"), connection.settings_dict.get("NAME"))
    if key not in _LZ4:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        _LZ4[key] = bool((cursor.fetchone() or [False])[0])
    if _LZ4[key]:
        cursor.execute("SET LOCAL default_toast_compression = lz4")


def _column_types(cursor, table: str, columns: list[str]) -> list[int]:
    key = (table, *columns)
    if key not in _COLUMN_TYPES:
        column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
        cursor.execute(sql.SQL("SELECT {} FROM {} LIMIT 0").format(column_list, sql.Identifier(table))
                       .as_string(cursor.connection))
        _COLUMN_TYPES[key] = [c.type_code for c in cursor.description]
    return _COLUMN_TYPES[key]


def _json_text(value) -> bytes:
    return orjson.dumps(value)  # 8x faster than json.dumps on a proposal


def _value(field: models.Field, obj: models.Model):
    value = getattr(obj, field.attname)
    if value is None:
        return None
    if isinstance(field, DocumentField):
        return field.to_text(value)
    if isinstance(field, models.JSONField):
        return Jsonb(value, dumps=_json_text)
    return field.get_db_prep_save(value, connection)


# Django's own field classes that send a value of this exact type to PostgreSQL as it is
# (get_db_prep_save makes an int of an int, a str of a str...). A run's COPY rows pass those
# values on without the call: a proposal's row took 80 us of Python, half of it outside its
# result, an outcome's 20 us, for each of a chunk's 500 model-portfolio accounts.
_SENT_AS_IS: dict[type[models.Field], type] = {
    **dict.fromkeys((models.AutoField, models.BigAutoField, models.SmallAutoField, models.IntegerField,
                     models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
                     models.PositiveBigIntegerField, models.PositiveSmallIntegerField), int),
    models.CharField: str, models.TextField: str, models.BooleanField: bool, models.FloatField: float,
    models.DateTimeField: datetime,  # when aware (a naive one is made aware, with a warning)
    models.DecimalField: Decimal,  # when finite (Django refuses NaN and infinities; PostgreSQL would take NaN)
}


def _sent_as_is(field: models.Field) -> type | None:
    """The type whose values ``field`` sends unchanged, if any (a foreign key: its target's)."""
    if type(field) is models.ForeignKey:
        field = field.target_field
    return _SENT_AS_IS.get(type(field))


def _row(fields: list[tuple[models.Field, type | None]], obj: models.Model) -> list:
    row = []
    for field, as_is in fields:
        value = getattr(obj, field.attname)
        if value is None or type(value) is as_is and (as_is is not datetime or value.utcoffset() is not None) and (
                as_is is not Decimal or value.is_finite()):
            row.append(value)
        elif as_is is str and isinstance(value, str):
            row.append(value)  # a choice (a str enum member): Django sends any str as it is
        elif as_is is Decimal and type(value) is float:
            # What Django makes of a float for a decimal column (DecimalField.to_python), in one
            # step instead of its two passes through the field: 12 us of a proposal's row were its
            # two amounts.
            amount = field.context.create_decimal_from_float(value)
            row.append(amount if amount.is_finite() else _value(field, obj))
        else:
            row.append(_value(field, obj))
    return row


def objects_insert_by_copy(objects: list[models.Model], *, ignore_conflicts: bool = False) -> None:
    """Insert unsaved model instances (primary keys from the sequence, or their own when the
    first has one).

    With ``ignore_conflicts`` rows that would break a unique constraint are skipped, as with
    ``bulk_create(ignore_conflicts=True)``: they go through a scratch table and one
    ``INSERT ... ON CONFLICT DO NOTHING`` (the values are written twice: a caller that can rule
    conflicts out, as a run's chunk does, leaves it off).
    """
    if not objects:
        return
    model = type(objects[0])
    for obj in objects:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now_add", False) and getattr(obj, field.attname) is None:
                field.pre_save(obj, add=True)
    own_keys = objects[0].pk is not None
    fields = [f for f in model._meta.concrete_fields if (own_keys or not f.primary_key) and not f.generated]
    columns = [f.column for f in fields]
    sent = [(f, _sent_as_is(f)) for f in fields]
    column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
    table = sql.Identifier(model._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        _compress_with_lz4(cursor)
        types = _column_types(cursor, model._meta.db_table, columns)

        def run(statement: sql.Composed) -> None:
            cursor.execute(statement.as_string(cursor.connection))

        def copy_into(target: sql.Composable) -> None:
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, column_list)
            with cursor.copy(statement.as_string(cursor.connection)) as copy:
                copy.set_types(types)
                for obj in objects:
                    copy.write_row(_row(sent, obj))

        if not ignore_conflicts:
            copy_into(table)
            return
        scratch = sql.Identifier("pg_temp", f"copy_{model._meta.db_table}")
        run(sql.SQL("CREATE TEMPORARY TABLE {} AS SELECT {} FROM {} WITH NO DATA").format(scratch, column_list, table))
        try:
            copy_into(scratch)
            run(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
                table, column_list, column_list, scratch
            ))
        finally:
            run(sql.SQL("DROP TABLE {}").format(scratch))

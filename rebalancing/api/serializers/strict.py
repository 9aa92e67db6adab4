"""What every body the API reads shares: a field it does not know is refused, naming it.

DRF drops unknown keys without a word, so a misspelt optional field did nothing silently: a run's scope
``{"firm": true, "min_drfit": 0.05}`` rebalanced the whole firm, a template's ``"overrideable"`` kept
the old limits. The CSV files refuse an unknown column for the same reason (docs/csv-formats.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from config.input_limits import full_date_problem, numeral_problem

__all__ = ["UnknownFieldsRefused", "UnknownParametersRefused"]

# Sent by browsers' forms with every multipart POST; never a field of the request.
_NOT_FIELDS = frozenset({"csrfmiddlewaretoken"})
# Fields read as numbers (or dates, or ids) by int()/float()/Decimal(), which take "٣" and "３" for 3.
_NUMERIC = (serializers.IntegerField, serializers.FloatField, serializers.DecimalField, serializers.DateField,
            serializers.DateTimeField, serializers.PrimaryKeyRelatedField)




def _text_refused(field, value) -> str:
    """Why a value given as text to a number or date field is refused before the field reads it
    ("" if it is not): a number not written 0-9, a date not written YYYY-MM-DD."""
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next((p for p in (_text_refused(field.child, v) for v in value) if p), "")
    if isinstance(field, _NUMERIC) and isinstance(value, str):
        if problem := numeral_problem(value):
            return f"is not a number: {problem}."
        if isinstance(field, serializers.DateField) and (problem := full_date_problem(value)):
            return problem
    return ""


class UnknownFieldsRefused:
    # A serializer mixin (first in the bases): to_internal_value refuses keys that are not fields, each
    # named in detail.fields with the fields there are. Read-only fields count as known (a body read back
    # from a GET may carry them, and they are ignored). No docstring: drf-spectacular would publish it as
    # the description of every request body that has none of its own.

    not_fields = _NOT_FIELDS

    def to_internal_value(self, data):
        refused = {}
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields and name not in self.not_fields)
            if unknown:
                known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
                raise serializers.ValidationError(
                    {name: [f"is not a field of this request; the fields are {known}."] for name in unknown})
            refused = {name: [problem] for name, field in self.fields.items()
                       if name in data and not field.read_only and (problem := _text_refused(field, data[name]))}
        # Named with every other field's problem, as DRF names them all (one 400 for the whole body).
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, Mapping):
                raise serializers.ValidationError({**exc.detail, **refused}) from None
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class UnknownParametersRefused(UnknownFieldsRefused):
    # The same for a query string read by a serializer (the reports): ?acount=A-1 answered the whole
    # book's report, not the account's. ``format`` is DRF's (?format=json).
    not_fields = frozenset({"format"})

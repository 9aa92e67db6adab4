"""What every body the API reads shares: a field it does not know is refused, naming it.

DRF drops unknown keys without a word, so a misspelt optional field did nothing silently: a run's scope
``{"firm": true, "min_drfit": 0.05}`` rebalanced the whole firm, a template's ``"overrideable"`` kept
the old limits. The CSV files refuse an unknown column for the same reason (docs/csv-formats.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from config.input_limits import numeral_problem

__all__ = ["UnknownFieldsRefused", "UnknownParametersRefused"]

# Sent by browsers' forms with every multipart POST; never a field of the request.
_NOT_FIELDS = frozenset({"csrfmiddlewaretoken"})
# Fields read as numbers (or dates, or ids) by int()/float()/Decimal(), which take "٣" and "３" for 3.
_NUMERIC = (serializers.IntegerField, serializers.FloatField, serializers.DecimalField, serializers.DateField,
            serializers.DateTimeField, serializers.PrimaryKeyRelatedField)


def _numeral_refused(field, value) -> str:
    """Why a value given as text to a number field is not a number written 0-9 ("" if it is)."""
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next((p for p in (_numeral_refused(field.child, v) for v in value) if p), "")
    if isinstance(field, _NUMERIC) and isinstance(value, str):
        return numeral_problem(value)
    return ""


class UnknownFieldsRefused:
    # A serializer mixin (first in the bases): to_internal_value refuses keys that are not fields, each
    # named in detail.fields with the fields there are. Read-only fields count as known (a body read back
    # from a GET may carry them, and they are ignored). No docstring: drf-spectacular would publish it as
    # the description of every request body that has none of its own.

    not_fields = _NOT_FIELDS

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields and name not in self.not_fields)
            if unknown:
                known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
                raise serializers.ValidationError(
                    {name: [f"is not a field of this request; the fields are {known}."] for name in unknown})
            refused = {name: [f"is not a number: {problem}."] for name, field in self.fields.items()
                       if name in data and not field.read_only and (problem := _numeral_refused(field, data[name]))}
            if refused:
                raise serializers.ValidationError(refused)
        return super().to_internal_value(data)


class UnknownParametersRefused(UnknownFieldsRefused):
    # The same for a query string read by a serializer (the reports): ?acount=A-1 answered the whole
    # book's report, not the account's. ``format`` is DRF's (?format=json).
    not_fields = frozenset({"format"})

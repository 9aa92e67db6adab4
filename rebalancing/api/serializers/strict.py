"""What every body the API reads shares: a field it does not know is refused, naming it; a number or a
date not written in 0-9 is refused; text with a character that cannot be seen is refused.

DRF drops unknown keys without a word, so a misspelt optional field did nothing silently: a run's scope
``{"firm": true, "min_drfit": 0.05}`` rebalanced the whole firm, a template's ``"overrideable"`` kept
the old limits. The CSV files refuse an unknown column for the same reason (docs/csv-formats.md).

Text fields (every ``CharField``, in lists and as dict keys and values too) refuse what the CSV imports
refuse in a cell (``imports.cells``: C0/C1 controls, zero-width and bidi format characters, a stray
byte-order mark; the joiners some scripts need are kept): ``"AAPL\u200b"`` looks like AAPL and is not,
and a name with a line break breaks the order files it is written to. The answer names the field, the
character and where it is: ``"contains a zero width space (U+200B) at position 5, ..."``.

Two field kinds:

- one-line text (names, codes, symbols, references, notes, URLs...): a tab or a line break is refused
  too, as in every column of the imports (none of which is multi-line);
- multi-line text, declared as DRF declares a textarea (``style={"base_template": "textarea.html"}``,
  which ModelSerializer gives a model ``TextField``): comments and descriptions, typed into the pages'
  textareas, keep line breaks and tabs; every other control or invisible character is refused.

Untyped JSON (engine parameters, overrides, import rows) is not read here: the parameter schema and
the imports check their own strings, with their own paths (rows and columns).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import serializers

from config.input_limits import character_problem, full_date_problem, numeral_problem, unseen_character

__all__ = ["MULTI_LINE", "UnknownFieldsRefused", "UnknownParametersRefused", "unseen_character_problem"]

# Sent by browsers' forms with every multipart POST; never a field of the request.
_NOT_FIELDS = frozenset({"csrfmiddlewaretoken"})
# Fields read as numbers (or dates, or ids) by int()/float()/Decimal(), which take "٣" and "３" for 3.
_NUMERIC = (serializers.IntegerField, serializers.FloatField, serializers.DecimalField, serializers.DateField,
            serializers.DateTimeField, serializers.PrimaryKeyRelatedField)
# The style that makes a CharField multi-line (DRF's own textarea declaration): line breaks and tabs kept.
MULTI_LINE = {"base_template": "textarea.html"}
_UNTYPED = type(serializers.DictField().child)  # a DictField without a child: free JSON, not read here


def unseen_character_problem(text: str, *, multi_line: bool = False) -> str:
    """Why ``text`` is refused as API text ("" if it is not): its first control or invisible character,
    by the imports' rule (``imports.cells``), named with its code point and 1-based position. A
    multi-line text (comments, descriptions) may hold tabs and line breaks."""
    character = unseen_character(text, multi_line=multi_line)
    return "" if character is None else character_problem(text, character)


def _unseen_refused(field, value, where: str = "") -> str:
    """The unseen-character problem of a text field's value, of a list's items and of a typed dict's keys
    and values ("" if none), after where it is: ``[2]`` (a list's third item), ``['VTI']`` (a key's
    value), ``the key 'VT\u200bI'``."""
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next((p for p in (_unseen_refused(field.child, v, f"{where}[{i}]") for i, v in enumerate(value)) if p),
                    "")
    if isinstance(field, serializers.DictField) and isinstance(value, Mapping) and type(field.child) is not _UNTYPED:
        for key, item in value.items():
            if isinstance(key, str) and (problem := unseen_character_problem(key)):
                return f"{where} the key {key!r} {problem}".lstrip()
            if problem := _unseen_refused(field.child, item, f"{where}[{key!r}]"):
                return problem
        return ""
    if isinstance(field, serializers.CharField) and isinstance(value, str):
        multi_line = field.style.get("base_template") == MULTI_LINE["base_template"]
        problem = unseen_character_problem(value, multi_line=multi_line)
        return f"{where} {problem}".lstrip() if problem else ""
    return ""


def _text_refused(field, value) -> str:
    """Why a value given as text is refused before the field reads it ("" if it is not): a number not
    written 0-9, a date not written YYYY-MM-DD, text with a character that cannot be seen."""
    if problem := _unseen_refused(field, value):
        return problem
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next((p for p in (_text_refused(field.child, v) for v in value) if p), "")
    if isinstance(field, _NUMERIC) and isinstance(value, str):
        if problem := numeral_problem(value):
            return f"is not a number: {problem}."
        if isinstance(field, serializers.DateField) and (problem := full_date_problem(value)):
            return problem
    return ""


def _json_name(value) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def _type_refused(field, value) -> str:
    """Why a JSON value is refused as of the wrong type for ``field`` ("" if it is not): DRF reads
    ``"yes"`` and ``1`` as true, ``"9"`` and ``9.0`` as 9, and a number as text (``{"comment": 123}``
    became "123"); a body is read as it is typed. Lists and typed dicts are checked item by item."""
    if value is None:
        return ""  # null is the field's own rule (allow_null)
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next((f"[{i}] {p}" for i, p in ((i, _type_refused(field.child, v)) for i, v in enumerate(value)) if p),
                    "")
    if isinstance(field, serializers.DictField) and isinstance(value, Mapping) and type(field.child) is not _UNTYPED:
        return next((f"[{k!r}] {p}" for k, p in ((k, _type_refused(field.child, v)) for k, v in value.items()) if p),
                    "")
    if isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
        return f"must be true or false, not {_json_name(value)} ({value!r})."
    if isinstance(field, serializers.IntegerField) and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be a whole number, not {_json_name(value)} ({value!r})."
    if isinstance(field, serializers.FloatField | serializers.DecimalField) and isinstance(value, bool):
        return f"must be a number, not {_json_name(value)} ({value!r})."
    if (isinstance(field, serializers.CharField | serializers.SlugRelatedField | serializers.ChoiceField)
            and not isinstance(value, str)):
        return f"must be text, not {_json_name(value)} ({value!r})."
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
            # A JSON body is read as typed; a form's or a query's values are all text (QueryDict).
            typed = not isinstance(data, QueryDict)
            refused = {name: [problem] for name, field in self.fields.items()
                       if name in data and not field.read_only
                       and (problem := _text_refused(field, data[name]) or (typed and _type_refused(field, data[name])))}
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

    def get_fields(self):
        # A choice parameter (?layout=, ?show=) names the values there are, as a list's choice filter
        # does (rebalancing/filters.py); DRF's own message ("is not a valid choice") did not.
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.ChoiceField):
                field.error_messages["invalid_choice"] = (
                    f"must be one of {', '.join(map(str, field.choices))}, not {{input!r}}.")
        return fields

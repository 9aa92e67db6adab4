"""Numbers as people type them into a page: one reading for every form, and the CSV import's
(imports/cells.py reads a cell with the same two patterns).

A comma only separates groups of three digits (``1,234.50``); a decimal comma (``0,5``) or a European
amount (``1.500,00``) is refused in words, not read with its commas dropped as another number (``0,5``
saved as 5, ``1.500,00`` as 1.5). A unit is read only where the field has it: a leading ``$`` on an
amount in dollars, a trailing ``%`` on a percentage.
"""

import re
from decimal import Decimal, InvalidOperation

from config.input_limits import numeral_problem

__all__ = ["DOLLARS", "EITHER", "NUMBER", "PERCENT", "PLAIN", "THOUSANDS", "NotANumber", "TypedNumberProblem", "typed_number"]

DOLLARS, PERCENT, PLAIN = "$", "%", ""
EITHER = None  # a field that does not say its unit (a list filter): $ or % is read and dropped

# ASCII digits only (re.ASCII): a str pattern's \d also matches "٣" and "３", which int() and Decimal() read.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?", re.ASCII)  # a comma only between groups of three
# A comma not between groups of three: 0,5  2,5  1,5  12,34 (after the thousands form is tried first).
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+", re.ASCII)
_EUROPEAN = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?|[+-]?\d+,\d*\.?\d*", re.ASCII)


class TypedNumberProblem(ValueError):
    """A typed number that is not read; the message says why, in plain words, quoting what was typed."""


class NotANumber(TypedNumberProblem):
    """Text that is no number at all ("lots", "inf"), as opposed to a number written the wrong way."""


def typed_number(text: str, *, unit: str | None = PLAIN) -> Decimal:
    """The finite number ``text`` says: ``1234.5``, ``1,234.50``, ``-1,234``; ``$1,500`` when ``unit`` is
    DOLLARS, ``2.5%`` when it is PERCENT (the number is returned as typed: 2.5, not 0.025)."""
    raw = text.strip()
    shown = raw[:30]
    if numeral_problem(raw):  # Decimal("٣") is 3
        raise TypedNumberProblem(f"“{shown}” is not a number: {numeral_problem(raw)}")
    body = raw
    sign = ""
    if body[:1] in "+-" and body[1:2] == "$":  # -$1,500
        sign, body = body[0], body[1:]
    if body.startswith("$"):
        if unit not in (DOLLARS, EITHER):
            raise TypedNumberProblem(f"“{shown}” — {_not_dollars(unit)}")
        body = body[1:].strip()
    if body.endswith("%"):
        if unit not in (PERCENT, EITHER):
            raise TypedNumberProblem(f"“{shown}” — {_not_percent(unit)}")
        body = body[:-1].strip()
    body = sign + body
    if "$" in body or "%" in body:
        where = "before" if unit == DOLLARS else "after"
        raise TypedNumberProblem(f"“{shown}” is not a number: write the {unit or 'unit'} only {where} the number"
                                 if unit else f"“{shown}” is not a number: write it without $ or %")
    if "," in body and not THOUSANDS.fullmatch(body):
        if "." in body and _EUROPEAN.fullmatch(body):
            raise TypedNumberProblem(f"“{shown}” — use a point for decimals and a comma only between thousands "
                                     f"(1,500.00, not 1.500,00)")
        if _DECIMAL_COMMA.fullmatch(body):
            raise TypedNumberProblem(f"“{shown}” — use a point for decimals ({body.replace(',', '.')}); a comma "
                                     f"may only separate thousands")
        raise TypedNumberProblem(f"“{shown}” — a comma may only separate thousands (1,234.50)")
    if THOUSANDS.fullmatch(body):
        body = body.replace(",", "")
    if not NUMBER.fullmatch(body):
        raise NotANumber(f"“{shown}” is not a number")
    try:
        value = Decimal(body)
    except InvalidOperation:  # an exponent beyond what Decimal holds: 1e99999999999999999999
        raise NotANumber(f"“{shown}” is not a number") from None
    if not value.is_finite():
        raise NotANumber(f"“{shown}” is not a number")
    return value


def _not_dollars(unit: str | None) -> str:
    if unit == PERCENT:
        return "this setting is a percentage, not dollars (type 5 for 5%)"
    return "this setting is a plain number, not dollars"


def _not_percent(unit: str | None) -> str:
    if unit == DOLLARS:
        return "this setting is an amount in dollars, not a percentage"
    return "this setting is a plain number, not a percentage"

"""Reading numbers from a page's query string or form: a value that cannot be what the page needs is
a 400 that names the parameter and says what it must be (``BadRequest``, rendered by
frontend.views.errors.bad_request), never a server error further down."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import BadRequest

from config.input_limits import numeral_problem
from rebalancing.typed_numbers import EITHER, NotANumber, TypedNumberProblem, typed_number

__all__ = ["MAX_ID", "NumbersIn0To9", "choice_param", "date_param", "decimal_param", "id_param", "ids_param",
           "int_param"]

MAX_ID = 2**63 - 1  # PostgreSQL bigint
YEARS = (1900, 9999)  # the days a date field reads; a report's year is ``reports.report_year_check``'s


class NumbersIn0To9:
    """A Django form mixin (first in the bases): a number, date or choice-by-id field typed with digits
    other than 0-9 is an error on that field (Django's fields read "٣" and "３" as 3, by int()/Decimal())."""

    def full_clean(self):
        super().full_clean()
        if not self.is_bound:
            return
        for name, field in self.fields.items():
            if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField | forms.DateField
                          | forms.ModelChoiceField):
                problem = numeral_problem(str(self.data.get(self.add_prefix(name), "")))
                if problem:
                    self.add_error(name, f"Not a number: {problem}.")


def _shown(raw: str) -> str:
    return raw if len(raw) <= 40 else raw[:40] + "…"


def _whole(raw: str) -> int | None:
    """ASCII digits only (``"²".isdigit()`` is true, yet ``int("²")`` fails), and not a thousand of
    them (Python refuses to read an int of more than 4,300 digits)."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 30 else None


def choice_param(data, name: str, choices, *, default: str = "") -> str:
    """One of ``choices`` (absent or empty: ``default``): a list's filter typed by hand as something
    it does not have (``?status=bogus``) is named, not quietly shown as the default list."""
    raw = (data.get(name) or "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise BadRequest(f"The {name} filter must be one of {', '.join(choices)}, not “{_shown(raw)}”.")
    return raw


# Words whose first letter misleads: "a user", "a unit" (said "you-"), "an hour", "an honest ...".
_A_BEFORE = ("user", "usual", "usage", "use", "unit", "unique", "univers", "uniform", "euro", "one")
_AN_BEFORE = ("hour", "honest", "honou", "heir")


def a_or_an(noun: str) -> str:
    """``noun`` after its indefinite article, for messages that name a field ("an advisor", "a model",
    "a user"): by its first letter, but by its sound for the few words that begin otherwise."""
    word = noun.lower()
    if word.startswith(_AN_BEFORE):
        return f"an {noun}"
    if word.startswith(_A_BEFORE):
        return f"a {noun}"
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {noun}"


# What a form's id field chooses, in the words of its page (the field's name otherwise).
_CHOSEN = {"user": "person", "makes_up_year": "year", "remove": "account", "key": "API key"}


def id_param(data, name: str, *, words: tuple[str, ...] = (), in_filter: bool = False) -> int | str | None:
    """The id of an object chosen in a filter (``in_filter``: a list's query string) or a form (absent
    or empty: None; one of ``words``, such as "none", as itself)."""
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    if raw in words:
        return raw
    number = _whole(raw)
    if number is None or not 0 < number <= MAX_ID:
        if in_filter:
            raise BadRequest(f"The {name} filter must name {a_or_an(name)} from the list (its number), "
                             f"not “{_shown(raw)}”.")
        noun = _CHOSEN.get(name) or name.removeprefix("set_").replace("_", " ")
        raise BadRequest(f"Choose {a_or_an(noun)} from the list: “{_shown(raw)}” is not the number of one.")
    return number


def ids_param(data, name: str) -> list[int]:
    """Every value of ``name`` (e.g. the ticked proposals of a bulk action) as ids."""
    ids = []
    for raw in data.getlist(name):
        number = _whole(raw.strip())
        if number is None or not 0 < number <= MAX_ID:
            raise BadRequest(f"“{_shown(raw)}” is not the number of {a_or_an(name.removesuffix('s'))}.")
        ids.append(number)
    return ids


def int_param(data, name: str, *, minimum: int, maximum: int, what: str = "") -> int | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    negative = raw.startswith("-")
    number = _whole(raw[1:] if negative else raw)
    if number is not None and negative:
        number = -number
    if number is None or not minimum <= number <= maximum:
        raise BadRequest(f"The {what or name} must be a whole number from {minimum} to {maximum}, "
                         f"not “{_shown(raw)}”.")
    return number


def decimal_param(data, name: str, *, what: str = "", unit: str | None = EITHER) -> Decimal | None:
    """A finite number as people type it (``1,250``, ``$40``, ``2.5%``), read as every page reads one
    (rebalancing.typed_numbers: a comma only between thousands); ``unit`` DOLLARS or PERCENT allows only that sign."""
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    words = what or name.replace('_', ' ')
    if numeral_problem(raw):  # Decimal("٣") is 3
        raise BadRequest(f"The {words} must be a number, not “{_shown(raw)}”: {numeral_problem(raw)}.")
    try:
        number = typed_number(raw, unit=unit)
    except NotANumber:
        number = None
    except TypedNumberProblem as problem:  # "0,5", "1.500,00", "$5" in a percentage
        raise BadRequest(f"{words[:1].upper()}{words[1:]}: {problem}.") from None
    if number is None or not math.isfinite(float(number)):  # 1e999 too
        raise BadRequest(f"The {words} must be a number, not “{_shown(raw)}”.")
    return number


def date_param(data, name: str, *, what: str = "") -> date | None:
    """A day written YYYY-MM-DD (absent or empty: None); ``what``: the field's label in a refusal."""
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadRequest(f"The {what or name + ' date'} must be a day written YYYY-MM-DD, not “{_shown(raw)}”.")
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise BadRequest(f"The {what or name + ' date'} must be a day in the years {YEARS[0]} to {YEARS[1]}, "
                         f"not “{_shown(raw)}”.")
    return day

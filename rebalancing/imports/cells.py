"""Cell parsers (one cell of text to one value, or a plain-words problem) and their column-wide forms.

A column-wide parser returns a Series aligned with the sheet, holding the parsed value, ``None`` for
an empty cell, or ``INVALID`` where the cell had a problem (already recorded on the sheet), so later
checks (references, sums) can skip rows that are already reported.
"""

import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import pandas as pd
from django.db import models

from config.input_limits import character_name, numeral_problem, unseen_character
from rebalancing.engine_inputs import FIRST_BOOK_DAY
from rebalancing.typed_numbers import NUMBER, THOUSANDS

from .sheet import Sheet

__all__ = [
    "INVALID", "CellProblem", "boolean_cells", "character_name", "column_parse", "consistent_values", "date_cells",
    "decimal_cells", "distinct", "duplicates_report", "float_cells", "parse_boolean", "parse_date",
    "parse_decimal", "parse_tags", "references_map", "required_cells", "single_value_problem", "tag_cells", "text_cells",
    "unseen_character", "valid", "SYMBOL_CHARACTERS", "look_alike_problem", "symbol_cells", "ascii_cells",
]


def single_value_problem(value, *, list_allowed: bool = False) -> str | None:
    """What is wrong with a JSON field's value where a cell's single value belongs: a list (unless the
    column reads one, ``tag_cells``) or an object, which read as text would be stored as "['X-L']"."""
    if isinstance(value, dict):
        return "is an object, not a single value"
    if isinstance(value, list) and not list_allowed:
        return "is a list, not a single value"
    return None


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()


class CellProblem(ValueError):
    """A cell that cannot be read; the message is the problem in plain words."""


# The page forms read typed numbers with the same patterns (typed_numbers.py): one thousands rule.
_NUMBER, _THOUSANDS = NUMBER, THOUSANDS
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def parse_decimal(text: str) -> Decimal:
    """A finite decimal: ``1234.5``, ``-0.25``, ``1,234.50`` (comma thousands), ``1e3``."""
    if numeral_problem(text):
        raise CellProblem(f"{text!r} is not a number: {numeral_problem(text)}")
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        raise CellProblem(f"{text!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:  # an exponent beyond what Decimal holds: 1e99999999999999999999
        raise CellProblem(f"{text!r} has an exponent out of range") from None


def _fit(value: Decimal, field: models.DecimalField) -> Decimal:
    # Round to what the column stores (half away from zero, as PostgreSQL does), so that comparing with
    # the stored value on a re-import sees no change.
    places = Decimal(1).scaleb(-field.decimal_places)
    try:
        value = value.quantize(places, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise CellProblem(_too_many_digits(value, field)) from None
    if abs(value) >= Decimal(10) ** (field.max_digits - field.decimal_places):
        raise CellProblem(_too_many_digits(value, field))
    return value


def _too_many_digits(value: Decimal, field: models.DecimalField) -> str:
    return f"{value} is too large (at most {field.max_digits - field.decimal_places} digits before the point)"


# What no client account holds, however wealthy the client (docs/csv-formats.md, "Plausibility"): a
# value beyond these is a column mix-up (an account number or a value in cents in the wrong column),
# not a position, and written it would make the account worth trillions.
MAX_SHARES = Decimal(1_000_000_000)  # in one lot, or traded at once
MAX_AMOUNT = Decimal(100_000_000_000)  # dollars: a lot's cost or value, a cash flow


def parse_date(text: str) -> date:
    """A date as ``YYYY-MM-DD`` (ISO) or ``MM/DD/YYYY`` (as US custodians write it)."""
    if numeral_problem(text):
        raise CellProblem(f"{text!r} is not a date: {numeral_problem(text)}")
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _US_DATE.fullmatch(text):
        month, day, year = match.groups()
    else:
        raise CellProblem(f"{text!r} is not a date; write YYYY-MM-DD or MM/DD/YYYY")
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        # A DD/MM/YYYY file lands here: say how the slashes were read.
        read_as = " read as MM/DD/YYYY" if "/" in text else ""
        raise CellProblem(f"{text!r} is not a day of the calendar{read_as}") from None


def parse_boolean(text: str) -> bool:
    """``true/false``, ``yes/no``, ``y/n``, ``t/f`` or ``1/0``, in any case."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CellProblem(f"{text!r} is not yes or no; write true or false")


# What a custodian's file may call each tax status (Account.TaxStatus), in lower case.
_TAX_STATUSES = {
    "taxable": "taxable", "individual": "taxable", "joint": "taxable", "trust": "taxable",
    "traditional": "traditional", "traditional ira": "traditional", "ira": "traditional",
    "rollover ira": "traditional", "401k": "traditional", "401(k)": "traditional", "tax-deferred": "traditional",
    "roth": "roth", "roth ira": "roth", "roth 401k": "roth",
}


def parse_tax_status(text: str) -> str:
    """``taxable``, ``traditional`` (a tax-deferred IRA or 401(k)) or ``roth``, with common names for each."""
    found = _TAX_STATUSES.get(" ".join(text.lower().split()))
    if found is None:
        raise CellProblem(f"{text!r} is not a tax status; write taxable, traditional or roth")
    return found


def parse_tags(text: str) -> list[str]:
    """``fossil_fuels|tobacco`` (pipe-separated) or a JSON list of strings; order kept, repeats dropped."""
    if text.startswith("{"):  # a JSON object (a JSON row's {"a": 1}): was stored whole as one tag
        raise CellProblem(f"{text[:80]!r} is a JSON object, not a list of tags; write a JSON list "
                          '(["fossil_fuels", "tobacco"]) or tags separated by | (fossil_fuels|tobacco)')
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise CellProblem(f"{text!r} is not a JSON list; or write tags separated by |") from None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise CellProblem(f"{text!r} is not a list of words")
    else:
        items = text.split("|")
    return list(dict.fromkeys(item.strip() for item in items if item.strip()))


def column_parse(sheet: Sheet, column: str, parse: Callable[[str], object]) -> pd.Series:
    """Parse each distinct non-empty text of a column once; report the problem on every row that has it."""
    cells = sheet.cells(column)
    texts = cells.tolist()
    values: dict[str, object] = {"": None}
    problems: dict[str, str] = {}
    for text in cells.unique():
        if text == "":
            continue
        try:
            values[text] = parse(text)
        except CellProblem as problem:
            values[text] = INVALID
            problems[text] = str(problem)
    if problems:
        for line, text in zip(cells.index, texts, strict=True):
            if text in problems:
                sheet.problems.add(line, column, problems[text])
    return pd.Series([values[text] for text in texts], index=cells.index, dtype=object)


def valid(values: pd.Series) -> pd.Series:
    """Rows whose value was read (not empty, not already reported)."""
    return values.map(lambda value: value is not None and value is not INVALID).astype(bool)


def required_cells(sheet: Sheet, column: str, values: pd.Series, what: str) -> pd.Series:
    """Report empty cells of a column that needs a value."""
    empty = values.map(lambda value: value is None).astype(bool)
    sheet.problems.add_rows(values.index[empty], column, f"is empty; {what} is required")
    return values.mask(empty, INVALID)


def text_cells(sheet: Sheet, column: str, *, field: models.CharField, required: bool = False,
               upper: bool = False) -> pd.Series:
    """Text no longer than the model field holds, without control or invisible characters; empty cells
    are "" (or reported when required)."""
    cells = sheet.cells(column)
    if upper:
        cells = cells.str.upper()
    too_long = cells.str.len() > field.max_length
    sheet.problems.add_rows(cells.index[too_long], column, f"is longer than {field.max_length} characters")
    unseen = cells.map(unseen_character)
    for line, text, character in zip(cells.index[unseen.notna()], cells[unseen.notna()], unseen.dropna(), strict=True):
        sheet.problems.add(line, column, f"{text[:80]!r} contains {character_name(character)} (U+{ord(character):04X}), which "
                                          "cannot be seen; remove it")
    values = cells.astype(object).mask(too_long | unseen.notna(), INVALID)
    if required:
        empty = cells == ""
        sheet.problems.add_rows(cells.index[empty], column, "is empty; a value is required")
        values = values.mask(empty, INVALID)
    return values


# A ticker is written in ASCII letters and digits with . - / (BRK.B, BF-B, BRK/B): upper-cased, a
# Cyrillic "В" (U+0412) or a Greek "Α" would store a second security that reads as BTI or AAPL on every
# page (docs/csv-formats.md: "no look-alike of a symbol or name is made").
_SYMBOL = r"[A-Za-z0-9./-]*"
SYMBOL_CHARACTERS = "the letters A-Z, the digits 0-9, '.', '-' and '/'"


def symbol_cells(sheet: Sheet, column: str, *, field: models.CharField, required: bool = False) -> pd.Series:
    """``text_cells`` upper-cased, each a ticker: only ``SYMBOL_CHARACTERS``; another character is
    refused naming it (as written in the file) and its code point."""
    values = text_cells(sheet, column, field=field, required=required, upper=True)
    cells = sheet.cells(column)
    odd = ~cells.str.fullmatch(_SYMBOL) & values.map(lambda value: value is not INVALID).astype(bool)
    for line, text in cells[odd].items():
        character = next(c for c in text if not re.fullmatch(_SYMBOL, c))
        sheet.problems.add(line, column, f"{text[:80]!r} contains {_character_named(character)}: a symbol is "
                                         f"written in {SYMBOL_CHARACTERS}")
    return values.mask(odd, INVALID)


def ascii_cells(sheet: Sheet, column: str, values: pd.Series, what: str) -> pd.Series:
    """``values`` (``text_cells``) with a text holding a character outside ASCII refused, naming it: a
    custodian's ``what`` (an account number) is ASCII, and "NEW-А2" with a Cyrillic "А" reads as
    NEW-A2 on every page while naming another account."""
    cells = sheet.cells(column)
    odd = ~cells.map(str.isascii).astype(bool) & values.map(lambda value: value is not INVALID).astype(bool)
    for line, text in cells[odd].items():
        character = next(c for c in text if not c.isascii())
        sheet.problems.add(line, column, f"{text[:80]!r} contains {_character_named(character)}: {what} is written "
                                         "in ASCII letters, digits and punctuation")
    return values.mask(odd, INVALID)


def _character_named(character: str) -> str:
    return f"{unicodedata.name(character, 'a character').lower()} (U+{ord(character):04X})"


# Scripts that write one word together (Unicode TR39 §5.2, "Highly Restrictive"): Japanese mixes Han,
# the kana and Latin, Chinese Han, Bopomofo and Latin, Korean Han, Hangul and Latin. Any other mix of
# scripts within a word is how a look-alike is made ("Vаnguard" with a Cyrillic "а", U+0430).
_SCRIPTS_TOGETHER = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                     frozenset({"LATIN", "HAN", "HANGUL"}))


def _script(letter: str) -> str | None:
    """The script of a letter, from its Unicode name ("CYRILLIC SMALL LETTER A"), after compatibility
    folding (a fullwidth or mathematical "Ａ" is Latin); None for a letter of no one script (a
    modifier letter, the kana's prolonged sound mark). The name's first word is the script's for the
    letters of every script in use (Python's unicodedata has no Script property)."""
    folded = unicodedata.normalize("NFKC", letter)[:1] or letter
    words = unicodedata.name(folded, "").split()
    if not words or words[0] in ("MODIFIER", "KATAKANA-HIRAGANA"):
        return None
    return "HAN" if words[0] == "CJK" else words[0]


def look_alike_problem(text: str) -> str | None:
    """What makes ``text`` (a name) a look-alike: a word whose letters mix scripts that are not written
    together, naming the first letter out of its word's script; None for a name without one."""
    if text.isascii():
        return None
    for word in text.split():
        letters: dict[str, list[str]] = {}  # script -> its letters in the word
        for char in word:
            script = ("LATIN" if char.isalpha() else None) if char.isascii() else (
                _script(char) if unicodedata.category(char).startswith("L") else None)
            if script is not None:
                letters.setdefault(script, []).append(char)
        if len(letters) > 1 and not any(together >= letters.keys() for together in _SCRIPTS_TOGETHER):
            # The look-alike is the script with the fewest letters in the word ("Vаnguard": its "а").
            most = max(letters, key=lambda script: len(letters[script]))
            odd = min(letters, key=lambda script: len(letters[script]))
            return (f"{word[:80]!r} mixes {most.lower()} letters with {_character_named(letters[odd][0])}, of "
                    f"another script; a look-alike of a name is refused: write the word in one script")
    return None


def decimal_cells(
    sheet: Sheet, column: str, *, field: models.DecimalField, required: bool = True,
    minimum: Decimal | None = None, positive: bool = False, maximum: Decimal | None = None, unit: str = "",
    plausible: tuple[Decimal, str] | None = None,
) -> pd.Series:
    """Decimals rounded to the model field's places; bounds checked after rounding (a value above
    ``maximum`` before it, so that it is named as such, with ``unit`` saying how values are written,
    not as too many digits). ``plausible``: (bound, what it counts), e.g. (MAX_SHARES, "shares in one
    lot"): a larger value is refused as one no client account holds."""

    def parse(text: str) -> Decimal:
        value = parse_decimal(text)
        if not value.is_finite():
            raise CellProblem(f"{text!r} is not a finite number")
        if plausible is not None and abs(value) > plausible[0]:
            raise CellProblem(f"{text} is more than any client account holds: at most {int(plausible[0]):,} "
                              f"{plausible[1]}; is a value from another column (an account number, cents) here?")
        if maximum is not None and value > maximum:
            raise CellProblem(f"{text} must be at most {maximum}" + (f" ({unit})" if unit else ""))
        value = _fit(value, field)
        if positive and value <= 0:
            if value == 0 and parse_decimal(text) > 0:  # 0.001 in a column of cents
                raise CellProblem(f"{text} rounds to 0 at {field.decimal_places} decimal places; it must be "
                                  "greater than 0")
            raise CellProblem(f"{text} must be greater than 0")
        if minimum is not None and value < minimum:
            raise CellProblem(f"{text} must not be {'negative' if minimum == 0 else f'below {minimum}'}")
        if maximum is not None and value > maximum:
            raise CellProblem(f"{text} must be at most {maximum}")
        return value

    values = column_parse(sheet, column, parse)
    return required_cells(sheet, column, values, "a number") if required else values


def float_cells(sheet: Sheet, column: str, *, minimum: float, maximum: float) -> pd.Series:
    def parse(text: str) -> float:
        value = float(parse_decimal(text))
        if not math.isfinite(value):
            raise CellProblem(f"{text!r} is not a finite number")
        if not minimum <= value <= maximum:
            raise CellProblem(f"{text} is outside {minimum:g} to {maximum:g}")
        return value

    return column_parse(sheet, column, parse)


def date_cells(sheet: Sheet, column: str, *, required: bool = True, not_after: date | None = None,
               not_before: date | None = FIRST_BOOK_DAY) -> pd.Series:
    """Dates from ``not_before`` (the book's first day, engine_inputs: 0001-01-01 is a typo, not a
    trade) to ``not_after``; empty cells None (or reported when required)."""
    def parse(text: str) -> date:
        value = parse_date(text)
        if not_before is not None and value < not_before:
            raise CellProblem(f"{value.isoformat()} is before {not_before.isoformat()}")
        if not_after is not None and value > not_after:
            raise CellProblem(f"{value.isoformat()} is in the future (after {not_after.isoformat()})")
        return value

    values = column_parse(sheet, column, parse)
    return required_cells(sheet, column, values, "a date") if required else values


def ended_year_cells(sheet: Sheet, column: str, *, last: int) -> pd.Series:
    """A column of years from 1900 to ``last`` (a year that has ended), empty cells None."""
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or not 1900 <= int(text) <= last:
            raise CellProblem(f"{text!r} is not a year from 1900 to {last} (a year that has ended)")
        return int(text)
    return column_parse(sheet, column, parse)


def boolean_cells(sheet: Sheet, column: str) -> pd.Series:
    return column_parse(sheet, column, parse_boolean)


def tax_status_cells(sheet: Sheet, column: str) -> pd.Series:
    return column_parse(sheet, column, parse_tax_status)


def tag_cells(sheet: Sheet, column: str) -> pd.Series:
    values = column_parse(sheet, column, parse_tags)
    return values.map(lambda value: [] if value is None else value)


def duplicates_report(sheet: Sheet, keys: dict[str, pd.Series], what: str) -> None:
    """Report every row after the first that repeats a key (rows whose key parts were read)."""
    frame = pd.DataFrame(keys)
    readable = frame.apply(valid).all(axis=1)
    frame = frame[readable].map(str)
    repeated = frame.duplicated(keep="first")
    if not repeated.any():
        return
    firsts = frame[~repeated]
    first_line = {tuple(key): line for line, key in zip(firsts.index, firsts.itertuples(index=False), strict=True)}
    column = list(keys)[-1]
    for line, key in zip(frame.index[repeated], frame[repeated].itertuples(index=False), strict=True):
        sheet.problems.add(line, column, f"repeats the {what} of row {first_line[tuple(key)]}")


def references_map(sheet: Sheet, column: str, values: pd.Series, known: dict[str, int], what: str) -> pd.Series:
    """Map references (symbol, account number...) to ids; report the ones not known."""
    # Built by hand: Series.map would turn ints with gaps into floats. An empty cell stays None.
    ids = pd.Series([known.get(value, INVALID) if isinstance(value, str) else value for value in values],
                    index=values.index, dtype=object)
    unknown = valid(values) & ids.map(lambda value: value is INVALID).astype(bool)
    for line, value in zip(values.index[unknown], values[unknown], strict=True):
        sheet.problems.add(line, column, f"{what} {value!r} is not known")
    return ids


def consistent_values(sheet: Sheet, keys: pd.Series, values: pd.Series, column: str, what: str) -> dict:
    """The value given for each key (e.g. a household's name); a different one for the same key later
    in the file is a problem. Empty cells give nothing."""
    given: dict = {}
    for line, key, value in zip(keys.index, keys, values, strict=True):
        if key is INVALID or value is None or value is INVALID or value == "":
            continue
        first_value, first_line = given.setdefault(key, (value, line))
        if first_value != value:
            sheet.problems.add(line, column, f"{key} has {what} {first_value!r} in row {first_line}")
    return {key: value for key, (value, _line) in given.items()}


def distinct(values: Iterable) -> list:
    return list(dict.fromkeys(value for value in values if value is not None and value is not INVALID))

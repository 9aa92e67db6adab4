"""What the product accepts from outside, and how much of it: one home for the limits that keep bad
input a clear 400 (or 413) instead of a server error.

- JSON is nested at most ``MAX_JSON_DEPTH`` levels (the deepest real document, an engine request,
  has 6); 10,000 levels would otherwise end in a RecursionError deep inside a parser or validator.
- PostgreSQL text cannot hold a NUL character, so text containing one is refused where it enters.
- An upload (any request body) is at most ``UPLOAD_MAX_BYTES`` (setting ``UPLOAD_MAX_MB``), refused
  from its Content-Length before a byte of it is read.
- A number (or a date) is written in the ASCII digits 0-9. Python's ``int()``, ``float()`` and
  ``Decimal()``, and so DRF's and Django's number fields, also read other scripts' digits (Arabic-Indic
  "٣", fullwidth "３"), so "٣" was taken as 3 without a word: every number read from a form, a query, a
  body or a CSV cell is refused first by ``numeral_problem``, which names the character.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "character_name", "character_problem", "first_nul", "json_depth", "numeral_problem",
           "unseen_character"]

MAX_JSON_DEPTH = 64


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), counted without recursion and
    giving up just past ``limit``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def first_nul(pairs) -> str | None:
    """The name of the first (name, values) pair whose name or any value holds a NUL character."""
    for name, values in pairs:
        if "\x00" in name or any("\x00" in v for v in values if isinstance(v, str)):
            return name.replace("\x00", "\\x00")
    return None


def numeral_problem(text: str) -> str:
    """Why ``text`` is not a number (or date) as the product reads one: its first character outside
    ASCII, named with its code point ("" when it has none). ``int("٣")`` is 3, and a form, query, body
    or file that reads a number with it would take the Arabic-Indic or fullwidth digit silently."""
    for char in text:
        if not char.isascii():
            kind = "a digit" if char.isdigit() or char.isnumeric() else "a character"
            return f"“{char}” (U+{ord(char):04X}) is {kind} outside 0-9; write numbers with the digits 0-9"
    return ""


# A date is RFC 3339's full-date, as the API schema's "format: date" says: Python's
# date.fromisoformat also takes 20261120 and 2026-W47-5, and strptime "%Y-%m-%d" reads 2026-1-5.
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def full_date_problem(text: str) -> str:
    """Why ``text`` is not a date written YYYY-MM-DD that the calendar has ("" when it is): 2026-13-01
    is named here, in these words, not left to DRF's or Django's own "wrong format" message."""
    if not _FULL_DATE.fullmatch(text):
        return "is not a date written YYYY-MM-DD (e.g. 2026-11-20)."
    try:
        date.fromisoformat(text)
    except ValueError as exc:  # "month must be in 1..12", "day is out of range for month"
        return f"is not a date: {exc} (YYYY-MM-DD, e.g. 2026-11-20)."
    return ""


# Joiners that some scripts (Persian, the Indic ones) need inside a word; every other format character
# (zero-width space, bidi overrides, a stray byte-order mark) only makes "AAPL\u200b" look like AAPL.
_JOINERS = frozenset("\u200c\u200d")
_CONTROL_NAMES = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}  # unicodedata has no names for these


def character_name(character: str) -> str:
    """What a control or format character is called in a refusal: "a tab", "zero width space"."""
    return _CONTROL_NAMES.get(character) or unicodedata.name(character, "a control character").lower()


# Control and format characters, and Unicode's own line and paragraph separators (U+2028, U+2029:
# a line break to every text widget and CSV reader that honours them).
_UNSEEN = frozenset(("Cc", "Cf", "Zl", "Zp"))
# What a text of several lines (a comment, a description) may hold.
_LINE_BREAKS = frozenset("\t\n\r\u2028\u2029")


def unseen_character(text: str, *, multi_line: bool = False) -> str | None:
    """The first control or invisible format character of a text (a line break, a tab, an escape, a
    zero-width space, a line separator): in a symbol or an account number it makes a look-alike of a
    real one, and a line break in a name breaks the order files and reports it is written to. A
    ``multi_line`` text may hold tabs and line breaks. The one rule for the imports' cells, the
    API's text, the restricted list and people's names."""
    for character in text:
        if (unicodedata.category(character) in _UNSEEN and character not in _JOINERS
                and not (multi_line and character in _LINE_BREAKS)):
            return character
    return None


def character_problem(text: str, character: str) -> str:
    """``text``'s first ``character`` named, with its code point and 1-based position: "contains a
    control character (U+0000) at position 5, which cannot be seen; remove it."."""
    return (f"contains {character_name(character)} (U+{ord(character):04X}) at position {text.index(character) + 1}, which cannot "
            "be seen; remove it.")

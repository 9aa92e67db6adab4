"""The API's JSON parser: DRF's, with a depth limit (config.input_limits), so a body nested 10,000
levels deep is a 400 ``malformed_request`` rather than a RecursionError and a 500; and, each refused
naming the path that holds it (``detail.field``: ``overrides.cash.target``), not only the token:

- a bare ``NaN``, ``Infinity`` or ``-Infinity`` (not JSON, RFC 8259 §6, though Python's reader takes them);
- a lone surrogate (``"\\ud800"``, U+D800-U+DFFF: no Unicode character, RFC 8259 §8.2), in a string or
  an object's key: Python reads it into a ``str`` that cannot be encoded, so the first error message,
  page or database write repeating it failed with a UnicodeEncodeError (a 500);
- a key given twice in one object (RFC 8259 §4: names SHOULD be unique): Python keeps the last value
  without a word, so ``"restriction": "do_not_trade", "restriction": "do_not_buy"`` saved the weaker one.
  A repeated query or form field is refused too (``rebalancing/api/base.py``).
"""

from __future__ import annotations

import codecs
import json
import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

from config.input_limits import MAX_JSON_DEPTH, json_depth

__all__ = ["BoundedJSONParser", "LoneSurrogate", "NonFiniteNumber", "RepeatedKey"]


class NonFiniteNumber(ParseError):
    """A JSON body holding NaN or an infinity; ``answer_detail`` (the error body's detail) names where."""

    def __init__(self, field: str | None, token: str):
        # field: "" for the body itself, None for a value a repeated key's later one replaced ({"a": NaN, "a": 1})
        where = f"{field or 'the body'} is" if field is not None else "the body holds"
        super().__init__(f"JSON parse error - {where} {token}, which is not a JSON number (RFC 8259 allows "
                         "no NaN or Infinity); send a finite number.")
        self.answer_detail = {"field": field, "value": token} if field is not None else {"value": token}


class LoneSurrogate(ParseError):
    """A string or key holding an unpaired surrogate escape (``\\ud800``), which is no character."""

    def __init__(self, field: str, code_point: int, *, key: bool):
        what = "the key" if key else field or "the body"
        character = f"U+{code_point:04X}"
        super().__init__(f"JSON parse error - {what}{f' {field}' if key else ''} holds a lone surrogate ({character}, "
                         "an escape such as \\ud800 without its pair), which is not a Unicode character; send the "
                         "text as UTF-8, or a surrogate pair for a character beyond U+FFFF.")
        self.answer_detail = {"field": field, "character": character}


class RepeatedKey(ParseError):
    """An object naming one key twice: which of its values was meant is not for the API to guess."""

    def __init__(self, field: str, times: int):
        super().__init__(f"JSON parse error - {field} is given {times} times in one object; give it once.")
        self.answer_detail = {"field": field}


class _Constant:
    """A NaN / Infinity / -Infinity as read, standing where it was until its path is found."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token


class _Repeats(dict):
    """An object that named a key more than once: its pairs as sent, so the path of the second one is found."""

    __slots__ = ("pairs",)


def _object(pairs: list[tuple[str, object]]) -> dict:
    """json's ``object_pairs_hook``: a dict, or a ``_Repeats`` keeping the pairs when a key repeats."""
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    repeats = _Repeats(made)
    repeats.pairs = pairs
    return repeats


_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(key: str) -> str:
    """A key as a path names it: a surrogate in it written as its escape (it could not be printed)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(key) else key


def _constant_path(data) -> tuple[str, str] | None:
    """The path (``a.b[0].c``, as ``base._no_nul`` names a field) and token of the first ``_Constant``
    in document order, walked without recursion (the depth was checked, but a list may be long)."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Constant):
            return path, node.token
        if isinstance(node, dict):
            stack.extend((f"{path}.{_shown(key)}" if path else _shown(key), value)
                         for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", value) for i, value in reversed(list(enumerate(node))))
    return None


class _LoneKey:
    """Stands, in the walk, where a key holding a lone surrogate was."""

    __slots__ = ("code_point",)

    def __init__(self, code_point: int):
        self.code_point = code_point


class _Twice:
    """Stands, in the walk, where a key was given the second time."""

    __slots__ = ("times",)

    def __init__(self, times: int):
        self.times = times


def _text_problem(data) -> ParseError | None:
    """The first lone surrogate (in a key or a string) or repeated key, in document order, as its refusal;
    walked without recursion, over a repeating object's pairs as sent."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            if found := _SURROGATE.search(node):
                return LoneSurrogate(path, ord(found.group()), key=False)
        elif isinstance(node, dict):
            pairs = node.pairs if isinstance(node, _Repeats) else list(node.items())
            seen: dict[str, int] = {}
            steps: list[tuple[str, object]] = []
            for key, value in pairs:
                named = f"{path}.{_shown(key)}" if path else _shown(key)
                if found := _SURROGATE.search(key):
                    steps.append((named, _LoneKey(ord(found.group()))))
                    break  # what follows it is not reached: this key is refused first
                seen[key] = seen.get(key, 0) + 1
                if seen[key] == 2:
                    steps.append((named, _Twice(sum(k == key for k, _ in pairs))))
                    break
                steps.append((named, value))
            stack.extend(reversed(steps))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", value) for i, value in reversed(list(enumerate(node))))
        elif isinstance(node, _LoneKey):
            return LoneSurrogate(path, node.code_point, key=True)
        elif isinstance(node, _Twice):
            return RepeatedKey(path, node.times)
    return None


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."
        constants: list[_Constant] = []

        def constant(token: str) -> _Constant:
            constants.append(_Constant(token))
            return constants[-1]

        try:
            # DRF's JSONParser.parse, with the constants kept in place rather than refused unnamed, and
            # an object's pairs seen as sent (a repeated key).
            data = json.load(codecs.getreader(get_encoding(parser_context or {}))(stream),
                             parse_constant=constant if self.strict else None, object_pairs_hook=_object)
        except RecursionError:
            raise ParseError(too_deep) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(too_deep)
        if constants:
            field, token = _constant_path(data) or (None, constants[0].token)
            raise NonFiniteNumber(field, token)
        if problem := _text_problem(data):
            raise problem
        return data

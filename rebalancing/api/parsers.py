"""The API's JSON parser: DRF's, with a depth limit (config.input_limits), so a body nested 10,000
levels deep is a 400 ``malformed_request`` rather than a RecursionError and a 500; and a bare ``NaN``,
``Infinity`` or ``-Infinity`` (not JSON, RFC 8259 §6, though Python's reader takes them) refused naming
the field that holds it (``detail.field``: ``overrides.cash.target``), not only the token."""

from __future__ import annotations

import codecs
import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

from config.input_limits import MAX_JSON_DEPTH, json_depth

__all__ = ["BoundedJSONParser", "NonFiniteNumber"]


class NonFiniteNumber(ParseError):
    """A JSON body holding NaN or an infinity; ``answer_detail`` (the error body's detail) names where."""

    def __init__(self, field: str | None, token: str):
        # field: "" for the body itself, None for a value a repeated key's later one replaced ({"a": NaN, "a": 1})
        where = f"{field or 'the body'} is" if field is not None else "the body holds"
        super().__init__(f"JSON parse error - {where} {token}, which is not a JSON number (RFC 8259 allows "
                         "no NaN or Infinity); send a finite number.")
        self.answer_detail = {"field": field, "value": token} if field is not None else {"value": token}


class _Constant:
    """A NaN / Infinity / -Infinity as read, standing where it was until its path is found."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token


def _constant_path(data) -> tuple[str, str] | None:
    """The path (``a.b[0].c``, as ``base._no_nul`` names a field) and token of the first ``_Constant``
    in document order, walked without recursion (the depth was checked, but a list may be long)."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Constant):
            return path, node.token
        if isinstance(node, dict):
            stack.extend((f"{path}.{key}" if path else str(key), value) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", value) for i, value in reversed(list(enumerate(node))))
    return None


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."
        constants: list[_Constant] = []

        def constant(token: str) -> _Constant:
            constants.append(_Constant(token))
            return constants[-1]

        try:
            # DRF's JSONParser.parse, with the constants kept in place rather than refused unnamed.
            data = json.load(codecs.getreader(get_encoding(parser_context or {}))(stream),
                             parse_constant=constant if self.strict else None)
        except RecursionError:
            raise ParseError(too_deep) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(too_deep)
        if constants:
            field, token = _constant_path(data) or (None, constants[0].token)
            raise NonFiniteNumber(field, token)
        return data

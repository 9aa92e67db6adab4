"""The API's JSON parser: DRF's, with a depth limit (config.input_limits), so a body nested 10,000
levels deep is a 400 ``malformed_request`` rather than a RecursionError and a 500."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from config.input_limits import MAX_JSON_DEPTH, json_depth

__all__ = ["BoundedJSONParser"]


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep) from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(too_deep)
        return data

"""A bare NaN, Infinity or -Infinity in a JSON body is not JSON (RFC 8259 §6: "Numeric values that cannot be
represented ... such as Infinity and NaN are not permitted"). Python's reader takes them; DRF refused them
as "Out of range float values are not JSON compliant: 'NaN'" with an empty detail, so which of the body's
fields held it was not said. The answer now names the field's path."""

import json
import random

import pytest
from django_tenants.utils import tenant_context
from rest_framework.exceptions import ParseError

from rebalancing.api.parsers import BoundedJSONParser
from rebalancing.models import Account

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_json_number_is_refused_naming_its_field(firm_a, people, book, client_for, token):
    # given an account's parameters
    with tenant_context(firm_a):
        account = book["own"].pk
        before = Account.objects.get(pk=account).overrides

    # when a PATCH sets its cash target to a non-finite number
    answer = client_for(firm_a, people["pm"]).patch(
        f"{API}/accounts/{account}/parameters/", '{"overrides": {"cash": {"target": TOKEN}}}'.replace("TOKEN", token),
        content_type="application/json")

    # then 400 malformed_request naming the field and the token, and nothing is changed
    body = error_of(answer)
    assert answer.status_code == 400
    assert body["code"] == "malformed_request"
    assert body["detail"] == {"field": "overrides.cash.target", "value": token}
    assert "overrides.cash.target" in body["message"] and token in body["message"]
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account).overrides == before


def _first_path(value, token_at) -> str | None:
    """A second, recursive reading: the path of the first value equal to the marker, in document order."""
    if value == token_at:
        return ""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found = _first_path(child, token_at)
        if found is not None:
            step = f"[{key}]" if isinstance(key, int) else str(key)
            return step + found if not found or found.startswith("[") else f"{step}.{found}"
    return None


def _random_document(rng: random.Random, depth: int = 0):
    kind = rng.choice(["dict", "list", "scalar"] if depth < 4 else ["scalar"])
    if kind == "dict":
        return {rng.choice("abcxyz") + str(i): _random_document(rng, depth + 1) for i in range(rng.randint(0, 3))}
    if kind == "list":
        return [_random_document(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return rng.choice([1, 2.5, "text", None, True])


def _leaves(node, holder=None, key=None) -> list:
    """(container, key) of every scalar inside ``node``."""
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        return [leaf for k, v in items for leaf in _leaves(v, node, k)]
    return [(holder, key)] if holder is not None else []


def test_the_path_named_against_a_recursive_reading_over_random_bodies():
    # Random documents with one value replaced by a marker, written as NaN / Infinity / -Infinity: the parser
    # names the path a plain recursive walk finds for that marker.
    rng = random.Random(8259)
    parser = BoundedJSONParser()
    checked = 0
    for _ in range(400):
        document = _random_document(rng)
        leaves = _leaves(document)
        if not leaves:
            continue
        holder, key = rng.choice(leaves)
        token = rng.choice(["NaN", "Infinity", "-Infinity"])
        holder[key] = "\ue000marker"
        expected = _first_path(document, "\ue000marker")
        text = json.dumps(document).replace('"\\ue000marker"', token)

        with pytest.raises(ParseError) as refused:
            parser.parse(_Stream(text.encode()), "application/json", {})

        assert refused.value.answer_detail == {"field": expected, "value": token}, text
        checked += 1
    assert checked > 100


def test_a_body_that_is_a_bare_nan_names_the_body():
    with pytest.raises(ParseError) as refused:
        BoundedJSONParser().parse(_Stream(b"NaN"), "application/json", {})
    assert refused.value.answer_detail == {"field": "", "value": "NaN"}
    assert "the body" in str(refused.value.detail)


def test_a_nan_a_repeated_key_overwrote_is_still_refused():
    # {"a": NaN, "a": 1}: Python keeps the last, so the NaN is in no field of the result, but the body held it.
    with pytest.raises(ParseError) as refused:
        BoundedJSONParser().parse(_Stream(b'{"a": NaN, "a": 1}'), "application/json", {})
    assert refused.value.answer_detail["value"] == "NaN"


def test_finite_numbers_and_the_words_as_text_are_read_as_before():
    data = BoundedJSONParser().parse(_Stream(b'{"a": [1, 2.5, -0.0, 1e10], "b": "NaN", "Infinity": null}'),
                                     "application/json", {})
    assert data == {"a": [1, 2.5, -0.0, 1e10], "b": "NaN", "Infinity": None}


class _Stream:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, size=-1):
        data, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
        return data

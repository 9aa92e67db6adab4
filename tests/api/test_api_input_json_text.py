"""A JSON body's text the API cannot keep: a lone surrogate and a key given twice.

A lone surrogate escape (``"\\ud800"``: U+D800-U+DFFF is no Unicode character, RFC 8259 §8.2) was read by
Python into a ``str`` that cannot be encoded, so every answer repeating it - an import's problem naming the
unknown symbol, a refusal quoting the value - failed in the renderer: an HTML 500 (UnicodeEncodeError
"surrogates not allowed") on some twenty endpoints. A key given twice in one object (RFC 8259 §4: names
SHOULD be unique) was read as its last value without a word: ``"restriction": "do_not_trade",
"restriction": "do_not_buy"`` saved the weaker restriction. Both are now 400 ``malformed_request`` naming
the path, at the parser (``rebalancing.api.parsers``), before any endpoint reads the body.
"""

import io
import json

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from rebalancing.api.parsers import BoundedJSONParser
from rebalancing.models import (
    Account,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Price,
    RestrictedSecurity,
)

from .conftest import API, error_of

MARK = "\ue000marker"  # a private-use character standing where the surrogate goes, then replaced in the text


def _parse(text: str):
    return BoundedJSONParser().parse(io.BytesIO(text.encode()), "application/json", {})


# --- the parser, against a second reading ------------------------------------------------------------------

_keys = st.text(alphabet="abcxyz_", min_size=1, max_size=4)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.text(alphabet="ab €😀", max_size=4))
_documents = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(_keys, inner, max_size=3)),
                          max_leaves=12)


def _places(node, path=""):
    """Every (path, kind, holder, key) where a marker may stand: a value (kind "value") or a key ("key"),
    the path written as the API names a field (``a.b[0].c``) - a second, recursive reading."""
    found = [(path, "value", None, None)] if not path else []
    if isinstance(node, dict):
        for key, child in node.items():
            step = f"{path}.{key}" if path else key
            found.append((step, "value", node, key))
            found.append((step, "key", node, key))
            found += [p for p in _places(child, step) if p[0] != step]
    elif isinstance(node, list):
        for i, child in enumerate(node):
            step = f"{path}[{i}]"
            found.append((step, "value", node, i))
            found += [p for p in _places(child, step) if p[0] != step]
    return found


@settings(max_examples=300, deadline=None)
@given(document=_documents, data=st.data(),
       surrogate=st.sampled_from(["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83d"]))
def test_a_lone_surrogate_anywhere_is_refused_naming_its_path(document, data, surrogate):
    # given a random document with one value (or key) made to hold a lone surrogate
    path, kind, holder, key = data.draw(st.sampled_from(_places(document)))
    if holder is None:
        document = MARK
    elif kind == "value":
        holder[key] = f"x{MARK}" if data.draw(st.booleans()) else MARK
    else:
        holder[f"{key}{MARK}"] = holder.pop(key)
        path += surrogate  # a key is named by its path, the surrogate written as its escape
    text = json.dumps(document).replace("\\ue000marker", surrogate)

    # when it is parsed, then it is refused naming that path
    with pytest.raises(ParseError) as refused:
        _parse(text)
    assert refused.value.answer_detail == {"field": path, "character": f"U+{surrogate[2:].upper()}"}, text
    str(refused.value.detail).encode("utf-8")  # the message can be written out


def test_a_surrogate_pair_is_a_character_and_read():
    assert _parse('{"name": "\\ud83d\\ude00", "\\ud83d\\ude00": 1}') == {"name": "😀", "😀": 1}


def test_a_key_given_twice_is_refused_naming_its_path():
    with pytest.raises(ParseError) as refused:
        _parse('{"rows": [{"a": 1}, {"b": {"c": 1, "d": 2, "c": 3, "c": 4}}]}')
    assert refused.value.answer_detail == {"field": "rows[1].b.c"}
    assert "rows[1].b.c is given 3 times" in str(refused.value.detail)


def _objects(node, path=""):
    """(path, object) of every object in ``node``, itself included."""
    found = [(path, node)] if isinstance(node, dict) else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found += _objects(child, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key)
    return found


@settings(max_examples=200, deadline=None)
@given(document=st.dictionaries(_keys, _documents, min_size=1, max_size=4), data=st.data())
def test_a_repeated_key_anywhere_is_refused_naming_its_path(document, data):
    # given a random document in which one object's key is written again after its other pairs
    where, holder = data.draw(st.sampled_from([(p, o) for p, o in _objects(document) if o]))
    key = data.draw(st.sampled_from(sorted(holder)))
    holder[f"{key}{MARK}"] = data.draw(_scalars)
    text = json.dumps(document).replace(json.dumps(f"{key}{MARK}"), json.dumps(key))

    # when it is parsed, then it is refused naming that key's path
    with pytest.raises(ParseError) as refused:
        _parse(text)
    assert refused.value.answer_detail == {"field": f"{where}.{key}" if where else key}, text


def test_json_without_problems_is_read_as_before():
    text = '{"a": [1, 2.5, {"b": null, "c": "€"}], "d": {}, "e": []}'
    assert _parse(text) == json.loads(text)


# --- through the API: never a 500 -------------------------------------------------------------------------

ENDPOINTS = [  # (method, url of the book, body, path named)
    ("post", lambda b: "imports/",
     '{"kind": "prices", "rows": [{"symbol": "\\ud800", "date": "2026-12-05", "close": "1"}]}', "rows[0].symbol"),
    ("patch", lambda b: f"accounts/{b['own'].pk}/parameters/",
     '{"overrides": {"restrictions": {"do_not_buy": ["\\ud800"]}}}', "overrides.restrictions.do_not_buy[0]"),
    ("patch", lambda b: f"households/{b['own'].household_id}/parameters/",
     '{"overrides": {"screen": {"excluded_symbols": ["X\\udfff"]}}}', "overrides.screen.excluded_symbols[0]"),
    ("patch", lambda b: f"households/{b['own'].household_id}/settings/",
     '{"settings": {"location": {"bonds\\ud800": ["roth"]}}}', "settings.location.bonds\\ud800"),
    ("post", lambda b: "templates/",
     '{"code": "t-s", "name": "T", "parameters": {"restrictions": {"hold": ["\\ud800"]}}, "overridable": {}}',
     "parameters.restrictions.hold[0]"),
    ("post", lambda b: "models/",
     '{"code": "m-s", "name": "M", "sleeves": [{"asset_class": "us_equity", "weight": "1", '
     '"holdings": {"\\ud800": "1"}}]}', "sleeves[0].holdings.\\ud800"),
    ("post", lambda b: "runs/", '{"as_of": "2026-\\ud800"}', "as_of"),
    ("patch", lambda b: f"accounts/{b['own'].pk}/rmd-facts/", '{"owner_name": "\\udc00"}', "owner_name"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method,url,body,path", ENDPOINTS, ids=[e[3] for e in ENDPOINTS])
def test_a_lone_surrogate_is_a_400_naming_it_on_every_endpoint(firm_a, people, book, client_for, method, url,
                                                                body, path):
    # given the firm's book as it is
    with tenant_context(firm_a):
        before = (sorted(Account.objects.values_list("pk", "overrides")),
                  sorted(Household.objects.values_list("pk", "overrides")), Price.objects.count(),
                  ParameterTemplate.objects.count(), ModelPortfolio.objects.count())

    # when a body holding a lone surrogate is sent
    answer = getattr(client_for(firm_a, people["admin"]), method)(f"{API}/{url(book)}", body,
                                                                  content_type="application/json")

    # then 400 malformed_request naming where, and nothing changed
    assert answer.status_code == 400, answer.content[:300]
    refused = error_of(answer)
    assert refused["code"] == "malformed_request"
    assert refused["detail"]["field"] == path
    with tenant_context(firm_a):
        assert before == (sorted(Account.objects.values_list("pk", "overrides")),
                          sorted(Household.objects.values_list("pk", "overrides")), Price.objects.count(),
                          ParameterTemplate.objects.count(), ModelPortfolio.objects.count())


@pytest.mark.django_db
def test_a_restriction_given_twice_is_refused_not_read_as_the_weaker(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["compliance"]).post(
        f"{API}/restricted-list/", '{"symbol": "VTI", "restriction": "do_not_trade", "restriction": "do_not_buy", '
        '"reason": "Deal team", "starts_on": "2026-01-05"}', content_type="application/json")
    assert answer.status_code == 400, answer.content
    refused = error_of(answer)
    assert (refused["code"], refused["detail"]) == ("malformed_request", {"field": "restriction"})
    assert "restriction is given 2 times" in refused["message"]
    with tenant_context(firm_a):
        assert not RestrictedSecurity.objects.exists()


@pytest.mark.django_db
def test_an_import_kind_given_twice_is_refused(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        batches = Price.objects.count()
    answer = client_for(firm_a, people["admin"]).post(
        f"{API}/imports/", '{"kind": "prices", "kind": "lots", "rows": [{"symbol": "VTI", "date": "2026-12-05", '
        '"close": "1", "close": "2"}]}', content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert error_of(answer)["detail"] == {"field": "kind"}
    with tenant_context(firm_a):
        assert Price.objects.count() == batches

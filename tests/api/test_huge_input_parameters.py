"""A parameters request naming thousands of securities, or one security 200,000 times: once a worker
tied up for minutes (a close-match search per unknown symbol, a list membership check growing with
the square, the engine's schema walking every item) and a refusal of 1.6 MB repeating the list. Now
a setting holds at most ``MAX_ENTRIES`` entries, a list names each once, and the refusal names the
first few with the count of the rest. Work is asserted by what is done (close-match searches,
message size), never by the clock."""

import difflib
import json

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.models import ParameterTemplate, Security
from rebalancing.services import parameter_symbols
from rebalancing.services.parameter_symbols import MAX_ENTRIES, parameter_lists_bounded
from tenants.errors import ValidationFailed

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def overridable(firm_a, book):
    with tenant_context(firm_a):
        for template in ParameterTemplate.objects.all():
            template.overridable = {**template.overridable, "restrictions": {}, "screen": {}}
            template.save()
    return book["own"]


def _patch(client, account, overrides: dict):
    return client.patch(f"{API}/accounts/{account.pk}/parameters/", json.dumps({"overrides": overrides}),
                        content_type="application/json")


def test_thousands_of_unknown_symbols_are_named_first_ten_and_counted(firm_a, people, overridable, client_for,
                                                                      monkeypatch):
    searched = []
    real = difflib.get_close_matches
    monkeypatch.setattr(parameter_symbols.difflib, "get_close_matches",
                        lambda word, *a, **k: searched.append(word) or real(word, *a, **k))
    symbols = [f"Z{i:05d}" for i in range(4_000)]

    answer = _patch(client_for(firm_a, people["admin"]), overridable, {"restrictions": {"do_not_buy": symbols}})

    assert answer.status_code == 400, answer.content[:300]
    error = error_of(answer)
    assert "names Z00000, Z00001" in error["message"] and "Z00009" in error["message"]
    assert "Z00010" not in error["message"]
    assert "and 3,990 more: these are not in the firm's security master" in error["message"]
    assert error["detail"]["unknown_count"] == 4_000
    assert error["detail"]["unknown_symbols"] == {"restrictions.do_not_buy": symbols[:10]}
    assert len(searched) <= 10  # was one close-match search (a pass over the master) per symbol
    assert len(answer.content) < 5_000  # was 280 KB
    with tenant_context(firm_a):
        overridable.refresh_from_db()
        assert "restrictions" not in (overridable.overrides or {})


def test_a_list_longer_than_a_setting_holds_is_refused_naming_the_setting_and_the_cap(firm_a, people, overridable,
                                                                                      client_for):
    with tenant_context(firm_a):
        Security.objects.bulk_create([Security(symbol=f"K{i:05d}", name="k", asset_class="us_equity")
                                      for i in range(MAX_ENTRIES + 1)])
    symbols = [f"K{i:05d}" for i in range(MAX_ENTRIES + 1)]  # every one known: only the length is wrong

    answer = _patch(client_for(firm_a, people["admin"]), overridable, {"restrictions": {"do_not_buy": symbols}})

    assert answer.status_code == 400, answer.content[:300]
    error = error_of(answer)
    assert f"(restrictions.do_not_buy) has {MAX_ENTRIES + 1:,} entries; a setting holds at most {MAX_ENTRIES:,}" \
        in error["message"]
    assert error["detail"]["parameter"] == "restrictions.do_not_buy"
    assert error["detail"]["max_entries"] == MAX_ENTRIES
    with tenant_context(firm_a):
        overridable.refresh_from_db()
        assert "restrictions" not in (overridable.overrides or {})


def test_one_symbol_repeated_30000_times_is_refused_naming_the_repeat_in_a_short_message(
        firm_a, people, overridable, client_for):
    answer = _patch(client_for(firm_a, people["admin"]), overridable, {"restrictions": {"do_not_buy": ["AAPL"] * 30_000}})

    assert answer.status_code == 400
    error = error_of(answer)
    assert "(restrictions.do_not_buy) has 30,000 entries" in error["message"]
    assert len(answer.content) < 2_000  # was 1.6 MB, the list repeated


# Unit: the bound and the repeat, against a deliberately simple reading of the rule.
def _simple(values: dict) -> str | None:
    for group in ("restrictions", "screen"):
        for key, items in values.get(group, {}).items():
            if len(items) > MAX_ENTRIES:
                return f"{group}.{key}:long"
            for i, item in enumerate(items):
                if item in items[:i]:
                    return f"{group}.{key}:{item}"
    return None


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["do_not_buy", "do_not_sell", "hold"]),
                       st.lists(st.sampled_from(["AAPL", "MSFT", "VTI", "aapl", "BND"]), max_size=6), max_size=3))
def test_the_first_repeat_is_named_as_a_simple_reading_finds_it(lists):
    values = {"restrictions": lists}
    expected = _simple(values)
    if expected is None:
        parameter_lists_bounded(values, field="overrides", level="Account 1's overrides")
        return
    with pytest.raises(ValidationFailed) as refused:
        parameter_lists_bounded(values, field="overrides", level="Account 1's overrides")
    path, repeat = expected.split(":")
    assert refused.value.detail == {"field": "overrides", "parameter": path, "repeated": repeat}
    times = values["restrictions"][path.split(".")[1]].count(repeat)
    assert f"({path}) names {repeat} {times} times; name each once" in refused.value.message


def test_the_bound_counts_every_symbol_of_the_wash_sale_groups():
    groups = [[f"A{g}", f"B{g}", f"C{g}"] for g in range(MAX_ENTRIES // 3)]  # 1,666 groups + 4,998 symbols
    with pytest.raises(ValidationFailed) as refused:
        parameter_lists_bounded({"wash_sale": {"equivalent_groups": groups}}, field="parameters", level="Template")
    assert refused.value.detail["parameter"] == "wash_sale.equivalent_groups"
    parameter_lists_bounded({"wash_sale": {"equivalent_groups": groups[:1000]}}, field="parameters", level="T")

"""Import nits found by an audit, each refused (or read) as the docs say, naming row and column:
a JSON object in a tags cell (was stored as one literal tag); a realised gain on a buy (docs: empty
for a buy); an account number with a look-alike letter ("NEW-А2", a Cyrillic А); benchmark weights
dated 9999-12-31 (now at most a year ahead of the file's day); a PDF (was "unknown column
%pdf_1.4_blah"); JSON row keys in capitals ("Symbol" was "the column appears twice"); a header of
50,000 unknown columns (one problem per column: now the first ten and the count); and
models/<id>/versions/ reading "aapl" as AAPL, as instruct/ and the files do."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given
from hypothesis import strategies as st

from rebalancing.api.serializers import SleeveInSerializer
from rebalancing.imports import (
    ImportRejected,
    accounts_import,
    benchmark_weights_import,
    prices_import,
    securities_import,
    trades_import,
)
from rebalancing.imports.from_rows import rows_to_csv
from rebalancing.imports.sheet import column_name, sheet_read
from rebalancing.models import Account, BenchmarkWeight, Price, Security, TradeRecord

AS_OF = date(2026, 12, 5)


def _problems(caught) -> list[tuple[int, str | None, str]]:
    return [(p["row"], p["column"], p["problem"]) for p in caught.value.detail["problems"]]


@pytest.mark.django_db
def test_a_json_object_in_a_tags_cell_is_refused_not_stored_as_a_tag(firm_a):
    with tenant_context(firm_a):
        with pytest.raises(ImportRejected) as caught:
            securities_import(source=rows_to_csv("securities", [
                {"symbol": "VTI", "name": "Total", "asset_class": "us_equity", "tags": {"a": 1}}]))
        [(row, column, problem)] = _problems(caught)
        assert (row, column) == (2, "tags") and "is a JSON object, not a list of tags" in problem
        assert not Security.objects.filter(symbol="VTI").exists()
        securities_import(source=b'symbol,name,asset_class,tags\nVTI,Total,us_equity,"[""a"", ""b""]"\n')
        assert Security.objects.get(symbol="VTI").tags == ["a", "b"]


@pytest.fixture
def account(firm_a):
    with tenant_context(firm_a):
        securities_import(source=b"symbol,name,asset_class\nVTI,Total,us_equity\n")
        accounts_import(source=b"account_number,account_name,household_id\nA-1,One,H-1\n", as_of=AS_OF)
        yield Account.objects.get(custodian_number="A-1")


HEADER = "account_number,symbol,side,quantity,price,trade_date,realised_gain,external_id\n"


@pytest.mark.django_db
def test_a_realised_gain_on_a_buy_is_refused_naming_row_and_column(firm_a, account):
    with tenant_context(firm_a):
        with pytest.raises(ImportRejected) as caught:
            trades_import(source=(HEADER + "A-1,VTI,sell,1,100,2026-11-10,-5.00,T-1\n"
                                           "A-1,VTI,buy,1,100,2026-11-20,12.00,T-2\n").encode(), as_of=AS_OF)
        assert _problems(caught) == [(3, "realised_gain", "a buy realises no gain or loss; leave realised_gain "
                                                          "empty for a buy")]
        assert not TradeRecord.objects.exists()
        trades_import(source=(HEADER + "A-1,VTI,sell,1,100,2026-11-10,-5.00,T-1\n"
                                       "A-1,VTI,BUY,1,100,2026-11-20,,T-2\n").encode(), as_of=AS_OF)
        assert TradeRecord.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("number", "named"), [("NEW-\u04102", "cyrillic capital letter a (U+0410)"),
                                               ("N\u00c9W-2", "latin capital letter e with acute (U+00C9)")])
def test_an_account_number_with_a_character_outside_ascii_is_refused_naming_it(firm_a, number, named):
    with tenant_context(firm_a):
        with pytest.raises(ImportRejected) as caught:
            accounts_import(source=f"account_number,account_name,household_id\nNEW-A1,One,H-1\n{number},Two,H-1\n"
                            .encode(), as_of=AS_OF)
        [(row, column, problem)] = _problems(caught)
        assert (row, column) == (3, "account_number") and named in problem and "ASCII" in problem
        assert not Account.objects.exists()


BENCHMARK = "benchmark,date,symbol,weight\nTRIO,{day},VTI,1\n"


@pytest.mark.django_db
def test_benchmark_weights_dated_beyond_a_year_ahead_are_refused(firm_a, account):
    with tenant_context(firm_a):
        with pytest.raises(ImportRejected) as caught:
            benchmark_weights_import(source=BENCHMARK.format(day="9999-12-31").encode(), as_of=AS_OF)
        [(row, column, problem)] = _problems(caught)
        assert (row, column) == (2, "date") and problem.startswith("9999-12-31 is in the future (after 2027-12-06)")
        assert not BenchmarkWeight.objects.exists()
        # Pro-forma weights weeks (or up to a year) ahead are what providers publish: kept.
        benchmark_weights_import(source=BENCHMARK.format(day="2027-12-06").encode(), as_of=AS_OF)
        assert BenchmarkWeight.objects.count() == 1


def test_a_pdf_is_said_to_be_a_pdf():
    with pytest.raises(ImportRejected) as caught:
        sheet_read(b"%PDF-1.4 blah\n1 0 obj\n", kind="prices", required=("symbol", "date", "close"))
    [(row, column, problem)] = _problems(caught)
    assert (row, column) == (1, None) and problem.startswith("this is a PDF document, not CSV text")


def test_a_header_of_50000_unknown_columns_is_one_problem_naming_ten_and_the_count():
    header = "symbol,date,close," + ",".join(f"junk{i}" for i in range(50_000))
    with pytest.raises(ImportRejected) as caught:
        sheet_read(f"{header}\nVTI,2026-12-04,1\n".encode(), kind="prices", required=("symbol", "date", "close"))
    [(row, column, problem)] = _problems(caught)
    assert (row, column) == (1, None)
    assert problem.startswith("the header has 50,000 unknown columns ('junk0', 'junk1', ")
    assert "'junk9' and 49,990 more); the columns of the prices file are symbol, date, close" in problem
    assert len(problem) < 400


@pytest.mark.django_db
def test_json_row_keys_are_read_as_a_files_header_is(firm_a, account):
    with tenant_context(firm_a):
        prices_import(source=rows_to_csv("prices", [{"Symbol": "VTI", "DATE": "2026-12-04", " Close ": "1"}]),
                      as_of=AS_OF)
        assert list(Price.objects.values_list("security__symbol", "date")) == [("VTI", date(2026, 12, 4))]
        with pytest.raises(ImportRejected) as caught:  # two keys naming one column: still named twice
            prices_import(source=rows_to_csv("prices", [{"symbol": "VTI", "Symbol": "VTI", "date": "2026-12-04",
                                                         "close": "1"}]), as_of=AS_OF)
        assert (1, "symbol", "the column appears twice") in _problems(caught)


@given(st.lists(st.sampled_from(["symbol", "Symbol", "SYMBOL", " symbol", "date", "Date", "close", "CLOSE",
                                 "source", "Source"]), unique=True, max_size=6))
def test_the_csv_of_json_rows_has_the_header_a_file_would_be_read_as(keys):
    # A simple reading: each key as the header reads it; required columns first, then the rest once.
    header = rows_to_csv("prices", [dict.fromkeys(keys, "x")]).decode().split("\n")[0].split(",")
    named = [column_name(k) for k in keys]
    expected_set = {"symbol", "date", "close", *named}
    assert {column_name(h) for h in header} == expected_set
    twice = {n for n in named if named.count(n) > 1}
    assert sorted(column_name(h) for h in header if column_name(h) in twice) == sorted(
        n for n in named if n in twice)


def test_model_holdings_symbols_are_read_in_capitals():
    given_ = SleeveInSerializer(data={"asset_class": "us_equity", "weight": "1",
                                      "holdings": {" aapl ": "0.5", "Msft": "0.5"}})
    assert given_.is_valid(), given_.errors
    assert set(given_.validated_data["holdings"]) == {"AAPL", "MSFT"}
    twice = SleeveInSerializer(data={"asset_class": "us_equity", "weight": "1",
                                     "holdings": {"aapl": "0.5", "AAPL": "0.5"}})
    assert not twice.is_valid()
    assert "AAPL is given twice" in str(twice.errors["holdings"])

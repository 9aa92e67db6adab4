"""Hostile files for the import kinds: each is refused naming the row, column and value and leaves
nothing written, or is read as docs/csv-formats.md says."""

from datetime import date
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from rebalancing.imports import (
    ImportRejected,
    accounts_import,
    benchmark_weights_import,
    lots_import,
    prices_import,
    securities_import,
    trades_import,
)
from rebalancing.models import (
    Account,
    ModelPortfolio,
    ParameterTemplate,
    Price,
    Security,
    TaxLot,
    TradeRecord,
)

from .test_csv_import import fixture_book_import, problems_of

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 26)
FIXTURES = Path(__file__).parent / "fixtures" / "csv"
LOTS_HEADER = b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
TRADES_HEADER = b"account_number,symbol,side,quantity,price,trade_date,external_id,realised_gain\n"


def lots_stored() -> list[tuple]:
    return list(TaxLot.objects.order_by("id").values_list("id", "lot_id", "quantity", "cost_basis", "acquired"))


@pytest.fixture
def book(firm_a):
    """Firm A with the fixture securities, accounts and lots."""
    with schema_context(firm_a.schema_name):
        fixture_book_import()
        lots_import(source=FIXTURES / "lots.csv", as_of=AS_OF)
        yield firm_a


# --- The file as a whole -----------------------------------------------------------------------


@pytest.mark.parametrize(("source", "separators"), [
    (b"symbol;date;close\nAAPL;2026-11-25;1\n", "semicolons"),
    (b"symbol\tdate\tclose\nAAPL\t2026-11-25\t1\n", "tabs"),
])
def test_a_file_separated_by_semicolons_or_tabs_is_named_as_such(book, source, separators):
    # Given a file saved by a European Excel (semicolons) or as "Unicode text" (tabs)
    # When it is imported
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=source, as_of=AS_OF)

    # Then the one problem is the separator, not four unknown or missing columns
    assert problems_of(excinfo) == [
        (1, None, f"the columns are separated by {separators}, not commas; save the file as CSV (comma-separated)")]
    assert not Price.objects.exists()


def test_excels_separator_hint_line_is_named_not_read_as_a_header(book):
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=b"sep=,\r\nsymbol,date,close\r\nAAPL,2026-11-25,1\r\n", as_of=AS_OF)

    assert problems_of(excinfo) == [(1, None, "the first line is Excel's separator hint 'sep=,', not the header; "
                                              "delete that line so that the file starts with the column names")]


def test_a_cut_off_line_is_refused_rather_than_clearing_the_fields_it_never_reached(book):
    # Given an account with a model, a template and an opening date
    before = Account.objects.values("model_id", "template_id", "opened_on").get(custodian_number="A-100")
    assert all(before.values())

    # When a file whose line for it stops after the third cell is imported
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=b"account_number,account_name,household_id,household_name,model,template,opened_on\n"
                               b"A-100,Smith joint taxable,H-1\n"
                               b"A-101,Smith IRA,H-1,Smith family,growth,,\n", as_of=AS_OF)

    # Then the line is named (a short line read as empty cells cleared the model, template and date)
    assert problems_of(excinfo) == [(2, None, "the line has 3 cells and the header has 7 columns; write every "
                                              "column's comma, even for an empty cell")]
    assert Account.objects.values("model_id", "template_id", "opened_on").get(custodian_number="A-100") == before


def test_the_line_that_says_an_account_is_empty_still_reads_with_all_its_commas(book):
    summary = lots_import(source=LOTS_HEADER + b"A-101,,,,,\n\n\n", as_of=AS_OF)

    assert (summary.rows, summary.deleted) == (0, 1)
    assert not TaxLot.objects.filter(account__custodian_number="A-101").exists()


def test_crlf_a_bom_quoted_line_breaks_and_trailing_blank_lines_are_read(book):
    source = (b"\xef\xbb\xbfsymbol,name,asset_class\r\nNEWA,\"New, A\",us_equity\r\n"
              b"NEWB,\"Two-line\r\nname\",us_equity\r\n\r\n\r\n")

    with pytest.raises(ImportRejected) as excinfo:
        securities_import(source=source)

    # The line break inside the quoted name is refused by name; the rest of the file was read right.
    assert problems_of(excinfo) == [(3, "name", "'Two-line\\r\\nname' contains a carriage return (U+000D), which cannot "
                                                "be seen; remove it")]
    assert securities_import(source=source.replace(b"\r\nname", b" name")).created == 2


# --- Cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "shown", "character"), [
    (b"AAPL\xe2\x80\x8b", "'AAPL\\u200b'", "zero width space (U+200B)"),
    (b"AA\x1bPL", "'AA\\x1bPL'", "a control character (U+001B)"),
    (b"\xe2\x80\xaeLPAA", "'\\u202eLPAA'", "right-to-left override (U+202E)"),
])
def test_a_symbol_with_an_invisible_character_is_refused_not_made_a_look_alike(book, cell, shown, character):
    # Given a security master holding AAPL
    # When a file adds "AAPL" with a zero-width space, an escape or a bidi override in it
    with pytest.raises(ImportRejected) as excinfo:
        securities_import(source=b"symbol,name,asset_class\n" + cell + b",Look-alike,us_equity\n")

    # Then it is refused naming the character, and no second "AAPL" exists
    assert problems_of(excinfo) == [(2, "symbol", f"{shown} contains {character}, which cannot be seen; remove it")]
    assert Security.objects.filter(name="Look-alike").count() == 0


def test_names_keep_their_letters_and_the_joiners_some_scripts_need(book):
    summary = securities_import(source="symbol,name,asset_class\nSOGN,Société Générale,intl_equity\n"
                                       "IRX,\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645,intl_equity\n".encode())

    assert summary.created == 2


@pytest.mark.parametrize(("kind", "source", "column"), [
    ("lots", LOTS_HEADER + b"A-100,L9,AAPL,1,100,0001-01-01\n", "acquired"),
    ("trades", TRADES_HEADER + b"A-100,AAPL,sell,1,100,01/05/0001,T-9,-50\n", "trade_date"),
])
def test_a_date_before_the_books_first_day_is_refused(book, kind, source, column):
    # Given a lot or a trade dated in year 1 (a typo: nothing before 1900 is a book day, engine_inputs)
    service = {"lots": lots_import, "trades": trades_import}[kind]
    before = lots_stored()

    with pytest.raises(ImportRejected) as excinfo:
        service(source=source, as_of=AS_OF)

    assert problems_of(excinfo) == [(2, column, "0001-01-0{} is before 1900-01-01".format(5 if kind == "trades" else 1))]
    assert lots_stored() == before and not TradeRecord.objects.exists()


def test_benchmark_dates_before_1900_are_refused_too(book):
    with pytest.raises(ImportRejected) as excinfo:
        benchmark_weights_import(source=b"benchmark,date,symbol,weight\nIDX,1899-12-31,AAPL,1\n")

    assert problems_of(excinfo) == [(2, "date", "1899-12-31 is before 1900-01-01")]


def test_numbers_at_the_edges_are_named(book):
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=b"symbol,date,close\nAAPL,2026-11-25,1e308\nMSFT,2026-11-25,1e-308\n"
                             b"XOM,2026-11-25,-0\nVTI,2026-11-25,NaN\nBND,2026-11-25,inf\n"
                             b"ITOT,2026-11-25,\"1,234.5\"\n", as_of=AS_OF)

    assert problems_of(excinfo) == [
        (2, "close", "1E+308 is too large (at most 12 digits before the point)"),
        (3, "close", "1e-308 rounds to 0 at 6 decimal places; it must be greater than 0"),
        (4, "close", "-0 must be greater than 0"),
        (5, "close", "'NaN' is not a number"),
        (6, "close", "'inf' is not a number"),
    ]
    assert not Price.objects.exists()


# --- Rows against each other and the book ------------------------------------------------------


def test_an_account_said_to_hold_nothing_and_given_a_lot_in_the_same_file_is_refused(book):
    # Given a position file that both empties A-100 and lists a lot of it (two snapshots pasted together)
    before = lots_stored()

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=LOTS_HEADER + b"A-100,,,,,\nA-100,L1,AAPL,100,15000.00,2020-01-15\n", as_of=AS_OF)

    # Then neither reading is guessed: the row is named, and A-100 keeps its three lots
    assert problems_of(excinfo) == [(2, "lot_id", "is empty, saying account A-100 holds nothing, but row 3 gives it "
                                                  "a lot")]
    assert lots_stored() == before


def test_another_firms_account_is_not_known_and_its_lots_untouched(book, firm_b):
    with schema_context(firm_b.schema_name):
        ModelPortfolio.objects.create(code="growth", name="Growth")
        ParameterTemplate.objects.create(code="standard", name="Standard")
        securities_import(source=FIXTURES / "securities.csv")
        accounts_import(source=b"account_number,account_name,household_id\nB-1,Theirs,HB\n", as_of=AS_OF)

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=LOTS_HEADER + b"B-1,L1,AAPL,1,100,2020-01-01\n", as_of=AS_OF)

    assert problems_of(excinfo) == [(2, "account_number", "account 'B-1' is not known")]
    with schema_context(firm_b.schema_name):
        assert not TaxLot.objects.exists()


def test_an_error_on_the_last_of_10000_rows_writes_nothing(book):
    before = lots_stored()
    lines = [f"A-100,L{i},AAPL,1,100,2020-01-01" for i in range(9999)] + ["A-100,LX,AAPL,-1,100,2020-01-01"]

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=LOTS_HEADER + "\n".join(lines).encode(), as_of=AS_OF)

    assert problems_of(excinfo) == [(10001, "quantity", "-1 must be greater than 0")]
    assert lots_stored() == before


def test_one_key_written_two_ways_is_a_repeat(book):
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=b"symbol,date,close\nAAPL,2026-11-25,1\naapl,11/25/2026,2\n", as_of=AS_OF)

    assert problems_of(excinfo) == [(3, "date", "repeats the symbol and date of row 2")]

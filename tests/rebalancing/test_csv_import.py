"""CSV import of a firm's book: each kind lands right, twice is once, a bad file changes nothing."""

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection
from django_tenants.utils import schema_context

from rebalancing.imports import (
    ImportRejected,
    accounts_import,
    benchmark_weights_import,
    book_import,
    lots_import,
    prices_import,
    securities_import,
    trades_import,
)
from rebalancing.imports.cells import CellProblem, parse_boolean, parse_date, parse_decimal, parse_tags
from rebalancing.models import (
    Account,
    Benchmark,
    BenchmarkWeight,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Price,
    Security,
    TaxLot,
    TradeRecord,
)
from tenants.errors import ValidationFailed

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 26)
FIXTURES = Path(__file__).parent / "fixtures" / "csv"
BOOK_MODELS = (Security, Price, Benchmark, BenchmarkWeight, Household, Account, TaxLot, TradeRecord)


def csv(name: str) -> Path:
    return FIXTURES / name


def physical_rows(*models) -> dict:
    """Every row with its physical version: an UPDATE, even to equal values, gives a row a new ctid."""
    snapshot = {}
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'SELECT ctid::text, * FROM "{model._meta.db_table}" ORDER BY id')
            snapshot[model.__name__] = cursor.fetchall()
    return snapshot


def problems_of(excinfo) -> list[tuple]:
    return [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]


def lots_of(number: str) -> dict:
    return {
        lot.lot_id: (lot.security.symbol, lot.quantity, lot.cost_basis, lot.acquired)
        for lot in TaxLot.objects.filter(account__custodian_number=number).select_related("security")
    }


@pytest.fixture
def in_firm_a(firm_a):
    with schema_context(firm_a.schema_name):
        yield firm_a


def fixture_book_import() -> None:
    """The fixture files' security master, a model, a template and three accounts in two households:
    A-100 (Smith Joint, taxable) and A-101 (Smith IRA) in H-1, A-200 (Trust) in H-2."""
    ModelPortfolio.objects.create(code="growth", name="Growth")
    ParameterTemplate.objects.create(code="standard", name="Standard")
    securities_import(source=csv("securities.csv"))
    accounts_import(source=csv("accounts.csv"), as_of=AS_OF)


@pytest.fixture
def book(in_firm_a):
    fixture_book_import()
    return in_firm_a


# --- Each kind lands right ---------------------------------------------------------------------


def test_securities_file_creates_the_master(in_firm_a):
    summary = securities_import(source=csv("securities.csv"))

    assert (summary.rows, summary.created, summary.updated, summary.unchanged) == (6, 6, 0, 0)
    xom = Security.objects.get(symbol="XOM")
    assert (xom.name, xom.asset_class, xom.sector) == ("Exxon Mobil Corp.", "us_equity", "Energy")
    assert xom.tags == ["fossil_fuels", "carbon"]
    assert (xom.esg_score, xom.is_fund, xom.fractional) == (31.0, False, False)
    bnd = Security.objects.get(symbol="BND")  # written "bnd": symbols are upper-cased
    assert (bnd.is_fund, bnd.tags, bnd.esg_score) == (True, ["bonds"], None)
    assert set(Security.objects.filter(equivalence_group="us_total_market").values_list("symbol", flat=True)) == {
        "VTI", "ITOT",
    }


def test_prices_file_creates_closes_and_reads_us_dates(book):
    summary = prices_import(source=csv("prices.csv"), as_of=AS_OF)

    assert (summary.rows, summary.created) == (6, 6)
    assert Price.objects.get(security__symbol="MSFT", date=date(2026, 11, 25)).close == Decimal("415.2")
    assert list(
        Price.objects.filter(security__symbol="AAPL").order_by("date").values_list("close", flat=True)
    ) == [Decimal("228.10"), Decimal("229.35")]


def test_benchmark_weights_file_creates_the_benchmark_and_its_weights(book):
    summary = benchmark_weights_import(source=csv("benchmark_weights.csv"))

    assert (summary.rows, summary.created) == (3, 3)
    assert Benchmark.objects.get(code="TRIO").name == "Three-stock index"
    assert dict(
        BenchmarkWeight.objects.filter(benchmark__code="TRIO", date=date(2026, 11, 25)).values_list(
            "security__symbol", "weight"
        )
    ) == {"AAPL": Decimal("0.5"), "MSFT": Decimal("0.3"), "XOM": Decimal("0.2")}
    assert summary.notes == ("1 benchmark created (TRIO)",)


def test_benchmark_weights_of_a_date_are_replaced_and_other_dates_kept(book):
    benchmark_weights_import(source=csv("benchmark_weights.csv"))
    benchmark_weights_import(source=b"benchmark,date,symbol,weight\nTRIO,2026-11-24,AAPL,1\n")

    summary = benchmark_weights_import(
        source=b"benchmark,date,symbol,weight\nTRIO,2026-11-25,AAPL,0.6\nTRIO,2026-11-25,VTI,0.4\n"
    )

    assert (summary.created, summary.updated, summary.unchanged, summary.deleted) == (1, 1, 0, 2)
    weights = BenchmarkWeight.objects.filter(benchmark__code="TRIO")
    assert dict(weights.filter(date=date(2026, 11, 25)).values_list("security__symbol", "weight")) == {
        "AAPL": Decimal("0.6"), "VTI": Decimal("0.4"),
    }
    assert list(weights.filter(date=date(2026, 11, 24)).values_list("weight", flat=True)) == [Decimal(1)]


def test_accounts_file_creates_households_and_accounts(book):
    smith = Household.objects.get(external_id="H-1")
    assert smith.name == "Smith family"
    assert Household.objects.get(external_id="H-2").name == "H-2"  # no name given: named by its id

    joint = Account.objects.get(custodian_number="A-100")
    assert (joint.name, joint.household, joint.model.code, joint.template.code) == (
        "Smith joint taxable", smith, "growth", "standard",
    )
    assert (joint.taxable, joint.short_term_rate, joint.long_term_rate) == (True, Decimal("0.37"), Decimal("0.2"))
    assert (joint.cash, joint.realised_short_term_ytd, joint.realised_long_term_ytd) == (
        Decimal("12500"), Decimal("1200.50"), Decimal("-300"),
    )
    # the file's year-to-date gains are of its day's year: from the next 1 January they count as nothing
    assert joint.realised_ytd_year == AS_OF.year and joint.realised_ytd(AS_OF.year + 1) == (0, 0)
    assert joint.opened_on == date(2019, 3, 1)
    ira = Account.objects.get(custodian_number="A-101")
    assert ira.realised_ytd_year is None  # no figures given, none stated
    # Empty rate cells keep the model defaults; an empty template cell means none.
    assert (ira.taxable, ira.short_term_rate, ira.template, ira.opened_on) == (
        False, Decimal("0.37"), None, date(2020, 3, 15),
    )
    trust = Account.objects.get(custodian_number="A-200")
    assert (trust.discretionary, trust.model, trust.household.external_id) == (False, None, "H-2")


def test_an_accounts_file_renames_a_household_and_moves_an_account(book):
    summary = accounts_import(
        source=b"account_number,account_name,household_id,household_name\n"
        b"A-101,Smith IRA,H-2,Jones and Smith\n",
        as_of=AS_OF,
    )

    assert (summary.created, summary.updated, summary.notes) == (0, 1, (
        "households: 0 created, 1 renamed", "accounts: 1 moved to another household; wash sales matched again in both"))
    ira = Account.objects.get(custodian_number="A-101")
    assert (ira.household.external_id, ira.household.name) == ("H-2", "Jones and Smith")
    assert (ira.taxable, ira.model.code) == (False, "growth")  # columns not in the file are kept


def test_an_accounts_file_with_unknown_codes_and_bad_rates_is_refused(book):
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(
            source=b"account_number,account_name,household_id,household_name,model,short_term_rate\n"
            b"A-300,New,H-3,Lee,nope,1.5\n"
            b"A-301,New too,H-3,Lee family,,0.3\n"
            b"A-302,Percent,H-3,Lee,,37\n",
            as_of=AS_OF,
        )

    # 37 (a percentage) is named as a rate above 1, not as "too many digits before the point"
    assert problems_of(excinfo) == [
        (2, "short_term_rate", "1.5 must be at most 1 (a rate is a fraction: 0.37 for 37%)"),
        (2, "model", "model 'nope' is not known"),
        (3, "household_name", "H-3 has the name 'Lee' in row 2"),
        (4, "short_term_rate", "37 must be at most 1 (a rate is a fraction: 0.37 for 37%)"),
    ]
    assert not Household.objects.filter(external_id="H-3").exists()


def test_an_accounts_file_carries_an_iras_rmd_facts_the_value_and_its_year_together(book):
    header = b"account_number,account_name,household_id,owner_birth_date,spouse_birth_date,year_end_value,year_end_year\n"
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=header + b"A-101,Smith IRA,H-1,1950-06-01,,250000,\n"
                        b"A-100,Smith Joint,H-1,2030-01-01,,,2025\nA-200,Trust,H-2,,,-5,2026\n", as_of=AS_OF)
    assert problems_of(excinfo) == [
        (2, "year_end_year", "is empty: the value on 31 December and its year go together"),
        (3, "owner_birth_date", "2030-01-01 is in the future (after 2026-11-26)"),
        (3, "year_end_value", "is empty: the value on 31 December and its year go together"),
        (4, "year_end_value", "-5 must not be negative"),
        (4, "year_end_year", "'2026' is not a year from 1900 to 2025 (a year that has ended)"),
    ]
    with pytest.raises(ImportRejected) as alone:
        accounts_import(source=b"account_number,account_name,household_id,year_end_value\nA-101,Smith IRA,H-1,9\n",
                        as_of=AS_OF)
    assert problems_of(alone) == [(2, "year_end_year", "is a missing column: the value on 31 December and its year "
                                                       "go together")]
    assert Account.objects.get(custodian_number="A-101").year_end_values == {}  # nothing written

    header = header.replace(b"household_id,", b"household_id,owner_name,")
    accounts_import(source=header + b"A-101,Smith IRA,H-1,Jo Smith,1950-06-01,1952-02-02,\"250,000.00\",2025\n",
                    as_of=AS_OF)
    ira = Account.objects.get(custodian_number="A-101")
    assert (ira.owner_name, ira.owner_birth_date, ira.spouse_birth_date, ira.year_end_values) == (
        "Jo Smith", date(1950, 6, 1), date(1952, 2, 2), {"2025": "250000.00"})
    # Another year's value joins it; a row without one keeps what is stored.
    accounts_import(source=header + b"A-101,Smith IRA,H-1,Jo Smith,1950-06-01,1952-02-02,240000,2024\n", as_of=AS_OF)
    accounts_import(source=header + b"A-101,Smith IRA,H-1,Jo Smith,1950-06-01,1952-02-02,,\n", as_of=AS_OF)
    assert Account.objects.get(custodian_number="A-101").year_end_values == {"2024": "240000.00",
                                                                            "2025": "250000.00"}


def test_lots_file_creates_the_lots_of_each_account(book):
    summary = lots_import(source=csv("lots.csv"), as_of=AS_OF)

    assert (summary.rows, summary.created, summary.deleted) == (4, 4, 0)
    assert lots_of("A-100") == {
        "L1": ("AAPL", Decimal(100), Decimal("15000"), date(2020, 1, 15)),
        "L2": ("AAPL", Decimal(50), Decimal("9000"), date(2024, 6, 3)),
        "L3": ("MSFT", Decimal(20), Decimal("5200.25"), date(2021, 8, 9)),
    }
    assert lots_of("A-101") == {"L1": ("VTI", Decimal(300), Decimal("60000"), date(2022, 2, 1))}


def test_trades_file_creates_the_trades(book):
    summary = trades_import(source=csv("trades.csv"), as_of=AS_OF)

    assert (summary.rows, summary.created) == (3, 3)
    sell = TradeRecord.objects.get(external_id="T-1")
    assert (sell.account.custodian_number, sell.security.symbol, sell.side) == ("A-100", "XOM", "sell")
    assert (sell.quantity, sell.price, sell.realised_gain, sell.trade_date) == (
        Decimal(10), Decimal(110), Decimal("-150"), date(2026, 11, 10),
    )
    buy = TradeRecord.objects.get(external_id="T-3")
    assert (buy.side, buy.realised_gain, buy.trade_date) == ("buy", None, date(2026, 11, 21))


# --- Twice is once -----------------------------------------------------------------------------

EVERY_FILE = [
    ("securities", "securities.csv"),
    ("prices", "prices.csv"),
    ("benchmark_weights", "benchmark_weights.csv"),
    ("accounts", "accounts.csv"),
    ("lots", "lots.csv"),
    ("trades", "trades.csv"),
]


@pytest.mark.parametrize(("kind", "name"), EVERY_FILE)
def test_importing_the_same_file_again_changes_nothing(book, kind, name):
    first = book_import(kind=kind, source=csv(name), as_of=AS_OF)
    before = physical_rows(*BOOK_MODELS)

    again = book_import(kind=kind, source=csv(name), as_of=AS_OF)

    assert (again.rows, again.created, again.updated, again.unchanged, again.deleted) == (
        first.rows, 0, 0, first.rows, 0,
    )
    assert again.notes == ()
    assert physical_rows(*BOOK_MODELS) == before


def test_a_changed_row_is_the_only_one_rewritten(book):
    before = physical_rows(Security)["Security"]
    changed = csv("securities.csv").read_text().replace("Apple Inc.", "Apple Inc")

    summary = securities_import(source=changed.encode())

    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 5)
    after = physical_rows(Security)["Security"]
    apple = Security.objects.get(symbol="AAPL")
    assert apple.name == "Apple Inc"
    assert [row for row in after if row[1] != apple.pk] == [row for row in before if row[1] != apple.pk]


def test_columns_left_out_of_a_file_keep_their_values(book):
    summary = securities_import(source=b"symbol,name,asset_class\nXOM,Exxon Mobil,us_equity\n")

    assert summary.updated == 1
    xom = Security.objects.get(symbol="XOM")
    assert (xom.name, xom.tags, xom.esg_score, xom.sector) == ("Exxon Mobil", ["fossil_fuels", "carbon"], 31.0, "Energy")


# --- A bad file is refused whole ---------------------------------------------------------------

MALFORMED = [
    ("lots_bad_number.csv", (3, "quantity", "'ten' is not a number")),
    ("lots_bad_quantity.csv", (4, "quantity", "-5 must be greater than 0")),
    ("lots_unknown_symbol.csv", (3, "symbol", "symbol 'ZZZZ' is not known")),
    ("lots_unknown_symbol.csv", (4, "account_number", "account 'A-999' is not known")),
    ("lots_missing_column.csv", (1, "cost_basis", "required column is missing")),
    ("lots_duplicate.csv", (4, "lot_id", "repeats the account and lot id of row 2")),
    ("lots_bad_date.csv", (2, "acquired", "'2021-02-30' is not a day of the calendar")),
    ("lots_bad_date.csv", (3, "acquired", "'31/12/2021' is not a day of the calendar read as MM/DD/YYYY")),
    ("lots_bad_date.csv", (4, "acquired", "2026-12-01 is in the future (after 2026-11-26)")),
]


@pytest.mark.parametrize(("name", "expected"), MALFORMED)
def test_a_malformed_lots_file_is_refused_with_the_row_column_and_problem(book, name, expected):
    lots_import(source=csv("lots.csv"), as_of=AS_OF)
    before = physical_rows(*BOOK_MODELS)

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=csv(name), as_of=AS_OF)

    assert expected in problems_of(excinfo)
    assert excinfo.value.code == "import_rejected"
    assert isinstance(excinfo.value, ValidationFailed)
    assert physical_rows(*BOOK_MODELS) == before


def test_three_good_rows_and_one_bad_row_write_none(book):
    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=csv("lots_bad_quantity.csv"), as_of=AS_OF)

    assert problems_of(excinfo) == [(4, "quantity", "-5 must be greater than 0")]
    assert excinfo.value.detail["total"] == 1
    assert not TaxLot.objects.exists()


def test_weights_not_summing_to_one_are_refused_with_the_sum(book):
    with pytest.raises(ImportRejected) as excinfo:
        benchmark_weights_import(source=csv("benchmark_weights_bad_sum.csv"))

    assert problems_of(excinfo) == [(
        2, "weight",
        "the weights of TRIO on 2026-11-25 sum to 0.98 over 3 rows from this one; they must sum to 1 within 0.000001",
    )]
    assert not Benchmark.objects.exists()
    assert not BenchmarkWeight.objects.exists()


def test_every_problem_of_a_row_is_reported_once_and_in_row_order(book):
    source = (
        b"account_number,symbol,side,quantity,price,trade_date,realised_gain,external_id\n"
        b"A-100,AAPL,hold,0,-1,2026-13-01,x,\n"
        b"A-100,AAPL,buy,1,1,2026-11-01,,T-9\n"
        b"A-100,MSFT,sell,1,1,2026-11-01,,T-9\n"
    )
    with pytest.raises(ImportRejected) as excinfo:
        trades_import(source=source, as_of=AS_OF)

    assert problems_of(excinfo) == [
        (2, "side", "'hold' is not a side; write buy or sell"),
        (2, "quantity", "0 must be greater than 0"),
        (2, "price", "-1 must not be negative"),
        (2, "trade_date", "'2026-13-01' is not a day of the calendar"),
        (2, "external_id", "is empty; a value is required"),
        (2, "realised_gain", "'x' is not a number"),
        (4, "external_id", "repeats the account and external id of row 3"),
    ]
    assert not TradeRecord.objects.exists()


def test_the_report_is_capped_but_counts_every_problem(book):
    source = "symbol,date,close\n" + "".join(f"AAPL,{date(2025, 1, 1) + timedelta(i)},x{i}\n" for i in range(300))

    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=source.encode(), as_of=AS_OF)

    detail = excinfo.value.detail
    assert (detail["total"], detail["shown"], len(detail["problems"])) == (300, 200, 200)
    assert detail["problems"][0] == {"row": 2, "column": "close", "problem": "'x0' is not a number"}


def test_a_database_failure_half_way_leaves_nothing_written(book, monkeypatch):
    from rebalancing.imports import rows

    real_apply = rows.changes_apply

    def apply_then_fail(model, changes, **kwargs):
        real_apply(model, changes, **kwargs)
        raise IntegrityError("simulated constraint failure after the lots were written")

    monkeypatch.setattr("rebalancing.imports.rows.changes_apply", apply_then_fail)

    with pytest.raises(IntegrityError):
        lots_import(source=csv("lots.csv"), as_of=AS_OF)

    assert not TaxLot.objects.exists()


# --- Lots are a snapshot per account -----------------------------------------------------------


def test_a_lots_file_replaces_the_lots_of_its_accounts_only(book):
    lots_import(source=csv("lots.csv"), as_of=AS_OF)
    other = TaxLot.objects.get(account__custodian_number="A-101").pk
    before = physical_rows(TaxLot)["TaxLot"]

    summary = lots_import(
        source=b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
        b"A-100,L1,AAPL,100,15000,2020-01-15\n"
        b"A-100,L3,MSFT,25,6000,2021-08-09\n"
        b"A-100,L4,XOM,10,1100,2025-05-05\n",
        as_of=AS_OF,
    )

    assert (summary.created, summary.updated, summary.unchanged, summary.deleted) == (1, 1, 1, 1)
    assert set(lots_of("A-100")) == {"L1", "L3", "L4"}
    assert lots_of("A-100")["L3"] == ("MSFT", Decimal(25), Decimal(6000), date(2021, 8, 9))
    assert lots_of("A-101") == {"L1": ("VTI", Decimal(300), Decimal("60000"), date(2022, 2, 1))}
    after = physical_rows(TaxLot)["TaxLot"]
    assert [row for row in after if row[1] == other] == [row for row in before if row[1] == other]


def test_an_account_number_alone_says_the_account_holds_nothing(book):
    lots_import(source=csv("lots.csv"), as_of=AS_OF)

    summary = lots_import(source=b"account_number,lot_id,symbol,quantity,cost_basis,acquired\nA-100,,,,,\n", as_of=AS_OF)

    assert (summary.rows, summary.deleted) == (0, 3)
    assert lots_of("A-100") == {}
    assert set(lots_of("A-101")) == {"L1"}


# --- Firms do not see each other's data ----------------------------------------------------------


def test_data_imported_into_firm_a_is_not_visible_in_firm_b(book, firm_b):
    lots_import(source=csv("lots.csv"), as_of=AS_OF)

    with schema_context(firm_b.schema_name):
        assert not Security.objects.filter(symbol="AAPL").exists()
        assert not Account.objects.exists()
        assert not TaxLot.objects.exists()
        with pytest.raises(ImportRejected) as excinfo:
            lots_import(source=csv("lots.csv"), as_of=AS_OF)
        assert (2, "account_number", "account 'A-100' is not known") in problems_of(excinfo)
        assert (2, "symbol", "symbol 'AAPL' is not known") in problems_of(excinfo)


def test_an_import_outside_a_firm_is_refused(db):
    with pytest.raises(ValidationFailed, match="inside a firm"):
        securities_import(source=csv("securities.csv"))


# --- The command ---------------------------------------------------------------------------------


def test_the_command_imports_a_good_file_and_prints_the_summary(book, firm_a):
    out = io.StringIO()

    call_command("import_book", str(csv("lots.csv")), firm=firm_a.slug, kind="lots", as_of="2026-11-26", stdout=out)

    assert "firm-a: lots: 4 rows, 4 created, 0 updated, 0 unchanged, 0 deleted" in out.getvalue()
    with schema_context(firm_a.schema_name):
        assert TaxLot.objects.count() == 4


def test_the_command_prints_the_report_and_fails_on_a_bad_file(book, firm_a):
    err = io.StringIO()

    with pytest.raises(CommandError, match="lots file was refused with 3 problem"):
        call_command(
            "import_book", str(csv("lots_bad_date.csv")), "--firm", firm_a.slug, "--kind", "lots",
            "--as-of", "2026-11-26", stderr=err,
        )

    report = err.getvalue().splitlines()
    assert report[0].split() == ["row", "column", "problem"]
    assert report[1].split(None, 2) == ["2", "acquired", "'2021-02-30' is not a day of the calendar"]
    with schema_context(firm_a.schema_name):
        assert not TaxLot.objects.exists()


def test_the_command_names_an_unknown_firm(db):
    with pytest.raises(CommandError, match="'no-such-firm'"):
        call_command("import_book", str(csv("lots.csv")), firm="no-such-firm", kind="lots")


# --- Bounded queries -----------------------------------------------------------------------------


def _lots_file(rows: int) -> bytes:
    lines = [f"A-200,K{i},{('AAPL', 'MSFT', 'VTI')[i % 3]},{i + 1},{100 * (i + 1)},2024-01-{1 + i % 28:02d}"
             for i in range(rows)]
    return ("account_number,lot_id,symbol,quantity,cost_basis,acquired\n" + "\n".join(lines)).encode()


def _securities_file(rows: int) -> bytes:
    lines = [f"S{i},Security {i},us_equity,tech,false,a|b,{i},true," for i in range(rows)]
    return ("symbol,name,asset_class,sector,is_fund,tags,esg_score,fractional,equivalence_group\n"
            + "\n".join(lines)).encode()


@pytest.mark.parametrize(("kind", "make"), [("lots", _lots_file), ("securities", _securities_file)])
def test_the_query_count_does_not_grow_with_the_file(book, django_assert_max_num_queries, kind, make):
    with django_assert_max_num_queries(24) as small:
        book_import(kind=kind, source=make(5), as_of=AS_OF)
    with django_assert_max_num_queries(24) as large:
        book_import(kind=kind, source=make(50), as_of=AS_OF)

    assert len(large.captured_queries) == len(small.captured_queries)


# --- Reading files and cells ---------------------------------------------------------------------


def test_a_file_object_with_a_bom_spaced_headers_and_blank_lines_keeps_its_line_numbers(book):
    text = "\ufeffAccount Number, Lot ID ,Symbol,Quantity,Cost Basis,Acquired\r\n\r\nA-100,L1,AAPL,1,1,2020-01-01\r\nA-100,L2,AAPL,x,1,2020-01-01\r\n"

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=io.BytesIO(text.encode("utf-8")), as_of=AS_OF)

    assert problems_of(excinfo) == [(4, "quantity", "'x' is not a number")]


def test_unknown_and_repeated_columns_are_refused(book):
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=b"symbol,date,close,close,volume\n", as_of=AS_OF)

    problems = problems_of(excinfo)
    assert (1, "close", "the column appears twice") in problems
    assert problems[-1][:2] == (1, "volume") and problems[-1][2].startswith("unknown column")


@pytest.mark.parametrize(("source", "problem"), [
    (b"", "the file is empty; the first line must name the columns"),
    (b"PK\x03\x04\x14\x00", "this is a zip or Excel workbook, not CSV text; save it as CSV (comma-separated)"),
])
def test_a_file_that_is_not_csv_is_refused(book, source, problem):
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=source, as_of=AS_OF)

    assert problems_of(excinfo) == [(1, None, problem)]


@pytest.mark.parametrize(("source", "line", "problem"), [
    (b'symbol,date,close\n"VTI,2026-11-20,100\n', 2, 'a quoted cell starts on this line and is never closed'),
    (b'symbol,date,close\nVTI,2026-11-20,100\nVTI,"2026-11-19,99\nVTI,2026-11-18,98\n', 3,
     "a quoted cell starts on this line and is never closed"),
    (b"symbol,date,close\nVTI,2026-11-20,100,7\n", 2, "the line has more cells than the header has columns"),
])
def test_a_broken_line_is_named_with_what_is_wrong_with_it(book, source, line, problem):
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=source, as_of=AS_OF)

    [(reported_line, column, text)] = problems_of(excinfo)
    assert (reported_line, column) == (line, None) and text.startswith(problem)


def test_an_amount_that_rounds_to_nothing_says_so(book):
    from rebalancing.imports.cash_flows import cash_flows_import

    with pytest.raises(ImportRejected) as excinfo:
        cash_flows_import(source=b"household_id,kind,amount\nHH-1,deposit,0.001\nHH-1,deposit,-3\n", user=None)

    problems = problems_of(excinfo)
    assert (2, "amount", "0.001 rounds to 0 at 2 decimal places; it must be greater than 0") in problems
    assert (3, "amount", "-3 must be greater than 0") in problems


def test_an_unknown_kind_is_refused(book):
    with pytest.raises(ValidationFailed, match="Unknown kind of file 'positions'"):
        book_import(kind="positions", source=csv("lots.csv"))


@pytest.mark.parametrize(("text", "value"), [
    ("1234.5", Decimal("1234.5")), ("-0.25", Decimal("-0.25")), ("1,234.50", Decimal("1234.50")),
    ("1e3", Decimal("1000")), (".5", Decimal("0.5")),
])
def test_decimal_cells(text, value):
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "1.2.3", "12,34", "$5", "1_000", "nan", "inf"])
def test_cells_that_are_not_decimals(text):
    with pytest.raises(CellProblem):
        parse_decimal(text)


def test_date_boolean_and_tag_cells():
    assert parse_date("2026-11-26") == parse_date("11/26/2026") == date(2026, 11, 26)
    assert parse_date("1/5/2026") == date(2026, 1, 5)
    with pytest.raises(CellProblem, match="write YYYY-MM-DD or MM/DD/YYYY"):
        parse_date("26.11.2026")
    assert [parse_boolean(t) for t in ("Yes", "n", "TRUE", "0")] == [True, False, True, False]
    with pytest.raises(CellProblem):
        parse_boolean("maybe")
    assert parse_tags("fossil_fuels| tobacco|fossil_fuels|") == ["fossil_fuels", "tobacco"]
    assert parse_tags('["a", "b"]') == ["a", "b"]
    with pytest.raises(CellProblem):
        parse_tags("[1, 2]")

"""Edges of the book's inputs: a file with a header and no rows is refused naming it (every kind read
by the shared reader), an account's cash no client account holds is refused as a column mix-up, as
the lots' and cash flows' dollars are, and a template whose minimum trade is above what any account
is worth is saved with a warning, as a 0% turnover cap is."""

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context, tenant_context

from rebalancing.imports import ImportRejected, accounts_import, book_import
from rebalancing.imports.cells import MAX_AMOUNT
from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, ParameterTemplate
from rebalancing.services.book import template_save
from rebalancing.services.template_feasibility import template_settings_warnings

from .test_csv_import import problems_of
from .test_hostile_imports import AS_OF, LOTS_HEADER, TRADES_HEADER, book  # noqa: F401

pytestmark = pytest.mark.django_db

NO_ROWS = (1, None, "the file has a header and no rows: nothing to import; put the rows under the header")
HEADERS = {
    "securities": b"symbol,name,asset_class\n",
    "prices": b"symbol,date,close\n",
    "benchmark_weights": b"benchmark,date,symbol,weight\n",
    "accounts": b"account_number,account_name,household_id\n",
    "lots": LOTS_HEADER,
    "trades": TRADES_HEADER,
}


@pytest.mark.parametrize("kind", list(HEADERS))
@pytest.mark.parametrize("after", ["nothing", "blank lines", "empty cells"])
def test_a_file_with_a_header_and_no_rows_is_refused_naming_it(book, kind, after):  # noqa: F811
    # Given a file whose rows were lost on export: the header, then nothing, blank lines or a line of
    # empty cells (all read as no row)
    header = HEADERS[kind]
    source = header + {"nothing": b"", "blank lines": b"\n\n", "empty cells": b"," * header.count(b",") + b"\n"}[after]

    # When it is imported, then it is refused saying so, not landed as "0 rows"
    with pytest.raises(ImportRejected) as excinfo:
        book_import(kind=kind, source=source, as_of=AS_OF)

    assert problems_of(excinfo) == [NO_ROWS]
    assert "file was refused (1 problem; first: row 1, whole line: the file has a header and no rows" in (
        excinfo.value.message)


def test_an_executions_file_with_a_header_and_no_rows_is_refused_by_the_same_reader(book):  # noqa: F811
    with pytest.raises(ImportRejected) as excinfo:
        executions_import(source=b"external_id,order_id,quantity,trade_date\n", as_of=AS_OF)

    assert problems_of(excinfo) == [NO_ROWS]


def test_an_accounts_file_with_cash_no_client_account_holds_is_refused_and_the_cash_kept(book):  # noqa: F811
    # Given an account number (or cents) in the cash column: $200bn
    before = dict(Account.objects.values_list("custodian_number", "cash"))

    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=b"account_number,account_name,household_id,cash\n"
                               b"A-100,Smith joint taxable,H-1,200000000000\n"
                               b"A-101,Smith IRA,H-1,-200000000000\n", as_of=AS_OF)

    assert problems_of(excinfo) == [
        (2, "cash", "200000000000 is more than any client account holds: at most 100,000,000,000 dollars of cash "
                    "in one account; is a value from another column (an account number, cents) here?"),
        (3, "cash", "-200000000000 is more than any client account holds: at most 100,000,000,000 dollars of cash "
                    "in one account; is a value from another column (an account number, cents) here?"),
    ]
    assert dict(Account.objects.values_list("custodian_number", "cash")) == before


def test_an_accounts_file_with_cash_at_the_bound_lands(book):  # noqa: F811
    accounts_import(source=b"account_number,account_name,household_id,cash\nA-100,Smith joint taxable,H-1,"
                           + str(int(MAX_AMOUNT)).encode() + b"\n", as_of=AS_OF)

    assert Account.objects.get(custodian_number="A-100").cash == MAX_AMOUNT


@pytest.mark.parametrize("column", ["realised_short_term_ytd", "year_end_value"])
def test_the_accounts_files_other_dollars_have_the_same_bound(book, column):  # noqa: F811
    extra = b",year_end_year" if column == "year_end_value" else b""
    value = b",2025" if column == "year_end_value" else b""
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=b"account_number,account_name,household_id," + column.encode() + extra + b"\n"
                               b"A-101,Smith IRA,H-1,100000000000.01" + value + b"\n", as_of=AS_OF)

    assert [(row, col) for row, col, _ in problems_of(excinfo)] == [(2, column)]
    assert "is more than any client account holds: at most 100,000,000,000" in problems_of(excinfo)[0][2]


# --- A template's minimum trade ----------------------------------------------------------------


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@edges.example", "firm_admin")


def test_a_minimum_trade_above_any_client_account_is_saved_with_a_warning(firm_a, admin):
    # Given a firm that holds nothing yet: the bound is what no client account holds
    with tenant_context(firm_a):
        saved = template_save(user=admin, code="t-huge", name="Huge", overridable={},
                              parameters={"trading": {"min_trade_value": 1e12}})
        assert ParameterTemplate.objects.filter(code="t-huge").exists()

    assert saved.warnings == [
        "“Trading: minimum trade” is $1 trillion, more than any client account holds ($100,000,000,000): every trade "
        "smaller is dropped, so the accounts it governs will not rebalance, buy or harvest - only a position sold "
        "whole, or a trade a screen, a restriction or an instruction forces, is made."]


def test_a_minimum_trade_above_the_firms_largest_account_is_warned_and_a_usual_one_is_not(book, admin):  # noqa: F811
    # Given the fixture book's accounts, each worth far less than $50 million
    with schema_context(book.schema_name):
        Account.objects.filter(custodian_number="A-100").update(cash=Decimal("1234567.89"))
        warned = template_settings_warnings({"trading": {"min_trade_value": 50_000_000}})
        usual = template_settings_warnings({"trading": {"min_trade_value": 500}})
        none_set = template_settings_warnings({})

    assert len(warned) == 1 and warned[0].startswith("“Trading: minimum trade” is $50,000,000, more than the firm's "
                                                     "largest account is worth ($")
    assert usual == [] and none_set == []

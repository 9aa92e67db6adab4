"""Files a European Excel saves (semicolons, decimal commas) and values no client account holds: each
refused naming the line, the value and the rule, and nothing written."""

import pytest

from rebalancing.imports import ImportRejected, lots_import, prices_import, trades_import
from rebalancing.models import Price, TradeRecord

from .test_csv_import import problems_of
from .test_hostile_imports import AS_OF, LOTS_HEADER, TRADES_HEADER, book, lots_stored  # noqa: F401

pytestmark = pytest.mark.django_db

SEPARATED = "the columns are separated by {}, not commas; save the file as CSV (comma-separated)"


@pytest.mark.parametrize(("source", "separators"), [
    (b"symbol;date;close\nAAPL;2026-11-25;71,5\n", "semicolons"),
    (b"symbol;date;close\r\nAAPL;2026-11-25;71,5\r\nMSFT;2026-11-25;1.234,5\r\n", "semicolons"),
    (b"symbol\tdate\tclose\nAAPL\t2026-11-25\t71,5\n", "tabs"),
    (b"symbol|date|close\nAAPL|2026-11-25|71,5\n", "pipes"),
])
def test_a_file_with_another_separator_and_decimal_commas_is_named_for_its_separator(book, source,  # noqa: F811
                                                                                     separators):
    # Given a European Excel's file: semicolons between cells, and commas in the numbers
    # When it is imported
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=source, as_of=AS_OF)

    # Then the one problem is the separator (as for the same file without decimal commas), not "an
    # unquoted comma" on line 2
    assert problems_of(excinfo) == [(1, None, SEPARATED.format(separators))]
    assert not Price.objects.exists()


def test_a_quantity_no_client_account_holds_is_refused_and_the_lots_kept(book):  # noqa: F811
    before = lots_stored()

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=LOTS_HEADER + b"A-100,X1,AAPL,999999999999,100,2024-01-01\n"
                                        b"A-100,X2,AAPL,10,999999999999,2024-01-01\n", as_of=AS_OF)

    assert problems_of(excinfo) == [
        (2, "quantity", "999999999999 is more than any client account holds: at most 1,000,000,000 shares in one "
                        "lot; is a value from another column (an account number, cents) here?"),
        (3, "cost_basis", "999999999999 is more than any client account holds: at most 100,000,000,000 dollars of "
                          "cost in one lot; is a value from another column (an account number, cents) here?"),
    ]
    assert lots_stored() == before


def test_a_lot_worth_more_than_any_client_account_holds_is_refused(book):  # noqa: F811
    prices_import(source=b"symbol,date,close\nAAPL,2026-11-25,250\n", as_of=AS_OF)
    before = lots_stored()

    with pytest.raises(ImportRejected) as excinfo:
        lots_import(source=LOTS_HEADER + b"A-100,X1,AAPL,900000000,100,2024-01-01\n", as_of=AS_OF)

    assert problems_of(excinfo) == [
        (2, "quantity", "900,000,000 shares of AAPL at its latest price, $250, are worth $225,000,000,000: more "
                        "than any client account holds in one lot (at most $100,000,000,000)")]
    assert lots_stored() == before


def test_a_trade_of_more_shares_than_any_client_account_holds_is_refused(book):  # noqa: F811
    with pytest.raises(ImportRejected) as excinfo:
        trades_import(source=TRADES_HEADER + b"A-100,AAPL,buy,5000000000,10,2026-11-20,T-1,\n", as_of=AS_OF)

    assert [p[:2] for p in problems_of(excinfo)] == [(2, "quantity")]
    assert "at most 1,000,000,000 shares in one trade" in problems_of(excinfo)[0][2]
    assert not TradeRecord.objects.exists()


def test_a_number_beyond_what_decimal_can_round_states_the_digits_allowed(book):  # noqa: F811
    with pytest.raises(ImportRejected) as excinfo:
        prices_import(source=b"symbol,date,close\nAAPL,2026-11-25,1e300\n", as_of=AS_OF)

    assert problems_of(excinfo) == [(2, "close", "1E+300 is too large (at most 12 digits before the point)")]

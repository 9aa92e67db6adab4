"""An account's opening day bounds its trades (``ledger.account_opening``): a trade or fill dated
before it is refused by every way one comes in (trades file, executions file, the API's records), and
an accounts file cannot move the day after a trade or fill already booked; nothing is then written."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.imports import ImportRejected, accounts_import, trades_import
from rebalancing.ledger.executions import executions_apply, executions_import
from rebalancing.models import Account, Execution, Order, TaxLot, TradeRecord

from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
RELEASED = date(2026, 11, 16)
TRADES = b"account_number,symbol,side,quantity,price,trade_date,external_id,cancelled\n"
ACCOUNTS = b"account_number,account_name,household_id,opened_on\n"


def problems_of(excinfo) -> list[tuple]:
    return [(p["row"], p["column"], p["problem"]) for p in excinfo.value.detail["problems"]]


def opened(account, day: date | None) -> None:
    Account.objects.filter(pk=account.pk).update(opened_on=day)


@pytest.fixture
def sale(book, pm):
    [order] = release(book["account"], [sell("VTI", 50, 100.0, [("A-1-L2", 50)])], pm=pm, as_of=RELEASED)
    return order


def test_a_trade_before_the_account_was_opened_refuses_the_trades_file(book):
    # Given A-1 opened on 2026-03-01
    opened(book["account"], date(2026, 3, 1))

    # When a trades file has one trade on that day and one the day before
    with pytest.raises(ImportRejected) as refused:
        trades_import(source=TRADES + b"A-1,VTI,buy,5,100,2026-03-01,T-1,\nA-1,VTI,buy,5,100,2026-02-28,T-2,\n",
                      as_of=AS_OF)

    # Then the file is refused, naming the row, the account and both days; nothing is written
    assert problems_of(refused) == [(3, "trade_date", "2026-02-28 is before account A-1 was opened, on 2026-03-01: a "
                                     "trade cannot precede the account it is made in (check the trade date, the "
                                     "account, or the account's opened_on)")]
    assert "row 3, trade_date: 2026-02-28 is before account A-1" in refused.value.message
    assert not TradeRecord.objects.exists()


def test_trades_on_the_opening_day_or_of_an_account_with_no_opening_day_land(book):
    opened(book["account"], date(2026, 3, 1))
    summary = trades_import(source=TRADES + b"A-1,VTI,buy,5,100,2026-03-01,T-1,\n", as_of=AS_OF)
    opened(book["account"], None)
    again = trades_import(source=TRADES + b"A-1,VTI,buy,5,100,2020-01-02,T-2,\n", as_of=AS_OF)

    assert (summary.created, again.created) == (1, 1)


def test_a_bust_before_the_opening_day_is_no_trade(book):
    # A trade the custodian cancelled did not happen: its day bounds nothing.
    opened(book["account"], date(2026, 3, 1))
    summary = trades_import(source=TRADES + b"A-1,VTI,buy,5,100,2026-02-28,T-1,yes\n", as_of=AS_OF)

    assert summary.created == 1


@pytest.mark.parametrize("sent", ["file", "records"])
def test_a_fill_before_the_account_was_opened_is_refused_by_file_and_by_the_apis_records(book, sale, sent):
    # Given A-1 opened (as its custodian now says) on 11-18, after the order was released on 11-16
    opened(book["account"], date(2026, 11, 18))
    lots_before = list(TaxLot.objects.values_list("lot_id", "quantity").order_by("lot_id"))
    row = fill("F-1", sale, 50, "100", date(2026, 11, 17))

    # When a fill of 11-17 comes in
    with pytest.raises(ImportRejected) as refused:
        if sent == "file":
            executions_import(source=execution_csv(row), actor="feed", as_of=AS_OF)
        else:
            executions_apply(records=[{**row, "quantity": "50"}], actor="feed", as_of=AS_OF)

    # Then it is refused, naming the account and both days; no lot, trade, execution or order moves
    assert problems_of(refused) == [(2, "trade_date", "2026-11-17 is before account A-1 was opened, on 2026-11-18: a "
                                     "fill cannot precede the account it is made in (check the trade date, the "
                                     "account, or the account's opened_on)")]
    assert not Execution.objects.exists() and not TradeRecord.objects.exists()
    assert list(TaxLot.objects.values_list("lot_id", "quantity").order_by("lot_id")) == lots_before
    assert Order.objects.get(pk=sale.pk).status == Order.Status.OPEN


def test_a_fill_on_the_opening_day_lands(book, sale):
    opened(book["account"], date(2026, 11, 17))
    summary = executions_import(source=execution_csv(fill("F-1", sale, 50, "100", date(2026, 11, 17))),
                                actor="feed", as_of=AS_OF)

    assert summary.created == 1 and Execution.objects.get().trade_date == date(2026, 11, 17)


def test_the_accounts_file_cannot_open_an_account_after_its_first_fill(book, sale):
    # Given a fill of 11-17 booked in A-1 (it sold from a lot and wrote a trade)
    executions_import(source=execution_csv(fill("F-1", sale, 50, "100", date(2026, 11, 17))), actor="feed",
                      as_of=AS_OF)
    opened(book["account"], date(2026, 1, 5))

    # When an accounts file says A-1 opened on 11-18, and another account on a valid day
    with pytest.raises(ImportRejected) as refused:
        accounts_import(source=ACCOUNTS + b"NEW-1,New account,HH-A-1,2026-11-18\nA-1,Account A-1,HH-A-1,2026-11-18\n",
                        as_of=AS_OF)

    # Then the file is refused, naming the account, the new day and the first fill's; nothing is written
    assert problems_of(refused) == [(3, "opened_on", "2026-11-18 would open account A-1 after its first trade or "
                                     "fill, of 2026-11-17: an account is opened before anything is traded in it "
                                     "(give 2026-11-17 or earlier)")]
    assert Account.objects.get(pk=book["account"].pk).opened_on == date(2026, 1, 5)
    assert not Account.objects.filter(custodian_number="NEW-1").exists()


def test_a_fill_counts_without_its_trade_record(book, sale):
    # The ledger's fills are read themselves, not only through the trades they wrote.
    executions_import(source=execution_csv(fill("F-1", sale, 50, "100", date(2026, 11, 17))), actor="feed",
                      as_of=AS_OF)
    TradeRecord.objects.all().delete()

    with pytest.raises(ImportRejected) as refused:
        accounts_import(source=ACCOUNTS + b"A-1,Account A-1,HH-A-1,2026-11-18\n", as_of=AS_OF)

    assert [(row, column) for row, column, _ in problems_of(refused)] == [(2, "opened_on")]


def test_the_accounts_file_may_open_an_account_on_its_first_trade_or_clear_the_day(book):
    trades_import(source=TRADES + b"A-1,VTI,buy,5,100,2026-03-01,T-1,\nA-1,VTI,buy,5,100,2026-02-01,T-2,yes\n",
                  as_of=AS_OF)

    with pytest.raises(ImportRejected) as refused:
        accounts_import(source=ACCOUNTS + b"A-1,Account A-1,HH-A-1,2026-03-02\n", as_of=AS_OF)
    accounts_import(source=ACCOUNTS + b"A-1,Account A-1,HH-A-1,2026-03-01\n", as_of=AS_OF)  # the bust does not count
    assert Account.objects.get(pk=book["account"].pk).opened_on == date(2026, 3, 1)
    accounts_import(source=ACCOUNTS + b"A-1,Account A-1,HH-A-1,\n", as_of=AS_OF)

    assert "of 2026-03-01" in problems_of(refused)[0][2]
    assert Account.objects.get(pk=book["account"].pk).opened_on is None
    assert TradeRecord.objects.get(external_id="T-1").quantity == D(5)


def test_the_admin_account_form_keeps_the_same_rule(book, sale):
    """The Django admin's account form (a support desk's tool) cannot move the day past a fill either."""
    from rebalancing.admin import AccountForm

    executions_import(source=execution_csv(fill("F-1", sale, 50, "100", date(2026, 11, 17))), actor="feed",
                      as_of=AS_OF)
    account = Account.objects.get(pk=book["account"].pk)
    data = {f: getattr(account, f) for f in AccountForm._meta.fields if f not in ("household", "model", "template")}
    data |= {"household": account.household_id, "model": account.model_id, "template": account.template_id or "",
             "overrides": "{}", "asset_classes": "[]", "opened_on": "2026-11-18"}
    form = AccountForm(data=data, instance=account)
    assert not form.is_valid()
    assert form.errors["opened_on"] == ["2026-11-18 would open account A-1 after its first trade or fill, of "
                                        "2026-11-17: an account is opened before anything is traded in it (give "
                                        "2026-11-17 or earlier)"]
    data["opened_on"] = "2026-11-17"
    assert "opened_on" not in AccountForm(data=data, instance=account).errors

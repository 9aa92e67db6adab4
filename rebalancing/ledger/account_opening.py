"""An account's opening day bounds its trades: nothing is bought or sold in an account before it
exists. One rule for both sides of it: every way a trade enters (the trades file; fills by file,
API, page or command: ``executions``) and every way an opening day is set (the accounts file).

Both sides read the account rows locked (``select_for_update``, in id order), so an opening day
moved while a trade comes in cannot pass between the check and the write of either.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Min

from rebalancing.models import Account, Execution, TradeRecord

__all__ = ["first_trade_days", "opened_after_trades_problem", "opening_days", "trade_before_opening_problem"]


def _precedes(trade_date: date, opened_on: date | None) -> bool:
    """The rule itself: a trade on the opening day is in the account; one the day before is not."""
    return opened_on is not None and trade_date < opened_on


def opening_days(account_ids: Iterable[int]) -> dict[int, date | None]:
    """Each account's opening day (None: not known, nothing to check), its row locked."""
    return dict(Account.objects.select_for_update().filter(pk__in=set(account_ids)).order_by("pk")
                .values_list("pk", "opened_on"))


def first_trade_days(account_ids: Iterable[int]) -> dict[int, date]:
    """The earliest day traded in each account (accounts with none are left out), its row locked:
    its trades (a trade the custodian cancelled, a bust, does not count) and the ledger's fills
    (those that bought the lots it holds among them)."""
    ids = set(opening_days(account_ids))  # locked first, as a trade coming in locks them
    first: dict[int, date] = {}
    for account_id, day in (
        *TradeRecord.objects.filter(account_id__in=ids, cancelled=False).order_by()
        .values("account_id").annotate(day=Min("trade_date")).values_list("account_id", "day"),
        *Execution.objects.filter(order__account_id__in=ids, kind=Execution.Kind.FILL).order_by()
        .values("order__account_id").annotate(day=Min("trade_date")).values_list("order__account_id", "day"),
    ):
        first[account_id] = min(day, first.get(account_id, day))
    return first


def trade_before_opening_problem(*, account: str, opened_on: date | None, trade_date: date,
                                 what: str = "trade") -> str | None:
    """Why a ``what`` (a trade, a fill) of ``trade_date`` cannot be booked in ``account``; None if it can."""
    if not _precedes(trade_date, opened_on):
        return None
    return (f"{trade_date} is before account {account} was opened, on {opened_on}: a {what} cannot precede the "
            "account it is made in (check the trade date, the account, or the account's opened_on)")


def opened_after_trades_problem(*, account: str, opened_on: date | None, first_trade: date | None) -> str | None:
    """Why ``account`` cannot be said to have opened on ``opened_on``, its first trade or fill being
    of ``first_trade``; None if it can."""
    if first_trade is None or not _precedes(first_trade, opened_on):
        return None
    return (f"{opened_on} would open account {account} after its first trade or fill, of {first_trade}: an account "
            f"is opened before anything is traded in it (give {first_trade} or earlier)")

"""The fills of one buy order on one day are one purchase, however the custodian split them: selling
part of it at a loss within 30 days leaves the rest as the same purchase's shares, not replacements
(Rev. Rul. 56-602, as for a purchase filled once). Each fill is a lot of its own, and the replay
took the second fill's shares as a replacement for the first's: 1,000 of an allowed loss was
disallowed and moved into the other lot's basis. Separate orders, or one order's fills on separate
days, remain separate purchases (each an acquisition inside the window, IRC §1091(a))."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.models import RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
BOUGHT, SOLD = date(2026, 6, 1), date(2026, 6, 10)


def _bought_and_half_sold(book, pm, fills: list[tuple[int, int, date]]):
    """100 VTI bought at 120 by the orders and fills given ((order no., shares, day)); then F1's 50
    shares sold at 100 (a 1,000 loss) on 06-10. Returns the sale and the lots held after."""
    account = make_account("S-1", model=book["model"], holdings=[])
    orders = {}
    for n in sorted({o for o, _, _ in fills}):
        shares = sum(q for o, q, _ in fills if o == n)
        [orders[n]] = release(account, [buy("VTI", shares, 120.0)], pm=pm, as_of=BOUGHT)
    rows = [fill(f"F{i}", orders[n], q, "120", day) for i, (n, q, day) in enumerate(fills, start=1)]
    executions_import(source=execution_csv(*rows), actor="feed", as_of=AS_OF)
    [order] = release(account, [sell("VTI", 50, 100.0, [("F1", 50)])], pm=pm, as_of=SOLD)
    executions_import(source=execution_csv(fill("S", order, 50, "100", SOLD)), actor="feed", as_of=AS_OF)
    held = {lot.lot_id: lot for lot in TaxLot.objects.filter(account=account)}
    return RealisedLot.objects.get(account=account), held


@pytest.mark.parametrize("fills", [
    [(1, 100, BOUGHT)],                                    # one fill
    [(1, 50, BOUGHT), (1, 50, BOUGHT)],                    # one order, two fills of one day
    [(1, 50, BOUGHT), (1, 30, BOUGHT), (1, 20, BOUGHT)],   # three
], ids=["one fill", "two fills", "three fills"])
def test_the_rest_of_one_orders_purchase_of_a_day_replaces_no_loss(book, pm, fills):
    sold, held = _bought_and_half_sold(book, pm, fills)

    assert (sold.gain, sold.disallowed_loss, sold.wash_matched_quantity) == (D("-1000.00"), 0, 0)
    assert all(lot.wash_adjustment == 0 and lot.acquired == BOUGHT for lot in held.values())


@pytest.mark.parametrize("fills", [
    [(1, 50, BOUGHT), (2, 50, BOUGHT)],                    # two orders the same day
    [(1, 50, BOUGHT), (1, 50, date(2026, 6, 2))],          # one order filled over two days
], ids=["two orders", "two days"])
def test_another_purchase_in_the_window_still_replaces(book, pm, fills):
    sold, held = _bought_and_half_sold(book, pm, fills)

    assert (sold.gain, sold.disallowed_loss, sold.wash_matched_quantity) == (D("-1000.00"), D("1000.00"), 50)
    assert held["F2"].wash_adjustment == D("1000.00") and held["F2"].cost_basis == D("7000.00")

"""Released sales still open at the custodian, for the tests that a file changing the lots they name
is refused (the lots file, tests/imports/test_lots_file_open_orders.py; accepting a custodian's
positions, tests/ledger/test_reconciliation_open_orders.py): one rule, so one set of cases."""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Order, Proposal, Security

from ..rebalancing.book import make_account
from ..rebalancing.workflow import make_proposal
from .helpers import execution_csv, fill, release, sell

LOTS_HEADER = "account_number,lot_id,symbol,quantity,cost_basis,acquired\n"


def partly_sold(model, *, pm, as_of: date) -> Order:
    """D-1 sells 6 of D-1-L1 then 36 of D-1-L2 (P189-4's shape); a first fill of 10 took L1's 6
    and 4 of L2, which now holds 32 (its 4 sold; 32 still to sell)."""
    account = make_account("D-1", model=model, holdings=[
        ("VTI", 6, 600, date(2024, 1, 2)), ("VTI", 36, 3600, date(2024, 2, 1)), ("VTI", 10, 1000, date(2024, 3, 1))])
    [order] = release(account, [sell("VTI", 42, 100.0, [("D-1-L1", 6), ("D-1-L2", 36)])], pm=pm,
                      as_of=date(2026, 11, 18))
    executions_import(source=execution_csv(fill("F-1", order, 10, "100", date(2026, 11, 18))), actor="feed",
                      as_of=as_of)
    return order


def by_shares(named: list[tuple[str, int]], filled: int, cancelled: int) -> Counter:
    """The simple reading: the order's shares one by one in named order; the first ``filled`` are
    sold, the last ``cancelled`` are off; the rest are still to sell."""
    queue = [lot for lot, q in named for _ in range(q)]
    return Counter(queue[filled:len(queue) - cancelled])


@dataclass
class OpenOrdersCase:
    account: object
    lines: list[str]  # the file's rows for the account (lots file / custodian positions)
    changed: set[str]  # lots the file changes or leaves out
    expected: list[tuple[str, str, int]]  # (order, lot, shares still to sell) for each changed lot an order names

    @property
    def source(self) -> bytes:
        return (LOTS_HEADER + "\n".join(self.lines) + "\n").encode()


def random_open_orders(rng: random.Random, number: str, model, as_of: date) -> OpenOrdersCase:
    """An account of 2-4 VTI lots, one or two released sales naming some of them, each partly filled
    or cancelled at random, and a file that keeps, changes (quantity, basis, date) or drops each lot."""
    vti = Security.objects.get(symbol="VTI")
    sizes = [rng.randint(1, 30) for _ in range(rng.randint(2, 4))]
    account = make_account(number, model=model, holdings=[
        ("VTI", q, 10 * q, date(2024, 1, 1 + i)) for i, q in enumerate(sizes)])
    proposal = make_proposal(account, status=Proposal.Status.RELEASED, as_of=as_of)
    orders = {}
    for n in range(rng.randint(1, 2)):
        picked = rng.sample(range(len(sizes)), rng.randint(1, len(sizes)))
        named = [(f"{number}-L{i + 1}", rng.randint(1, sizes[i])) for i in picked]
        total = sum(q for _, q in named)
        filled = rng.randint(0, total)
        cancelled = rng.randint(0, total - filled)
        status = (Order.Status.FILLED if filled == total else Order.Status.CANCELLED
                  if filled + cancelled == total else Order.Status.PARTIALLY_FILLED if filled
                  else Order.Status.OPEN)
        order = Order.objects.create(
            order_id=f"P{proposal.pk}-{n + 1}", proposal=proposal, account=account, security=vti, side="sell",
            quantity=total, filled_quantity=filled, cancelled_quantity=cancelled, status=status,
            reference_price=D(10), lots=[{"lot_id": lot, "quantity": str(q)} for lot, q in named],
            block_id="B", released_on=as_of)
        orders[order.order_id] = (named, filled, cancelled)
    lines, changed = [], set()
    for i, q in enumerate(sizes):
        lot_id, what = f"{number}-L{i + 1}", rng.choice(["same", "same", "quantity", "basis", "date", "gone"])
        if what != "same":
            changed.add(lot_id)
        if what != "gone":
            quantity = q + (rng.choice([-1, 1]) if q > 1 else 1) if what == "quantity" else q
            basis = 10 * q + (5 if what == "basis" else 0)
            month = 2 if what == "date" else 1
            lines.append(f"{number},{lot_id},VTI,{quantity},{basis},2024-{month:02d}-{i + 1:02d}")
    if not lines:
        lines.append(f"{number},,,,,")
    expected = sorted(
        (order_id, lot, sells) for order_id, (named, filled, cancelled) in orders.items()
        for lot, sells in by_shares(named, filled, cancelled).items() if lot in changed)
    return OpenOrdersCase(account, lines, changed, expected)

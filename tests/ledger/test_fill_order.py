"""The fills of a sale order take its named lots in trade-date order, whatever order they arrive in
(``rebalancing.ledger.fill_order``): which shares a fill sells decides its basis, its term, its tax
year and the wash-sale window its loss opens."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.imports import ImportRejected
from rebalancing.ledger.executions import executions_import
from rebalancing.models import (
    Account,
    Execution,
    Order,
    RealisedLot,
    TaxLot,
    TradeRecord,
    WashSaleRecalculation,
)
from tenants.audit.models import AuditEvent

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell
from .test_household_wash_sales import ledger_state

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def realised(account) -> list[tuple]:
    return sorted((r.execution.external_id, r.lot_id, r.quantity, r.proceeds, r.cost_basis, r.gain, r.term, r.sold)
                  for r in RealisedLot.objects.filter(account=account).select_related("execution"))


def test_a_fill_dated_before_one_already_booked_takes_the_first_named_lot(book, pm):
    # The order names the short-term loss lot L2 (50 at 120) first, then the long-term lot L1 (100
    # at 80). The 11-20 fill of 100 is booked first; the 11-18 fill of 50 arrives later. In trade
    # date order the 11-18 fill sells L2 and the 11-20 fill sells L1.
    account = book["account"]
    [order] = release(account, [sell("VTI", 150, 100.0, [("A-1-L2", 50), ("A-1-L1", 100)])], pm=pm,
                      as_of=date(2026, 11, 18))
    executions_import(source=execution_csv(fill("X-20", order, 100, "101", date(2026, 11, 20))), actor="feed",
                      as_of=AS_OF)
    assert {r[1] for r in realised(account)} == {"A-1-L2", "A-1-L1"}  # as booked: 50 of L2 and 50 of L1

    summary = executions_import(source=execution_csv(fill("X-18", order, 50, "100", date(2026, 11, 18))),
                                actor="feed", as_of=AS_OF)

    assert realised(account) == [
        ("X-18", "A-1-L2", D(50), D("5000.00"), D("6000.00"), D("-1000.00"), "short", date(2026, 11, 18)),
        ("X-20", "A-1-L1", D(100), D("10100.00"), D("8000.00"), D("2100.00"), "long", date(2026, 11, 20)),
    ]
    account.refresh_from_db()
    assert (account.realised_short_term_ytd, account.realised_long_term_ytd) == (D("-1000.00"), D("2100.00"))
    assert account.cash == D("1000") + D("10100.00") + D("5000.00")  # each fill's proceeds once
    assert not TaxLot.objects.filter(account=account).exists()
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (Order.Status.FILLED, D(150))
    trades = sorted(TradeRecord.objects.filter(account=account).values_list("external_id", "realised_gain"))
    assert trades == [("X-18", D("-1000.00")), ("X-20", D("2100.00"))]
    assert any("taken again in trade-date order" in note for note in summary.notes)
    [trail] = WashSaleRecalculation.objects.all()
    assert trail.first_sold == trail.last_sold == date(2026, 11, 20)
    changes = {(c["lot_id"], c["field"]): (c["before"], c["after"]) for c in trail.changes}
    assert changes[("A-1-L2", "quantity")] == ("50.000000", "0")
    assert changes[("A-1-L1", "quantity")] == ("50.000000", "100.000000")
    assert changes[("A-1-L2", "gain")] == ("-950.00", "0")  # 50 of the 100 sold at 101, against 6,000
    assert AuditEvent.objects.filter(action="ledger.fills_reordered").count() == 1


def test_the_year_a_gain_or_loss_falls_in_follows_the_fills_dates(in_firm_a, book, pm):
    # Booked in the wrong order across a year end, the 2025 fill's loss was 2026's; in date order
    # the 2025-12-31 fill sells the loss lot, and 2026 holds only the long-term gain.
    account = make_account("B-1", model=book["model"], holdings=[
        ("VTI", 100, 8000, date(2020, 1, 2)),  # B-1-L1, long-term
        ("VTI", 50, 6000, date(2025, 6, 2)),  # B-1-L2, short-term at a loss
    ])
    [order] = release(account, [sell("VTI", 150, 100.0, [("B-1-L2", 50), ("B-1-L1", 100)])], pm=pm,
                      as_of=date(2025, 12, 30))
    executions_import(source=execution_csv(fill("Y-2", order, 100, "100", date(2026, 1, 5))), actor="feed",
                      as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("Y-1", order, 50, "100", date(2025, 12, 31))), actor="feed",
                      as_of=date(2026, 1, 10))

    assert realised(account) == [
        ("Y-1", "B-1-L2", D(50), D("5000.00"), D("6000.00"), D("-1000.00"), "short", date(2025, 12, 31)),
        ("Y-2", "B-1-L1", D(100), D("10000.00"), D("8000.00"), D("2000.00"), "long", date(2026, 1, 5)),
    ]
    account.refresh_from_db()
    assert account.realised_ytd(2026) == (D(0), D("2000.00"))


def test_a_fill_that_cannot_come_first_is_refused_and_nothing_moves(in_firm_a, book, pm):
    # The second named lot was bought on 11-10. The booked 11-08 fill took the first; an 11-05 fill
    # taking the first instead would leave the 11-08 fill selling shares not yet bought: refused.
    account = make_account("C-1", model=book["model"], holdings=[
        ("VTI", 10, 1000, date(2026, 1, 5)), ("VTI", 10, 1000, date(2026, 11, 10))])
    [order] = release(account, [sell("VTI", 20, 100.0, [("C-1-L1", 10), ("C-1-L2", 10)])], pm=pm,
                      as_of=date(2026, 11, 5))
    executions_import(source=execution_csv(fill("Z-2", order, 10, "100", date(2026, 11, 8))), actor="feed", as_of=AS_OF)
    before = ledger_state()

    with pytest.raises(ImportRejected) as excinfo:
        executions_import(source=execution_csv(fill("Z-1", order, 10, "100", date(2026, 11, 5))), actor="feed",
                          as_of=AS_OF)

    [problem] = excinfo.value.detail["problems"]
    assert problem["row"] == 2 and "Z-2" in problem["problem"] and "bought on 2026-11-10" in problem["problem"]
    assert ledger_state() == before
    assert not Execution.objects.filter(external_id="Z-1").exists()


# --- any order of arrival gives the date-order ledger, and a simple allocation by hand ------------

LOTS = {  # the named lots of account R-1: (quantity, cost, acquired)
    "R-1-L1": (40, 3200, date(2024, 3, 4)),  # long-term, at a gain at 100
    "R-1-L2": (30, 3600, date(2026, 5, 6)),  # short-term, at a loss at 100
    "R-1-L3": (25, 2250, date(2026, 9, 7)),  # short-term, at a gain at 100
}


@st.composite
def sales(draw):
    """One order naming the three lots in a random order (part of each), filled in 1-4 fills on
    random days and prices; sometimes an IRA buys the group within the window."""
    names = draw(st.permutations(sorted(LOTS)))
    named = [(lot, draw(st.integers(1, LOTS[lot][0]))) for lot in names]
    total = sum(q for _, q in named)
    cuts = sorted(draw(st.sets(st.integers(1, total - 1), max_size=3)))
    quantities = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    fills = [(f"F{i}{draw(st.sampled_from('abc'))}", q, date(2026, 10, 1) + timedelta(days=draw(st.integers(0, 40))),
              draw(st.integers(80, 130))) for i, q in enumerate(quantities)]
    ira = draw(st.one_of(st.none(), st.tuples(st.integers(1, 30), st.integers(0, 45))))
    return named, fills, ira


def by_hand(named, fills) -> list[tuple]:
    """Fills in trade-date order (then execution id) take the named lots from the front."""
    queue, out = [[lot, q] for lot, q in named], []
    for external_id, quantity, day, _price in sorted(fills, key=lambda f: (f[2], f[0])):
        while quantity:
            lot = queue[0]
            taken = min(lot[1], quantity)
            acquired = LOTS[lot[0]][2]
            long_term = day > acquired.replace(year=acquired.year + 1)  # none of these is bought on a month end
            out.append((external_id, lot[0], D(taken), "long" if long_term else "short", day))
            lot[1] -= taken
            quantity -= taken
            if not lot[1]:
                queue.pop(0)
    return sorted(out)


def _by_bought_lot() -> list[tuple]:
    pieces = {}
    for r in RealisedLot.objects.filter(account__custodian_number="R-1").select_related("execution"):
        key = (r.execution.external_id, r.bought_as, r.term, r.sold)
        pieces[key] = pieces.get(key, D(0)) + r.quantity
    return sorted((k[0], k[1], q, k[2], k[3]) for k, q in pieces.items())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(case=sales(), random=st.randoms(use_true_random=False))
def test_any_order_of_arrival_gives_the_date_order_allocation(in_firm_a, book, pm, case, random):
    named, fills, ira = case
    savepoint = transaction.savepoint()
    try:
        account = make_account("R-1", model=book["model"], holdings=[("VTI", *LOTS[lot]) for lot in sorted(LOTS)])
        [order] = release(account, [sell("VTI", sum(q for _, q in named), 100.0, named)], pm=pm,
                          as_of=date(2026, 10, 1))
        rows = [fill(f, order, q, str(p), d) for f, q, d, p in fills]
        if ira:
            other = make_account("R-IRA", model=book["model"], household=account.household, holdings=[])
            Account.objects.filter(pk=other.pk).update(tax_status="traditional")
            [purchase] = release(other, [buy("ITOT", ira[0], 100.0)], pm=pm, as_of=date(2026, 10, 1))
            rows.append(fill("P1", purchase, ira[0], "100", date(2026, 10, 1) + timedelta(days=ira[1])))

        inner = transaction.savepoint()
        for row in sorted(rows, key=lambda r: (r["trade_date"], r["external_id"])):
            executions_import(source=execution_csv(row), actor="feed", as_of=AS_OF)
        in_date_order = ledger_state()
        transaction.savepoint_rollback(inner)

        arrival = list(rows)
        random.shuffle(arrival)
        while arrival:  # files of one to three fills, in a random order
            size = random.randint(1, 3)
            executions_import(source=execution_csv(*arrival[:size]), actor="feed", as_of=AS_OF)
            arrival = arrival[size:]

        assert ledger_state() == in_date_order
        assert _by_bought_lot() == by_hand(named, fills)
    finally:
        transaction.savepoint_rollback(savepoint)

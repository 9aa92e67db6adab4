"""``ledger.holdings.purchases_known_from_lots`` against a plain reading of every lot, over seeded
random households: lots held and sold (some bought inside the wash-sale window, some with a
purchase day apart from the holding period's start), buy trades on some of those days (cancelled or
not, in the account or another of the household), and the run's loader, which hands the lookup the
buy trades it has read itself instead of letting it read them again."""

import random
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.ledger.holdings import purchases_known_from_lots
from rebalancing.models import Account, Execution, Household, RealisedLot, Security, TaxLot, TradeRecord

from ..rebalancing.book import AS_OF, make_account
from .helpers import release, sell

pytestmark = pytest.mark.django_db

WINDOW = (AS_OF - timedelta(days=30), AS_OF)
HELD = ("VTI", "ITOT", "BND", "AGG")


def _day(rng):
    return AS_OF - timedelta(days=rng.choice([0, 1, 5, 17, 29, 30, 31, 32, 90, 400]))


def _book(rng, model, pm, n_households=3):
    securities = {s.symbol: s for s in Security.objects.all()}
    households = []
    for h in range(n_households):
        household = Household.objects.create(name=f"H{h}", external_id=f"HH-P{h}")
        households.append(household)
        for a in range(rng.randint(1, 3)):
            account = make_account(f"P{h}-{a}", model=model, household=household)
            days = set()
            for i in range(rng.randint(0, 8)):
                day, purchased = _day(rng), rng.choice([None, None, _day(rng)])
                days.add((rng.choice(HELD), purchased or day))
                TaxLot.objects.create(account=account, lot_id=f"L{i}", security=securities[rng.choice(HELD)],
                                      quantity=D(rng.randint(1, 40)) / 2, cost_basis=D(100), acquired=day,
                                      purchased=purchased)
            order = release(account, [sell("VTI", 1, 100, [])], pm=pm)[0]
            execution = Execution.objects.create(external_id=f"X-{account.pk}", order=order, kind="fill",
                                                 quantity=1, price=100, trade_date=AS_OF)
            for i in range(rng.randint(0, 4)):
                day = _day(rng)
                days.add((rng.choice(HELD), day))
                RealisedLot.objects.create(
                    account=account, execution=execution, lot_id=f"S{i}", security=securities[rng.choice(HELD)],
                    quantity=D(rng.randint(1, 40)) / 2, proceeds=D(10), cost_basis=D(10), gain=D(0), term="short",
                    acquired=day, purchased=day, sold=AS_OF)
            # Buy trades on some of the days lots were bought (a trade tells of those shares), and others.
            for symbol, day in [*rng.sample(sorted(days), k=len(days) // 2), (rng.choice(HELD), _day(rng))]:
                TradeRecord.objects.create(account=account, security=securities[symbol], side=rng.choice(["buy", "sell"]),
                                           quantity=D(3), price=D(100), trade_date=day, cancelled=rng.random() < 0.3)
    return households


def _reference(household_ids):
    """Every lot read one by one: a lot held or sold, bought in the window, with no buy trade of
    the same account, security and day that is not cancelled."""
    told = {(t.account_id, t.security_id, t.trade_date) for t in TradeRecord.objects.filter(side="buy", cancelled=False)}
    shares = {}
    bought = [(lot.account, lot.security_id, lot.purchased or lot.acquired, lot.quantity)
              for lot in TaxLot.objects.select_related("account")]
    bought += [(lot.account, lot.security_id, lot.purchased, lot.quantity)
               for lot in RealisedLot.objects.select_related("account")]
    for account, security, day, quantity in bought:
        if account.household_id in household_ids and WINDOW[0] <= day <= WINDOW[1] and \
                (account.pk, security, day) not in told:
            key = (account.household_id, account.custodian_number, security, day)
            shares[key] = shares.get(key, 0) + quantity  # halves of shares: exact as floats too
    return [(h, n, s, "buy", float(q), d, None) for (h, n, s, d), q in sorted(shares.items())]


@pytest.mark.parametrize("seed", range(6))
def test_purchases_known_from_lots_against_every_lot_read(book, pm, seed):
    rng = random.Random(seed)
    households = _book(rng, book["model"], pm)
    ids = {h.pk for h in households}
    expected = _reference(ids)
    assert purchases_known_from_lots(ids, *WINDOW) == expected
    some = {households[0].pk}
    assert purchases_known_from_lots(some, *WINDOW) == _reference(some)
    # As the loader calls it: the buy trades given, by account number.
    told_buys = {(t.account.custodian_number, t.security_id, t.trade_date)
                 for t in TradeRecord.objects.filter(side="buy", cancelled=False, trade_date__gte=WINDOW[0],
                                                     trade_date__lte=WINDOW[1]).select_related("account")}
    assert purchases_known_from_lots(ids, *WINDOW, told_buys=told_buys) == expected
    # And the loader itself: each account sees its household's trades of the window and those purchases.
    symbols = dict(Security.objects.values_list("pk", "symbol"))
    accounts = list(Account.objects.filter(household__in=households).order_by("pk"))
    for inputs in rebalance_inputs_load([a.pk for a in accounts], as_of=AS_OF):
        household = inputs.household_id
        trades = TradeRecord.objects.filter(account__household_id=household, cancelled=False,
                                            trade_date__gte=WINDOW[0], trade_date__lte=WINDOW[1])
        want = sorted((t.trade_date, symbols[t.security_id], t.side, float(t.quantity), t.account.custodian_number)
                      for t in trades.select_related("account"))
        want += [(d, symbols[s], "buy", q, n) for h, n, s, _, q, d, _ in expected if h == household]
        got = [(t.date, t.symbol, t.side, t.quantity, t.account_id) for t in inputs.recorded]
        assert sorted(got) == sorted(want)


def test_no_trade_read_when_no_lot_was_bought_in_the_window(book):
    """A run's chunk whose lots were all bought before the window (the usual case): one query."""
    household = book["account"].household_id
    with CaptureQueriesContext(connection) as queries:
        assert purchases_known_from_lots({household}, *WINDOW) == []
    assert len([q for q in queries.captured_queries if not q["sql"].startswith("SET")]) == 1

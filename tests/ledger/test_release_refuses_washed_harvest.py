"""An approved harvest is not released after the household's purchase of the group became known.

A-1 (taxable) holds A-1-L2: 50 VTI at 120.00. Its proposal of 2026-11-20 harvests it at 100 (a
1,000 loss) and is approved. The same day its IRA buys 50 VTI at the custodian, which the trades
file brings in that evening. Released on 11-21 and filled, the harvest would be washed by that
purchase, for good since the buyer is an IRA (IRC §1091(a); Rev. Rul. 2008-5): the release refuses.
"""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from rebalancing.imports import trades_import
from rebalancing.ledger.executions import executions_import
from rebalancing.models import (
    Account,
    Order,
    Proposal,
    RealisedLot,
    ReleaseBatch,
    Security,
    TaxLot,
    TradeRecord,
)
from rebalancing.services.proposals import proposal_release
from rebalancing.services.release_batches import release_batch_execute, release_batch_start
from tenants.errors import Conflict

from ..rebalancing.book import make_account
from ..rebalancing.workflow import make_proposal
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
PRICED = date(2026, 11, 20)
RELEASED = date(2026, 11, 21)


def _harvest(book, *, trades: bytes, as_of: date = PRICED) -> Proposal:
    account = book["account"]
    ira = make_account("A-1-IRA", model=book["model"], household=account.household, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=as_of)
    proposal.result = {"trades": [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], "summary": {}}
    proposal.save(update_fields=["result"])
    trades_import(source=b"account_number,symbol,side,quantity,price,trade_date,external_id\n" + trades, as_of=as_of)
    proposal.refresh_from_db()
    return proposal


def test_a_harvest_after_a_known_household_purchase_is_refused(book, pm):
    proposal = _harvest(book, trades=b"A-1-IRA,ITOT,buy,50,100,2026-11-20,IRA-BUY\n")

    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=proposal, user=pm, today=RELEASED)

    assert refused.value.code == "wash_sale_window"
    message = str(refused.value.message)
    # The security sold, the purchase (account and day) and the first day the sale is harmless.
    for part in ("VTI", "A-1-IRA", "2026-11-20", "2026-12-21"):
        assert part in message, message
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.APPROVED
    assert not Order.objects.filter(proposal=proposal).exists()


def test_a_purchase_more_than_30_days_before_does_not_stop_the_release(book, pm):
    proposal = _harvest(book, trades=b"A-1-IRA,VTI,buy,50,100,2026-10-21,IRA-BUY\n")

    proposal_release(proposal=proposal, user=pm, today=RELEASED)

    [order] = Order.objects.filter(proposal=proposal)
    executions_import(source=execution_csv(fill("HARVEST", order, 50, "100", RELEASED)), actor="custodian feed",
                      as_of=RELEASED)
    sold = RealisedLot.objects.get(execution__external_id="HARVEST")
    assert (sold.gain, sold.disallowed_loss, sold.disallowed_permanently) == (
        Decimal("-1000.00"), Decimal("0.00"), Decimal("0.00"))


def test_an_open_order_of_the_group_in_a_spouses_account_refuses_the_harvest(book, pm):
    """A released proposal's purchase not yet filled washes the loss once it is (IRC §1091(a))."""
    account = book["account"]
    spouse = make_account("A-1-SP", model=book["model"], household=account.household, holdings=[])
    Account.objects.filter(pk=spouse.pk).update(spouse=Account.Spouse.SECOND)
    release(spouse, [buy("ITOT", 10, 100.0)], pm=pm, as_of=PRICED)
    harvest = make_proposal(account, status=Proposal.Status.APPROVED, as_of=PRICED)
    harvest.result = {"trades": [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], "summary": {}}
    harvest.save(update_fields=["result"])

    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=harvest, user=pm, today=RELEASED)

    assert refused.value.code == "wash_sale_window"
    assert "open order buys ITOT in A-1-SP" in refused.value.message
    assert refused.value.detail["harmless_from"] is None
    assert refused.value.detail["purchases"] == [{"account": "A-1-SP", "symbol": "ITOT", "day": None}]


def test_the_release_window_against_a_plain_reading_of_the_rule(book, pm):
    """Random purchases (by trade record or by a lot bought, in the account itself, its IRA or the
    spouse's), sales at a gain or a loss, wash sales allowed or not: the release refuses exactly
    when a simple reading of IRC §1091(a) says the sale would be washed."""
    account = book["account"]
    ira = make_account("A-1-IRA", model=book["model"], household=account.household, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    spouse = make_account("A-1-SP", model=book["model"], household=account.household, holdings=[])
    make_account("B-1", model=book["model"], holdings=[])  # another household: its purchases never count
    buyers = {a.custodian_number: a for a in Account.objects.filter(pk__in=[account.pk, ira.pk, spouse.pk])}
    buyers["B-1"] = Account.objects.get(custodian_number="B-1")
    securities = {s.symbol: s for s in Security.objects.all()}
    rng = random.Random(20261121)
    seen = set()

    class Undo(Exception):
        pass

    for case in range(40):
        buyer, symbol = rng.choice(sorted(buyers)), rng.choice(["VTI", "ITOT", "BND"])
        days_before, price = rng.randint(0, 40), rng.choice([90.0, 119.0, 121.0, 150.0])
        by_lot, allow = rng.random() < 0.4, rng.random() < 0.2
        day = RELEASED - timedelta(days=days_before)
        # The rule, plainly: A-1-L2 costs 120.00 a share; VTI and ITOT are one group; the window is
        # the 30 days before the sale (and the sale's day); the household's accounts only.
        washed = (price < 120 and not allow and symbol in ("VTI", "ITOT") and days_before <= 30 and buyer != "B-1")
        try:
            with transaction.atomic():
                if by_lot:
                    TaxLot.objects.create(account=buyers[buyer], lot_id=f"P-{case}", security=securities[symbol],
                                          quantity=10, cost_basis=1000, acquired=day)
                else:
                    TradeRecord.objects.create(account=buyers[buyer], security=securities[symbol], side="buy",
                                               quantity=10, price=100, trade_date=day, external_id=f"P-{case}")
                proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=PRICED)
                proposal.parameters = {"wash_sale": {"allow": allow}}
                proposal.result = {"trades": [sell("VTI", 50, price, [("A-1-L2", 50)])], "summary": {}}
                proposal.save(update_fields=["parameters", "result"])
                try:
                    proposal_release(proposal=proposal, user=pm, today=RELEASED)
                    refused = None
                except Conflict as exc:
                    refused = exc
                raise Undo
        except Undo:
            pass
        case_words = (buyer, symbol, days_before, price, by_lot, allow)
        assert (refused is not None) == washed, case_words
        if washed:
            assert refused.code == "wash_sale_window"
            harmless = (day + timedelta(days=31)).isoformat()
            assert refused.detail["harmless_from"] == harmless, case_words
            assert all(part in refused.message for part in (buyer, symbol, day.isoformat(), harmless)), refused.message
        seen.add(washed)
    assert seen == {True, False}


def test_a_release_all_batch_names_the_washed_harvest_and_releases_the_rest(book, pm):
    today = timezone.localdate()
    account = book["account"]
    ira = make_account("A-1-IRA", model=book["model"], household=account.household, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    other = make_account("C-1", model=book["model"], holdings=[("VTI", 10, 1500, date(2026, 6, 1))])
    TradeRecord.objects.create(account=ira, security=Security.objects.get(symbol="VTI"), side="buy", quantity=50,
                               price=100, trade_date=today - timedelta(days=3), external_id="IRA-BUY")
    harvest = make_proposal(account, status=Proposal.Status.APPROVED, as_of=today)
    fine = make_proposal(other, status=Proposal.Status.APPROVED, as_of=today)
    for proposal, lot in ((harvest, "A-1-L2"), (fine, "C-1-L1")):
        proposal.result = {"trades": [sell("VTI", 10, 100.0, [(lot, 10)])], "summary": {}}
        proposal.save(update_fields=["result"])

    batch = release_batch_start(user=pm).batch
    release_batch_execute(batch_id=batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.released, batch.refused) == (ReleaseBatch.Status.COMPLETED, 1, 1)
    [refusal] = batch.refusals
    assert refusal["proposal"] == harvest.pk and "wash sale" in refusal["message"] and "A-1-IRA" in refusal["message"]
    assert not Order.objects.filter(proposal=harvest).exists() and Order.objects.filter(proposal=fine).exists()

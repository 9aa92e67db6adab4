"""An approved purchase is not released after a loss sale of its group became known.

A-1 (taxable) holds A-1-L2: 50 VTI at 120.00. On 2026-11-19 a run proposes that its IRA buy 50
ITOT (VTI and ITOT are one group), and the proposal is approved. On 11-20 A-1's harvest of A-1-L2
at 100 (a 1,000 loss), released after that run, is filled. Released on 11-21 and filled, the IRA's
purchase would wash that loss, for good since the buyer is an IRA (IRC §1091(a): a purchase within
30 days after the sale; Rev. Rul. 2008-5): the release refuses, naming the sale and the day the
purchase is harmless (12-21, the 31st day after the sale).
"""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, Order, Proposal, RealisedLot, Security, TradeRecord
from rebalancing.services.proposals import proposal_release
from tenants.errors import Conflict
from tests.rebalancing.test_qa_workflow_household_release import household_legs
from tests.rebalancing.workflow import policy

from ..rebalancing.book import make_account
from ..rebalancing.workflow import make_proposal
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
RUN = date(2026, 11, 19)
SOLD = date(2026, 11, 20)
RELEASED = date(2026, 11, 21)


def _ira(book) -> Account:
    ira = make_account("A-1-IRA", model=book["model"], household=book["account"].household, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    ira.refresh_from_db()
    return ira


def _approved(account, trades: list[dict], *, parameters: dict | None = None, as_of: date = RUN) -> Proposal:
    proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=as_of)
    proposal.parameters = parameters or {}
    proposal.result = {"trades": trades, "summary": {}}
    proposal.save(update_fields=["parameters", "result"])
    return proposal


def _harvested(book, pm, day: date = SOLD) -> None:
    """A-1's harvest of A-1-L2 (50 VTI at 120.00) at 100, released and filled on ``day``."""
    [order] = release(book["account"], [sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))], pm=pm,
                      as_of=day)
    executions_import(source=execution_csv(fill("HARVEST", order, 50, "100", day)), actor="custodian feed", as_of=day)


def test_a_purchase_after_a_loss_sale_booked_since_its_run_is_refused(book, pm):
    ira = _ira(book)
    purchase = _approved(ira, [buy("ITOT", 50, 100.0)])
    _harvested(book, pm)

    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=purchase, user=pm, today=RELEASED)

    assert refused.value.code == "wash_sale_window"
    message = refused.value.message
    # The purchase, the sale (account, lot, day, loss), the IRA's loss for good, and the harmless day.
    for part in ("buys ITOT in A-1-IRA", "sold lot A-1-L2 of VTI in A-1 on 2026-11-20 at a loss of $1,000.00",
                 "Rev. Rul. 2008-5", "within 30 days after a loss sale", "harmless from 2026-12-21"):
        assert part in message, message
    assert refused.value.detail["harmless_from"] == "2026-12-21"
    assert refused.value.detail["sales"] == [{"account": "A-1", "symbol": "VTI", "lot_id": "A-1-L2",
                                              "day": "2026-11-20", "loss": "1000.00"}]
    purchase.refresh_from_db()
    assert purchase.status == Proposal.Status.APPROVED
    assert not Order.objects.filter(proposal=purchase).exists()


def test_on_the_31st_day_or_with_wash_sales_allowed_the_purchase_is_released(book, pm):
    ira = _ira(book)
    later = _approved(ira, [buy("ITOT", 10, 100.0)], as_of=SOLD + timedelta(days=30))
    allowed = _approved(ira, [buy("VTI", 10, 100.0)], parameters={"wash_sale": {"allow": True}})
    _harvested(book, pm)

    proposal_release(proposal=allowed, user=pm, today=RELEASED)
    proposal_release(proposal=later, user=pm, today=SOLD + timedelta(days=31))

    assert Order.objects.filter(proposal__in=[allowed, later]).count() == 2


def test_a_loss_whose_shares_a_purchase_already_replaced_is_not_washed_again(book, pm):
    """Treas. Reg. §1.1091-1(c): each share sold at a loss is matched with one share bought, once."""
    ira = _ira(book)
    purchase = _approved(ira, [buy("ITOT", 50, 100.0)])
    _harvested(book, pm)
    RealisedLot.objects.filter(execution__external_id="HARVEST").update(wash_matched_quantity=50)

    proposal_release(proposal=purchase, user=pm, today=RELEASED)

    assert Order.objects.filter(proposal=purchase).exists()


def test_an_open_order_selling_the_group_at_a_loss_refuses_the_purchase(book, pm):
    """A released harvest not yet filled washes nothing yet, but will once it is (IRC §1091(a))."""
    spouse = make_account("A-1-SP", model=book["model"], household=book["account"].household, holdings=[])
    purchase = _approved(spouse, [buy("VTI", 10, 100.0)])
    harvest = sell("VTI", 50, 100.0, [("A-1-L2", 50)], reasons=("harvest",))
    harvest["lots"][0]["gain"] = -1000.0
    release(book["account"], [harvest], pm=pm, as_of=SOLD)

    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=purchase, user=pm, today=RELEASED)

    assert "an open order sells VTI in A-1 at a loss of $1,000.00" in refused.value.message
    assert "Rev. Rul. 2008-5" not in refused.value.message  # a spouse's taxable account: the loss is deferred
    assert refused.value.detail["harmless_from"] is None
    assert refused.value.detail["sales"] == [{"account": "A-1", "symbol": "VTI", "lot_id": "", "day": None,
                                              "loss": "1000.00"}]


def test_a_households_legs_stay_approved_together(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@washing-legs.example", "portfolio_manager")
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        lees, legs = household_legs({"joint": Proposal.Status.APPROVED, "ira": Proposal.Status.APPROVED})
        legs["ira"].result = {"trades": [buy("VTI", 10, 100.0)], "summary": {}}
        legs["ira"].save(update_fields=["result"])
        # A trades file's loss sale of the joint account, booked after the run.
        TradeRecord.objects.create(account=lees["joint"], security=Security.objects.get(symbol="ITOT"), side="sell",
                                   quantity=5, price=90, trade_date=date.today(), realised_gain=Decimal("-50.00"),
                                   external_id="JT-LOSS")

        with pytest.raises(Conflict) as refused:
            proposal_release(proposal=legs["joint"], user=pm)

        assert refused.value.code == "wash_sale_window"
        assert f"sold ITOT in LEE-JT on {date.today():%Y-%m-%d} at a loss of $50.00" in refused.value.message
        assert set(Proposal.objects.filter(pk__in=[p.pk for p in legs.values()]).values_list("status", flat=True)) == {
            Proposal.Status.APPROVED}
        assert not Order.objects.exists()


def test_the_release_window_against_a_plain_reading_of_the_rule(book, pm):
    """Random loss and gain sales (the ledger's realised lots, part washed already or not, or a
    trades file's), in the account itself, its IRA, the spouse's or another household's, some days
    before the release; random purchases in any account of the household, wash sales allowed or
    not: the release refuses exactly when a simple reading of IRC §1091(a) says the purchase would
    wash a loss."""
    account = book["account"]
    ira = _ira(book)
    spouse = make_account("A-1-SP", model=book["model"], household=account.household, holdings=[])
    make_account("B-1", model=book["model"], holdings=[])  # another household: its sales never count
    sellers = {a.custodian_number: a for a in Account.objects.all()}
    securities = {s.symbol: s for s in Security.objects.all()}
    # An execution for the realised lots to hang on: A-1-L1 sold at a gain long before.
    [order] = release(account, [sell("VTI", 10, 100.0, [("A-1-L1", 10)])], pm=pm, as_of=date(2026, 6, 1))
    executions_import(source=execution_csv(fill("BASE", order, 10, "100", date(2026, 6, 1))), actor="feed",
                      as_of=date(2026, 6, 1))
    base = RealisedLot.objects.get(execution__external_id="BASE").execution
    rng = random.Random(20261121)
    seen = set()

    class Undo(Exception):
        pass

    for case in range(40):
        seller, sold = rng.choice(sorted(sellers)), rng.choice(["VTI", "ITOT", "BND"])
        days_before, gain = rng.randint(0, 40), rng.choice([Decimal("-300.00"), Decimal("-0.50"), Decimal("200.00")])
        by_lot, matched = rng.random() < 0.5, rng.choice([0, 0, 4, 10])
        buyer, bought = rng.choice([account, ira, spouse]), rng.choice(["VTI", "ITOT", "BND"])
        allow = rng.random() < 0.2
        day = RELEASED - timedelta(days=days_before)
        # The rule, plainly: a loss in a taxable account of the household, sold in the 30 days
        # before the purchase (or that day), of the group bought (VTI and ITOT are one), with
        # shares of it no purchase replaced yet (only a realised lot tells of those).
        def group(symbol):
            return "us_total" if symbol in ("VTI", "ITOT") else symbol

        washed = (gain < 0 and sellers[seller].taxable and seller != "B-1" and days_before <= 30
                  and group(sold) == group(bought) and not (by_lot and matched == 10) and not allow)
        try:
            with transaction.atomic():
                if by_lot:
                    RealisedLot.objects.create(
                        account=sellers[seller], execution=base, lot_id=f"S-{case}", security=securities[sold],
                        quantity=10, proceeds=1000, cost_basis=1000 - gain, gain=gain, term="short",
                        acquired=date(2026, 1, 5), purchased=date(2026, 1, 5), sold=day, wash_matched_quantity=matched)
                else:
                    TradeRecord.objects.create(account=sellers[seller], security=securities[sold], side="sell",
                                               quantity=10, price=100, trade_date=day, realised_gain=gain,
                                               external_id=f"S-{case}")
                purchase = _approved(buyer, [buy(bought, 10, 100.0)],
                                     parameters={"wash_sale": {"allow": allow}}, as_of=RELEASED)
                try:
                    proposal_release(proposal=purchase, user=pm, today=RELEASED)
                    refused = None
                except Conflict as exc:
                    refused = exc
                raise Undo
        except Undo:
            pass
        case_words = (seller, sold, days_before, gain, by_lot, matched, buyer.custodian_number, bought, allow)
        assert (refused is not None) == washed, case_words
        if washed:
            assert refused.code == "wash_sale_window"
            harmless = (day + timedelta(days=31)).isoformat()
            loss = -gain * (10 - (matched if by_lot else 0)) / 10
            assert refused.detail["harmless_from"] == harmless, case_words
            assert all(part in refused.message for part in (
                seller, sold, bought, day.isoformat(), harmless, f"${loss:,.2f}")), refused.message
            assert ("Rev. Rul. 2008-5" in refused.message) == (buyer == ira), refused.message
        seen.add(washed)
    assert seen == {True, False}

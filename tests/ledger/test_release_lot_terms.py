"""A proposal prices each lot it sells as short- or long-term on its run's day. Released on a
later day, a lot may have crossed its one-year line, so its sale would be taxed at the other rate
and the estimate (and the choice of lots) be wrong for any fill that can happen: the release
expires it instead, naming the lots and the day each turned long-term, and sends nothing."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from rebalancing.models import Order, Proposal, TaxLot
from rebalancing.services.lot_terms import lots_turned
from rebalancing.services.proposals import proposal_release
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict

from ..rebalancing.book import AS_OF, make_account
from ..rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db

RUN_DAY = date(2026, 11, 20)  # a Friday; the proposals below are priced on it
TURNING = date(2025, 11, 20)  # a lot bought then is short-term on RUN_DAY, long-term from 2026-11-21


def lot_sale(lot_id: str, quantity: float, price: float, basis: float, term: str) -> dict:
    return {"lot_id": lot_id, "quantity": quantity, "proceeds": quantity * price, "cost_basis": basis,
            "gain": quantity * price - basis, "term": term}


def proposal_selling(account, lots: list[dict], *, symbol="VTI", price=100.0, as_of=RUN_DAY) -> Proposal:
    proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=as_of)
    quantity = sum(lot["quantity"] for lot in lots)
    proposal.result = {"trades": [{"symbol": symbol, "side": "sell", "quantity": quantity, "price": price,
                                   "value": quantity * price, "reasons": ["drift"], "lots": lots}],
                       "summary": {}}
    proposal.save(update_fields=["result"])
    return proposal


@pytest.fixture
def turning(book):
    """A-1 with a third VTI lot, bought a year before the run's day, sold by an approved proposal."""
    account = book["account"]
    TaxLot.objects.create(account=account, lot_id="A-1-L3", security=book["securities"]["VTI"], quantity=Decimal(40),
                          cost_basis=Decimal(4400), acquired=TURNING)
    return proposal_selling(account, [lot_sale("A-1-L3", 40, 100.0, 4400, "short"),
                                      lot_sale("A-1-L1", 10, 100.0, 800, "long")])


def test_released_after_a_lot_turned_long_term_the_proposal_expires_naming_the_lot_and_nothing_goes_out(turning, pm):
    with pytest.raises(Conflict) as refused:
        proposal_release(proposal=turning, user=pm, today=date(2026, 11, 23))

    assert refused.value.code == "lot_terms_changed"
    assert ("it prices its sales as of 2026-11-20, and on 2026-11-23 lot A-1-L3 of VTI (A-1) is long-term from "
            "2026-11-21: the proposal prices its sale as short-term") in refused.value.message
    assert "rebalance the account again" in refused.value.message
    assert refused.value.detail["lots"] == [{"proposal": turning.pk, "account": "A-1", "lot_id": "A-1-L3",
                                             "priced_as": "short", "term": "long", "long_term_from": "2026-11-21"}]
    assert Proposal.objects.get(pk=turning.pk).status == Proposal.Status.EXPIRED
    assert not Order.objects.exists()
    expiry = AuditEvent.objects.filter(action="proposal.expire").get()
    assert "1 lot sold turned long-term since the run's day (2026-11-20)" in expiry.comment


def test_released_on_its_run_day_or_before_the_lot_turns_it_goes_out(turning, pm):
    assert lots_turned(turning, date(2026, 11, 20)) == []

    proposal_release(proposal=turning, user=pm, today=date(2026, 11, 20))

    assert Proposal.objects.get(pk=turning.pk).status == Proposal.Status.RELEASED
    assert [(o.side, o.quantity) for o in Order.objects.all()] == [("sell", 50)]


def test_an_iras_lots_have_no_term_that_matters(book, pm):
    ira = make_account("IRA-1", model=book["model"], template=book["template"],
                       holdings=[("VTI", 40, 4400, TURNING)])
    ira.tax_status = "traditional"
    ira.save(update_fields=["tax_status"])
    proposal = proposal_selling(ira, [lot_sale("IRA-1-L1", 40, 100.0, 4400, "short")])

    proposal_release(proposal=proposal, user=pm, today=date(2026, 11, 23))

    assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.RELEASED


def test_a_gift_below_the_donors_basis_sold_at_a_loss_counts_from_the_gift_day(book, pm):
    """IRC §1015(a) / §1223(2): sold below the value on the gift day, the loss is measured from that
    value and the holding period starts on the gift; sold above the donor's basis, the donor's
    holding period (2010) carries over and nothing turns."""
    account = book["account"]
    TaxLot.objects.create(account=account, lot_id="A-1-G1", security=book["securities"]["VTI"], quantity=Decimal(10),
                          cost_basis=Decimal(1500), acquired=date(2010, 3, 1), gift_date=TURNING,
                          gift_unit_value=Decimal(120))
    at_a_loss = proposal_selling(account, [lot_sale("A-1-G1", 10, 100.0, 1200, "short")])
    above_basis = proposal_selling(account, [lot_sale("A-1-G1", 10, 160.0, 1500, "long")], price=160.0)

    assert [(t.lot_id, t.long_term_from) for t in lots_turned(at_a_loss, date(2026, 11, 23))] == [
        ("A-1-G1", date(2026, 11, 21))]
    assert lots_turned(above_basis, date(2026, 11, 23)) == []


def _long_from_reference(acquired: date) -> date:
    """Held more than a year: from the day after the first anniversary (Pub. 550); a lot bought on
    29 February has its anniversary on 28 February of a common year (Rev. Rul. 66-7's
    last-day-of-month rule gives the same day)."""
    try:
        anniversary = acquired.replace(year=acquired.year + 1)
    except ValueError:
        anniversary = date(acquired.year + 1, 2, 28)
    return anniversary + timedelta(days=1)


def test_the_lots_judged_turned_are_those_whose_term_differs_between_the_two_days_over_random_books(book, pm):
    rng = random.Random(20261206)
    account = book["account"]
    vti = book["securities"]["VTI"]
    for case in range(40):
        run_day = RUN_DAY - timedelta(days=rng.randrange(0, 400))
        release_day = run_day + timedelta(days=rng.randrange(0, 45))
        TaxLot.objects.filter(account=account, lot_id__startswith="R").delete()
        sales, expected = [], set()
        for n in range(8):
            acquired = run_day - timedelta(days=rng.randrange(300, 420))
            lot_id = f"R{case}-{n}"
            TaxLot.objects.create(account=account, lot_id=lot_id, security=vti, quantity=Decimal(5),
                                  cost_basis=Decimal(500), acquired=acquired)
            priced_as = "long" if run_day >= _long_from_reference(acquired) else "short"
            sales.append(lot_sale(lot_id, 5, 100.0, 500, priced_as))
            if priced_as == "short" and release_day >= _long_from_reference(acquired):
                expected.add(lot_id)
        proposal = proposal_selling(account, sales, as_of=run_day)

        assert {t.lot_id for t in lots_turned(proposal, release_day)} == expected, (run_day, release_day)
    assert AS_OF == RUN_DAY  # the book's lots and prices are of the run's day

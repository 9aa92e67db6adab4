"""The transition report prices a gifted lot as a sale at today's price would (IRC §1015(a), Pub. 551
"Property Received as a Gift"): the donor's basis, unless the lot was worth less than it on the gift
day - then that value is the basis for a loss, and a price between the two realises neither gain nor
loss; the holding period is the donor's, or starts at the gift when the loss basis is used (§1223(2)).
Checked against worked cases and a plain reading of the rule over random gifts."""

import random
from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.reports import transition
from rebalancing.models import Account, Proposal, TaxLot

from ..rebalancing.book import AS_OF, make_account, make_template
from ..rebalancing.workflow import make_proposal

pytestmark = pytest.mark.django_db

SCHB_PRICE = D(25)  # the book's price for SCHB on AS_OF: 400 shares are worth 10,000
SHARES = 400


@pytest.fixture
def gifted(book):
    """G-1 holds a gifted SCHB lot outside its model (legacy) and a legacy AGG lot with a 5,000 gain."""
    template = make_template("transition", parameters={"transition": {"enabled": True, "max_net_gain_per_year": 3000}})
    account = make_account("G-1", model=book["model"], template=template, cash="1000", holdings=[
        ("SCHB", SHARES, 12000, date(2020, 1, 2)), ("AGG", 50, 0, date(2020, 1, 2))])
    Proposal.objects.filter(pk=make_proposal(account).pk).update(drift_before=0.5)
    return account


def _gift(account, donor_basis, fair_value, gifted=date(2024, 3, 1)) -> None:
    TaxLot.objects.filter(account=account, lot_id="G-1-L1").update(
        cost_basis=D(donor_basis), gift_date=gifted, gift_unit_value=D(fair_value) / SHARES)


def _row(account):
    [row] = transition(accounts=Account.objects.filter(pk=account.pk), as_of=AS_OF)
    return row


def test_a_gift_priced_between_its_two_bases_realises_nothing(gifted):
    _gift(gifted, 12000, 8000)  # worth 10,000 today: between 8,000 and 12,000
    row = _row(gifted)
    assert row.legacy_gain == D("5000.00")  # AGG's alone
    assert row.years_left == 2  # 5,000 at 3,000 a year


def test_a_gift_below_its_value_on_the_gift_day_loses_from_that_value(gifted):
    _gift(gifted, 12000, 11000)  # worth 10,000 today: a 1,000 loss from the gift day's value, not 2,000
    assert _row(gifted).legacy_gain == D("4000.00")


def test_a_gift_above_the_donors_basis_gains_from_it(gifted):
    _gift(gifted, 9000, 8000)  # worth 10,000 today, above the donor's 9,000: a 1,000 gain
    assert _row(gifted).legacy_gain == D("6000.00")


def _reference_gain(value: D, donor_basis: D, fair_value: D) -> D:
    """Pub. 551, read plainly: the gain uses the donor's basis; the loss uses the smaller of the donor's
    basis and the value on the gift day; if the first gives a loss and the second a gain, neither."""
    gain = value - donor_basis
    if gain >= 0:
        return gain
    loss = value - min(donor_basis, fair_value)
    return loss if loss < 0 else D(0)


def test_the_legacy_gain_follows_the_rule_over_random_gifts(gifted):
    rng = random.Random(20261206)
    value = SCHB_PRICE * SHARES
    for _ in range(40):
        donor_basis, fair_value = D(rng.randrange(4000, 16000)), D(rng.randrange(4000, 16000))
        _gift(gifted, donor_basis, fair_value)
        expected = _reference_gain(value, donor_basis, fair_value) + D(5000)
        assert _row(gifted).legacy_gain == expected, (donor_basis, fair_value)

"""The proposal page's realised figures and tax estimate: totals that add up to the lot lines shown,
an IRA's or Roth's gains labelled as not taxed, the tax estimate's year and sign in words, and the
loss a net-loss proposal carries beyond the year's deduction."""

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from frontend.templatetags.formatting import tax_effect
from frontend.views.proposals import gains_shown
from rebalancing.models import Account, Household, Proposal

pytestmark = pytest.mark.django_db


def _lot(lot_id, gain, term="long", disallowed=0.0):
    return {"lot_id": lot_id, "quantity": 10.0, "proceeds": 1000.0, "cost_basis": 1000.0 - gain, "gain": gain,
            "term": term, "disallowed_loss": disallowed}


def _sale(symbol, realised_gain, lots):
    return {"symbol": symbol, "side": "sell", "quantity": 10.0, "price": 100.0, "value": 1000.0,
            "reasons": ["drift"], "lots": lots, "realised_gain": realised_gain, "trading_cost": 0.0}


# The trade's stored gain is the sum of the unrounded lot gains, rounded once: -2,565.32 against
# lot lines of -1,282.67 each (-2,565.34); the summary's long-term loss likewise.
AVGO = _sale("AVGO", -2565.32, [_lot("L1", -1282.67), _lot("L2", -1282.67)])
FE = _sale("FE", -328.41, [_lot("F1", -100.14, "short"), _lot("F2", -228.29, "short")])
BUY = {"symbol": "VTI", "side": "buy", "quantity": 5.0, "price": 200.0, "value": 1000.0, "reasons": ["drift"],
       "lots": [], "realised_gain": 0.0, "trading_cost": 0.0}
SUMMARY = {"realised_short_term_gain": 0.0, "realised_short_term_loss": 328.41, "realised_long_term_gain": 0.0,
           "realised_long_term_loss": 2565.28, "disallowed_losses": 0.0, "net_realised_gain": -2893.69}


def test_gains_shown_are_the_sums_of_the_lot_lines_to_the_cent():
    # Given a stored result whose totals were rounded once from unrounded lot gains
    # When the page's figures are made
    gains = gains_shown([AVGO, FE, BUY], SUMMARY)
    # Then each sale's gain and each term's total are the sums of the lot lines as shown
    assert gains.trade_gains == (Decimal("-2565.34"), Decimal("-328.43"), None)
    assert (gains.long_term_loss, gains.short_term_loss) == (Decimal("2565.34"), Decimal("328.43"))
    assert (gains.long_term_gain, gains.short_term_gain) == (0, 0)
    assert gains.net == Decimal("-2893.77")
    assert gains.from_lots and gains.differs


def test_gains_shown_count_a_disallowed_loss_as_not_realised_and_keep_a_sale_without_lots_stored():
    # Given a lot whose loss of 300 is 100 disallowed by a wash sale, and a gain lot
    sale = _sale("X", 199.99, [_lot("a", -300.0, "short", disallowed=100.0), _lot("b", 499.99, "short")])
    gains = gains_shown([sale], {})
    # Then 200 of short-term loss is recognised, 100 disallowed, against 499.99 of gain
    assert (gains.short_term_gain, gains.short_term_loss, gains.disallowed_losses) == (
        Decimal("499.99"), Decimal("200.00"), Decimal("100.00"))
    # And a sale that lists no lots keeps the stored totals
    bare = gains_shown([_sale("Y", -5.0, [])], SUMMARY)
    assert not bare.from_lots and bare.long_term_loss == Decimal("2565.28") and bare.trade_gains == (Decimal("-5.00"),)
    # as does one whose lots carry no gain (a line showing none adds up to nothing)
    no_gain = gains_shown([_sale("Z", 1740.0, [{"lot_id": "z", "quantity": 87}])], SUMMARY)
    assert not no_gain.from_lots and no_gain.trade_gains == (Decimal("1740.00"),)


def test_tax_effect_says_saves_or_adds():
    assert tax_effect(-1224) == "saves $1,224.00"
    assert tax_effect(1050.5) == "adds $1,050.50"
    assert tax_effect(0) == "none"
    assert tax_effect(-0.001) == "none"
    assert tax_effect(None) == "—"


def _store(proposal, trades, summary, tax_status=None):
    result = proposal.result
    result["trades"] = trades
    result["summary"] = {**result["summary"], **summary}
    Proposal.objects.filter(pk=proposal.pk).update(result=result)
    if tax_status:
        Account.objects.filter(pk=proposal.account_id).update(tax_status=tax_status)


def _text(page, testid):
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:td|dd|p|span)>', page, re.S)
    assert found, testid
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_page_shows_trade_and_term_totals_that_add_up_to_the_lots_shown(book, as_user, firm_a):
    # Given a proposal stored with totals rounded once from unrounded lot gains
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        _store(proposal, [AVGO, FE, BUY], SUMMARY)
    # When its page is read
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    # Then the sales' gains and the terms' totals are those of the lot lines
    assert "2,565.34" in page and "2,565.32" not in page
    assert "328.43" in page and "328.41" not in page
    assert _text(page, "long-loss") == "$2,565.34"
    assert _text(page, "short-loss") == "$328.43"
    assert _text(page, "net-gain") == "\u2212$2,893.77"
    assert 'data-testid="totals-from-lots"' in page


def test_a_proposal_whose_totals_match_its_lots_has_no_note_on_rounding(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        _store(proposal, [FE], {**SUMMARY, "realised_short_term_loss": 328.43, "realised_long_term_loss": 0.0})
        FE_exact = {**FE, "realised_gain": -328.43}
        _store(proposal, [FE_exact], {})
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'data-testid="totals-from-lots"' not in page


@pytest.mark.parametrize("status", [Account.TaxStatus.TRADITIONAL, Account.TaxStatus.ROTH])
def test_an_iras_realised_figures_are_labelled_not_taxed(book, as_user, firm_a, status):
    # Given a traditional IRA's (or Roth's) proposal realising a loss and a gain
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        _store(proposal, [AVGO, FE], {**SUMMARY, "estimated_tax": 0.0}, tax_status=status)
        label = Account.TaxStatus(status).label
    # When its page is read
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    # Then the realised figures say they carry no capital gains tax
    assert _text(page, "not-taxed").startswith(f"Inside a {label}: no capital gains tax.")
    assert f"none inside a {label}: no capital gains tax" in _text(page, "estimated-tax")
    assert _text(page, "gain-not-taxed") == "(inside an IRA: not taxed)"
    assert 'data-testid="carryover"' not in page  # an IRA's loss carries nothing forward


def test_a_taxable_proposal_is_not_labelled_untaxed(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        _store(proposal, [AVGO], {**SUMMARY, "estimated_tax": -1224.0}, tax_status=Account.TaxStatus.TAXABLE)
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'data-testid="not-taxed"' not in page and 'data-testid="gain-not-taxed"' not in page


def test_the_tax_estimate_names_its_year_and_says_saves_and_the_loss_carried_forward(book, as_user, firm_a):
    # Given a taxable proposal harvesting a net loss, estimated to save 1,224 this year
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).select_related("run").get()
        _store(proposal, [AVGO, FE], {**SUMMARY, "estimated_tax": -1224.0}, tax_status=Account.TaxStatus.TAXABLE)
        year = proposal.run.as_of.year
    # When its page is read
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    # Then the estimate says which year and that it is a saving, with no bare minus sign
    assert f"<dt>Estimated tax for {year}</dt>" in page
    assert _text(page, "estimated-tax") == "saves $1,224.00"
    assert _text(page, "tax-row") == "saves $1,224.00"
    assert "\u2212$1,224" not in page
    # and that the loss beyond the year's 3,000 deduction carries forward, outside the figure
    carry = _text(page, "carryover")
    assert "at most $3,000 deducted from ordinary income" in carry
    assert "carry forward into later years" in carry and "not in this figure" in carry


def test_filing_separately_the_carryover_note_names_the_1500_limit(book, as_user, firm_a):
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        _store(proposal, [AVGO], {**SUMMARY, "estimated_tax": -640.0}, tax_status=Account.TaxStatus.TAXABLE)
        Household.objects.filter(pk=proposal.account.household_id).update(
            filing_status=Household.FilingStatus.SEPARATE)
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    assert "at most $1,500 deducted" in _text(page, "carryover")


def test_a_proposal_adding_tax_says_adds_and_has_no_carryover_note(book, as_user, firm_a):
    gain = _sale("MSFT", 5000.0, [_lot("M1", 5000.0)])
    with tenant_context(firm_a):
        proposal = Proposal.objects.filter(run=book["run"], account=book["mine"][0]).get()
        _store(proposal, [gain], {"realised_long_term_gain": 5000.0, "realised_long_term_loss": 0.0,
                                  "realised_short_term_loss": 0.0, "estimated_tax": 1190.0},
               tax_status=Account.TaxStatus.TAXABLE)
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    assert _text(page, "estimated-tax") == "adds $1,190.00"
    assert 'data-testid="carryover"' not in page

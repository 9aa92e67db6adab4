"""The household tax budget's tax of the year so far: each return once, netted whole (Schedule D,
Pub. 550; IRC §1211(b), §1212(b)), never account by account."""

import pytest

from rebalancing.engine import Account, TaxReturn
from rebalancing.household_parameters import tax_budget_left, tax_realised_ytd


def _on(returns, name, **fields):
    return Account(id=name, cash=0.0, short_term_rate=0.37, long_term_rate=0.238, tax_returns=returns, **fields)


def test_two_accounts_on_one_return_are_netted_together_once():
    # A realised a 20,000 short-term loss, B a 10,000 long-term gain: the return nets -10,000 and
    # deducts 3,000 (-1,110); account by account it was -1,110 + 2,380 = 1,270
    household = (TaxReturn(short_term_ytd=-20_000.0, long_term_ytd=10_000.0, id="household"),)
    accounts = [_on(household, "A", realised_short_term_ytd=-20_000.0),
                _on(household, "B", realised_long_term_ytd=10_000.0),
                Account(id="IRA", cash=0.0, taxable=False, realised_short_term_ytd=50_000.0)]
    assert tax_realised_ytd(accounts) == pytest.approx(-1_110.0)
    assert tax_budget_left(5_000, accounts) == pytest.approx(6_110.0)


def test_spouses_filing_separately_are_two_returns_each_with_its_carried_loss():
    # the first spouse's return: 4,000 short-term gain less 1,000 carried - 1,110 where it would
    # have been -370 with no sale (the carried loss is deducted either way), so its sales cost 1,480;
    # the second's: a 2,500 long-term loss, deducted to 1,500 (-555); a joint account is on both
    # and counts each once
    first = TaxReturn(short_term_ytd=4_000.0, carried_short=1_000.0, loss_limit=1_500.0, share=0.5, id="first")
    second = TaxReturn(long_term_ytd=-2_500.0, loss_limit=1_500.0, share=0.5, id="second")
    accounts = [_on((first, second), "J"), _on((TaxReturn(4_000.0, 0, 1_000.0, 0, 1_500.0, 1.0, "first"),), "A")]
    assert tax_realised_ytd(accounts) == pytest.approx((3_000 + 1_000) * 0.37 - 1_500 * 0.37)

"""A withdrawal far beyond the household is refused naming what the household can really raise: the
figure is summed from what its accounts hold, not found as ``amount - what is left``, which in floating
point is nothing once the amount dwarfs the household (1e300 less $80,000 is 1e300)."""

import json

import pytest

from rebalancing.engine import InvalidRequest, plan_withdrawal
from rebalancing.engine.__main__ import main

from .builders import EXAMPLES
from .test_withdrawal import sample_household

HOUSEHOLD = str(EXAMPLES / "household" / "three_accounts.json")  # as_of 2025-06-30; TAX, IRA (traditional), ROTH


def _error(capsys) -> dict:
    return json.loads(capsys.readouterr().err)["error"]


def test_an_absurd_amount_does_not_say_the_household_can_raise_nothing(capsys):
    # Ported from the input audit (engine CLI). The household holds $80,000 it can raise (the answer
    # for $1e12 says so); for 1e300 the message said "can raise only $0.00" with available 0.0.
    assert main(["withdraw", HOUSEHOLD, "--amount", "1e12"]) == 2
    assert _error(capsys)["detail"]["available"] == 80000.0
    for amount in ("1e18", "1e300"):
        assert main(["withdraw", HOUSEHOLD, "--amount", amount]) == 2
        error = _error(capsys)
        assert error["message"].startswith("the household can raise only $80,000.00 of the $1,000,000,"), error["message"][:120]
        assert error["detail"] == {"amount": float(amount), "available": 80000.0}


def _holds(request) -> float:
    """Everything the household may raise: each account's cash and its lots at today's price (the
    sample household has no lot a wash sale keeps)."""
    prices = {s.symbol: s.price for s in request.securities}
    return sum(a.request.account.cash + sum(x.quantity * prices[x.symbol] for x in a.request.account.lots)
               for a in request.accounts)


@pytest.mark.parametrize("amount", [1e7, 1e18, 1e300])
@pytest.mark.parametrize("owed", [(), [(("IRA",), 700.0)]])
def test_the_refusal_names_all_the_household_holds_whatever_the_amount_and_an_rmd_owed(amount, owed):
    request = sample_household()
    with pytest.raises(InvalidRequest) as refused:
        plan_withdrawal(request, amount=amount, rmd_owed=owed)
    # 300 + 1,000 + 1,000 + 1,000 (taxable), 500 + 2,000 (IRA), 100 + 500 (Roth): $6,400.
    assert _holds(request) == 6_400.0
    assert refused.value.detail == {"amount": amount, "available": 6_400.0}
    assert str(refused.value).startswith("the household can raise only $6,400.00 of the $")


def test_an_rmd_from_one_account_far_beyond_it_names_what_that_account_holds():
    with pytest.raises(InvalidRequest) as refused:
        plan_withdrawal(sample_household(), amount=1e300, kind="rmd", account_id="IRA")
    assert refused.value.detail == {"amount": 1e300, "available": 2_500.0}
    assert str(refused.value).startswith("IRA can raise only $2,500.00 of the $")

"""A withdrawal the household cannot fund is refused naming what was asked and what it can raise, the
same figures whether or not an IRA still owes its RMD (the RMD part is part of the withdrawal)."""

import re

import pytest

from rebalancing.engine import InvalidRequest, plan_withdrawal

from .test_withdrawal import sample_household


def _refusal(**kw):
    with pytest.raises(InvalidRequest) as refused:
        plan_withdrawal(sample_household(), amount=100_000.0, **kw)
    return refused.value


def test_the_refusal_names_the_amount_asked_and_all_it_can_raise_when_an_rmd_is_owed():
    plain = _refusal()
    owed = _refusal(rmd_owed=[(("IRA",), 700.0)])
    assert "of the $100,000.00 asked" in str(plain)
    # Before: "can raise only $5,700.00 of the $99,300.00 asked" - the RMD's $700 left out of both.
    assert "of the $100,000.00 asked" in str(owed), str(owed)
    raised = re.search(r"can raise only (\$[\d,.]+)", str(plain)).group(1)
    assert f"can raise only {raised} " in str(owed), str(owed)

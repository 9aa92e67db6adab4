"""The engine CLI's ``withdraw --born ACCOUNT=YYYY-MM-DD``: a traditional account's owner's date of
birth (under 59½ that IRA comes last and bears the 10% early-distribution tax, IRC §72(t)). A typo
in the account, another kind of account or a date after the request's day is refused, status 2."""

import json

import pytest

from rebalancing.engine.__main__ import main

from .builders import EXAMPLES

HOUSEHOLD = str(EXAMPLES / "household" / "three_accounts.json")  # as_of 2025-06-30; TAX, IRA (traditional), ROTH


def _error(capsys) -> dict:
    return json.loads(capsys.readouterr().err)["error"]


@pytest.mark.parametrize(("born", "named"), [
    ("IRAA=1980-01-01", "IRAA"),  # no such account: the ordering and the early tax silently dropped
    ("TAX=1980-01-01", "TAX"),  # a taxable account: the date was ignored
    ("ROTH=1980-01-01", "ROTH"),
    ("IRA=2099-01-01", "2099-01-01"),  # born after the request's day
    ("IRA=9999-01-01", "9999-01-01"),  # (59½ years later is off the calendar: a ValueError before)
])
def test_a_born_option_that_is_no_traditional_owner_is_refused_naming_it(capsys, born, named):
    status = main(["withdraw", HOUSEHOLD, "--amount", "100", "--born", born])
    assert status == 2, capsys.readouterr().out[:200]
    error = _error(capsys)
    assert error["code"] == "invalid_request"
    assert named in error["message"]


def test_a_traditional_owner_under_59_and_a_half_is_read(capsys):
    # Born 1980: 45 on 2025-06-30, so the IRA is the last source and its distribution bears 10%.
    assert main(["withdraw", HOUSEHOLD, "--amount", "100", "--born", "IRA=1980-01-01"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["raised"] == 100.0
    assert "IRA" not in plan["distributions"]
    # Born on the request's day itself: a date of birth, not a refusal.
    assert main(["withdraw", HOUSEHOLD, "--amount", "100", "--born", "IRA=2025-06-30"]) == 0

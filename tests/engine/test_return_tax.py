"""One return, several accounts: a proposal's estimated tax is what it adds to its return's
Schedule D (IRS Pub. 550, "Capital Gains and Losses"; IRC §1211(b), §1212(b)). Worked examples, and
random households against a deliberately simple Schedule D written here: the accounts' estimates,
each netted after those solved before it, add up to what each return owes more once all are filled;
an account alone is charged exactly what its return owes more."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine import Account, InvalidRequest, TaxReturn, run_tax
from rebalancing.engine.serialization import request_from_dict, request_to_dict
from rebalancing.engine.tax import runs_tax

from .builders import EXAMPLES

ST, LT = 0.37, 0.238


def schedule_d(short: float, long: float, carried_short: float, carried_long: float, limit: float,
               short_rate: float = ST, long_rate: float = LT) -> float:
    """A return's tax on its year (lines 7, 15, 16 of Schedule D): the carried losses taken off
    their own kind, the two kinds netted, a gain taxed by the kind of what is left, a net loss
    deducted from ordinary income up to ``limit``."""
    short, long = short - carried_short, long - carried_long
    total = short + long
    if total < 0:
        return -min(limit, -total) * short_rate
    if short >= 0 and long >= 0:
        return short * short_rate + long * long_rate
    return total * (long_rate if short < 0 else short_rate)


def _account(name: str, *returns: TaxReturn, own_short: float = 0.0) -> Account:
    return Account(id=name, cash=0.0, short_term_rate=ST, long_term_rate=LT, realised_short_term_ytd=own_short,
                   tax_returns=returns)


def test_another_accounts_loss_this_year_makes_a_gain_free():
    # given: one return; A has realised a net short-term loss of 20,000 this year, B nothing
    household = TaxReturn(short_term_ytd=-20_000.0, id="household")
    b = _account("B", household)
    # when B's proposal realises a 10,000 long-term gain: the return nets -10,000, still deducts 3,000
    # then it costs nothing (before: B alone on its own year, 10,000 x 23.8% = 2,380)
    assert run_tax(b, 0.0, 10_000.0) == 0.0
    assert run_tax(_account("B"), 0.0, 10_000.0) == pytest.approx(2_380.0)


def test_another_accounts_gains_make_a_harvest_worth_the_whole_rate():
    # A has realised 20,000 short-term: B's 5,000 short-term loss saves 5,000 x 37%, not 3,000 x
    household = TaxReturn(short_term_ytd=20_000.0, id="household")
    assert run_tax(_account("B", household), -5_000.0, 0.0) == pytest.approx(-1_850.0)
    assert run_tax(_account("B"), -5_000.0, 0.0) == pytest.approx(-1_110.0)


def test_two_accounts_solved_one_after_the_other_add_up_to_the_returns_tax():
    # given: one return with 1,000 of short-term loss carried in; A sells at a 5,000 long-term gain,
    # B at a 4,000 short-term loss
    household = TaxReturn(carried_short=1_000.0, id="household")
    a, b = _account("A", household), _account("B", household)
    # when
    tax = runs_tax([(a, 0.0, 5_000.0), (b, -4_000.0, 0.0)])
    # then: without A the return deducts the carried 1,000 (-370); with A's gain it owes 4,000 x
    # 23.8% = 952, so A costs 1,322; B's loss then takes the 4,000 back to nothing: -952. Together
    # 370, what the return owes more: from a 1,000 deduction to nothing.
    assert tax == {"A": pytest.approx(1_322.0), "B": pytest.approx(-952.0)}
    assert sum(tax.values()) == pytest.approx(schedule_d(-4_000, 5_000, 1_000, 0, 3_000) - schedule_d(0, 0, 1_000, 0, 3_000))


def test_a_joint_account_of_a_couple_filing_separately_goes_half_on_each_return():
    # given: the first spouse's account has realised 10,000 short-term; the second spouse nothing
    first = TaxReturn(short_term_ytd=10_000.0, loss_limit=1_500.0, share=0.5, id="first")
    second = TaxReturn(loss_limit=1_500.0, share=0.5, id="second")
    # when the joint account realises a 4,000 long-term loss: 2,000 on each return
    # then: the first spouse's half takes 2,000 off their short-term gain, the second's deducts 1,500
    assert run_tax(_account("J", first, second), 0.0, -4_000.0) == pytest.approx(-2_000 * ST - 1_500 * ST)


def test_an_account_given_no_return_is_its_own():
    account = Account(id="X", cash=0.0, short_term_rate=ST, long_term_rate=LT, realised_short_term_ytd=-2_000.0,
                      loss_carryforward_long=500.0, ordinary_loss_limit=1_500.0)
    assert run_tax(account, 0.0, 5_000.0) == pytest.approx(
        schedule_d(-2_000, 5_000, 0, 500, 1_500) - schedule_d(-2_000, 0, 0, 500, 1_500))
    assert run_tax(Account(id="I", cash=0.0, taxable=False), 0.0, 5_000.0) == 0.0


@pytest.mark.parametrize(("returns", "words"), [
    ((TaxReturn(id="a", share=0.5),), "add up to 0.5"),
    ((TaxReturn(id="a", share=0.5), TaxReturn(id="a", share=0.5)), "twice"),
    ((TaxReturn(loss_limit=4_000.0),), "loss_limit"),
    ((TaxReturn(carried_short=-1.0),), "positive"),
    ((TaxReturn(short_term_ytd=float("nan")),), "finite"),
])
def test_a_bad_return_is_refused_naming_the_problem(returns, words):
    with pytest.raises(InvalidRequest, match=words):
        _account("X", *returns)


def test_the_returns_round_trip_through_the_requests_json():
    data = json.loads((EXAMPLES / "two_asset_rebalance.json").read_text())
    data["account"]["tax_returns"] = [
        {"id": "first", "share": 0.5, "short_term_ytd": 1.5, "long_term_ytd": -2.0, "carried_short": 3.0,
         "loss_limit": 1_500},
        {"id": "second", "share": 0.5}]
    request = request_from_dict(data)
    assert request.account.tax_returns == (TaxReturn(1.5, -2.0, 3.0, 0.0, 1_500.0, 0.5, "first"),
                                           TaxReturn(share=0.5, id="second"))
    assert request_from_dict(request_to_dict(request)) == request
    data["account"]["tax_returns"][0]["share"] = 0.0  # the schema's own check
    with pytest.raises(InvalidRequest):
        request_from_dict(data)


money = st.floats(-60_000, 60_000, allow_nan=False).map(lambda v: round(v, 2))
carried = st.floats(0, 20_000, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def households(draw):
    """A household: one return (filing jointly) or two (separately, with joint accounts half on
    each); its accounts' year so far and carried losses; each account's run (net short, long)."""
    separate = draw(st.booleans())
    names = ("first", "second") if separate else ("household",)
    limit = 1_500.0 if separate else 3_000.0
    owners = draw(st.lists(st.sampled_from(["first", "second", "joint"] if separate else ["household"]),
                           min_size=1, max_size=5))
    ytd = [(draw(money), draw(money)) for _ in owners]
    runs = [(draw(money), draw(money)) for _ in owners]
    carry = {n: (draw(carried), draw(carried)) for n in names}
    return names, limit, owners, ytd, runs, carry


def _on(owner: str, names) -> list[tuple[str, float]]:
    return [(n, 0.5) for n in names] if owner == "joint" else [(owner, 1.0)]


@settings(max_examples=400, deadline=None)
@given(households(), st.data())
def test_the_accounts_estimates_add_up_to_what_the_returns_owe_once_filled(household, data):
    names, limit, owners, ytd, runs, carry = household
    # Each return's year so far: every account's results on it (a joint account's half).
    year = {n: [0.0, 0.0] for n in names}
    for owner, (short, long) in zip(owners, ytd, strict=True):
        for n, part in _on(owner, names):
            year[n][0] += part * short
            year[n][1] += part * long
    accounts = [_account(f"A{i}", *(TaxReturn(year[n][0], year[n][1], *carry[n], limit, part, n)
                                    for n, part in _on(owner, names)))
                for i, owner in enumerate(owners)]
    # when: the accounts are solved one after the other, in any order, each after those before it
    order = data.draw(st.permutations(range(len(accounts))))
    tax = runs_tax([(accounts[i], *runs[i]) for i in order])
    # then: together, what the returns owe more with every run filled
    after = {n: list(v) for n, v in year.items()}
    for owner, (short, long) in zip(owners, runs, strict=True):
        for n, part in _on(owner, names):
            after[n][0] += part * short
            after[n][1] += part * long
    owed = sum(schedule_d(*after[n], *carry[n], limit) - schedule_d(*year[n], *carry[n], limit) for n in names)
    assert sum(tax.values()) == pytest.approx(owed, abs=1e-6)
    # and each account alone (the first solved) is charged exactly what its returns owe more for it
    first = order[0]
    alone = sum(schedule_d(year[n][0] + part * runs[first][0], year[n][1] + part * runs[first][1], *carry[n], limit)
                - schedule_d(*year[n], *carry[n], limit) for n, part in _on(owners[first], names))
    assert run_tax(accounts[first], *runs[first]) == pytest.approx(alone, abs=1e-6)

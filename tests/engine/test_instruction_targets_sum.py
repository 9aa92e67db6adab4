"""A "sell X (buy Y)" instruction moves targets that still add up to the account.

Found by an audit of docs/engine.md "How parameters behave" (2026-12-08), about
``instructions.apply_swap_targets``:

- "Sell X" outright with nothing to buy dropped X's target and invested its proceeds nowhere: on
  a 60/40 model with EQ1 sold, the targets were EQ2 30%, BD 40%, cash 0% (sum 70%), and the proposal
  bought 8 EQ2 and 8 BD, leaving $1,400 (14%) idle without a word. The docs say the proceeds are
  invested as the model says.
- "Sell X, buy Y" where X's holding is more than the rest of the model's targets (a legacy fund, a
  name of a removed class) shrank the rest to 0 and still gave Y all of the proceeds on top of its
  own target: OLD 70% sold to buy EQ (30% held, 50% target) made EQ's target 120%.

The rule now: X's target goes to Y (or, with no Y, to the rest of the model pro rata, the names
kept at their weights relative to one another); proceeds beyond X's target make the rest of the
model shrink pro rata, never below 0, and Y's target is at most all the room the account has; a
partial sale moves exactly what it sells. Targets and the cash target sum to 1.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine import (
    Account,
    CashParams,
    Instruction,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    rebalance,
)
from rebalancing.engine.instructions import apply_swap_targets, cash_levels, read_instructions
from rebalancing.engine.positions import build_book
from rebalancing.engine.targets import plan_targets, universe_symbols

AS_OF = date(2025, 6, 30)
BOUGHT = date(2020, 1, 6)
TOL = 1e-9


def _targets(req: RebalanceRequest):
    """The model's targets (before the instructions) and the targets the solve aims at (after)."""
    securities = {s.symbol: s for s in req.securities}
    book = build_book(req, securities, universe_symbols(req))
    effects = read_instructions(req.parameters.instructions)
    plan = plan_targets(req, book, *cash_levels(req.parameters.cash, effects, book.total_value))
    model = dict(zip(book.symbols, plan.target.tolist(), strict=True)), plan.cash_target
    apply_swap_targets(plan, book, effects)
    return model, (dict(zip(book.symbols, plan.target.tolist(), strict=True)), plan.cash_target)


def _sixty_forty(*instructions):
    secs = (Security("EQ1", 100.0, "eq"), Security("EQ2", 100.0, "eq"), Security("BD", 100.0, "bonds"))
    lots = (TaxLot("A", "EQ1", 30, 3000.0, BOUGHT), TaxLot("B", "EQ2", 30, 3000.0, BOUGHT),
            TaxLot("C", "BD", 40, 4000.0, BOUGHT))
    the_model = Model("m", (Sleeve("eq", .6, {"EQ1": .5, "EQ2": .5}), Sleeve("bonds", .4, {"BD": 1.0})))
    return RebalanceRequest(AS_OF, Account("P", 0.0, lots=lots), secs, the_model,
                            Parameters(cash=CashParams(target=0.0), instructions=instructions))


def _legacy_seventy(*instructions):
    secs = (Security("EQ", 100.0, "eq"), Security("EQ2", 100.0, "eq"), Security("OLD", 100.0, "eq"))
    lots = (TaxLot("A", "OLD", 70, 7000.0, BOUGHT), TaxLot("B", "EQ", 30, 3000.0, BOUGHT))
    the_model = Model("m", (Sleeve("eq", 1.0, {"EQ": .5, "EQ2": .5}),))
    return RebalanceRequest(AS_OF, Account("P", 0.0, lots=lots), secs, the_model,
                            Parameters(cash=CashParams(target=0.0), instructions=instructions))


def test_selling_outright_with_nothing_to_buy_invests_the_proceeds_as_the_model_says():
    # given a 60/40 model (EQ1 30%, EQ2 30%, BD 40%) held at its targets
    req = _sixty_forty(Instruction("sell_buy", sell="EQ1"))
    # when EQ1 is sold outright, nothing named to buy
    _, (target, cash) = _targets(req)
    # then EQ1's 30% goes to EQ2 and BD pro rata (3:4), and nothing is left idle
    assert target["EQ1"] == 0.0 and cash == 0.0
    assert target["EQ2"] == pytest.approx(0.3 / 0.7) and target["BD"] == pytest.approx(0.4 / 0.7)
    result = rebalance(req)
    bought = {t.symbol: t.quantity for t in result.trades if t.side == "buy"}
    assert bought == {"EQ2": 13, "BD": 17}  # (it bought 8 and 8: $1,400 idle)
    assert result.summary.cash_after < 100.0


def test_selling_a_legacy_fund_to_buy_a_model_name_gives_it_at_most_the_whole_account():
    # given OLD (not in the model) at 70% and EQ at 30% of a model EQ 50% / EQ2 50%
    req = _legacy_seventy(Instruction("sell_buy", sell="OLD", buy="EQ"))
    # when OLD is sold to buy EQ
    _, (target, cash) = _targets(req)
    # then EQ takes the proceeds up to the whole account (not 120%), EQ2 gives way
    assert target == pytest.approx({"EQ": 1.0, "EQ2": 0.0, "OLD": 0.0}) and cash == 0.0
    result = rebalance(req)
    assert {(t.side, t.symbol, t.quantity) for t in result.trades} == {("sell", "OLD", 70), ("buy", "EQ", 70)}


def test_a_partial_sale_larger_than_the_room_left_gives_y_the_room():
    # given the same account, $6,000 of OLD sold to buy EQ2: 60% on top of EQ2's 50%
    _, (target, cash) = _targets(_legacy_seventy(Instruction("sell_buy", sell="OLD", buy="EQ2", amount=6000.0)))
    # then EQ gives 50% (all of it) and EQ2's target is the whole account
    assert target == pytest.approx({"EQ": 0.0, "EQ2": 1.0, "OLD": 0.0}) and cash == 0.0


def test_the_only_name_sold_with_nothing_to_buy_leaves_its_target_in_cash():
    # given a one-name model, held
    secs = (Security("EQ", 100.0, "eq"),)
    req = RebalanceRequest(AS_OF, Account("P", 0.0, lots=(TaxLot("A", "EQ", 10, 1000.0, BOUGHT),)), secs,
                           Model("m", (Sleeve("eq", 1.0, {"EQ": 1.0}),)),
                           Parameters(cash=CashParams(target=0.0),
                                      instructions=(Instruction("sell_buy", sell="EQ"),)))
    # then there is nothing else in the model to invest in: the proceeds stay in cash
    _, (target, cash) = _targets(req)
    assert target == {"EQ": 0.0} and cash == pytest.approx(1.0)


# ---- Property: random models, holdings (legacy names, a removed class) and sales ----------------

EQ, INTL, BONDS, LEGACY = ("E0", "E1", "E2"), ("I0", "I1"), ("B0", "B1"), ("L0", "L1")
SYMBOLS = EQ + INTL + BONDS + LEGACY
CLASS = {**dict.fromkeys(EQ, "eq"), **dict.fromkeys(INTL, "intl"), **dict.fromkeys(BONDS, "bonds"),
         **dict.fromkeys(LEGACY, "alt")}

weight = st.floats(0.05, 1.0)


@st.composite
def cases(draw, n_sales=st.integers(1, 3)):
    sleeves = []
    for name, names in (("eq", EQ), ("intl", INTL), ("bonds", BONDS)):
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        sleeves.append(Sleeve(name, draw(weight), {s: draw(weight) for s in chosen}))
    total = sum(s.weight for s in sleeves)
    sleeves = tuple(Sleeve(s.asset_class, s.weight / total,
                           {k: v / sum(s.holdings.values()) for k, v in s.holdings.items()}) for s in sleeves)
    prices = {s: draw(st.sampled_from((10.0, 37.5, 100.0, 250.0))) for s in SYMBOLS}
    held = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=6, unique=True))
    lots = tuple(TaxLot(f"L{k}", s, draw(st.integers(1, 400)), 1000.0, BOUGHT) for k, s in enumerate(held))
    cash = draw(st.sampled_from((0.0, 500.0, 5000.0)))
    removed = draw(st.sampled_from(((), ("bonds",), ("intl",))))
    sells = draw(st.lists(st.sampled_from(held), min_size=1, max_size=draw(n_sales), unique=True))
    value = {lot.symbol: lot.quantity * prices[lot.symbol] for lot in lots}
    instructions = []
    for sell in sells:
        buyable = [s for s in SYMBOLS if s not in sells and CLASS[s] not in removed]
        buy = draw(st.none() | st.sampled_from(buyable))
        size = draw(st.sampled_from(("all", "amount", "quantity")))
        amount = quantity = None
        if size == "amount":
            amount = round(value[sell] * draw(st.floats(0.01, 1.2)), 2)
        elif size == "quantity":
            quantity = float(draw(st.integers(1, 450)))
        instructions.append(Instruction("sell_buy", sell=sell, buy=buy, amount=amount, quantity=quantity))
    params = Parameters(cash=CashParams(target=draw(st.sampled_from((0.0, 0.02, 0.1)))),
                        removed_asset_classes=removed, instructions=tuple(instructions))
    securities = tuple(Security(s, prices[s], CLASS[s]) for s in SYMBOLS)
    req = RebalanceRequest(AS_OF, Account("P", cash, lots=lots, taxable=False), securities,
                           Model("m", sleeves), params)
    return req, prices, value, cash


def _check(req, prices, value, cash):
    """The simple checker: what each instruction promises, from the request's own figures. Returns the
    targets it checked (securities, cash)."""
    (model, model_cash), (target, target_cash) = _targets(req)
    assert sum(model.values()) + model_cash == pytest.approx(1.0, abs=TOL)
    instructions = req.parameters.instructions
    total = cash + sum(value.values())
    assert all(t >= -TOL for t in target.values()) and target_cash >= -TOL, target
    assert sum(target.values()) + target_cash == pytest.approx(1.0, abs=TOL), (target, target_cash)
    named = {s for ins in instructions for s in (ins.sell, ins.buy) if s}
    # The model's other names keep their weights relative to one another (one common factor).
    others = [s for s, t in model.items() if t > 0 and s not in named]
    if others:
        factor = target[others[0]] / model[others[0]]
        for s in others:
            assert target[s] == pytest.approx(model[s] * factor, abs=TOL), (s, model, target)
    for ins in instructions:
        if ins.amount is None and ins.quantity is None:
            assert target[ins.sell] == 0.0
    if len(instructions) > 1:
        return target, target_cash
    [ins] = instructions
    x, y = ins.sell, ins.buy
    held = value[x] / total
    full = ins.amount is None and ins.quantity is None
    sold = held if full else min(held, (ins.amount if ins.quantity is None else ins.quantity * prices[x]) / total)
    given = model[x] if full else min(model[x], sold)
    # What lands where the sale was: X's target (sold outright), or exactly what is sold (in part).
    if y is None and full:
        if others:  # the rest of the model takes X's target pro rata
            assert sum(target[s] for s in others) == pytest.approx(sum(model[s] for s in others) + model[x],
                                                                   abs=TOL)
        else:
            assert target_cash == pytest.approx(model_cash + model[x], abs=TOL)
        return target, target_cash
    received = max(given, sold) if full else sold
    raised = (target[y] - model[y]) if y else (target_cash - model_cash)
    assert target[x] == pytest.approx(model[x] - given, abs=TOL)
    room = given + sum(model[s] for s in others)
    if received <= room + TOL:
        assert raised == pytest.approx(received, abs=TOL)  # exactly $N (or all of X) moved
    else:  # more than the account has room for: Y (or cash) takes all of it, the rest gives way
        assert raised == pytest.approx(room, abs=TOL)
        assert all(target[s] == pytest.approx(0.0, abs=TOL) for s in others)
    return target, target_cash


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(n_sales=st.just(1)))
def test_one_sale_moves_what_it_promises(case):
    target, target_cash = _check(*case)
    [ins] = case[0].parameters.instructions
    assert min(target.values(), default=0.0) >= -TOL and sum(target.values()) + target_cash == pytest.approx(1.0)
    if ins.amount is None and ins.quantity is None:
        assert target[ins.sell] == 0.0  # sold outright: nothing of X is kept as a target


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_several_sales_keep_targets_whole(case):
    target, target_cash = _check(*case)
    assert min(target.values(), default=0.0) >= -TOL and sum(target.values()) + target_cash == pytest.approx(1.0)

"""``tax_optimal`` relief: the shares a run sells come from the lots that cost the year the least
tax once Schedule D nets them with the year so far (Pub. 550; IRC §1211(b), §1212(b)), not from the
lots whose gains are cheapest at their own term's rate."""

import itertools
from datetime import timedelta

import numpy as np
import pytest
from scipy.optimize import linprog

from rebalancing.engine import (
    Account,
    CashParams,
    Instruction,
    Parameters,
    TaxReturn,
    TradingParams,
    rebalance,
)
from rebalancing.engine.lots import WALK_PLACES, least_tax_by_corners, least_tax_choice
from rebalancing.engine.tax import RunTax, run_tax

from .builders import AS_OF, funds, lot, model, request

RATES = (0.408, 0.238)


def _schedule_d(st: float, lt: float, rs: float, rl: float, limit: float) -> float:
    """A year's tax on its net short- and long-term results, written out piece by piece: a net loss
    deducts at most ``limit`` at the short-term rate; a net gain is taxed at the rate of the side it
    ends on."""
    if st + lt <= 0:
        return -rs * min(limit, -(st + lt))
    if st >= 0 and lt >= 0:
        return rs * st + rl * lt
    return rl * (st + lt) if lt > 0 else rs * (st + lt)


def _pieces(s0: float, l0: float, k: float, rs: float, rl: float, limit: float):
    """The return's tax as linear pieces over the run's (short, long): (A_ub rows, b_ub, weights,
    constant) with the rows in terms of the run's results ``k * short + s0`` etc."""
    # st = s0 + k S, lt = l0 + k L
    yield [(-k, 0), (0, -k)], [s0, l0], (rs * k, rl * k), rs * s0 + rl * l0
    yield [(k, 0), (-k, -k)], [-s0, s0 + l0], (rl * k, rl * k), rl * (s0 + l0)
    yield [(0, k), (-k, -k)], [-l0, s0 + l0], (rs * k, rs * k), rs * (s0 + l0)
    yield [(k, k), (-k, -k)], [-(s0 + l0), s0 + l0 + limit], (rs * k, rs * k), rs * (s0 + l0)
    yield [(k, k)], [-(s0 + l0) - limit], (0.0, 0.0), -rs * limit


def _least_tax_by_lp(sec, gain, long, need, cap, fixed, returns, rates):
    """The least tax over every fractional choice: one linear programme per combination of the
    returns' pieces, the smallest of their optima."""
    rs, rl = rates
    n_lots = len(gain)
    a_eq = np.array([(sec == s).astype(float) for s in range(len(need))])
    st_row = np.where(~long, gain, 0.0)
    lt_row = np.where(long, gain, 0.0)
    best = np.inf
    per_return = [list(_pieces(s0, l0, k, rs, rl, lim)) for s0, l0, k, lim in returns]
    base = sum(_schedule_d(s0, l0, rs, rl, lim) for s0, l0, _, lim in returns)
    for combo in itertools.product(*per_return):
        rows, rhs, c, const = [], [], np.zeros(n_lots), 0.0
        for a_rows, b, (ws, wl), k0 in combo:
            for (a, b_), r in zip(a_rows, b, strict=True):
                rows.append(a * st_row + b_ * lt_row)
                rhs.append(r - a * fixed[0] - b_ * fixed[1])
            c += ws * st_row + wl * lt_row
            const += k0 + ws * fixed[0] + wl * fixed[1]
        res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), A_eq=a_eq, b_eq=need,
                      bounds=list(zip(np.zeros(n_lots), cap, strict=True)), method="highs")
        if res.status == 0:
            best = min(best, res.fun + const - base)
    return best


def _random_case(rng):
    n_sec = int(rng.integers(1, 4))
    sec = np.sort(rng.integers(0, n_sec, int(rng.integers(n_sec, 4 * n_sec + 2))))
    sec[:n_sec] = np.arange(n_sec)
    sec = np.sort(sec)
    n_lots = len(sec)
    gain = np.round(rng.normal(0, 25, n_lots), int(rng.integers(0, 3)))
    gain[rng.random(n_lots) < 0.1] = 0.0
    if n_lots > 1 and rng.random() < 0.3:
        gain[1] = gain[0]
    long = rng.random(n_lots) < 0.5
    cap = rng.integers(1, 60, n_lots).astype(float)
    have = np.bincount(sec, weights=cap, minlength=n_sec)
    need = np.round(have * rng.uniform(0.05, 1.0, n_sec))
    need[rng.random(n_sec) < 0.1] = 0.0
    fixed = tuple(rng.choice([0.0, 1.0]) * rng.normal(0, 1500, 2))
    n_returns = int(rng.integers(1, 3))
    returns = []
    for _ in range(n_returns):
        share = 1.0 if n_returns == 1 else 0.5
        ytd = rng.choice([0.0, 1.0], 2) * rng.normal(0, 2500, 2)
        carried = rng.choice([0.0, 1.0], 2) * rng.uniform(0, 4000, 2)
        limit = float(rng.choice([3000.0, 1500.0]))
        returns.append((ytd, carried, share, limit))
    return sec, gain, long, need, cap, fixed, returns


@pytest.mark.parametrize("seed", range(8))
def test_the_least_tax_choice_costs_the_least_of_every_choice(seed):
    # Given random sales (1-3 securities, lots of both terms with gains and losses, ties, whole
    # sales) on random returns (a year so far, losses carried in, one return or a joint account's
    # two halves, a 3,000 or 1,500 deduction)
    rng = np.random.default_rng(seed)
    for _ in range(40):
        sec, gain, long, need, cap, fixed, returns = _random_case(rng)
        account = Account(
            "T", 0.0, short_term_rate=RATES[0], long_term_rate=RATES[1],
            tax_returns=tuple(
                TaxReturn(ytd[0], ytd[1], carried[0], carried[1], limit, share, f"R{i}")
                for i, (ytd, carried, share, limit) in enumerate(returns)
            ),
        )
        tax = RunTax.of(account)
        assert tax(123.0, -456.0) == run_tax(account, 123.0, -456.0)
        tie = np.arange(len(gain))
        # When the candidates are drawn
        least = least_tax_choice(sec, gain, long, tie, need, cap, tax, fixed)
        have = np.bincount(sec, weights=cap, minlength=len(need))
        if not ((need > 0) & (have > need + 1e-9)).any():
            assert least is None
            continue
        # Then it sells exactly what is asked within each lot, at the tax it says
        assert np.all(least[0] >= -1e-9) and np.all(least[0] <= cap + 1e-9)
        assert np.allclose(np.bincount(sec, weights=least[0], minlength=len(need)), need)

        realised = least[0] * gain
        cost = tax(fixed[0] + realised[~long].sum(), fixed[1] + realised[long].sum())
        assert cost == pytest.approx(least[1], abs=1e-6)
        # And it costs what the least of every choice costs
        ref = _least_tax_by_lp(
            sec, gain, long, need, cap, fixed,
            [(y[0] - c_[0], y[1] - c_[1], s, lim) for y, c_, s, lim in returns], RATES,
        )
        assert cost == pytest.approx(ref, abs=1e-6 * max(1.0, abs(ref)))


@pytest.mark.parametrize("seed", range(4))
def test_the_corners_alone_find_what_the_walk_finds(seed):
    # ``least_tax_by_corners`` (the edge's corners only, for books of many lots) against the walk
    # over every place two lots change order, on the random sales above: the same least tax.
    rng = np.random.default_rng(100 + seed)
    for _ in range(50):
        sec, gain, long, need, cap, fixed, returns = _random_case(rng)
        account = Account("T", 0.0, short_term_rate=RATES[0], long_term_rate=RATES[1], tax_returns=tuple(
            TaxReturn(ytd[0], ytd[1], carried[0], carried[1], limit, share, f"R{i}")
            for i, (ytd, carried, share, limit) in enumerate(returns)))
        tie = np.arange(len(gain))
        walked = least_tax_choice(sec, gain, long, tie, need, cap, RunTax.of(account), fixed)
        cornered = least_tax_by_corners(sec, gain, long, tie, need, cap, RunTax.of(account), fixed)
        assert (walked is None) == (cornered is None)
        if walked is not None:
            assert np.allclose(np.bincount(sec, weights=cornered[0], minlength=len(need)), need)
            assert cornered[1] == pytest.approx(walked[1], abs=1e-6 * max(1.0, abs(walked[1])))


def test_a_fund_bought_every_month_for_years_is_relieved_at_the_least_tax():
    # 300 lots of one fund, gains and losses of both terms, a year with a short-term loss and a
    # long-term gain so far: tens of thousands of places where two lots change order (the walk took
    # 140 ms a sale, and 2.6 s for 500 lots), so the corners are found directly - at the least tax.
    rng = np.random.default_rng(5)
    n = 300
    sec = np.zeros(n, dtype=np.int64)
    gain = np.round(rng.normal(2.0, 15.0, n), 2)
    long = rng.random(n) < 0.6
    cap = np.full(n, 10.0)
    need = np.array([1_234.0])
    account = Account("T", 0.0, short_term_rate=RATES[0], long_term_rate=RATES[1],
                      realised_short_term_ytd=-2_000.0, realised_long_term_ytd=3_000.0)
    tax = RunTax.of(account)
    st, lt = (~long & (gain != 0)).sum(), (long & (gain != 0)).sum()
    assert st * lt > 10 * WALK_PLACES  # (most pairs of one sign change order inside the stretch)
    least = least_tax_choice(sec, gain, long, np.arange(n), need, cap, tax)
    assert np.isclose(least[0].sum(), need[0]) and np.all(least[0] <= cap + 1e-9)
    ref = _least_tax_by_lp(sec, gain, long, need, cap, (0.0, 0.0), [(-2_000.0, 3_000.0, 1.0, 3_000.0)], RATES)
    assert least[1] == pytest.approx(ref, abs=1e-6 * max(1.0, abs(ref)))


def test_schedule_d_in_the_test_is_the_engines():
    # The reference's pieces are the engine's netting (so the programme above prices what the
    # engine reports).
    from rebalancing.engine.tax import estimated_tax

    rng = np.random.default_rng(1)
    for st, lt in rng.normal(0, 5000, (500, 2)):
        assert _schedule_d(st, lt, *RATES, 3000.0) == pytest.approx(estimated_tax(st, lt, *RATES, 3000.0))


def _sale(lots, ytd_short=0.0, ytd_long=0.0, selection="tax_optimal"):
    params = Parameters(
        cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True, lot_selection=selection),
        instructions=(Instruction("sell_buy", sell="EQ", quantity=200),),
    )
    req = request(
        lots, funds(EQ=100.0, BD=100.0), model(EQ=0.5, BD=0.5), parameters=params,
        short_term_rate=RATES[0], long_term_rate=RATES[1],
        realised_short_term_ytd=ytd_short, realised_long_term_ytd=ytd_long,
    )
    return rebalance(req)


def _loss_long_short():
    """300 EQ at 100: 100 bought recently at 110 (a short-term loss of 10 a share), 100 long held at
    92 (a long-term gain of 8), 100 bought recently at 95 (a short-term gain of 5); 300 BD."""
    recent = AS_OF - timedelta(days=90)
    return [
        lot("LOSS", "EQ", 100, 11_000.0, recent),
        lot("LONG", "EQ", 100, 9_200.0),
        lot("SHORT", "EQ", 100, 9_500.0, recent),
        lot("B", "BD", 300, 30_000.0),
    ]


def test_a_gain_that_nets_against_a_short_term_loss_is_the_cheaper_short_term_one():
    # Given 300 EQ at 100: 100 bought recently at 110 (a short-term loss of 10 a share), 100
    # long held at 92 (a long-term gain of 8), 100 bought recently at 95 (a short-term gain of 5),
    # and an instruction to sell 200
    lots = _loss_long_short()
    result = _sale(lots)
    sold = {s.lot_id: s.quantity for t in result.trades for s in t.lots}
    # Then the loss and the short-term gain are sold: the loss absorbs the gain whichever term it
    # is, so the smaller gain (500) costs less than the long-term one (800), whatever their rates
    # alone would say (2.04 a share against 1.90); the year nets a 500 loss, deducted at 40.8%
    assert sold == {"LOSS": 100, "SHORT": 100}
    assert result.summary.estimated_tax == pytest.approx(-500 * RATES[0])
    # (FIFO on the same lots sells the long-held gain first, and the run's tax is then higher)
    assert _sale(lots, selection="fifo").summary.estimated_tax > result.summary.estimated_tax


def test_with_a_large_gain_already_realised_each_gain_is_priced_at_its_own_rate():
    # Given the same lots in a year that has realised 50,000 of gains of each term
    lots = _loss_long_short()
    result = _sale(lots, ytd_short=50_000.0, ytd_long=50_000.0)
    sold = {s.lot_id: s.quantity for t in result.trades for s in t.lots}
    # Then the loss nets against the year's short-term gains and the long-term gain (8 x 23.8%)
    # is cheaper than the short-term one (5 x 40.8%)
    assert sold == {"LOSS": 100, "LONG": 100}
    assert result.summary.estimated_tax == pytest.approx(-1000 * RATES[0] + 800 * RATES[1])


def test_the_least_tax_can_split_a_sale_where_the_year_turns_to_a_short_term_gain():
    # Given a year with a 500 short-term loss so far and 100 EQ to sell from a short-term lot
    # gaining 10 a share and a long-term lot gaining 12: selling short-term shares first nets the
    # loss away (each costs the long-term rate on 10 - 12 less of long-term gain: the tax falls),
    # past it each costs 40.8% of 10 against 23.8% of 12 (the tax rises)
    recent = AS_OF - timedelta(days=90)
    lots = [
        lot("SHORT", "EQ", 100, 9_000.0, recent),
        lot("LONG", "EQ", 100, 8_800.0),
        lot("B", "BD", 200, 20_000.0),
    ]
    params = Parameters(
        cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True),
        instructions=(Instruction("sell_buy", sell="EQ", quantity=100),),
    )
    req = request(
        lots, funds(EQ=100.0, BD=100.0), model(EQ=0.5, BD=0.5), parameters=params,
        short_term_rate=RATES[0], long_term_rate=RATES[1], realised_short_term_ytd=-500.0,
    )
    result = rebalance(req)
    sold = {s.lot_id: s.quantity for t in result.trades for s in t.lots}
    # Then the sale stops taking short-term shares where the year's short-term result reaches 0:
    # 50 of each (600 long-term gain, 142.80 of tax against the year's 204 deduction before: 346.80
    # more), where all long-term would cost 370.60 and all short-term 408
    assert sold == {"SHORT": 50, "LONG": 50}
    assert result.summary.estimated_tax == pytest.approx(600 * RATES[1] + 500 * RATES[0])

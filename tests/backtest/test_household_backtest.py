"""The household backtest (issue 17): the stated bond series, a short replay of both strategies,
and its command line."""

from datetime import date

import numpy as np
import pytest

from rebalancing.backtest import BacktestError, load_sample
from rebalancing.backtest.__main__ import main
from rebalancing.backtest.bonds import bond_series, modified_duration
from rebalancing.backtest.household import (
    HouseholdRun,
    HouseholdSettings,
    _Replay,
    equity_fund,
    model_mix_returns,
    model_mix_volatility,
    run_household_backtest,
)


def days(start: date, n: int) -> np.ndarray:
    return np.arange(start.toordinal(), start.toordinal() + n)


def test_a_constant_yield_earns_its_coupon_and_no_price_change():
    dates = days(date(2000, 1, 1), 366)
    series = bond_series(dates, {y: 5.0 for y in range(1999, 2002)})
    # Income of a day = yield x a day's fraction of a year, all of the return.
    assert series.income[1:] == pytest.approx(0.05 / 365)
    assert series.price[-1] / series.price[0] == pytest.approx((1 + 0.05 / 365) ** 365)


def test_a_rise_in_yield_costs_its_duration():
    dates = days(date(2000, 6, 30), 3)
    series = bond_series(dates, {1999: 5.0, 2000: 5.0, 2001: 6.0})
    # From July 1 2000 to July 1 2001 the yield climbs 1 point: a day later it is 1/365 higher.
    dy = series.yields[2] - series.yields[1]
    assert dy == pytest.approx(0.01 / 365)
    expected = series.yields[1] / 365 - modified_duration(np.array([series.yields[1]]))[0] * dy
    assert series.price[2] / series.price[1] - 1 == pytest.approx(expected)
    # A 10-year par bond at 5%: duration about 7.8 years.
    assert modified_duration(np.array([0.05]))[0] == pytest.approx(7.79, abs=0.01)


def test_the_bond_yields_must_cover_the_prices():
    with pytest.raises(BacktestError, match="bond yields cover"):
        bond_series(days(date(1985, 1, 1), 10))


def test_the_equity_fund_is_the_buy_and_hold_basket():
    history = load_sample()
    fund = equity_fund(history)
    assert fund[0] == pytest.approx(100.0)
    shares = 5.0 / history.closes[0]
    assert fund[1000] == pytest.approx(float(history.closes[1000] @ shares))


@pytest.fixture(scope="module")
def crash():
    """Two years through the 2008 crash, both strategies."""
    return run_household_backtest(load_sample(), (date(2007, 12, 31),), years=2)[0]


def test_both_strategies_run_every_month_without_a_failure(crash):
    for run in crash.runs.values():
        assert run.failures == []
        assert run.decisions >= 23
        assert np.all(np.isfinite(run.values)) and np.all(run.values > 0)


def test_the_household_shelters_its_bonds_and_makes_no_wash_sale(crash):
    household, separate = crash.runs["household"], crash.runs["separate"]
    assert household.bonds_sheltered > 0.95
    assert separate.bonds_sheltered == pytest.approx(0.5, abs=0.05)  # each account holds 40% bonds
    assert household.cross_washes == 0
    assert household.coupons < separate.coupons


def test_after_tax_wealth_follows_its_definition(crash):
    s = HouseholdSettings()
    for run in crash.runs.values():
        end = run.end_values
        assert run.after_tax_held == pytest.approx(
            end["TAX"] + end["IRA"] * (1 - s.withdrawal_rate) + end["ROTH"]
        )
        assert run.values[-1] == pytest.approx(sum(end.values()))
    h, a = crash.runs["household"].after_tax, crash.runs["separate"].after_tax
    assert crash.difference() == pytest.approx((h / a) ** (1 / crash.years) - 1)


def test_the_replay_is_deterministic(crash):
    again = run_household_backtest(load_sample(), (date(2007, 12, 31),), years=2)[0]
    for name, run in crash.runs.items():
        assert again.runs[name].after_tax == run.after_tax


def test_bad_settings_are_refused():
    with pytest.raises(BacktestError, match="taxable"):
        HouseholdSettings(taxable=-1.0)
    with pytest.raises(BacktestError, match="withdrawal_rate"):
        HouseholdSettings(withdrawal_rate=1.5)
    with pytest.raises(BacktestError, match="inside_bands must be one of tax_free, cash_flows"):
        HouseholdSettings(inside_bands="never")
    with pytest.raises(BacktestError, match="location must be one of default, growth_first"):
        HouseholdSettings(location="anywhere")


@pytest.mark.parametrize("every, message", [
    (5, r"about 5\d a year: a backtest replays daily closes"),
    (12, r"no prices from .* for every name: a backtest replays daily closes"),
])
def test_prices_sparser_than_daily_are_refused_naming_it(every, message):
    # given: the equity fund's stocks priced weekly, or every twelfth trading day (a file given
    # to --prices); before, both were replayed as if each close were the next day's
    sample = load_sample().select(["XOM", "CVX", "KO"])
    sparse = type(sample)(sample.dates[::every], sample.symbols, sample.closes[::every], sample.sectors, "csv")
    # when / then
    with pytest.raises(BacktestError, match=message):
        run_household_backtest(sparse, (date(2004, 12, 31),), years=1)


def test_growth_first_keeps_the_roth_for_equity_and_the_bonds_the_ira_cannot_hold_in_taxable(crash):
    # Given the household's $400,000 of bonds and a $300,000 IRA, placed growth first
    growth = run_household_backtest(
        load_sample(), (date(2007, 12, 31),), years=2, settings=HouseholdSettings(location="growth_first")
    )[0].runs["household"]
    # Then the IRA holds what bonds it can and the rest sit in the taxable account, not the Roth:
    # about three quarters sheltered where the default (the Roth taking them) shelters nearly all.
    assert 0.6 < growth.bonds_sheltered < 0.9 < crash.runs["household"].bonds_sheltered
    assert growth.failures == [] and growth.cross_washes == 0


def test_rebalanced_by_cash_flows_inside_its_bands_the_household_sells_less_and_stays_on_its_bands():
    # Given the two years through the 2008 crash, the household rebalanced inside its bands by its
    # cash flows only, against by every tax-free trade (the default)
    flows = run_household_backtest(
        load_sample(), (date(2007, 12, 31),), years=2, settings=HouseholdSettings(inside_bands="cash_flows")
    )[0].runs["household"]
    tight = run_household_backtest(load_sample(), (date(2007, 12, 31),), years=2)[0].runs["household"]
    # Then it still runs every month, and inside its bands it leaves the equity it lost to the market
    # unbought where the default buys it back every month: less equity, less volatility (57.9% and
    # 20.8% against 59.7% and 22.1% when measured).
    assert flows.failures == [] and flows.cross_washes == 0
    assert flows.equity_weight < tight.equity_weight - 0.01
    assert flows.volatility() < tight.volatility()


def test_the_command_line_prints_the_household_outcome(capsys):
    assert main(["--household", "--start", "2009-12-31", "--years", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "household backtest" in out
    assert "after-tax household wealth" in out
    assert main(["--household", "--start", "1980-12-31", "--years", "1", "--quiet"]) == 2
    assert main(["--household", "--start", "2009-12-31", "--years", "1", "--quiet", "--inside-bands", "cash_flows"]) == 0
    assert "rebalanced by its cash flows only" in capsys.readouterr().out
    assert main(["--household", "--start", "2009-12-31", "--years", "1", "--quiet", "--location", "growth_first"]) == 0
    assert "location: bonds in the IRA, then taxable; equity in the Roth, then taxable (growth first)" in (
        capsys.readouterr().out)


def replay_of(settings: HouseholdSettings) -> _Replay:
    history = load_sample()
    return _Replay("household", history, bond_series(history.dates), settings)


def test_a_net_capital_loss_carries_forward_into_the_next_years_tax():
    # Given a taxable account with a 10,000 short-term loss in 2000 and a 5,000 long-term gain in 2001
    r = replay_of(HouseholdSettings(losses="carry_forward"))
    r.accounts["TAX"].realised.update({2000: [-10_000.0, 0.0], 2001: [0.0, 5_000.0]})
    # When both years are settled
    paid = r.settle(2001)
    # Then 2000 deducts 3,000 from ordinary income and carries 7,000 (IRC §1211(b), §1212(b)),
    # which wipes out 2001's gain and leaves 2,000 to deduct in 2001.
    assert r.settled[2000] == pytest.approx(-3_000 * 0.408)
    assert r.settled[2001] == pytest.approx(-2_000 * 0.408)
    assert paid == pytest.approx(-5_000 * 0.408)


def test_a_year_without_sales_still_uses_the_loss_carried_into_it():
    # Given a 10,000 short-term loss in 2000, no sale in 2001 and a 5,000 long-term gain in 2002
    r = replay_of(HouseholdSettings(losses="carry_forward"))
    r.accounts["TAX"].realised.update({2000: [-10_000.0, 0.0], 2002: [0.0, 5_000.0]})
    r.income.dividends[2001] = 100.0  # (the year is settled for its income)
    # When the three years are settled
    r.settle(2002)
    # Then 2001 deducts 3,000 of the 7,000 carried in and carries 4,000 (IRC §1211(b), §1212(b)),
    # which offsets 4,000 of 2002's gain: 1,000 is taxed (before, 2001 was skipped and 2002's
    # gain met the 7,000 again - 3,000 deducted twice)
    assert r.carried_into(2002).short_term == pytest.approx(4_000)
    assert r.settled[2001] == pytest.approx(-3_000 * 0.408 + 100 * 0.238)
    assert r.settled[2002] == pytest.approx(1_000 * 0.238)


def test_the_taxable_account_keeps_the_tax_it_owes_this_year_as_cash():
    # Given a taxable account that has realised 10,000 of long-term gains this year and earned
    # 1,000 of dividends
    r = replay_of(HouseholdSettings())
    row = r.history.row_on_or_before(date(2005, 6, 30))
    day = r.history.day(row)
    r.accounts["TAX"].realised[2005] = [0.0, 10_000.0]
    r.income.dividends[2005] = 1_000.0
    # When its request is built
    request = r._request("TAX", day, row, (), r._securities(row))
    # Then the tax owed (11,000 at 23.8%) is its cash target and floor (owed, not traded against
    # drift), and the IRA keeps none.
    assert request.parameters.cash.target == pytest.approx(11_000 * 0.238 / 500_000)
    assert request.parameters.cash.floor == request.parameters.cash.target
    assert r._request("IRA", day, row, (), r._securities(row)).parameters.cash.target == 0.0


def test_with_income_reinvested_no_january_bill_is_paid_by_a_washed_loss_sale():
    # Given the cohort bought at the end of 2007, income reinvested (no income waits as cash), held
    # through the crash: in January 2010 every taxable lot is at a loss and the IRA bought the fund
    # in December
    history = load_sample()
    settings = HouseholdSettings(income="reinvested")
    start, end = history.row_on_or_before(date(2007, 12, 31)), history.row_on_or_before(date(2010, 6, 30))
    for strategy in ("household", "separate"):
        r = _Replay(strategy, history, bond_series(history.dates), settings)
        r.decide(start)
        prev = start
        for row in history.month_ends(start + 1, end).tolist():
            r.accrue(prev, row)
            prev = row
            r.settle(history.day(row).year - 1)
            r.decide(row)
        # Then the tax the year owes - its December sales' included - was kept as cash: no bill
        # sells a loss that a purchase in the IRA or Roth washes, and nothing failed.
        assert (r.cross_washes, r.forced_washes, r.failures) == (0, 0, []), strategy


def _run(values: np.ndarray, flows: np.ndarray) -> HouseholdRun:
    return HouseholdRun("x", values, values, flows, {}, 0.0, 0.0, 0.0, 0.0, 0)


def test_tracking_error_against_the_model_is_nil_for_the_mix_itself_and_counts_idle_cash_and_drift():
    history = load_sample()
    bonds = bond_series(history.dates)
    start, end = history.row_on_or_before(date(2004, 12, 31)), history.row_on_or_before(date(2009, 12, 31))
    mix = model_mix_returns(history, bonds, start, end, 0.6)
    on_model = np.concatenate([[1e6], 1e6 * np.cumprod(1 + mix)])
    assert _run(on_model, np.zeros(len(on_model))).tracking_error(mix) == pytest.approx(0.0, abs=1e-12)
    # A tax bill paid out of the household is an external flow, not a return.
    paid = on_model.copy()
    paid[300:] *= 1 - 5_000.0 / on_model[300]  # 5,000 paid on day 300; the rest stays on the mix
    flows = np.zeros(len(paid))
    flows[300] = -5_000.0
    assert _run(paid, flows).tracking_error(mix) == pytest.approx(0.0, abs=1e-9)
    # 10% idle cash and the rest in the mix, never rebalanced: against a plain computation.
    drifting = 1e5 + 0.9 * on_model
    run_r = [drifting[k + 1] / drifting[k] - 1 for k in range(len(mix))]
    active = [a - b for a, b in zip(run_r, mix.tolist(), strict=True)]
    mean = sum(active) / len(active)
    plain = (sum((a - mean) ** 2 for a in active) / (len(active) - 1) * 252) ** 0.5
    te = _run(drifting, np.zeros(len(drifting))).tracking_error(mix)
    assert te == pytest.approx(plain, rel=1e-9)
    assert 0.05 * model_mix_volatility(history, bonds, start, end, 0.6) < te


def test_the_model_mix_reference_is_each_series_own_volatility_at_the_extremes():
    history = load_sample()
    bonds = bond_series(history.dates)
    start, end = history.row_on_or_before(date(2004, 12, 31)), history.row_on_or_before(date(2009, 12, 31))

    def own(series):
        r = series[start + 1 : end + 1] / series[start:end] - 1
        return r.std(ddof=1) * np.sqrt(252)

    assert model_mix_volatility(history, bonds, start, end, 1.0) == pytest.approx(own(equity_fund(history)))
    assert model_mix_volatility(history, bonds, start, end, 0.0) == pytest.approx(own(bonds.price))
    # A mix, put back on its weights each month, is less volatile than its equity alone.
    assert model_mix_volatility(history, bonds, start, end, 0.6) < 0.65 * own(equity_fund(history))

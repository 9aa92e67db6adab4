"""A short backtest on the bundled prices: the engine and both baselines on the same data, the
figures' identities, and the outcome rules (no wash sale, no failed call) on a falling market."""

from datetime import date

import numpy as np
import pytest

from rebalancing.backtest import BacktestConfig, BacktestError, Settings, load_sample, run_backtest
from rebalancing.backtest.report import report_csv_rows, report_dict, report_text
from rebalancing.backtest.runner import cohort_windows
from rebalancing.engine import Parameters

NAMES = ("XOM", "CVX", "JPM", "BAC", "KO", "PEP", "MSFT", "AAPL")
TEMPLATE = Parameters.from_dict({"harvest": {"enabled": True}, "cash": {"target": 0.0}})


@pytest.fixture(scope="module")
def result():
    # 2007-2009 and 2008-2010: the crash, where harvesting (and a careless harvester) is busiest
    config = BacktestConfig(
        weights=dict.fromkeys(NAMES, 1 / len(NAMES)),
        starts=(date(2007, 6, 29), date(2008, 6, 30)),
        years=2,
        parameters=TEMPLATE,
    )
    return run_backtest(config, load_sample())


def test_every_strategy_replays_the_same_prices_from_the_same_basket(result):
    for cohort in result.cohorts:
        runs = cohort.runs
        assert set(runs) == {"buy_and_hold", "engine", "naive"}
        starts = {name: run.values[0] for name, run in runs.items()}
        assert len(set(starts.values())) == 1
        assert all(len(run.values) == len(runs["buy_and_hold"].values) for run in runs.values())


def test_the_engine_harvests_without_a_wash_sale_or_a_failed_call(result):
    for cohort in result.cohorts:
        engine = cohort.whole["engine"]
        assert engine.wash_sales == 0 and engine.failed_calls == 0
        assert engine.harvests > 0 and engine.tax_alpha > 0
        assert cohort.whole["naive"].wash_sales == 0


def test_buy_and_hold_is_its_own_benchmark(result):
    for cohort in result.cohorts:
        bh = cohort.whole["buy_and_hold"]
        assert bh.tracking_error == 0 and bh.active_return == 0 and bh.tax_alpha == 0 and bh.harvests == 0
        run = cohort.runs["buy_and_hold"]
        # its after-tax value is the end value less the long-/short-term tax of selling at the end
        assert run.liquidation_tax >= 0 or run.values[-1] < run.values[0]


def test_tax_alpha_is_the_tax_saved_over_each_years_start_value(result):
    cohort = result.cohorts[0]
    engine, bh = cohort.runs["engine"], cohort.runs["buy_and_hold"]
    years = [m for m in cohort.by_year["engine"]]
    base = {y.year: y.tax for y in bh.years}
    expected = [
        (base[y.year] - y.tax) / y.start_value for y in engine.years if y.year in {m.end.year for m in years}
    ]
    assert cohort.whole["engine"].tax_alpha == pytest.approx(np.mean(expected))


def test_the_same_backtest_gives_the_same_figures():
    config = BacktestConfig(
        weights=dict.fromkeys(NAMES[:4], 0.25), starts=(date(2008, 6, 30),), years=1, parameters=TEMPLATE
    )
    a = run_backtest(config, load_sample()).cohorts[0]
    b = run_backtest(config, load_sample()).cohorts[0]
    assert a.whole["engine"] == b.whole["engine"]
    assert np.array_equal(a.runs["engine"].values, b.runs["engine"].values)


def test_the_report_has_groups_years_cohorts_and_csv_rows(result):
    report = report_dict(result, split_year=2008)
    assert set(report["groups"]) == {"all", "2007-2007", "2008-2008"}
    ratio = report["groups"]["all"]["versus_naive"]
    assert set(ratio) == {"tax_alpha_ratio", "tracking_error_ratio", "meets_target"}
    assert [y["year"] for y in report["by_year"]][:2] == [2007, 2008]
    assert len(report["cohorts"][0]["values"]["dates"]) == len(report["cohorts"][0]["values"]["engine"])
    rows = list(report_csv_rows(report))
    assert rows[0][:5] == ["level", "cohort_start", "period_start", "period_end", "strategy"]
    assert {r[0] for r in rows[1:]} == {"cohort", "year"}
    assert "engine vs naive" in report_text(report)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"years": 0}, "horizon"),
        ({"starts": ()}, "start date"),
        ({"weights": {"XOM": 0.5, "CVX": 0.4}}, "sum to 1"),
        ({"settings": Settings(amount=-5)}, "amount"),
        ({"settings": Settings(short_term_rate=1.5)}, "short_term_rate"),
        ({"risk_model": "magic"}, "risk_model"),
    ],
)
def test_a_bad_configuration_is_refused_naming_the_problem(change, message):
    values = {"weights": {"XOM": 0.5, "CVX": 0.5}, "starts": (date(2008, 6, 30),), "years": 1}
    values.update(change)
    with pytest.raises(BacktestError, match=message):
        BacktestConfig(**values)


def test_prices_that_do_not_cover_the_period_are_refused():
    with pytest.raises(BacktestError, match="prices cover 1990-01-02 to 2022-12-28"):
        run_backtest(BacktestConfig({"XOM": 1.0}, (date(2020, 6, 30),), years=5), load_sample())
    with pytest.raises(BacktestError, match="no price history for ZZZ"):
        run_backtest(BacktestConfig({"ZZZ": 1.0}, (date(2008, 6, 30),), years=1), load_sample())


def test_prices_with_a_gap_are_refused_naming_it_not_replayed_as_daily():
    # given: a name priced on the first day, two months later and then daily (the other daily)
    sample = load_sample().select(["XOM", "CVX"])
    keep = np.ones(len(sample.dates), dtype=bool)
    gap = (sample.dates > date(2008, 7, 1).toordinal()) & (sample.dates < date(2008, 9, 2).toordinal())
    keep[gap] = False
    gappy = type(sample)(sample.dates[keep], sample.symbols, sample.closes[keep], sample.sectors, "csv")
    config = BacktestConfig({"XOM": 0.5, "CVX": 0.5}, (date(2008, 6, 30),), years=1)
    # when / then: refused, naming the days missing (before: three months replayed as one day)
    with pytest.raises(BacktestError, match="no prices from 2008-07-01 to 2008-09-02"):
        run_backtest(config, gappy)


@pytest.mark.parametrize("every, per_year", [(5, 50), (2, 126)])
def test_prices_sparser_than_daily_are_refused_even_without_a_long_gap(every, per_year):
    # given: a name priced weekly (gaps of 7 days) or every other trading day (gaps of 1-4 days):
    # every gap passes the 10-day rule
    sample = load_sample().select(["XOM", "CVX"])
    sparse = type(sample)(sample.dates[::every], sample.symbols, sample.closes[::every], sample.sectors, "csv")
    config = BacktestConfig({"XOM": 0.5, "CVX": 0.5}, (date(2008, 6, 30),), years=1, risk_model="default")
    # when / then: refused, naming how many closes a year there are (before: replayed as if daily,
    # a week's move taken as a day's and 30-day windows counted in rows)
    with pytest.raises(BacktestError, match=rf"about {per_year} a year: a backtest replays daily closes"):
        run_backtest(config, sparse)


def test_every_year_of_the_bundled_prices_has_enough_closes_to_replay():
    # The rule must not refuse real daily data: the fewest closes in a year here is 2001's 248.
    dates = load_sample().dates
    starts = tuple(date(year, 12, 20) for year in range(1990, 2021)) + (date(2021, 12, 27),)
    assert len(cohort_windows(dates, starts, 1)) == len(starts)


def test_a_span_past_the_calendar_is_refused_in_words():
    with pytest.raises(BacktestError, match="prices cover 1990-01-02 to 2022-12-28"):
        run_backtest(BacktestConfig({"XOM": 1.0}, (date(9999, 1, 4),), years=1), load_sample())

"""A backtest: one strategy and its two baselines replayed over one or more holding periods.

``run_backtest(config)`` replays, for every cohort (a start date held ``years`` years), the
engine with the template's parameters, the naive threshold harvester and buy-and-hold, on the
same prices from the same starting basket, and measures the first two against buy-and-hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rebalancing.engine import Parameters

from .errors import BacktestError
from .metrics import PeriodMetrics, period_metrics
from .prices import PriceHistory
from .risk import RISK_LOOKBACK_DAYS, estimated_risk
from .simulation import Run, Settings, simulate
from .strategies import BuyAndHold, EngineStrategy, NaiveHarvester, Strategy
from .taxes import LOSS_TREATMENTS

__all__ = ["BacktestConfig", "CohortResult", "BacktestResult", "run_backtest", "cohort_starts", "cohort_windows",
           "RISK_MODELS", "MAX_GAP_DAYS", "MIN_DAYS_PER_YEAR",
           "daily_closes_check"]

RISK_MODELS = ("estimated", "default")
# The longest calendar gap between two trading days a cohort may have: a market closure (the
# longest in the bundled prices is 7 days, September 2001) and no more; sparser prices (weekly,
# or a name missing for weeks) would be replayed as if they were daily.
MAX_GAP_DAYS = 10
# Closes a cohort needs per year of its span. A US exchange trades on about 252 days (248 in 2001,
# the fewest in the bundled prices); weekly prices (52) or a name priced every other day (126) pass
# the gap rule and would be replayed as if they were daily.
MIN_DAYS_PER_YEAR = 200


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """What to replay.

    ``weights``: the starting basket (symbol -> weight, summing to 1), bought in whole shares
    with ``amount`` on each start date and tracked as the direct-indexed benchmark (its weights
    drift with prices, as a cap-weighted index's do); ``starts``: cohort start dates, each held
    ``years`` years; ``parameters``: the template the engine runs with; ``risk_model``:
    ``"estimated"`` (shrinkage covariance of the trailing daily returns at each decision) or
    ``"default"`` (the engine's sector model).
    """

    weights: Mapping[str, float]
    starts: tuple[date, ...]
    years: int = 10
    parameters: Parameters = field(default_factory=Parameters)
    settings: Settings = field(default_factory=Settings)
    risk_model: str = "estimated"
    naive_threshold: float = 0.10

    def __post_init__(self) -> None:
        if not self.starts:
            raise BacktestError("a backtest needs at least one start date")
        if not 1 <= self.years <= 40:
            raise BacktestError(f"the horizon must be 1 to 40 years, got {self.years}")
        if self.risk_model not in RISK_MODELS:
            raise BacktestError(f"risk_model must be one of {RISK_MODELS}")
        if self.settings.losses not in LOSS_TREATMENTS:
            raise BacktestError(f"losses must be one of {LOSS_TREATMENTS}")
        if not self.settings.amount > 0 or self.settings.amount > 1e12:
            raise BacktestError("the amount must be positive (and below 10^12)")
        for name in ("short_term_rate", "long_term_rate"):
            if not 0 <= getattr(self.settings, name) <= 1:
                raise BacktestError(f"{name} must be between 0 and 1")
        if not 0 < self.naive_threshold < 1:
            raise BacktestError("the naive harvester's threshold must be between 0 and 1")
        total = sum(self.weights.values())
        if not self.weights or any(w < 0 for w in self.weights.values()) or abs(total - 1) > 1e-6:
            raise BacktestError(
                f"the basket's weights must be non-negative and sum to 1 (they sum to {total:.6f})"
            )


@dataclass(slots=True, eq=False)
class CohortResult:
    """One holding period: each strategy's whole-period and yearly metrics and its daily values."""

    start: date
    end: date
    whole: dict[str, PeriodMetrics]
    by_year: dict[str, list[PeriodMetrics]]
    runs: dict[str, Run]


@dataclass(slots=True, eq=False)
class BacktestResult:
    config: BacktestConfig
    history: PriceHistory
    cohorts: list[CohortResult]


def cohort_starts(first_year: int, last_year: int) -> tuple[date, ...]:
    """Yearly cohorts: the basket of cohort ``Y`` is bought at the close of the last trading day
    of ``Y - 1`` so that its tax years are exactly ``Y .. Y + years - 1``."""
    if last_year < first_year:
        raise BacktestError(f"no cohorts between {first_year} and {last_year}")
    if first_year < 2 or last_year > 9999:  # the first is bought on 31 December of the year before
        raise BacktestError(f"cohort years must be 2 to 9999, got {first_year}-{last_year}")
    return tuple(date(y - 1, 12, 31) for y in range(first_year, last_year + 1))


def daily_closes_check(dates: np.ndarray, start_row: int, end_row: int, start: date, end_day: date) -> None:
    """Refuse, naming it, a cohort whose common closes are not daily: a gap of more than
    ``MAX_GAP_DAYS`` (with the day after its end: a gap may straddle it) or fewer than
    ``MIN_DAYS_PER_YEAR`` closes a year of its span."""
    gaps = np.diff(dates[start_row : end_row + 2])
    if gaps.size and gaps.max() > MAX_GAP_DAYS:
        k = start_row + int(gaps.argmax())
        raise BacktestError(
            f"no prices from {date.fromordinal(int(dates[k]))} to {date.fromordinal(int(dates[k + 1]))} "
            f"for every name: a backtest replays daily closes (a gap of at most {MAX_GAP_DAYS} days)"
        )
    per_year = (end_row - start_row) / (max((end_day - start).days, 1) / 365.25)
    if per_year < MIN_DAYS_PER_YEAR:
        raise BacktestError(
            f"from {start} to {end_day} every name has a close on {end_row - start_row + 1} days, about "
            f"{per_year:.0f} a year: a backtest replays daily closes (at least {MIN_DAYS_PER_YEAR} a year; "
            "an exchange trades on about 252)"
        )


def cohort_windows(
    dates: np.ndarray, starts: Sequence[date], years: int, *, risk_model: str = "estimated"
) -> list[tuple[int, int]]:
    """Each cohort's first and last row in ``dates`` (ascending ordinals of the trading days on which
    every name has a close). Raises ``BacktestError`` naming what the prices cannot serve: a span
    they do not cover, closes that are not daily (``daily_closes_check``), too few days before the
    first start for the estimated risk model."""
    first, last = date.fromordinal(int(dates[0])), date.fromordinal(int(dates[-1]))
    windows = []
    for start in starts:
        try:
            end_day = date(start.year + years, start.month, start.day)
        except ValueError:  # 29 February, or after 9999
            end_day = date(start.year + years, start.month, 28) if start.year + years <= 9999 else date.max
        start_row = int(np.searchsorted(dates, start.toordinal(), side="right")) - 1
        end_row = int(np.searchsorted(dates, end_day.toordinal(), side="right")) - 1
        if start_row < 0 or end_day > last:
            raise BacktestError(
                f"prices cover {first} to {last}; a run of {years} year{'s' if years != 1 else ''} from {start} needs {start} to {end_day}"
            )
        daily_closes_check(dates, start_row, end_row, start, end_day)
        windows.append((start_row, end_row))
    if risk_model == "estimated" and min(s for s, _ in windows) < RISK_LOOKBACK_DAYS // 4:
        raise BacktestError(
            f"the estimated risk model needs about {RISK_LOOKBACK_DAYS // 4} trading days of prices before "
            f"the first start date ({first} is too close); start later or use risk_model 'default'"
        )
    return windows


def run_backtest(
    config: BacktestConfig,
    history: PriceHistory,
    *,
    progress: Callable[[int, int], None] | None = None,
    strategies: Sequence[Strategy] | None = None,
) -> BacktestResult:
    """Replay every cohort for the engine and both baselines; ``progress(done, total)`` is called
    after each cohort."""
    missing = [s for s in config.weights if s not in history.symbols]
    if missing:
        raise BacktestError(f"no price history for {', '.join(sorted(missing))}")
    history = history.select([s for s in config.weights])
    weights = np.array([config.weights[s] for s in history.symbols], dtype=float)
    risk = estimated_risk(history) if config.risk_model == "estimated" else None
    if strategies is None:
        strategies = (
            EngineStrategy(parameters=config.parameters, risk=risk),
            NaiveHarvester(threshold=config.naive_threshold),
        )
    windows = cohort_windows(history.dates, config.starts, config.years, risk_model=config.risk_model)
    cohorts = []
    for k, (start_row, end_row) in enumerate(windows):
        base = simulate(BuyAndHold(), history, config.settings, start_row, end_row, weights)
        runs = {"buy_and_hold": base}
        for strategy in strategies:
            runs[strategy.name] = simulate(strategy, history, config.settings, start_row, end_row, weights)
        whole = {
            name: period_metrics(run, base, history.dates, 0, len(run.rows) - 1, whole=True)
            for name, run in runs.items()
        }
        by_year = {name: _yearly(run, base, history) for name, run in runs.items()}
        cohorts.append(CohortResult(history.day(start_row), history.day(end_row), whole, by_year, runs))
        if progress:
            progress(k + 1, len(windows))
    return BacktestResult(config, history, cohorts)


def _yearly(run: Run, base: Run, history: PriceHistory) -> list[PeriodMetrics]:
    years = np.array([history.day(r).year for r in run.rows])
    out = []
    for y in sorted(set(years[1:].tolist())):
        idx = np.flatnonzero(years == y)
        lo = max(int(idx[0]) - 1, 0)  # from the previous close
        out.append(period_metrics(run, base, history.dates, lo, int(idx[-1]), whole=False))
    return out

"""Backtest of tax-loss harvesting: the engine beside buy-and-hold and a naive harvester.

Pure Python (numpy and the engine; no Django): ``run_backtest(config, history)`` replays real
prices with share-exact tax lots, the wash-sale rule and yearly tax, and measures tax alpha,
after-tax liquidation value, tracking error, active return, harvests, gains, wash sales and cash
drag against buy-and-hold.  ``python -m rebalancing.backtest`` is its command line.
"""

from .errors import BacktestError
from .metrics import PeriodMetrics
from .prices import PriceHistory, load_sample, prices_from_csv, prices_from_rows
from .runner import BacktestConfig, BacktestResult, CohortResult, cohort_starts, run_backtest
from .simulation import Settings

__all__ = [
    "BacktestConfig",
    "BacktestError",
    "BacktestResult",
    "CohortResult",
    "PeriodMetrics",
    "PriceHistory",
    "Settings",
    "cohort_starts",
    "load_sample",
    "prices_from_csv",
    "prices_from_rows",
    "run_backtest",
]

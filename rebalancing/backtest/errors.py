"""The backtest's one error type: bad input or a configuration the data cannot serve."""

from __future__ import annotations

__all__ = ["BacktestError"]


class BacktestError(ValueError):
    """Bad input (unknown symbol, too little history, malformed prices): the message names it."""

    code = "invalid_backtest"

"""Daily closing prices the backtest replays: the bundled sample or a firm's own history.

The bundled sample (``data/sp500_daily.csv.gz``, see ``data/build_data.py``) holds the daily
closes, adjusted for splits and dividends, of the 20 S&P 500 stocks skfolio publishes, 1990-01-02
to 2022-12-28.  Adjusted closes carry the dividends, so a position's value is its total return.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np

from rebalancing.engine.request import EARLIEST_DAY, LATEST_DAY

from .errors import BacktestError

__all__ = ["PriceHistory", "load_sample", "prices_from_csv", "prices_from_rows", "SAMPLE_SECTORS"]

DATA = Path(__file__).resolve().parent / "data"
SAMPLE_FILE = DATA / "sp500_daily.csv.gz"
# GICS sectors of the sample's stocks (the security master of the demo data; RRC, no longer an
# S&P 500 member, is an energy producer).
SAMPLE_SECTORS = {
    "AAPL": "Information Technology", "AMD": "Information Technology", "BAC": "Financials",
    "BBY": "Consumer Discretionary", "CVX": "Energy", "GE": "Industrials",
    "HD": "Consumer Discretionary", "JNJ": "Health Care", "JPM": "Financials",
    "KO": "Consumer Staples", "LLY": "Health Care", "MRK": "Health Care",
    "MSFT": "Information Technology", "PEP": "Consumer Staples", "PFE": "Health Care",
    "PG": "Consumer Staples", "RRC": "Energy", "UNH": "Health Care", "WMT": "Consumer Staples",
    "XOM": "Energy",
}  # fmt: skip
INDEX_COLUMN = "^SPX"


@dataclass(frozen=True, slots=True, eq=False)
class PriceHistory:
    """Daily closes: ``closes[d, i]`` is the close of ``symbols[i]`` on ``dates[d]`` (ordinals,
    ascending, one row per trading day, every price positive)."""

    dates: np.ndarray
    symbols: tuple[str, ...]
    closes: np.ndarray
    sectors: Mapping[str, str | None]
    source: str = "prices"

    def __post_init__(self) -> None:
        if self.closes.shape != (len(self.dates), len(self.symbols)):
            raise BacktestError("price matrix does not match its dates and symbols")
        if len(self.dates) < 2 or np.any(np.diff(self.dates) <= 0):
            raise BacktestError("price dates must be at least two distinct days in ascending order")
        if not np.all(np.isfinite(self.closes)) or np.any(self.closes <= 0):
            raise BacktestError("every price must be a positive number")

    @property
    def first(self) -> date:
        return date.fromordinal(int(self.dates[0]))

    @property
    def last(self) -> date:
        return date.fromordinal(int(self.dates[-1]))

    def day(self, d: int) -> date:
        """The date of row ``d``."""
        return date.fromordinal(int(self.dates[d]))

    def row_on_or_after(self, day: date) -> int:
        """First trading day on or after ``day`` (``len(dates)`` when past the end)."""
        return int(np.searchsorted(self.dates, day.toordinal(), side="left"))

    def row_on_or_before(self, day: date) -> int:
        """Last trading day on or before ``day`` (-1 when before the start)."""
        return int(np.searchsorted(self.dates, day.toordinal(), side="right")) - 1

    def month_ends(self, start: int, end: int) -> np.ndarray:
        """Rows of the last trading day of each month within rows ``start..end`` (inclusive)."""
        ym = np.array(
            [(d.year, d.month) for d in map(date.fromordinal, self.dates[start : end + 1].tolist())]
        )
        last = np.flatnonzero(np.any(ym[1:] != ym[:-1], axis=1))
        rows = start + last
        if end + 1 < len(self.dates):
            nxt = date.fromordinal(int(self.dates[end + 1]))
            if (nxt.year, nxt.month) != (self.day(end).year, self.day(end).month):
                rows = np.append(rows, end)
        return rows

    def through(self, day: date) -> PriceHistory:
        """The days up to the first one on or after ``day`` (all a run ending on ``day`` reads): the
        same run reads the same days however much later history has been added since."""
        rows = min(self.row_on_or_after(day) + 1, len(self.dates))
        return PriceHistory(self.dates[:rows], self.symbols, self.closes[:rows], self.sectors, self.source)

    def select(self, symbols: Iterable[str]) -> PriceHistory:
        """The same days for a subset of symbols (in the given order)."""
        index = {s: i for i, s in enumerate(self.symbols)}
        wanted = list(symbols)
        missing = [s for s in wanted if s not in index]
        if missing:
            raise BacktestError(f"no price history for {', '.join(missing)}")
        cols = [index[s] for s in wanted]
        return PriceHistory(
            self.dates,
            tuple(wanted),
            self.closes[:, cols],
            {s: self.sectors.get(s) for s in wanted},
            self.source,
        )


@cache
def load_sample() -> PriceHistory:
    """The bundled 20-stock sample (read once per process)."""
    with gzip.open(SAMPLE_FILE, "rt", encoding="utf-8") as fh:
        history = prices_from_csv(fh.read(), sectors=SAMPLE_SECTORS, source="sample")
    return history.select([s for s in history.symbols if s != INDEX_COLUMN])


def prices_from_csv(
    text: str, *, sectors: Mapping[str, str | None] | None = None, source: str = "csv"
) -> PriceHistory:
    """Parse ``date,SYM1,SYM2,...`` rows (ISO dates, one row per trading day).

    Raises ``BacktestError`` naming the line and column of a bad value. A byte-order mark (Excel's
    "CSV UTF-8") is read as none; numbers are read as the book files read them
    (docs/csv-formats.md): ASCII digits, no ``1_000`` - ``float()`` alone reads both ``"1_1"`` and
    the fullwidth or Arabic-Indic ``"１１"`` as 11.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise BacktestError("the price file is empty") from None
    if len(header) < 2 or header[0].strip().lower() != "date":
        raise BacktestError("the price file's first column must be 'date', followed by one column per symbol")
    symbols = tuple(h.strip() for h in header[1:])
    if len(set(symbols)) != len(symbols) or not all(symbols):
        raise BacktestError("the price file names a symbol twice or has an empty column name")
    dates: list[int] = []
    rows: list[list[float]] = []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise BacktestError(f"line {line}: {len(row)} values, expected {len(header)}")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise BacktestError(f"line {line}: {row[0]!r} is not an ISO date") from None
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise BacktestError(f"line {line}: {day} is not a day the engine rebalances on ({EARLIEST_DAY} to "
                                f"{LATEST_DAY})")
        dates.append(day.toordinal())
        values = []
        for symbol, cell in zip(symbols, row[1:], strict=True):
            if not cell.isascii() or "_" in cell:
                raise BacktestError(f"line {line}, {symbol}: {cell!r} is not a number: {_numeral_problem(cell)}")
            try:
                value = float(cell)
            except ValueError:
                raise BacktestError(f"line {line}, {symbol}: {cell!r} is not a number") from None
            if not math.isfinite(value) or value <= 0:
                raise BacktestError(f"line {line}, {symbol}: price {cell} must be positive")
            values.append(value)
        rows.append(values)
    return PriceHistory(
        np.array(dates, dtype=np.int64),
        symbols,
        np.array(rows, dtype=float).reshape(len(rows), len(symbols)),
        dict(sectors or {}),
        source,
    )


def _numeral_problem(cell: str) -> str:
    """Why a cell that ``float()`` reads is no number of a CSV file, in the words of the book files'
    (``config.input_limits.numeral_problem``, which the backtest, free of Django, does not import)."""
    for char in cell:
        if not char.isascii():
            kind = "a digit" if char.isdigit() or char.isnumeric() else "a character"
            return f"“{char}” (U+{ord(char):04X}) is {kind} outside 0-9; write numbers with the digits 0-9"
    return "“_” is no digit; write 1000, not 1_000"


def prices_from_rows(
    rows: Iterable[tuple[date, str, float]],
    *,
    sectors: Mapping[str, str | None] | None = None,
    source: str = "firm",
) -> PriceHistory:
    """Build from (date, symbol, close) rows, e.g. a firm's stored prices.

    Keeps the days on which every symbol has a price (a backtest needs them all), so the caller
    checks the span it gets.
    """
    by_day: dict[int, dict[str, float]] = {}
    symbols: dict[str, None] = {}
    for day, symbol, close in rows:
        by_day.setdefault(day.toordinal(), {})[symbol] = float(close)
        symbols.setdefault(symbol, None)
    names = tuple(sorted(symbols))
    days = sorted(d for d, prices in by_day.items() if len(prices) == len(names))
    if len(days) < 2:
        raise BacktestError("fewer than two days on which every security has a price")
    closes = np.array([[by_day[d][s] for s in names] for d in days], dtype=float)
    return PriceHistory(np.array(days, dtype=np.int64), names, closes, dict(sectors or {}), source)

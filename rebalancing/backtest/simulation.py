"""Replaying one strategy over one holding period on daily prices.

The basket is bought in whole shares at the close of the first day; the strategy decides at the
close of each month's last trading day (and on days it asks to be woken up); its orders fill at
that close.  Each year's tax is settled from the account at the first decision of the next year,
before it trades (a refund is cash the strategy invests, a bill is cash it must raise); a
correction found later (a wash sale across the year end) is settled at the next decision.  At the end the account
is valued as if liquidated: market value less the tax the sale would cost.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .account import Execution, SimAccount, WashSale
from .errors import BacktestError
from .prices import PriceHistory
from .strategies import Market, NaiveHarvester, Strategy
from .taxes import Carryover, year_tax, years_tax

__all__ = ["Settings", "YearRecord", "Run", "simulate", "starting_shares"]


@dataclass(frozen=True, slots=True)
class Settings:
    """What every strategy of a backtest shares: money, tax rates, loss treatment."""

    amount: float = 1_000_000.0
    short_term_rate: float = 0.408
    long_term_rate: float = 0.238
    losses: str = "offset"


@dataclass(slots=True)
class YearRecord:
    """One tax year of one run (money in account currency)."""

    year: int
    start_value: float
    short_term: float = 0.0
    long_term: float = 0.0
    tax: float = 0.0


@dataclass(slots=True, eq=False)
class Run:
    """A strategy's replay: daily values (``rows`` of the price history), tax flows, years."""

    strategy: str
    label: str
    rows: np.ndarray
    values: np.ndarray
    cash: np.ndarray
    flows: np.ndarray
    years: list[YearRecord]
    executions: list[Execution]
    wash_sales: list[WashSale]
    failures: list[tuple[date, str]] = field(default_factory=list)
    uninvested: list[tuple[date, str]] = field(default_factory=list)
    decisions: int = 0
    liquidation_tax: float = 0.0

    @property
    def after_tax_value(self) -> float:
        """Value at the end if liquidated, after the tax of the sale."""
        return float(self.values[-1]) - self.liquidation_tax


def starting_shares(amount: float, weights: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Whole shares of each name for ``amount`` split by ``weights`` (the rest stays in cash)."""
    return np.floor(amount * weights / prices + 1e-9)


def simulate(
    strategy: Strategy,
    history: PriceHistory,
    settings: Settings,
    start_row: int,
    end_row: int,
    weights: np.ndarray,
) -> Run:
    """Replay ``strategy`` from ``start_row`` (buy the basket) to ``end_row`` (value it)."""
    if not 0 <= start_row < end_row < len(history.dates):
        raise BacktestError("the holding period falls outside the price history")
    symbols = history.symbols
    closes = history.closes
    sectors = tuple(history.sectors.get(s) for s in symbols)
    strategy.start()
    account = SimAccount(cash=settings.amount)
    first = history.day(start_row)
    basket = starting_shares(settings.amount, weights, closes[start_row])
    for s, q in zip(symbols, basket, strict=True):
        account.buy(s, float(q), float(closes[start_row, list(symbols).index(s)]), first)
    n_rows = end_row - start_row + 1
    qty_at = np.zeros((n_rows, len(symbols)))
    cash_at = np.zeros(n_rows)
    flows = np.zeros(n_rows)
    changes = [(0, np.array(account.quantities(symbols)), account.cash)]
    scheduled = set(history.month_ends(start_row + 1, end_row - 1).tolist())
    events = sorted(scheduled)
    heapq.heapify(events)
    seen: set[int] = set()
    years: dict[int, YearRecord] = {
        first.year: YearRecord(first.year, _value(account, symbols, closes[start_row]))
    }
    settled: dict[int, float] = {}
    carry: dict[int, Carryover] = {}
    run = Run(strategy.name, strategy.label, np.arange(start_row, end_row + 1), np.zeros(0), np.zeros(0),
              np.zeros(0), [], account.executions, account.wash_sales)  # fmt: skip

    def settle(row: int, through_year: int) -> None:
        # Every year, sales or none: a loss carried forward still takes its 3,000 off a year without
        # sales and carries the rest on (IRC §1211(b), §1212(b)); skipping that year dropped it.
        for y in range(first.year, through_year + 1):
            st, lt = account.realised.get(y, (0.0, 0.0))
            tax, out = year_tax(
                st,
                lt,
                settings.short_term_rate,
                settings.long_term_rate,
                settings.losses,
                carry.get(y, Carryover()),
            )
            carry[y + 1] = out
            delta = tax - settled.get(y, 0.0)
            if abs(delta) < 0.005:
                continue
            settled[y] = tax
            account.cash -= delta
            flows[row - start_row] -= delta

    # Year starts: the first row of each later year.
    year_of = np.array([history.day(r).year for r in range(start_row, end_row + 1)])
    while events:
        row = heapq.heappop(events)
        if row in seen or row >= end_row:
            continue
        seen.add(row)
        day = history.day(row)
        for y in range(max(years) + 1, day.year + 1):
            # Start-of-year value: the close of the previous year's last day, flows included.
            prev = start_row + int(np.flatnonzero(year_of == y)[0]) - 1
            years[y] = YearRecord(y, _value_from(changes, prev - start_row, closes[prev], flows))
        # Last year's tax is settled at the first decision of the new year, before it trades (a
        # refund is invested, a bill raised, in the same run; estimated tax for Q4 is due Jan 15).
        settle(row, day.year - 1)
        prices = closes[row]
        bench = basket * prices
        market = Market(
            day, symbols, sectors, prices, closes[: row + 1], history.dates[: row + 1],
            bench / bench.sum(), row in scheduled, settings.short_term_rate, settings.long_term_rate,
        )  # fmt: skip
        orders = strategy.decide(account, market)
        run.decisions += 1
        if orders.failure:
            run.failures.append((day, orders.failure))
        for symbol in orders.uninvested:
            run.uninvested.append((day, symbol))
        index = {s: i for i, s in enumerate(symbols)}
        for lot_id, shares in orders.sells:
            symbol = account.symbol_of(lot_id)
            if symbol is None:
                raise BacktestError(f"{strategy.name} sold unknown lot {lot_id} on {day}")
            account.sell(lot_id, shares, float(prices[index[symbol]]), day)
        made: list[str | None] = []
        for symbol, shares in orders.buys:
            lot = account.buy(symbol, shares, float(prices[index[symbol]]), day)
            made.append(lot.id if lot else None)
        if isinstance(strategy, NaiveHarvester):
            strategy.filled(day, made)
        if account.cash < -0.01 * settings.amount and not orders.failure:
            raise BacktestError(f"{strategy.name} spent more cash than it had on {day} ({account.cash:,.2f})")
        for wake in orders.wake_on:
            r = history.row_on_or_after(wake)
            if r < end_row and r not in seen:
                heapq.heappush(events, r)
        changes.append((row - start_row, np.array(account.quantities(symbols)), account.cash))
    last_day = history.day(end_row)
    for y in range(max(years) + 1, last_day.year + 1):
        prev = start_row + int(np.flatnonzero(year_of == y)[0]) - 1
        years[y] = YearRecord(y, _value_from(changes, prev - start_row, closes[prev], flows))
    settle(end_row, last_day.year)
    changes.append((end_row - start_row, np.array(account.quantities(symbols)), account.cash))
    # Positions are constant between changes: fill the daily quantities and cash.
    for k, (offset, qty, cash) in enumerate(changes):
        stop = changes[k + 1][0] if k + 1 < len(changes) else n_rows
        qty_at[offset:stop] = qty
        cash_at[offset:stop] = cash
    values = np.einsum("ij,ij->i", qty_at, closes[start_row : end_row + 1]) + cash_at
    for y, record in years.items():
        st, lt = account.realised.get(y, [0.0, 0.0])
        record.short_term, record.long_term, record.tax = st, lt, settled.get(y, 0.0)
    run.values, run.cash, run.flows = values, cash_at, flows
    run.years = [years[y] for y in sorted(years)]
    run.liquidation_tax = _liquidation_tax(account, history, end_row, settings, first.year)
    return run


def _value(account: SimAccount, symbols: tuple[str, ...], prices: np.ndarray) -> float:
    return float(np.array(account.quantities(symbols)) @ prices) + account.cash


def _value_from(changes, offset: int, prices: np.ndarray, flows: np.ndarray) -> float:
    """Value at ``offset`` from the positions in force then."""
    qty, cash = next((q, c) for o, q, c in reversed(changes) if o <= offset)
    return float(qty @ prices) + cash


def _liquidation_tax(account: SimAccount, history: PriceHistory, row: int, settings: Settings, first: int) -> float:
    """Extra tax of selling every lot at ``row``'s close, on top of the years' realised results:
    the lots are sold through the account's own rules (a loss washed by a purchase of the last 30
    days moves to the replacement shares sold with it, their term tacked, §1091(d), §1223(3);
    2026-12-06), and the years' taxes compared (carried losses included)."""
    day = history.day(row)
    price = dict(zip(history.symbols, history.closes[row].tolist(), strict=True))
    sold = account.liquidated(price, day)
    years = range(first, day.year + 1)
    r = (settings.short_term_rate, settings.long_term_rate, settings.losses)
    return years_tax(sold.realised, years, *r) - years_tax(account.realised, years, *r)

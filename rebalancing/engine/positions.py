"""The account as numpy arrays (built once per request): securities, holdings and tax lots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from .errors import InvalidRequest
from .request import LotTable, RebalanceRequest, Security, TaxLot
from .tax import long_term_mask

__all__ = ["Book", "LotColumns", "build_book", "lot_columns", "lot_sums"]


@dataclass(frozen=True, slots=True, eq=False)
class Book:
    """Positions of one account over a universe of securities.

    Security arrays are indexed like ``symbols``; lot arrays like ``lots`` (sorted by security).
    ``lot_gain`` is the unrealised gain at today's price; ``lot_long`` whether a sale today would be
    long-term.
    """

    as_of: date
    symbols: tuple[str, ...]
    index: Mapping[str, int]
    securities: tuple[Security, ...]
    price: np.ndarray
    fractional: np.ndarray
    quantity: np.ndarray
    value: np.ndarray
    cash: float
    total_value: float
    lots: tuple[TaxLot, ...] | LotTable
    lot_ids: list[str]
    lot_sec: np.ndarray
    lot_qty: np.ndarray
    lot_basis: np.ndarray
    lot_acquired: np.ndarray
    lot_long: np.ndarray
    lot_value: np.ndarray
    lot_gain: np.ndarray
    # Each lot's position in the request's list (lots are sorted by security, stably).
    lot_origin: np.ndarray
    # The day each lot was bought (ordinal), for the wash-sale window: ``lot_acquired``, but the day
    # of purchase of a replacement whose holding period is tacked (``Account.purchased_on``), and 0
    # for a lot received rather than bought (``Account.received_lots``: a gift is no purchase).
    lot_bought_on: np.ndarray
    # The number of securities and the current weights of the securities and of cash (fractions
    # of total value), computed once: the engine reads them dozens of times per account.
    n: int
    weights: np.ndarray
    cash_weight: float


@dataclass(frozen=True, slots=True, eq=False)
class LotColumns:
    """An account's lots as columns, in the request's order: read once for the universe (which
    names hold a loss), the book and the report (the ids of the lots sold)."""

    ids: Sequence[str]
    symbols: Sequence[str]
    quantity: np.ndarray
    cost_basis: np.ndarray


def lot_columns(lots: Sequence[TaxLot]) -> LotColumns:
    """The id, symbol, quantity and cost basis of each of ``lots``."""
    if isinstance(lots, LotTable):
        return LotColumns(lots.ids, lots.symbols, lots.quantity, lots.cost_basis)
    n = len(lots)
    # (Comprehensions: Python 3.11's specialised attribute reads of a slotted class are quicker
    # than ``attrgetter`` through ``map``.)
    return LotColumns(
        [lot.id for lot in lots],
        [lot.symbol for lot in lots],
        np.fromiter([lot.quantity for lot in lots], float, n),
        np.fromiter([lot.cost_basis for lot in lots], float, n),
    )


def build_book(
    request: RebalanceRequest,
    securities: Mapping[str, Security],
    extra_symbols: Iterable[str],
    columns: LotColumns | None = None,
) -> Book:
    """Arrays for the held symbols plus ``extra_symbols`` (model, benchmarks, substitutes...);
    ``columns``: the lots' columns when the caller has read them already."""
    raw = request.account.lots
    columns = columns if columns is not None else lot_columns(raw)
    raw_symbols = columns.symbols
    extra = list(extra_symbols)
    if not securities.keys() >= set(extra):  # a set operation in C; the loop names the first unknown
        for symbol in extra:
            if symbol not in securities:
                raise InvalidRequest(f"unknown symbol {symbol!r}", {"symbol": symbol})
    first_seen = dict.fromkeys(raw_symbols)
    first_seen.update(dict.fromkeys(extra))
    order = {symbol: i for i, symbol in enumerate(first_seen)}
    symbols = tuple(order)
    secs = tuple(map(securities.__getitem__, symbols))
    price = np.fromiter([sec.price for sec in secs], float, len(secs))
    fractional = np.fromiter([sec.fractional for sec in secs], bool, len(secs))

    # Attribute reads through ``map`` run in C: these passes over thousands of lots are the
    # slow part of building the book.
    sec_of = np.fromiter(map(order.__getitem__, raw_symbols), np.int64, len(raw))
    perm = sec_of.argsort(kind="stable")
    perm_l = perm.tolist()
    if isinstance(raw, LotTable):  # lots as columns stay columns
        lots = raw.take(perm)
        lot_acquired = raw.acquired[perm]
    else:
        lots = tuple(map(raw.__getitem__, perm_l))
        lot_acquired = np.fromiter([lot.acquired.toordinal() for lot in lots], np.int64, len(lots))
    lot_sec = sec_of[perm]
    lot_qty = columns.quantity[perm]
    lot_basis = columns.cost_basis[perm]
    lot_value = lot_qty * price[lot_sec] if len(lots) else np.zeros(0)
    # (A bincount of float weights is float already; of no lots, integer zeros.)
    quantity = (
        np.bincount(lot_sec, weights=lot_qty, minlength=len(symbols)) if len(lots) else np.zeros(len(symbols))
    )
    value = quantity * price
    cash = float(request.account.cash)
    # Float noise is no gain or loss: 75 x 37.73 - 2829.75 is -4.5e-13, and a "loss" lot bought
    # in the last 30 days is frozen by the wash-sale rules.
    lot_gain = lot_value - lot_basis
    lot_gain[np.abs(lot_gain) < 1e-9 * np.maximum(np.abs(lot_basis), 1.0)] = 0.0
    total = cash + float(value.sum())
    if not total > 0:
        raise InvalidRequest(f"account {request.account.id} has no value (cash + holdings = {total:.2f})")
    lot_ids = list(map(columns.ids.__getitem__, perm_l))
    bought_on = request.account.bought_on()
    lot_bought_on = lot_acquired
    if bought_on:
        days = {i: 0 if day is None else day.toordinal() for i, day in bought_on.items()}
        lot_bought_on = np.array([days.get(i, a) for i, a in zip(lot_ids, lot_acquired.tolist(), strict=True)],
                                 dtype=np.int64)
    return Book(
        as_of=request.as_of,
        symbols=symbols,
        index=order,
        securities=secs,
        price=price,
        fractional=fractional,
        quantity=quantity,
        value=value,
        cash=cash,
        total_value=total,
        lots=lots,
        lot_ids=lot_ids,
        lot_sec=lot_sec,
        lot_qty=lot_qty,
        lot_basis=lot_basis,
        lot_acquired=lot_acquired,
        lot_long=long_term_mask(lot_acquired, request.as_of),
        lot_value=lot_value,
        lot_gain=lot_gain,
        lot_origin=perm,
        lot_bought_on=lot_bought_on,
        n=len(symbols),
        weights=value / total,
        cash_weight=cash / total,
    )


# numpy sums fewer than this many numbers one after another (from zero), as ``bincount`` does;
# longer runs pairwise, which can differ in the last bit.
_SUMMED_IN_ORDER = 8


def lot_sums(
    lot_sec: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int, counts: np.ndarray | None = None
) -> np.ndarray:
    """``values[mask & (lot_sec == i)].sum()`` for each security ``i`` in ``range(n)``, to the bit,
    in a few numpy calls rather than a few per security: one ``bincount``, and the sum as numpy
    takes it for the rare security with ``_SUMMED_IN_ORDER`` or more of the lots (``counts``: the
    lots of each in ``mask``, ``bincount(lot_sec, weights=mask)``, when the caller has them)."""
    totals = np.bincount(lot_sec, weights=np.where(mask, values, 0.0), minlength=n)
    if counts is None:
        counts = np.bincount(lot_sec, weights=mask, minlength=n)
    for i in (counts >= _SUMMED_IN_ORDER).nonzero()[0].tolist():
        totals[i] = values[mask & (lot_sec == i)].sum()
    return totals

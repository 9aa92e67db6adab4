"""Input dataclasses: one account, its securities, its model and its parameters.

Units: quantities in shares, money in account currency, weights as fractions (0.25 = 25%),
dates as ``datetime.date``.  Mappings are plain dicts and must be treated as read-only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter

import numpy as np

from .errors import InvalidRequest
from .parameters import ESG_SCORES, Parameters, _number_text
from .tax import ORDINARY_LOSS_LIMIT, TaxReturn

__all__ = [
    "TaxLot",
    "LotTable",
    "HouseholdTrade",
    "Account",
    "Security",
    "RiskModel",
    "Benchmark",
    "Sleeve",
    "Model",
    "RebalanceRequest",
    "validate_request",
    "EARLIEST_DAY",
    "LATEST_DAY",
]

WEIGHT_TOLERANCE = 1e-6
_ID, _SYMBOL, _ACQUIRED = attrgetter("id"), attrgetter("symbol"), attrgetter("acquired")


# Beyond these a number is a typo or an attack, not an account: 1e300 shares would overflow the
# optimiser's arithmetic (a trillion shares, a quadrillion in money, are far beyond any account).
MAX_QUANTITY = 1e12
MAX_MONEY = 1e15
_LAST_DAY = date.max.toordinal()
# The days a request, its lots and its trades may be dated: the product's book starts on 1900-01-01
# (``engine_inputs.FIRST_BOOK_DAY``, which the API's and the pages' days are checked against), and
# the engine counts holding periods and wash-sale windows forward from a lot's day, which near
# 9999-12-31 runs past the last day Python's calendar holds (an OverflowError, not an answer).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2200, 12, 31)


def _finite(value: object, what: str, limit: float = MAX_MONEY) -> float:
    # An int is finite but may be beyond a float (JSON's 10**400): compared before it is converted.
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise InvalidRequest(f"{what} must be a finite number, got {value!r}")
    if abs(value) > limit:
        raise InvalidRequest(f"{what} is out of range: {_number_text(value)} (at most {limit:.0e})")
    return float(value)


def _day_check(day: object, what: str, detail: dict | None = None) -> None:
    if not isinstance(day, date) or not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidRequest(f"{what} must be a day from {EARLIEST_DAY} to {LATEST_DAY}, got {day}", detail)


@dataclass(frozen=True, slots=True)
class TaxLot:
    """A tax lot: ``quantity`` shares of ``symbol`` bought on ``acquired`` for ``cost_basis`` in total."""

    id: str
    symbol: str
    quantity: float
    cost_basis: float
    acquired: date

    def __post_init__(self) -> None:
        # The usual lot passes in one comparison chain; the messages are built only on failure
        # (a direct-indexed account has thousands of lots).
        q, c = self.quantity, self.cost_basis
        if type(q) is float and type(c) is float and 0.0 <= q <= MAX_QUANTITY and 0.0 <= c <= MAX_MONEY:
            return
        if _finite(self.quantity, f"quantity of lot {self.id}", MAX_QUANTITY) < 0:
            raise InvalidRequest(f"negative quantity in lot {self.id}", {"lot": self.id})
        if _finite(self.cost_basis, f"cost basis of lot {self.id}") < 0:
            raise InvalidRequest(f"negative cost basis in lot {self.id}", {"lot": self.id})


def _floats(given, array: np.ndarray) -> np.ndarray | None:
    """A column of numbers as float64 (a copy), or None when a value may not be a number of a lot
    (booleans, strings...: numpy would turn True into 1.0)."""
    if isinstance(given, np.ndarray):
        return array.astype(np.float64) if array.dtype.kind in "iuf" else None
    if not {float, int} >= set(map(type, given)):
        return None
    return array.astype(np.float64)


class LotTable(Sequence[TaxLot]):
    """An account's tax lots as columns, as a loader reads them from a table: a direct-indexed
    account has thousands of lots, and building and checking a ``TaxLot`` for each cost about as
    much as reading them. Checked as a whole with numpy, by the same rules as ``TaxLot`` (the first
    offending lot raises ``TaxLot``'s own error); read as a sequence of ``TaxLot``, built when
    asked for, while the engine reads the columns.

    ``acquired``: the acquisition dates, as dates or as their ordinals (``date.toordinal``).
    """

    __slots__ = ("ids", "symbols", "quantity", "cost_basis", "acquired", "_lots")

    ids: tuple[str, ...]
    symbols: tuple[str, ...]
    quantity: np.ndarray  # float64, read-only, like the other arrays
    cost_basis: np.ndarray
    acquired: np.ndarray  # int64 date ordinals

    def __init__(
        self,
        ids: Sequence[str],
        symbols: Sequence[str],
        quantity: Sequence[float] | np.ndarray,
        cost_basis: Sequence[float] | np.ndarray,
        acquired: Sequence[date | int] | np.ndarray,
    ) -> None:
        ids, symbols = tuple(ids), tuple(symbols)
        n = len(ids)
        q, c, days = np.asarray(quantity), np.asarray(cost_basis), np.asarray(acquired)
        if q.ndim != 1 or c.ndim != 1 or days.ndim != 1:
            raise InvalidRequest("lot columns must be flat sequences")
        if not len(symbols) == len(q) == len(c) == len(days) == n:
            raise InvalidRequest(
                f"lot columns of different lengths: {n} ids, {len(symbols)} symbols, {len(q)} quantities, "
                f"{len(c)} cost bases, {len(days)} dates"
            )
        if days.dtype == object:
            days = np.fromiter(map(date.toordinal, days.tolist()), np.int64, n)
        elif n == 0:
            days = days.astype(np.int64)
        if days.dtype.kind not in "iu" or not ((days >= 1) & (days <= _LAST_DAY)).all():
            raise InvalidRequest("lot acquisition dates must be dates or date ordinals")
        q, c = _floats(quantity, q), _floats(cost_basis, c)
        # NaN fails every comparison: only finite, in-range columns pass.
        if (
            q is None
            or c is None
            or not (((q >= 0.0) & (q <= MAX_QUANTITY)).all() and ((c >= 0.0) & (c <= MAX_MONEY)).all())
        ):
            # The lots one by one, from the values as given: a bad one raises TaxLot's own error.
            lots = [
                TaxLot(ids[i], symbols[i], quantity[i], cost_basis[i], date.fromordinal(int(days[i])))
                for i in range(n)
            ]
            q = np.array([float(lot.quantity) for lot in lots], dtype=np.float64)
            c = np.array([float(lot.cost_basis) for lot in lots], dtype=np.float64)
        self._set(ids, symbols, q, c, days.astype(np.int64))

    def _set(self, ids, symbols, q, c, days) -> None:
        for array in (q, c, days):
            array.flags.writeable = False
        self.ids, self.symbols, self.quantity, self.cost_basis, self.acquired = ids, symbols, q, c, days
        self._lots: tuple[TaxLot, ...] | None = None

    def take(self, order: Sequence[int] | np.ndarray) -> LotTable:
        """The lots in ``order`` (positions), already checked."""
        order = np.asarray(order, dtype=np.int64)
        positions = order.tolist()
        table = LotTable.__new__(LotTable)
        table._set(
            tuple(map(self.ids.__getitem__, positions)),
            tuple(map(self.symbols.__getitem__, positions)),
            self.quantity[order],
            self.cost_basis[order],
            self.acquired[order],
        )
        return table

    def acquired_between(self, start: date, end: date) -> tuple[TaxLot, ...]:
        """The lots acquired from ``start`` to ``end`` (both included), in order."""
        days = self.acquired
        inside = ((days >= start.toordinal()) & (days <= end.toordinal())).nonzero()[0]
        return tuple(map(self._lot, inside.tolist()))

    def _lot(self, i: int) -> TaxLot:
        return TaxLot(
            self.ids[i], self.symbols[i], float(self.quantity[i]), float(self.cost_basis[i]),
            date.fromordinal(int(self.acquired[i])),
        )

    def lots(self) -> tuple[TaxLot, ...]:
        """Every lot as a ``TaxLot`` (built once)."""
        if self._lots is None:
            self._lots = tuple(
                map(
                    TaxLot, self.ids, self.symbols, self.quantity.tolist(), self.cost_basis.tolist(),
                    map(date.fromordinal, self.acquired.tolist()),
                )
            )
        return self._lots

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.lots()[i]
        if self._lots is not None:
            return self._lots[i]
        return self._lot(range(len(self.ids))[i])  # negative positions, IndexError as a tuple's

    def __iter__(self):
        return iter(self.lots())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LotTable):
            return (
                self.ids == other.ids
                and self.symbols == other.symbols
                and np.array_equal(self.quantity, other.quantity)
                and np.array_equal(self.cost_basis, other.cost_basis)
                and np.array_equal(self.acquired, other.acquired)
            )
        if isinstance(other, tuple | list):
            return self.lots() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.lots())

    def __repr__(self) -> str:
        return f"LotTable({len(self)} lots)"


@dataclass(frozen=True, slots=True)
class HouseholdTrade:
    """A trade of the last 30 days in any account of the household (tax-deferred ones included).

    ``realised_gain`` of a sale: negative for a loss; ``None`` (unknown) is treated as a loss,
    which is the safe side for the wash-sale rules.
    """

    date: date
    symbol: str
    side: str
    quantity: float
    realised_gain: float | None = None
    account_id: str | None = None

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise InvalidRequest(f"household trade side must be 'buy' or 'sell', got {self.side!r}")
        if _finite(self.quantity, f"quantity of household trade in {self.symbol}", MAX_QUANTITY) < 0:
            raise InvalidRequest(f"negative quantity in household trade of {self.symbol}")
        if self.realised_gain is not None:
            _finite(self.realised_gain, f"realised gain of household trade in {self.symbol}")
        _day_check(self.date, f"the date of the household trade in {self.symbol}")


def _tax_returns_check(returns: tuple[TaxReturn, ...]) -> None:
    ids = [r.id for r in returns]
    if len(set(ids)) != len(ids):
        raise InvalidRequest(f"tax_returns name a return twice: {sorted(ids)}")
    for r in returns:
        name = f"tax return {r.id!r}"
        _finite(r.short_term_ytd, f"{name} short_term_ytd")
        _finite(r.long_term_ytd, f"{name} long_term_ytd")
        if min(_finite(r.carried_short, f"{name} carried_short"), _finite(r.carried_long, f"{name} carried_long")) < 0:
            raise InvalidRequest(f"{name}: a loss carried in is a positive amount or 0")
        if not 0.0 <= _finite(r.loss_limit, f"{name} loss_limit") <= ORDINARY_LOSS_LIMIT:
            raise InvalidRequest(f"{name}: loss_limit is at most {ORDINARY_LOSS_LIMIT:,.0f} a year (IRC §1211(b)), 0 or more")
        if r.taxable_income is not None:  # negative when deductions exceed income (Form 1040 line 15)
            _finite(r.taxable_income, f"{name} taxable_income")
        if not 0.0 < _finite(r.share, f"{name} share") <= 1.0:
            raise InvalidRequest(f"{name}: share is the part of the account's results on the return, above 0 and at most 1")
    if returns and abs(sum(r.share for r in returns) - 1.0) > 1e-9:
        raise InvalidRequest(f"tax_returns' shares add up to {sum(r.share for r in returns):g}, not 1: every "
                             "result of the account goes on some return, once")


@dataclass(frozen=True, slots=True)
class Account:
    """The account being rebalanced.

    ``short_term_rate`` / ``long_term_rate``: marginal tax rates on gains; ``realised_*_ytd``:
    net gains this account has realised this year (its yearly net-gain cap counts them);
    ``tax_returns``: the returns its sales go on, each whole - every account's year so far on it,
    its carried loss and limit (``tax.TaxReturn``) - on which the estimate nets the run
    (``tax.run_tax``); when empty the account is its own return: ``realised_*_ytd`` its year,
    ``loss_carryforward_*`` the capital losses carried into this year (positive amounts, IRC
    §1212(b)) and ``ordinary_loss_limit`` the most of a net loss deducted from ordinary income
    ($3,000 a year, $1,500 married filing separately, IRC §1211(b)) - the last two unused when
    ``tax_returns`` is given;
    ``taxable=False`` for tax-deferred accounts (no tax,
    no harvesting, but its purchases still count for the household's wash sales).
    ``received_lots``: the ids of lots received rather than bought (gifts): acquired in the last
    30 days, such a lot is no purchase in the wash-sale window (IRC §1091(a) counts shares
    "acquired by purchase"), though its ``acquired`` still sets its holding period.
    ``purchased_on``: (lot id, day) for lots bought on another day than their ``acquired``: a
    wash-sale replacement, whose holding period is tacked back to the loss shares' (§1223(3)); the
    wash-sale window reads the day it was bought (a ``Mapping`` is taken too).
    """

    id: str
    cash: float
    short_term_rate: float = 0.37
    long_term_rate: float = 0.20
    lots: tuple[TaxLot, ...] | LotTable = ()
    realised_short_term_ytd: float = 0.0
    realised_long_term_ytd: float = 0.0
    household_trades: tuple[HouseholdTrade, ...] = ()
    taxable: bool = True
    loss_carryforward_short: float = 0.0
    loss_carryforward_long: float = 0.0
    ordinary_loss_limit: float = ORDINARY_LOSS_LIMIT
    tax_returns: tuple[TaxReturn, ...] = ()
    received_lots: frozenset[str] = frozenset()
    purchased_on: tuple[tuple[str, date], ...] = ()

    def __post_init__(self) -> None:
        _finite(self.cash, "account cash")
        if self.received_lots or self.purchased_on or type(self.purchased_on) is not tuple \
                or type(self.received_lots) is not frozenset:
            _bought_check(self)  # (also makes an empty mapping the empty tuple)
        _tax_returns_check(self.tax_returns)
        for name in ("short_term_rate", "long_term_rate"):
            if not 0.0 <= _finite(getattr(self, name), name) <= 1.0:
                raise InvalidRequest(f"{name} must be between 0 and 1")
        _finite(self.realised_short_term_ytd, "realised_short_term_ytd")
        _finite(self.realised_long_term_ytd, "realised_long_term_ytd")
        if not 0.0 <= _finite(self.ordinary_loss_limit, "ordinary_loss_limit") <= ORDINARY_LOSS_LIMIT:
            raise InvalidRequest(f"ordinary_loss_limit is a share of at most {ORDINARY_LOSS_LIMIT:,.0f} a year "
                                 "(IRC §1211(b)), 0 or more")
        for name in ("loss_carryforward_short", "loss_carryforward_long"):
            if _finite(getattr(self, name), name) < 0:
                raise InvalidRequest(f"{name} is a loss carried forward, a positive amount or 0")

    @classmethod
    def from_lot_columns(
        cls,
        *,
        lot_ids: Iterable[str],
        symbols: Iterable[str],
        quantities: Iterable[float],
        cost_bases: Iterable[float],
        acquired: Iterable[date | int],
        **fields,
    ) -> Account:
        """The account with its lots given as columns (a ``LotTable``): what a loader reading lots
        from a table hands over, without a ``TaxLot`` per lot. ``fields``: the other fields."""
        return cls(lots=LotTable(lot_ids, symbols, quantities, cost_bases, acquired), **fields)

    def bought_on(self) -> dict[str, date | None]:
        """The day each lot was bought, where it is not its ``acquired``: ``purchased_on``'s, and
        None for the lots received (``received_lots``). Empty for most accounts."""
        if not (self.received_lots or self.purchased_on):
            return {}
        return {**dict(self.purchased_on), **dict.fromkeys(self.received_lots)}


def _bought_check(account: Account) -> None:
    received, purchased = account.received_lots, account.purchased_on
    try:  # a bad shape (a number, a string, entries that are not pairs) is named, never a TypeError
        if isinstance(received, str) or not all(isinstance(i, str) for i in received):
            raise TypeError
    except TypeError:
        raise InvalidRequest(f"received_lots must be lot ids, got {received!r}") from None
    try:
        pairs = tuple(sorted(purchased.items() if isinstance(purchased, Mapping) else purchased))
        if not all(len(p) == 2 and isinstance(p[0], str) and type(p[1]) is date for p in pairs):
            raise TypeError
    except (TypeError, ValueError):
        raise InvalidRequest(f"purchased_on must map lot ids to days, got {purchased!r}") from None
    for lot_id, day in pairs:
        _day_check(day, f"purchased_on of lot {lot_id}", {"lot": lot_id})
    object.__setattr__(account, "received_lots", frozenset(received))
    object.__setattr__(account, "purchased_on", pairs)
    ids = set(account.lots.ids if isinstance(account.lots, LotTable) else [lot.id for lot in account.lots])
    for name, named in (("received_lots", account.received_lots), ("purchased_on", [i for i, _ in pairs])):
        unknown = sorted(set(named) - ids)
        if unknown:
            raise InvalidRequest(f"{name} names no lot of the account: {', '.join(unknown)}", {"lots": unknown})
    both = sorted(account.received_lots.intersection(i for i, _ in pairs))
    if both:
        raise InvalidRequest(f"a lot is either received or bought, not both: {', '.join(both)}", {"lots": both})


@dataclass(frozen=True, slots=True)
class Security:
    """A security: price, classification, screen attributes, and whether fractions may be traded."""

    symbol: str
    price: float
    asset_class: str
    sector: str | None = None
    tags: tuple[str, ...] = ()
    esg_score: float | None = None
    fractional: bool = True

    def __post_init__(self) -> None:
        if _finite(self.price, f"price of {self.symbol}") <= 0:
            raise InvalidRequest(f"price of {self.symbol} must be positive", {"symbol": self.symbol})
        if self.esg_score is not None and not ESG_SCORES[0] <= _finite(self.esg_score, f"ESG score of {self.symbol}") \
                <= ESG_SCORES[1]:
            raise InvalidRequest(f"ESG score of {self.symbol} must be from {ESG_SCORES[0]:g} to {ESG_SCORES[1]:g}, "
                                 f"got {self.esg_score:g}", {"symbol": self.symbol})


@dataclass(frozen=True, slots=True)
class RiskModel:
    """A factor risk model: ``loadings[symbol]`` (one per factor), annual ``factor_covariance``
    (factors x factors) and annual ``specific_variance[symbol]``."""

    factors: tuple[str, ...]
    loadings: Mapping[str, tuple[float, ...]]
    factor_covariance: tuple[tuple[float, ...], ...]
    specific_variance: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A benchmark: constituent weights (summing to 1) and optionally its risk model.

    Without a risk model the engine's default applies (see ``risk.py``)."""

    name: str
    constituents: Mapping[str, float]
    risk_model: RiskModel | None = None


@dataclass(frozen=True, slots=True)
class Sleeve:
    """A sleeve of the model, named by its asset class, with its ``weight`` in the model.

    ``holdings``: funds or securities and their weights within the sleeve (summing to 1);
    ``benchmark``: what the sleeve tracks.  A sleeve with a benchmark and no holdings is held as a
    direct index of the benchmark.
    """

    asset_class: str
    weight: float
    holdings: Mapping[str, float] = field(default_factory=dict)
    benchmark: Benchmark | None = None


@dataclass(frozen=True, slots=True)
class Model:
    """A model portfolio: sleeves whose weights sum to 1 (cash is set by the cash parameters)."""

    name: str
    sleeves: tuple[Sleeve, ...]


@dataclass(frozen=True, slots=True)
class RebalanceRequest:
    """Everything the engine needs for one account on one date."""

    as_of: date
    account: Account
    securities: tuple[Security, ...]
    model: Model
    parameters: Parameters = field(default_factory=Parameters)

    def __post_init__(self) -> None:
        _day_check(self.as_of, "as_of", {"path": "as_of"})
        _lot_days_check(self.account.lots)


def _lot_days_check(lots: tuple[TaxLot, ...] | LotTable) -> None:
    """Every lot acquired from ``EARLIEST_DAY`` to ``LATEST_DAY`` (the first offender named)."""
    if isinstance(lots, LotTable):
        days = lots.acquired
        if not len(days) or (days.min() >= EARLIEST_DAY.toordinal() and days.max() <= LATEST_DAY.toordinal()):
            return
    else:
        try:
            if not lots or (min(map(_ACQUIRED, lots)) >= EARLIEST_DAY and max(map(_ACQUIRED, lots)) <= LATEST_DAY):
                return
        except TypeError:  # a day that is no date: named below
            pass
    for lot in lots:
        _day_check(lot.acquired, f"the acquisition day of lot {lot.id}", {"lot": lot.id})


def _all_finite_nonneg(values) -> bool:
    """True when every value is a float (not a bool or a string), finite and not negative: the
    common case, checked in C before the loop that names the first offender (a NaN or an
    infinity makes the sum one too; a sum that overflows only sends the check to that loop)."""
    if not values:
        return True
    return {float} >= set(map(type, values)) and math.isfinite(sum(values)) and min(values) >= 0.0


def _check_weights(weights: Mapping[str, float], what: str) -> None:
    values = weights.values()
    # (The usual weights are floats: summed once, for the finiteness test and the total.)
    total = sum(values) if values and {float} >= set(map(type, values)) else None
    if total is None or not math.isfinite(total) or min(values) < 0.0:
        for symbol, w in weights.items():
            if _finite(w, f"weight of {symbol} in {what}") < 0:
                raise InvalidRequest(f"negative weight of {symbol} in {what}")
        total = sum(values)
    if abs(total - 1.0) > WEIGHT_TOLERANCE * max(1, len(weights)):
        raise InvalidRequest(f"weights in {what} sum to {total:.6f}, not 1", {"where": what, "sum": total})


def validate_request(request: RebalanceRequest, lot_ids_symbols: tuple | None = None) -> dict[str, Security]:
    """Check cross-references and sums; return the securities by symbol.

    Raises ``InvalidRequest`` naming the problem: unknown symbols, duplicate lot ids, weights that
    do not sum to 1, risk models of the wrong shape.  ``lot_ids_symbols``: the lots' ids and
    symbols when the caller has read them already (``positions.lot_columns``).
    """
    if not isinstance(request, RebalanceRequest):
        raise InvalidRequest(f"expected a RebalanceRequest, got {type(request).__name__}")
    securities = {s.symbol: s for s in request.securities}
    if len(securities) != len(request.securities):
        seen_symbols: set[str] = set()
        for s in request.securities:
            if s.symbol in seen_symbols:
                raise InvalidRequest(f"security {s.symbol!r} listed twice")
            seen_symbols.add(s.symbol)

    def known(symbol: str, where: str) -> None:
        if symbol not in securities:
            raise InvalidRequest(f"unknown symbol {symbol!r} in {where}", {"symbol": symbol, "where": where})

    lots = request.account.lots
    if lot_ids_symbols is not None:
        ids, symbols = lot_ids_symbols
    elif isinstance(lots, LotTable):
        ids, symbols = lots.ids, lots.symbols
    else:
        ids, symbols = map(_ID, lots), map(_SYMBOL, lots)
    # Set operations in C first; the loop that names the first offending lot only on failure.
    if len(set(ids)) != len(lots) or not securities.keys() >= set(symbols):
        seen: set[str] = set()
        for lot in lots:
            if lot.id in seen:
                raise InvalidRequest(f"duplicate lot id {lot.id!r}")
            seen.add(lot.id)
            known(lot.symbol, f"lot {lot.id}")
    if not request.model.sleeves:
        raise InvalidRequest("the model has no sleeves")
    sleeve_names = [s.asset_class for s in request.model.sleeves]
    if len(set(sleeve_names)) != len(sleeve_names):
        raise InvalidRequest("two sleeves of the model share an asset class")
    _check_weights({s.asset_class: s.weight for s in request.model.sleeves}, f"model {request.model.name}")
    for sleeve in request.model.sleeves:
        if sleeve.holdings:
            _check_weights(sleeve.holdings, f"sleeve {sleeve.asset_class}")
            if not securities.keys() >= sleeve.holdings.keys():
                for symbol in sleeve.holdings:
                    known(symbol, f"sleeve {sleeve.asset_class}")
        elif sleeve.benchmark is None:
            raise InvalidRequest(f"sleeve {sleeve.asset_class} has neither holdings nor a benchmark")
        if sleeve.benchmark is not None:
            bench = sleeve.benchmark
            _check_weights(bench.constituents, f"benchmark {bench.name}")
            if not securities.keys() >= bench.constituents.keys():
                for symbol in bench.constituents:
                    known(symbol, f"benchmark {bench.name}")
            if bench.risk_model is not None:
                _check_risk_model(bench.risk_model, bench.name)
    params = request.parameters
    for group, mapping in (
        ("harvest.substitutes", params.harvest.substitutes if params.harvest else {}),
        ("transition.substitutes", params.transition.substitutes if params.transition else {}),
    ):
        if not (securities.keys() >= mapping.keys() and securities.keys() >= set(mapping.values())):
            for a, b in mapping.items():
                known(a, group)
                known(b, group)
    for ins in params.instructions:
        for symbol in (ins.sell, ins.buy):
            if symbol is not None:
                known(symbol, f"instruction {ins.kind}")
    for trade in request.account.household_trades:
        if not isinstance(trade.date, date):
            raise InvalidRequest(f"household trade of {trade.symbol} has no valid date")
    return securities


def _check_risk_model(rm: RiskModel, name: str) -> None:
    k = len(rm.factors)
    cov = rm.factor_covariance
    if len(cov) != k or any(len(row) != k for row in cov):
        raise InvalidRequest(f"factor covariance of benchmark {name} must be {k}x{k}")
    if not {k} >= set(map(len, rm.loadings.values())):
        for symbol, row in rm.loadings.items():
            if len(row) != k:
                raise InvalidRequest(f"loadings of {symbol} in benchmark {name} must have {k} values")
    if not _all_finite_nonneg(rm.specific_variance.values()):
        for symbol, v in rm.specific_variance.items():
            if _finite(v, f"specific variance of {symbol}") < 0:
                raise InvalidRequest(f"negative specific variance of {symbol} in benchmark {name}")

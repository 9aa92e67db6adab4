"""Output dataclasses: the proposed trades, why, and what they do to the account."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, make_dataclass
from datetime import date
from typing import TypeVar

__all__ = [
    "REASONS",
    "CASH_KEY",
    "LotSale",
    "Trade",
    "Summary",
    "Alert",
    "BlockedBuy",
    "Diagnostics",
    "RebalanceResult",
    "build_many",
    "draft_of",
    "finished",
]

# The fixed vocabulary of trade reasons, in the order they are listed on a trade.
REASONS = (
    "instruction",
    "harvest",
    "screen",
    "restriction",
    "removed_asset_class",
    "direct_index",
    "transition",
    "asset_location",
    "cash",
    "drift",
)
# Key of cash in the weight mappings (not a valid ticker, so it cannot clash with a symbol).
CASH_KEY = "$CASH"


@dataclass(frozen=True, slots=True)
class LotSale:
    """The part of a sale drawn from one lot.

    ``gain`` = proceeds - cost basis (negative for a loss); ``term``: ``"short"`` or ``"long"``;
    ``disallowed_loss``: the part of a loss disallowed by a wash sale (positive number; only when
    wash sales are explicitly allowed).
    """

    lot_id: str
    quantity: float
    proceeds: float
    cost_basis: float
    gain: float
    term: str
    disallowed_loss: float = 0.0


@dataclass(frozen=True, slots=True)
class Trade:
    """A proposed trade: ``quantity`` shares (positive) of ``symbol``, ``side`` ``"buy"``/``"sell"``.

    ``value`` = quantity x price; sales list the ``lots`` they draw from; ``reasons`` come from
    ``REASONS``; ``trading_cost`` is charged to cash on top of the value.
    """

    symbol: str
    side: str
    quantity: float
    price: float
    value: float
    reasons: tuple[str, ...]
    lots: tuple[LotSale, ...] = ()
    realised_gain: float = 0.0
    trading_cost: float = 0.0


@dataclass(frozen=True, slots=True)
class Summary:
    """What the proposal does to the account.

    Drift is half the sum of absolute differences between weights and targets (securities,
    direct-indexed sleeves as a whole, and cash); tracking error is annualised, per
    direct-indexed sleeve against its benchmark (``None`` when the sleeve holds no constituent);
    ``tracking_error_with_cash_*`` also counts cash above its target as the sleeve's uninvested
    money (its share pro rata to sleeve weight): the cash drag of proceeds waiting to be invested.
    Gains are positive and losses positive magnitudes; ``estimated_tax`` is this run's extra tax
    for the year after netting with the gains realised so far.  ``turnover`` = (buys + sells) / 2
    as a fraction of ``market_value``.
    """

    market_value: float
    cash_before: float
    cash_after: float
    drift_before: float
    drift_after: float
    tracking_error_before: Mapping[str, float | None]
    tracking_error_after: Mapping[str, float | None]
    realised_short_term_gain: float
    realised_short_term_loss: float
    realised_long_term_gain: float
    realised_long_term_loss: float
    net_realised_gain: float
    estimated_tax: float
    harvested_losses: float
    disallowed_losses: float
    turnover: float
    trading_cost: float
    buy_value: float
    sell_value: float
    trade_count: int
    tracking_error_with_cash_before: Mapping[str, float | None] = field(default_factory=dict)
    tracking_error_with_cash_after: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should look at: ``code`` is one of ``"harvest_opportunity"``,
    ``"tax_limit_exceeded"``, ``"wash_sale_disallowed"``, ``"max_names_exceeded"``."""

    code: str
    message: str
    symbol: str | None = None
    amount: float | None = None


@dataclass(frozen=True, slots=True)
class BlockedBuy:
    """Why money stays uninvested: a security left below its target because buying it would
    disallow the loss of a recent sale (a wash sale, IRC §1091 / Pub. 550).

    ``shortfall``: value below target after the proposal (account currency); ``sale_*``: the sale
    that blocks it - the latest loss sale of the same or a substantially identical security
    (``sale_symbol``) within the last 30 days, in any account of the household
    (``sale_account_id``; ``None`` when unknown), or in this proposal (``sale_in_proposal``);
    ``sale_loss`` is positive (``None`` when the household sale's gain is unknown, counted as a
    loss); ``buyable_on``: the first day a purchase no longer disallows that loss; ``held_in_place``:
    the part of the shortfall that what stands in for it (``held_by``: its harvest substitute, a
    member of its equivalence group) holds above their own targets - invested in its place, so only
    ``shortfall - held_in_place`` is left uninvested or spread over the rest of its sleeve.
    """

    symbol: str
    shortfall: float
    sale_symbol: str
    sale_date: date
    sale_account_id: str | None
    sale_loss: float | None
    sale_in_proposal: bool
    buyable_on: date
    held_in_place: float = 0.0
    held_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """How the proposal was computed (timings in milliseconds; not part of the advice)."""

    solver: str = "CLARABEL"
    status: str = "optimal"
    solves: int = 0
    cached: bool = False
    compile_ms: float = 0.0
    solve_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class RebalanceResult:
    """The engine's answer for one account.

    ``weights_*`` and ``targets`` map symbols (and ``CASH_KEY``) to fractions of market value;
    ``blocked_buys`` lists the securities left below target because a wash sale blocks buying them.
    """

    account_id: str
    as_of: date
    trades: tuple[Trade, ...]
    summary: Summary
    weights_before: Mapping[str, float]
    weights_after: Mapping[str, float]
    targets: Mapping[str, float]
    warnings: tuple[str, ...] = ()
    alerts: tuple[Alert, ...] = ()
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    blocked_buys: tuple[BlockedBuy, ...] = ()


_T = TypeVar("_T")


@functools.cache
def draft_of(cls: type) -> type:
    """A plain (not frozen) slotted twin of the frozen result class ``cls``: the same slots in the
    same order, so that ``finished`` can make its instances ``cls`` ones (CPython allows assigning
    ``__class__`` between classes of the same layout).  Its ``__init__`` stores straight into the
    slots, where a frozen dataclass's sets each field through ``object.__setattr__`` (~0.1 us a
    field): for the dozens of trades and lot sales of every call.  No class here validates in
    ``__post_init__``, so nothing is skipped."""
    return make_dataclass(f"_{cls.__name__}Draft", [f.name for f in fields(cls)], slots=True, eq=False, repr=False)


def finished(cls: type[_T], drafts: list) -> list[_T]:
    """``drafts`` (``draft_of(cls)`` instances) made ``cls`` instances, in place: the objects
    ``cls(...)`` builds from the same values, frozen from then on."""
    for obj in drafts:
        obj.__class__ = cls
    return drafts


def build_many(cls: type[_T], *columns: Sequence) -> list[_T]:
    """``[cls(*row) for row in zip(*columns)]`` for a frozen, slotted result class (one column
    per field, in order), in less than half the time (``draft_of``)."""
    draft = draft_of(cls)
    rows = len(columns[0]) if columns else 0
    if len(columns) != len(draft.__slots__) or any(len(c) != rows for c in columns):
        raise ValueError(f"{cls.__name__} takes {len(draft.__slots__)} columns of one length")
    return finished(cls, list(map(draft, *columns)))

"""Output dataclasses: the proposed trades, why, and what they do to the account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

__all__ = ["REASONS", "CASH_KEY", "LotSale", "Trade", "Summary", "Alert", "Diagnostics", "RebalanceResult"]

# The fixed vocabulary of trade reasons, in the order they are listed on a trade.
REASONS = (
    "instruction",
    "harvest",
    "screen",
    "restriction",
    "removed_asset_class",
    "direct_index",
    "transition",
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
    direct-indexed sleeve against its benchmark (``None`` when the sleeve holds no constituent).
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


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should look at: ``code`` is one of ``"harvest_opportunity"``,
    ``"tax_limit_exceeded"``, ``"wash_sale_disallowed"``, ``"max_names_exceeded"``."""

    code: str
    message: str
    symbol: str | None = None
    amount: float | None = None


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

    ``weights_*`` and ``targets`` map symbols (and ``CASH_KEY``) to fractions of market value.
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

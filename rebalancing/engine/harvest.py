"""Year-round tax-loss harvesting: which lots to sell at a loss, and what replaces them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from .parameters import HarvestParams
from .positions import Book
from .tax import long_term_mask

# A lot turning long-term within this many days is harvested on the absolute threshold alone.
TURNING_LONG_DAYS = 31

__all__ = ["loss_candidates", "HarvestPlan", "offsetting_losses", "opportunity_by_symbol"]


def loss_candidates(book: Book, params: HarvestParams, held_loss: np.ndarray | None = None) -> np.ndarray:
    """Lots whose unrealised loss passes both thresholds: at least ``min_loss_pct`` of the lot's
    cost basis, and - together with the security's other lots that pass it - at least
    ``min_loss_value``.  A harvest is one sale of the security, so the absolute floor (is the sale
    worth its 30-day window?) is the position's: lots bought on several dates (substitutes,
    buy-backs, reinvested cash) are each too small to pass it alone.

    A short-term loss about to turn long-term (within ``TURNING_LONG_DAYS``, before the next
    monthly run) passes on the absolute threshold alone: harvested now it offsets short-term
    gains (taxed as ordinary income), later only long-term ones (IRC §1222, Pub. 550).
    ``held_loss``: the lots held at a loss (``(lot_qty > 0) & (lot_gain < 0)``) when the caller
    has them.
    """
    loss = -book.lot_gain
    pct = np.divide(loss, book.lot_basis, out=np.zeros(len(loss)), where=book.lot_basis > 0)
    turning = ~book.lot_long & long_term_mask(
        book.lot_acquired, book.as_of + timedelta(days=TURNING_LONG_DAYS)
    )
    if held_loss is None:
        held_loss = (book.lot_qty > 0) & (loss > 0)
    passing = held_loss & ((pct >= params.min_loss_pct) | turning)
    by_security = np.bincount(book.lot_sec, weights=np.where(passing, loss, 0.0), minlength=book.n)
    return passing & (by_security[book.lot_sec] >= params.min_loss_value)


def offsetting_losses(book: Book, candidates: np.ndarray, gain: float) -> np.ndarray:
    """The ``candidates`` whose losses offset ``gain`` (currency): the deepest losses first (the
    most tax saved per dollar of tracking moved), until they cover the gain - the last lot taken
    may carry the total past it."""
    out = np.zeros(len(candidates), dtype=bool)
    lots = np.flatnonzero(candidates)
    if gain <= 0 or not len(lots):
        return out
    loss = -book.lot_gain[lots]
    order = np.argsort(-loss / np.maximum(book.lot_basis[lots], 1e-300), kind="stable")
    covered_before = np.cumsum(loss[order]) - loss[order]
    out[lots[order[covered_before < gain]]] = True
    return out


def opportunity_by_symbol(book: Book, lots: np.ndarray, kept: np.ndarray | None = None) -> dict[str, float]:
    """Total unrealised loss (positive) of the given lots, by symbol; with ``kept`` (the fraction of
    each lot still held), of what is left of them."""
    out: dict[str, float] = {}
    which = lots.nonzero()[0]
    gains = book.lot_gain[which] if kept is None else book.lot_gain[which] * kept[which]
    for i, gain in zip(book.lot_sec[which].tolist(), gains.tolist(), strict=True):
        symbol = book.symbols[i]
        out[symbol] = out.get(symbol, 0.0) - gain
    return out


@dataclass(slots=True, eq=False)
class HarvestPlan:
    """Lots harvested this run, the substitutes bought, and what could not be harvested and why.

    ``lots``: sold entirely (a substitute takes the position's target); ``candidates``: lots of
    direct-indexed names the optimiser may harvest, as much as the tax saved outweighs the
    tracking error added (``trading.tracking_error_cost``).
    """

    lots: np.ndarray
    candidates: np.ndarray | None = None
    substitutes: dict[int, int] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    # The losing lots reported as opportunities (not harvested), and why, by symbol: what is left
    # of them once the proposal's sales are known is what the alert reports (``rebalancer``).
    reported: np.ndarray | None = None
    reported_why: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.candidates is None:
            self.candidates = np.zeros_like(self.lots)

    @property
    def harvestable(self) -> np.ndarray:
        """Lots whose sale is a harvest (forced or chosen by the optimiser)."""
        return self.lots | self.candidates

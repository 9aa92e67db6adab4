"""Harvest substitutes suggested by correlation: for each security, the one whose daily returns
moved most like it, among those that may stand in for it.

A substitute holds the harvested security's place for the 30 days it may not be bought back
(IRS Pub. 550), so the closer its returns follow the security's, the less tracking the harvest
costs. It must not be substantially identical to the security (Treas. Reg. §1.1091-1: buying it
would make the loss a wash sale), so members of the security's equivalence group are never
suggested; and it must hold the same place in the model, so only securities of the same asset
class are. The correlation is Pearson's, of daily log returns over the days every security has a
close (the caller's window).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import InvalidRequest

__all__ = ["SubstituteSuggestion", "return_correlations", "substitutes_by_correlation"]


@dataclass(frozen=True, slots=True)
class SubstituteSuggestion:
    symbol: str
    substitute: str
    correlation: float


def return_correlations(closes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson's correlation of daily log returns between the columns of ``closes`` (days x
    securities, positive), and which columns move at all (a flat one correlates with nothing: its
    row and column are 0)."""
    closes = np.asarray(closes, dtype=float)
    if closes.ndim != 2:
        raise InvalidRequest(f"closes must be days x securities, got shape {closes.shape}")
    if closes.shape[0] < 3:
        raise InvalidRequest(f"a correlation needs at least 3 days of closes, got {closes.shape[0]}")
    if not np.isfinite(closes).all() or (closes <= 0).any():
        raise InvalidRequest("closes must be positive numbers")
    returns = np.diff(np.log(closes), axis=0)
    centred = returns - returns.mean(axis=0)
    norms = np.sqrt((centred * centred).sum(axis=0))
    moving = norms > 0
    safe = np.where(moving, norms, 1.0)
    correlation = np.clip((centred.T @ centred) / np.outer(safe, safe), -1.0, 1.0)
    correlation[~moving, :] = 0.0
    correlation[:, ~moving] = 0.0
    return correlation, moving


def substitutes_by_correlation(
    symbols: Sequence[str],
    closes: np.ndarray,
    *,
    asset_classes: Mapping[str, str],
    groups: Mapping[str, str | None],
    wanted: Sequence[str] | None = None,
) -> dict[str, SubstituteSuggestion]:
    """The best substitute for each of ``wanted`` (default: every symbol) from ``closes`` (days x
    securities, in ``symbols`` order, positive): the most correlated security of the same asset
    class outside the symbol's equivalence group. A symbol with no such candidate, or whose returns
    never move, gets none. Ties go to the first symbol in ``symbols``' order."""
    closes = np.asarray(closes, dtype=float)
    if closes.ndim != 2 or closes.shape[1] != len(symbols):
        raise InvalidRequest(f"closes must be days x {len(symbols)} securities, got shape {closes.shape}")
    correlation, moving = return_correlations(closes)
    index = {s: i for i, s in enumerate(symbols)}
    classes = np.array([asset_classes.get(s) for s in symbols], dtype=object)
    group = np.array([groups.get(s) for s in symbols], dtype=object)
    out: dict[str, SubstituteSuggestion] = {}
    for symbol in wanted if wanted is not None else symbols:
        i = index.get(symbol)
        if i is None or not moving[i]:
            continue
        allowed = moving & (classes == classes[i])
        allowed[i] = False
        if group[i] is not None:
            allowed &= group != group[i]
        if not allowed.any():
            continue
        candidates = np.flatnonzero(allowed)
        best = candidates[int(np.argmax(correlation[i, candidates]))]
        out[symbol] = SubstituteSuggestion(symbol, symbols[best], float(correlation[i, best]))
    return out

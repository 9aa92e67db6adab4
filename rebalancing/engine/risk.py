"""Risk model used to measure tracking error (and as the optimiser's objective).

Constituents of a direct-indexed benchmark that ships a risk model use it (factor loadings,
factor covariance, specific variance).  Everything else uses the documented default:
one factor per asset class (15% annual volatility), one per sector (6%), all uncorrelated, and
20% specific volatility.  With it, a fund's drift from target is penalised like a 20%-volatility
bet, substitutes of the same asset class and sector are close, and cash has no risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .positions import Book
from .request import RiskModel
from .targets import TargetPlan

__all__ = [
    "DEFAULT_ASSET_CLASS_VOL",
    "DEFAULT_SECTOR_VOL",
    "DEFAULT_SPECIFIC_VOL",
    "RiskMatrix",
    "build_risk",
]

DEFAULT_ASSET_CLASS_VOL = 0.15
DEFAULT_SECTOR_VOL = 0.06
DEFAULT_SPECIFIC_VOL = 0.20


@dataclass(frozen=True, slots=True, eq=False)
class RiskMatrix:
    """Covariance in factored form: ``exposures @ exposures.T + diag(specific)`` (annual)."""

    exposures: np.ndarray
    specific: np.ndarray

    def variance(self, active: np.ndarray) -> float:
        """Annual variance of an active-weight vector."""
        f = self.exposures.T @ active
        return float(f @ f + self.specific @ (active * active))


def _factor_root(cov: np.ndarray) -> np.ndarray:
    """A matrix R with R @ R.T == cov (eigen-decomposition tolerates a singular covariance)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


def build_risk(book: Book, plan: TargetPlan, risk_models: dict[str, RiskModel]) -> RiskMatrix:
    """Exposures and specific variance for every security of the universe.

    ``risk_models``: sleeve name -> its benchmark's risk model (direct-indexed sleeves only).
    Replaced funds get zero exposures: their market risk enters through the look-through.
    """
    n = book.n
    covered = np.zeros(n, dtype=bool)
    blocks: list[np.ndarray] = []
    specific = np.full(n, DEFAULT_SPECIFIC_VOL**2)
    for di in plan.direct_index:
        rm = risk_models.get(di.sleeve)
        if rm is None:
            continue
        root = _factor_root(np.asarray(rm.factor_covariance, dtype=float))
        block = np.zeros((n, len(rm.factors)))
        for i in di.members:
            symbol = book.symbols[i]
            loading = rm.loadings.get(symbol)
            if loading is None or covered[i]:
                continue
            block[i] = np.asarray(loading, dtype=float) @ root
            specific[i] = rm.specific_variance.get(symbol, DEFAULT_SPECIFIC_VOL**2)
            covered[i] = True
        blocks.append(block)
    classes: dict[str, int] = {}
    sectors: dict[str, int] = {}
    for i, sec in enumerate(book.securities):
        if not covered[i]:
            classes.setdefault(sec.asset_class, len(classes))
            if sec.sector:
                sectors.setdefault(sec.sector, len(sectors))
    default = np.zeros((n, len(classes) + len(sectors)))
    for i, sec in enumerate(book.securities):
        if covered[i]:
            continue
        default[i, classes[sec.asset_class]] = DEFAULT_ASSET_CLASS_VOL
        if sec.sector:
            default[i, len(classes) + sectors[sec.sector]] = DEFAULT_SECTOR_VOL
    blocks.append(default)
    exposures = np.hstack(blocks) if blocks else np.zeros((n, 0))
    for di in plan.direct_index:
        # A replaced fund's market risk enters through the look-through to its benchmark.
        exposures[di.funds] = 0.0
    return RiskMatrix(exposures, specific)

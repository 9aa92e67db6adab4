"""Risk model used to measure tracking error (and as the optimiser's objective).

Constituents of a direct-indexed benchmark that ships a risk model use it (factor loadings,
factor covariance, specific variance).  Everything else uses the documented default:
one factor per asset class (15% annual volatility), one per sector (6%), all uncorrelated, and
20% specific volatility.  With it, a fund's drift from target is penalised like a 20%-volatility
bet, substitutes of the same asset class and sector are close, and cash has no risk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import chain, repeat

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
_CACHE_SIZE = 16
_CACHE: OrderedDict[int, tuple[RiskModel, tuple]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


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


def _risk_rows(rm: RiskModel) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Row of each covered symbol, exposures (loadings times a root of the factor covariance)
    and specific variances of a benchmark's risk model; cached per model object, since a run
    hands the same benchmark to every account that tracks it."""
    key = id(rm)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is rm:
            _CACHE.move_to_end(key)
            return hit[1]
    root = _factor_root(np.asarray(rm.factor_covariance, dtype=float))
    row = {symbol: i for i, symbol in enumerate(rm.loadings)}
    k = len(rm.factors)
    # Rows of k values each (validated), read in one pass.
    flat = np.fromiter(chain.from_iterable(rm.loadings.values()), float, len(row) * k)
    loadings = flat.reshape(len(row), k)
    specific = np.fromiter(
        map(rm.specific_variance.get, row, repeat(DEFAULT_SPECIFIC_VOL**2)), float, len(row)
    )
    value = (row, loadings @ root, specific)
    with _CACHE_LOCK:
        # The cache holds the model itself, so its id cannot be reused while the entry lives.
        _CACHE[key] = (rm, value)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def build_risk(book: Book, plan: TargetPlan, risk_models: dict[str, RiskModel]) -> RiskMatrix:
    """Exposures and specific variance for every security of the universe.

    ``risk_models``: sleeve name -> its benchmark's risk model (direct-indexed sleeves only).
    Replaced funds get zero exposures: their market risk enters through the look-through.
    """
    n = book.n
    covered = np.zeros(n, dtype=bool)
    blocks: list[np.ndarray] = []
    specific = np.empty(n)
    specific.fill(DEFAULT_SPECIFIC_VOL**2)
    for di in plan.direct_index:
        rm = risk_models.get(di.sleeve)
        if rm is None:
            continue
        row, exposures, spec = _risk_rows(rm)
        members = map(book.symbols.__getitem__, di.members.tolist())
        rows = np.fromiter(map(row.get, members, repeat(-1)), np.int64, len(di.members))
        take = (rows >= 0) & ~covered[di.members]
        members, rows = di.members[take], rows[take]
        block = np.zeros((n, exposures.shape[1]))
        block[members] = exposures[rows]
        specific[members] = spec[rows]
        covered[members] = True
        blocks.append(block)
    # The default model's factors: one per asset class, then one per sector, numbered in the
    # order the uncovered securities first name them; each security loads on its own two.
    if blocks:
        uncovered = (~covered).nonzero()[0]
        securities = list(map(book.securities.__getitem__, uncovered.tolist()))
    else:  # (no benchmark's model covers any: every security, in order)
        uncovered = np.arange(n)
        securities = list(book.securities)
    asset_classes = [sec.asset_class for sec in securities]
    sector_names = [sec.sector for sec in securities]
    classes = {c: k for k, c in enumerate(dict.fromkeys(asset_classes))}
    sectors = {s: len(classes) + k for k, s in enumerate(dict.fromkeys(filter(None, sector_names)))}
    default = np.zeros((n, len(classes) + len(sectors)))
    # (Index arrays, not lists: numpy converts a list element by element.)
    default[uncovered, np.fromiter(map(classes.__getitem__, asset_classes), np.int64, len(securities))] = (
        DEFAULT_ASSET_CLASS_VOL
    )
    if sectors:
        has_sector = np.fromiter(map(bool, sector_names), bool, len(securities))
        in_sector = np.fromiter(map(sectors.__getitem__, filter(None, sector_names)), np.int64, int(has_sector.sum()))
        default[uncovered[has_sector], in_sector] = DEFAULT_SECTOR_VOL
    exposures = np.hstack((*blocks, default)) if blocks else default
    for di in plan.direct_index:
        # A replaced fund's market risk enters through the look-through to its benchmark.
        exposures[di.funds] = 0.0
    return RiskMatrix(exposures, specific)

"""Drift from the model and tolerance bands.

Drift is measured per *position*: each security outside a direct-indexed sleeve, each
direct-indexed sleeve as a whole (its names are judged by tracking error instead), and cash.
Total drift is half the sum of absolute differences (the share of the account in the wrong place).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .parameters import DriftParams
from .result import CASH_KEY
from .targets import TargetPlan

__all__ = ["DriftUnits", "drift_units", "total_drift", "out_of_band"]


@dataclass(frozen=True, slots=True, eq=False)
class DriftUnits:
    """Security -> position index (``unit``), position names and targets; cash is the last one."""

    unit: np.ndarray
    names: tuple[str, ...]
    target: np.ndarray

    def weights(self, security_weights: np.ndarray, cash_weight: float) -> np.ndarray:
        """Weights of the positions (cash last)."""
        out = np.bincount(self.unit, weights=security_weights, minlength=len(self.names))
        out[-1] = cash_weight
        return out

    def drift(self, position_weights: np.ndarray) -> float:
        """Half the sum of absolute differences between ``position_weights`` (``weights``) and
        the targets."""
        return float(0.5 * np.abs(position_weights - self.target).sum())


def drift_units(symbols: tuple[str, ...], plan: TargetPlan) -> DriftUnits:
    """Group the universe into drift positions (see the module docstring)."""
    names = list(symbols)
    unit = np.arange(len(symbols))
    for di in plan.direct_index:
        k = len(names)
        names.append(f"sleeve:{di.sleeve}")
        unit[di.members] = k
        unit[di.funds] = k
    names.append(CASH_KEY)
    target = np.bincount(unit, weights=plan.target, minlength=len(names))
    target[-1] = plan.cash_target
    return DriftUnits(unit, tuple(names), target)


def total_drift(units: DriftUnits, security_weights: np.ndarray, cash_weight: float) -> float:
    """Half the sum of absolute differences between position weights and targets."""
    return units.drift(units.weights(security_weights, cash_weight))


def out_of_band(
    units: DriftUnits, security_weights: np.ndarray, cash_weight: float, bands: DriftParams
) -> list[str]:
    """Names of the positions outside ``max(absolute_band, relative_band * target)``."""
    w = units.weights(security_weights, cash_weight)
    width = np.maximum(bands.absolute_band, bands.relative_band * units.target)
    outside = np.abs(w - units.target) > width + 1e-12
    return [units.names[k] for k in np.flatnonzero(outside)]

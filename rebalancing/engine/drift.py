"""Drift from the model and tolerance bands.

Drift is measured per *position*: each security outside a direct-indexed sleeve, each
direct-indexed sleeve as a whole (its names are judged by tracking error instead), and cash.
Total drift is half the sum of absolute differences (the share of the account in the wrong place).

For the drift a proposal reports (``drift_before``/``drift_after`` and each trade's "drift"
reason), a security held in place of a model security - its harvest substitute, or a security
substantially identical to it (``wash_sale.equivalent_groups``), of the same asset class - is one
position with it (``stand_ins``): a tax-loss swap, or the substitute held through the 30 days the
harvested name may not be bought back (IRS Pub. 550), leaves the sleeve where the model wants it
and is not drift. The drift bands' own test (``limits``) still reads the positions one by one.

The drift a proposal reports is measured against the account's model (``targets``: its targets
before a one-off instruction moved them): "sell X, buy Y", raising cash or liquidating changes
what the optimiser aims at for this solve, not what the account is measured against, so an
instruction's proposal finds the drift a plain proposal on the same holdings finds. A trade's
"drift" reason still reads the solve's own targets (the optimiser's aim: a sale the instruction
orders moves its position toward its target of 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .parameters import DriftParams, Parameters
from .positions import Book
from .request import Model
from .result import CASH_KEY
from .targets import TargetPlan
from .wash_sales import Equivalence

__all__ = ["DriftUnits", "drift_units", "stand_ins", "total_drift", "out_of_band"]


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


def drift_units(
    symbols: tuple[str, ...],
    plan: TargetPlan,
    stand_in_for: Mapping[int, int] | None = None,
    targets: tuple[np.ndarray, float] | None = None,
) -> DriftUnits:
    """Group the universe into drift positions (see the module docstring); ``stand_in_for``
    (``stand_ins``) puts each stand-in in the position of the model security it is held for. Its
    own position is left empty (weight and target 0), so the names keep their indices.
    ``targets``: the securities' and cash's targets measured against, when not the plan's (the
    model's, before an instruction moved the plan's)."""
    names = list(symbols)
    unit = np.arange(len(symbols))
    for di in plan.direct_index:
        k = len(names)
        names.append(f"sleeve:{di.sleeve}")
        unit[di.members] = k
        unit[di.funds] = k
    if stand_in_for:
        unit[list(stand_in_for)] = unit[list(stand_in_for.values())]
    names.append(CASH_KEY)
    security_target, cash_target = targets if targets is not None else (plan.target, plan.cash_target)
    target = np.bincount(unit, weights=security_target, minlength=len(names))
    target[-1] = cash_target
    return DriftUnits(unit, tuple(names), target)


def stand_ins(
    book: Book, plan: TargetPlan, model: Model, parameters: Parameters, harvested: Mapping[int, int]
) -> dict[int, int]:
    """Stand-in -> the model security it is held for (universe indices), for the drift reported.

    A stand-in is a security the model does not name, outside a direct-indexed sleeve, that holds
    a model security's place: the substitute this run's harvest buys for it (``harvested``, the
    harvest's ``substitutes``: the target itself moved there), its configured harvest substitute
    (``harvest.substitutes``), or a member of its equivalence group (``wash_sale.equivalent_groups``),
    these two of the model security's asset class (its sleeve). One that could stand in for two
    model securities stands for none (which one it replaces is not known).
    """
    harvest = parameters.harvest
    configured = harvest.substitutes if harvest is not None else {}
    groups = parameters.wash_sale.equivalent_groups
    if not (harvested or configured or groups):
        return {}
    index, securities = book.index, book.securities
    pooled = []  # removed or direct-indexed: not a position of its own to stand for
    if plan.direct_index or np.count_nonzero(plan.removed):
        in_unit = plan.removed.copy()
        for di in plan.direct_index:
            in_unit[di.members] = True
            in_unit[di.funds] = True
        pooled = in_unit.nonzero()[0].tolist()
    named = {index[s] for sleeve in model.sleeves for s in sleeve.holdings if s in index}
    anchors = named.difference(pooled)
    taken = named.union(pooled)  # what may not stand in for a model security

    out = {j: i for i, j in harvested.items() if i in anchors and j not in taken}
    candidates: dict[int, set[int]] = {}
    for symbol, substitute in configured.items():
        i, j = index.get(symbol), index.get(substitute)
        if i in anchors and j is not None and j not in taken and securities[j].asset_class == securities[i].asset_class:
            candidates.setdefault(j, set()).add(i)
    if groups:
        eq = Equivalence(groups)
        by_group: dict[str, list[int]] = {}
        for s in {m for g in groups for m in g}:
            if s in index:
                by_group.setdefault(eq.group(s), []).append(index[s])
        for members in by_group.values():
            for j in members:
                if j not in taken:
                    same = {i for i in members if i in anchors and securities[i].asset_class == securities[j].asset_class}
                    candidates.setdefault(j, set()).update(same)
    for j, models in candidates.items():
        if j not in out and len(models) == 1:
            out[j] = next(iter(models))
    return out


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

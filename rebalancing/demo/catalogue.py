"""The demo's model portfolios and parameter templates (plain values; the seed writes them).

Templates' ``parameters`` are partial engine parameter dicts (``rebalancing.engine.parameters``),
each checked with ``Parameters.from_dict`` before it is saved; ``overridable`` lists the leaves a
household or an account may change, with limits (see ``ParameterTemplate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .market import BENCHMARK_CODE, FUND_SUBSTITUTES

__all__ = ["MODELS", "TEMPLATES", "ModelSpec", "SleeveSpec", "TemplateSpec", "flat_targets"]

D = Decimal


@dataclass(frozen=True)
class SleeveSpec:
    asset_class: str
    weight: Decimal
    holdings: dict[str, Decimal] = field(default_factory=dict)
    kind: str = "holdings"  # "holdings" | "direct_index" | "submodel"
    benchmark: str | None = None
    submodel: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    code: str
    name: str
    description: str
    sleeves: tuple[SleeveSpec, ...]


def _fund(asset_class: str, weight: str, **holdings: str) -> SleeveSpec:
    return SleeveSpec(asset_class, D(weight), {s: D(w) for s, w in holdings.items()})


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("growth-80-20", "Growth 80/20", "80% equity (US, small cap, international, emerging), 20% core bonds.", (
        _fund("us_large_cap", "0.45", VOO="1"),
        _fund("us_small_cap", "0.10", VB="1"),
        _fund("intl_developed", "0.18", VEA="1"),
        _fund("emerging_markets", "0.07", VWO="1"),
        _fund("us_aggregate_bonds", "0.20", BND="1"),
    )),
    ModelSpec("balanced-60-30-10", "Balanced 60/30/10", "60% equity, 30% bonds and TIPS, 10% real assets "
              "(real estate and commodities).", (
        _fund("us_large_cap", "0.33", VOO="1"),
        _fund("us_small_cap", "0.07", VB="1"),
        _fund("intl_developed", "0.14", VEA="1"),
        _fund("emerging_markets", "0.06", VWO="1"),
        _fund("us_aggregate_bonds", "0.22", BND="1"),
        _fund("tips", "0.08", SCHP="1"),
        _fund("real_estate", "0.06", VNQ="1"),
        _fund("commodities", "0.04", DBC="1"),
    )),
    ModelSpec("conservative-30-70", "Conservative 30/70", "30% equity, 70% bonds: core, municipal and a TIPS "
              "ladder (broad and short-term).", (
        _fund("us_large_cap", "0.18", VOO="1"),
        _fund("intl_developed", "0.09", VEA="1"),
        _fund("emerging_markets", "0.03", VWO="1"),
        _fund("us_aggregate_bonds", "0.45", BND="1"),
        _fund("municipal_bonds", "0.15", MUB="1"),
        _fund("tips", "0.10", SCHP="0.6", VTIP="0.4"),
    )),
    ModelSpec("tax-managed-equity", "Tax-managed equity", "All equity; US large caps held as a direct index of "
              "the S&P 500 (individual names, harvested year-round), international through funds.", (
        SleeveSpec("us_large_cap", D("0.70"), kind="direct_index", benchmark=BENCHMARK_CODE),
        _fund("intl_developed", "0.20", IEFA="1"),
        _fund("emerging_markets", "0.10", IEMG="1"),
    )),
    ModelSpec("moderate-55-45", "Moderate 55/45 (model of models)", "Half Growth 80/20, half Conservative "
              "30/70: a model of models that follows both when they change.", (
        SleeveSpec("growth-80-20", D("0.50"), kind="submodel", submodel="growth-80-20"),
        SleeveSpec("conservative-30-70", D("0.50"), kind="submodel", submodel="conservative-30-70"),
    )),
)
MODEL_BY_CODE = {m.code: m for m in MODELS}


def flat_targets(code: str, scale: Decimal = D(1)) -> dict[str, float]:
    """Account weight per symbol of a model (submodels expanded); a direct-indexed sleeve appears as
    ``"@<asset_class>"``. Weights sum to 1 (before the cash target)."""
    out: dict[str, float] = {}
    for sleeve in MODEL_BY_CODE[code].sleeves:
        weight = scale * sleeve.weight
        if sleeve.kind == "submodel":
            for symbol, w in flat_targets(sleeve.submodel, weight).items():
                out[symbol] = out.get(symbol, 0.0) + w
        elif sleeve.kind == "direct_index":
            out[f"@{sleeve.asset_class}"] = out.get(f"@{sleeve.asset_class}", 0.0) + float(weight)
        else:
            for symbol, w in sleeve.holdings.items():
                out[symbol] = out.get(symbol, 0.0) + float(weight * w)
    return out


@dataclass(frozen=True)
class TemplateSpec:
    code: str
    name: str
    description: str
    parameters: dict[str, Any]
    overridable: dict[str, dict[str, Any]]


_DRIFT = {"enabled": True, "absolute_band": 0.03, "relative_band": 0.25}
_TRADING = {"min_trade_value": 100.0, "lot_selection": "tax_optimal"}
# Every template lets an advisor adjust these, within limits.
_COMMON: dict[str, dict[str, Any]] = {
    "cash.target": {"min": 0, "max": 0.05},
    "drift.absolute_band": {"min": 0.01, "max": 0.1},
    "trading.lot_selection": {"choices": ["tax_optimal", "highest_cost", "fifo"]},
    "restrictions.do_not_buy": {},
    "restrictions.do_not_sell": {},
    # Households managed as one: their yearly tax budget, where each asset class goes and how they
    # are rebalanced inside their drift bands.
    "household.tax_budget": {"min": 0, "max": 250000},
    "household.location": {},
    "household.inside_bands": {"choices": ["tax_free", "cash_flows"]},
}
_HARVEST_LIMITS: dict[str, dict[str, Any]] = {
    "harvest.enabled": {},
    "harvest.min_loss_value": {"min": 100, "max": 10000},
    "harvest.min_loss_pct": {"min": 0.01, "max": 0.2},
}

TEMPLATES: tuple[TemplateSpec, ...] = (
    TemplateSpec(
        "standard", "Standard",
        "Rebalance to the model when a position leaves its drift band (3 points, or 25% of its target); "
        "keep 1% cash.",
        {"drift": _DRIFT, "cash": {"target": 0.01}, "trading": _TRADING},
        {**_COMMON, **_HARVEST_LIMITS, "screen.enabled": {}, "screen.excluded_sectors": {}},
    ),
    TemplateSpec(
        "tax-managed-transition", "Tax-managed transition",
        "Move a legacy portfolio to the model over time: realise at most $25,000 of net gains a year "
        "($10,000 a run), keep close substitutes (IVV/SPY for VOO, EFA for VEA, ...), harvest losses to "
        "offset gains.",
        {
            "transition": {
                "enabled": True, "max_net_gain_per_year": 25000.0, "max_net_gain_per_run": 10000.0,
                "substitutes": {"IVV": "VOO", "SPY": "VOO", "EFA": "VEA", "IWM": "VB", "AGG": "BND"},
            },
            "harvest": {"enabled": True, "min_loss_value": 1000.0, "min_loss_pct": 0.05,
                        "substitutes": dict(FUND_SUBSTITUTES)},
            "drift": _DRIFT, "cash": {"target": 0.01}, "trading": _TRADING,
        },
        {
            **_COMMON, **_HARVEST_LIMITS,
            "transition.max_net_gain_per_year": {"min": 0, "max": 250000},
            "transition.max_net_gain_per_run": {"min": 0, "max": 250000},
        },
    ),
    TemplateSpec(
        "esg-no-fossil-fuels", "ESG: no fossil fuels",
        "Exclude securities tagged fossil_fuels (oil, gas and coal producers, refiners, pipelines, "
        "services; energy sector funds); their weight goes to the rest of the sleeve pro rata.",
        {
            "screen": {"enabled": True, "excluded_tags": ["fossil_fuels"], "rescale": "pro_rata"},
            "drift": _DRIFT, "cash": {"target": 0.01}, "trading": _TRADING,
        },
        {
            **_COMMON,
            "screen.excluded_tags": {}, "screen.excluded_sectors": {}, "screen.excluded_symbols": {},
            "screen.min_esg_score": {"min": 0, "max": 80},
            "direct_index": {},
        },
    ),
    TemplateSpec(
        "year-round-harvesting", "Year-round harvesting",
        "Harvest any lot down at least $500 and 5%, buying a fund that tracks a different index "
        "(VEA <-> IEFA, VWO <-> IEMG, BND <-> AGG, VNQ <-> SCHH, ...); wash-sale rules household-wide.",
        {
            "harvest": {"enabled": True, "min_loss_value": 500.0, "min_loss_pct": 0.05,
                        "substitutes": dict(FUND_SUBSTITUTES)},
            "drift": _DRIFT, "cash": {"target": 0.01}, "trading": _TRADING,
        },
        {**_COMMON, **_HARVEST_LIMITS},
    ),
    TemplateSpec(
        "remove-real-estate", "Remove real estate",
        "Hold the model without its real-estate sleeve (the client owns property directly); the other "
        "sleeves are scaled up pro rata.",
        {"removed_asset_classes": ["real_estate"], "drift": _DRIFT, "cash": {"target": 0.01}, "trading": _TRADING},
        {**_COMMON, "removed_asset_classes": {}},
    ),
    TemplateSpec(
        "direct-index-us-large-cap", "Direct index US large cap",
        "Hold the US large-cap sleeve as up to 200 S&P 500 names (the model's direct-indexed sleeve), "
        "harvest losses name by name and in the international funds; tighter bands, 0.5% cash.",
        {
            "direct_index": {"us_large_cap": {"max_names": 200, "min_position_weight": 0.0005}},
            "harvest": {"enabled": True, "min_loss_value": 250.0, "min_loss_pct": 0.03,
                        "substitutes": dict(FUND_SUBSTITUTES)},
            "drift": {"enabled": True, "absolute_band": 0.02, "relative_band": 0.25},
            "cash": {"target": 0.005}, "trading": _TRADING,
        },
        {
            **_COMMON, **_HARVEST_LIMITS,
            "direct_index.us_large_cap.max_names": {"min": 50, "max": 500},
            "screen.enabled": {}, "screen.excluded_tags": {}, "screen.excluded_sectors": {},
        },
    ),
)
TEMPLATE_BY_CODE = {t.code: t for t in TEMPLATES}

"""Rebalancing parameters: independent switches, combined freely.

Each optional group is ``None`` when switched off.  The JSON shape (``Parameters.to_dict``) is a
nested dict of plain values in which every leaf is an individually overridable setting, so that
the web app can merge a template with an account's overrides key by key
(``merge_parameter_dicts``).  Optional groups carry an ``"enabled"`` leaf instead of being null.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .errors import InvalidRequest

__all__ = [
    "LOT_SELECTIONS",
    "INSTRUCTION_KINDS",
    "SCREEN_RESCALES",
    "TransitionParams",
    "ScreenParams",
    "HarvestParams",
    "WashSaleParams",
    "DirectIndexParams",
    "Restrictions",
    "CashParams",
    "DriftParams",
    "TradingParams",
    "Instruction",
    "Parameters",
    "PARAMETERS_SCHEMA",
    "default_parameters",
    "merge_parameter_dicts",
    "parameters_schema",
]

LOT_SELECTIONS = ("tax_optimal", "highest_cost", "fifo")
INSTRUCTION_KINDS = ("sell_buy", "raise_cash", "liquidate", "bring_to_model")
SCREEN_RESCALES = ("pro_rata", "track_benchmark")


def _check_fraction(value: float | None, name: str, *, upper: float = 1.0) -> None:
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidRequest(f"parameter {name} must be a number, got {value!r}", {"parameter": name})
    if not 0.0 <= value <= upper:
        raise InvalidRequest(
            f"parameter {name} must be between 0 and {upper:g}, got {value!r}", {"parameter": name}
        )


def _check_money(value: float | None, name: str) -> None:
    _check_fraction(value, name, upper=1e15)  # the request's MAX_MONEY


def _symbols(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


@dataclass(frozen=True, slots=True)
class TransitionParams:
    """Tax-sensitive transitioning toward the model.

    ``max_net_gain_per_run`` / ``max_net_gain_per_year``: caps on net realised capital gain (account
    currency; ``None`` = no cap; the yearly cap counts the realised gains so far this year).
    ``substitutes``: legacy symbol -> model symbol it may stand in for (a close substitute kept
    instead of being sold, up to the model symbol's target).
    """

    max_net_gain_per_run: float | None = None
    max_net_gain_per_year: float | None = None
    substitutes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_money(self.max_net_gain_per_run, "transition.max_net_gain_per_run")
        _check_money(self.max_net_gain_per_year, "transition.max_net_gain_per_year")


@dataclass(frozen=True, slots=True)
class ScreenParams:
    """ESG / values screens.  A security is excluded if any rule matches.

    ``rescale``: ``"pro_rata"`` gives the freed weight to the sleeve's other holdings pro rata;
    ``"track_benchmark"`` lets the optimiser re-allocate it to track the sleeve's (unscreened)
    benchmark through the risk model.
    """

    excluded_symbols: tuple[str, ...] = ()
    excluded_sectors: tuple[str, ...] = ()
    excluded_tags: tuple[str, ...] = ()
    min_esg_score: float | None = None
    rescale: str = "pro_rata"

    def __post_init__(self) -> None:
        if self.rescale not in SCREEN_RESCALES:
            raise InvalidRequest(
                f"parameter screen.rescale must be one of {SCREEN_RESCALES}, got {self.rescale!r}"
            )
        if self.min_esg_score is not None and not math.isfinite(self.min_esg_score):
            raise InvalidRequest("parameter screen.min_esg_score must be a finite number")


@dataclass(frozen=True, slots=True)
class HarvestParams:
    """Year-round loss harvesting.

    A lot is harvested when its unrealised loss is at least ``min_loss_value`` (account currency)
    AND at least ``min_loss_pct`` of its cost basis.  ``substitutes``: symbol -> replacement
    bought with the proceeds (securities outside a direct-indexed sleeve need one; inside a direct
    index the optimiser picks replacements within the sleeve).
    """

    min_loss_value: float = 500.0
    min_loss_pct: float = 0.05
    substitutes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_money(self.min_loss_value, "harvest.min_loss_value")
        _check_fraction(self.min_loss_pct, "harvest.min_loss_pct")


@dataclass(frozen=True, slots=True)
class WashSaleParams:
    """Wash-sale rules (always on).

    ``equivalent_groups``: groups of symbols treated as "substantially identical" (besides the
    same symbol).  ``allow``: explicitly allow loss sales that a purchase in the window disallows,
    and purchases after a loss sale; the disallowed amount is then reported.
    """

    equivalent_groups: tuple[tuple[str, ...], ...] = ()
    allow: bool = False


@dataclass(frozen=True, slots=True)
class DirectIndexParams:
    """Hold the constituents of sleeve ``sleeve``'s benchmark instead of its funds.

    ``max_names``: at most this many constituents (``None`` = all); ``min_position_weight``: a
    bought name ends at least this fraction of account value (smaller buys are dropped).
    """

    sleeve: str
    max_names: int | None = None
    min_position_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.max_names is not None and (not isinstance(self.max_names, int) or self.max_names < 1):
            raise InvalidRequest(f"parameter direct_index.{self.sleeve}.max_names must be a positive integer")
        _check_fraction(self.min_position_weight, f"direct_index.{self.sleeve}.min_position_weight")


@dataclass(frozen=True, slots=True)
class Restrictions:
    """Per-symbol restrictions: never buy, never sell, or do not trade at all (hold)."""

    do_not_buy: tuple[str, ...] = ()
    do_not_sell: tuple[str, ...] = ()
    hold: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CashParams:
    """Cash target and floor as fractions of account value (floor is a hard constraint)."""

    target: float = 0.01
    floor: float = 0.0

    def __post_init__(self) -> None:
        _check_fraction(self.target, "cash.target")
        _check_fraction(self.floor, "cash.floor")


@dataclass(frozen=True, slots=True)
class DriftParams:
    """Drift tolerance bands.

    A position (a security, a whole direct-indexed sleeve, or cash) is inside its band when
    ``|weight - target| <= max(absolute_band, relative_band * target)``.  When every position is
    inside its band nothing trades unless harvesting, a screen, a restriction or an instruction
    requires it; when one is outside, the whole account is rebalanced.
    """

    absolute_band: float = 0.03
    relative_band: float = 0.25

    def __post_init__(self) -> None:
        _check_fraction(self.absolute_band, "drift.absolute_band")
        _check_fraction(self.relative_band, "drift.relative_band", upper=10.0)


@dataclass(frozen=True, slots=True)
class TradingParams:
    """Trading rules.

    ``min_trade_value``: smaller discretionary trades are dropped; ``whole_shares``: round every
    trade to whole shares (securities that do not allow fractions always are);
    ``max_turnover``: cap on (buys + sells) / 2 as a fraction of account value;
    ``lot_selection``: ``"tax_optimal"``, ``"highest_cost"`` or ``"fifo"``;
    ``trading_cost_bps``: cost charged on traded value (reduces cash);
    ``tracking_error_cost``: the tax-vs-tracking trade-off of direct-indexed sleeves: the tax, in
    percent of account value, worth one (percent per year)^2 of tracking-error variance held for a
    year - the default 0.2 means 1%/yr of tracking error for a year is worth 0.2% of the account in
    tax (2%/yr: 0.8%).  A gain is realised when the tracking it restores for a year is worth its
    tax; a harvest is made when its tax saved outweighs the tracking error it adds for a month
    (until the wash-sale window lets the name be bought back).  docs/backtest.md measures it.
    """

    min_trade_value: float = 0.0
    whole_shares: bool = True
    max_turnover: float | None = None
    lot_selection: str = "tax_optimal"
    trading_cost_bps: float = 0.0
    tracking_error_cost: float = 0.2

    def __post_init__(self) -> None:
        _check_money(self.min_trade_value, "trading.min_trade_value")
        _check_fraction(self.max_turnover, "trading.max_turnover")
        _check_fraction(self.trading_cost_bps, "trading.trading_cost_bps", upper=1000.0)
        _check_fraction(self.tracking_error_cost, "trading.tracking_error_cost", upper=1000.0)
        if self.tracking_error_cost <= 0:
            raise InvalidRequest("parameter trading.tracking_error_cost must be above 0")
        if self.lot_selection not in LOT_SELECTIONS:
            raise InvalidRequest(
                f"parameter trading.lot_selection must be one of {LOT_SELECTIONS}, got {self.lot_selection!r}"
            )


@dataclass(frozen=True, slots=True)
class Instruction:
    """A one-off instruction.

    ``kind``: ``"sell_buy"`` (sell ``sell`` - all of it, or ``quantity`` shares, or ``amount`` of
    value - and buy ``buy`` with the proceeds; ``buy`` may be None), ``"raise_cash"`` (set aside
    ``amount`` of cash on top of the cash target), ``"liquidate"`` (sell everything),
    ``"bring_to_model"`` (ignore drift bands and the tax budget this once).
    """

    kind: str
    sell: str | None = None
    buy: str | None = None
    quantity: float | None = None
    amount: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in INSTRUCTION_KINDS:
            raise InvalidRequest(f"unknown instruction {self.kind!r}; expected one of {INSTRUCTION_KINDS}")
        if self.kind == "sell_buy" and not self.sell:
            raise InvalidRequest("instruction sell_buy needs a 'sell' symbol")
        if self.kind == "raise_cash" and (self.amount is None or self.amount <= 0):
            raise InvalidRequest("instruction raise_cash needs a positive 'amount'")
        for name in ("quantity", "amount"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0 or value > 1e15):
                raise InvalidRequest(f"instruction {self.kind}: {name} must be a non-negative number")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (all keys present)."""
        return {
            "kind": self.kind,
            "sell": self.sell,
            "buy": self.buy,
            "quantity": self.quantity,
            "amount": self.amount,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instruction:
        """Build from the JSON form; unknown keys are rejected."""
        unknown = set(data) - {"kind", "sell", "buy", "quantity", "amount"}
        if unknown:
            raise InvalidRequest(f"unknown instruction field(s): {sorted(unknown)}")
        if "kind" not in data:
            raise InvalidRequest("instruction without 'kind'")
        return cls(
            kind=data["kind"],
            sell=data.get("sell"),
            buy=data.get("buy"),
            quantity=data.get("quantity"),
            amount=data.get("amount"),
        )


@dataclass(frozen=True, slots=True)
class Parameters:
    """All parameters of one run; every group is independent (None / empty = switched off)."""

    transition: TransitionParams | None = None
    screen: ScreenParams | None = None
    harvest: HarvestParams | None = None
    wash_sale: WashSaleParams = field(default_factory=WashSaleParams)
    removed_asset_classes: tuple[str, ...] = ()
    direct_index: tuple[DirectIndexParams, ...] = ()
    restrictions: Restrictions = field(default_factory=Restrictions)
    cash: CashParams = field(default_factory=CashParams)
    drift: DriftParams | None = None
    trading: TradingParams = field(default_factory=TradingParams)
    instructions: tuple[Instruction, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-friendly dict; every leaf is an individually overridable setting."""
        transition = self.transition or TransitionParams()
        screen = self.screen or ScreenParams()
        harvest = self.harvest or HarvestParams()
        drift = self.drift or DriftParams()
        return {
            "transition": {
                "enabled": self.transition is not None,
                "max_net_gain_per_run": transition.max_net_gain_per_run,
                "max_net_gain_per_year": transition.max_net_gain_per_year,
                "substitutes": dict(transition.substitutes),
            },
            "screen": {
                "enabled": self.screen is not None,
                "excluded_symbols": list(screen.excluded_symbols),
                "excluded_sectors": list(screen.excluded_sectors),
                "excluded_tags": list(screen.excluded_tags),
                "min_esg_score": screen.min_esg_score,
                "rescale": screen.rescale,
            },
            "harvest": {
                "enabled": self.harvest is not None,
                "min_loss_value": harvest.min_loss_value,
                "min_loss_pct": harvest.min_loss_pct,
                "substitutes": dict(harvest.substitutes),
            },
            "wash_sale": {
                "equivalent_groups": [list(g) for g in self.wash_sale.equivalent_groups],
                "allow": self.wash_sale.allow,
            },
            "removed_asset_classes": list(self.removed_asset_classes),
            "direct_index": {
                d.sleeve: {"max_names": d.max_names, "min_position_weight": d.min_position_weight}
                for d in self.direct_index
            },
            "restrictions": {
                "do_not_buy": list(self.restrictions.do_not_buy),
                "do_not_sell": list(self.restrictions.do_not_sell),
                "hold": list(self.restrictions.hold),
            },
            "cash": {"target": self.cash.target, "floor": self.cash.floor},
            "drift": {
                "enabled": self.drift is not None,
                "absolute_band": drift.absolute_band,
                "relative_band": drift.relative_band,
            },
            "trading": {
                "min_trade_value": self.trading.min_trade_value,
                "whole_shares": self.trading.whole_shares,
                "max_turnover": self.trading.max_turnover,
                "lot_selection": self.trading.lot_selection,
                "trading_cost_bps": self.trading.trading_cost_bps,
                "tracking_error_cost": self.trading.tracking_error_cost,
            },
            "instructions": [i.to_dict() for i in self.instructions],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Parameters:
        """Build from a (possibly partial) nested dict; missing leaves take their defaults.

        Raises ``InvalidRequest`` naming the offending key for unknown keys or wrong types.
        """
        merged = merge_parameter_dicts(default_parameters().to_dict(), data or {})
        _validate_parameters_dict(merged)
        t, s, h, d = merged["transition"], merged["screen"], merged["harvest"], merged["drift"]
        tr = merged["trading"]
        return cls(
            transition=TransitionParams(
                max_net_gain_per_run=t["max_net_gain_per_run"],
                max_net_gain_per_year=t["max_net_gain_per_year"],
                substitutes=dict(t["substitutes"]),
            )
            if t["enabled"]
            else None,
            screen=ScreenParams(
                excluded_symbols=_symbols(s["excluded_symbols"]),
                excluded_sectors=_symbols(s["excluded_sectors"]),
                excluded_tags=_symbols(s["excluded_tags"]),
                min_esg_score=s["min_esg_score"],
                rescale=s["rescale"],
            )
            if s["enabled"]
            else None,
            harvest=HarvestParams(
                min_loss_value=h["min_loss_value"],
                min_loss_pct=h["min_loss_pct"],
                substitutes=dict(h["substitutes"]),
            )
            if h["enabled"]
            else None,
            wash_sale=WashSaleParams(
                equivalent_groups=tuple(_symbols(g) for g in merged["wash_sale"]["equivalent_groups"]),
                allow=merged["wash_sale"]["allow"],
            ),
            removed_asset_classes=_symbols(merged["removed_asset_classes"]),
            direct_index=tuple(
                DirectIndexParams(
                    sleeve=sleeve,
                    max_names=v.get("max_names"),
                    min_position_weight=v.get("min_position_weight", 0.0),
                )
                for sleeve, v in merged["direct_index"].items()
            ),
            restrictions=Restrictions(
                do_not_buy=_symbols(merged["restrictions"]["do_not_buy"]),
                do_not_sell=_symbols(merged["restrictions"]["do_not_sell"]),
                hold=_symbols(merged["restrictions"]["hold"]),
            ),
            cash=CashParams(target=merged["cash"]["target"], floor=merged["cash"]["floor"]),
            drift=DriftParams(absolute_band=d["absolute_band"], relative_band=d["relative_band"])
            if d["enabled"]
            else None,
            trading=TradingParams(
                min_trade_value=tr["min_trade_value"],
                whole_shares=tr["whole_shares"],
                max_turnover=tr["max_turnover"],
                lot_selection=tr["lot_selection"],
                trading_cost_bps=tr["trading_cost_bps"],
                tracking_error_cost=tr["tracking_error_cost"],
            ),
            instructions=tuple(Instruction.from_dict(i) for i in merged["instructions"]),
        )


def default_parameters() -> Parameters:
    """The parameters of an account nobody configured: go to the model, 1% cash target."""
    return Parameters()


# Leaves whose value is a dict or list are replaced whole, not merged: a template's list of
# excluded sectors is overridden by the account's list, never concatenated with it.
_MAP_LEAVES = {("transition", "substitutes"), ("harvest", "substitutes")}


def merge_parameter_dicts(base: Mapping[str, Any], override: Mapping[str, Any], _path: tuple = ()) -> dict:
    """Merge ``override`` into ``base`` key by key (template + account overrides); returns a new dict.

    Nested groups merge recursively; ``direct_index`` merges per sleeve; lists and substitute maps
    are replaced whole.  ``None`` groups in ``override`` are ignored.
    """
    if not isinstance(override, Mapping):
        raise InvalidRequest(f"parameters{'.' + '.'.join(_path) if _path else ''} must be an object")
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        path = (*_path, key)
        if (
            key in out
            and isinstance(out[key], Mapping)
            and isinstance(value, Mapping)
            and path not in _MAP_LEAVES
        ):
            out[key] = merge_parameter_dicts(out[key], value, path)
        elif path == ("direct_index",) and value is None:
            continue
        else:
            out[key] = copy.deepcopy(value)
    return out


@cache
def parameters_schema() -> dict[str, Any]:
    """The JSON Schema of the parameters (the ``parameters`` definition of the request schema)."""
    text = resources.files("rebalancing.engine").joinpath("schemas/request.schema.json").read_text("utf-8")
    schema = json.loads(text)
    params = dict(schema["$defs"]["parameters"])
    params["$defs"] = {k: v for k, v in schema["$defs"].items() if k != "parameters"}
    params["$schema"] = schema["$schema"]
    return params


def _validate_parameters_dict(data: Mapping[str, Any]) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(parameters_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        raise InvalidRequest(f"invalid parameter {where}: {error.message}", {"parameter": where})


# Loaded once at import (a small file): the web app builds its parameter forms from it.
PARAMETERS_SCHEMA: dict[str, Any] = parameters_schema()

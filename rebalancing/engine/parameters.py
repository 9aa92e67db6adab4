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
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import cache
from importlib import resources
from typing import Any

from .errors import InvalidRequest

__all__ = [
    "ESG_SCORES",
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
    "parameters_json_schema",
    "parameters_schema",
    "setting",
    "settings_check",
]

LOT_SELECTIONS = ("tax_optimal", "highest_cost", "fifo")
INSTRUCTION_KINDS = ("sell_buy", "raise_cash", "liquidate", "bring_to_model")
SCREEN_RESCALES = ("pro_rata", "track_benchmark")
# The scale of the security master's ESG scores (a security's ``esg_score``, 0 worst to 100 best):
# a minimum score screens on it, so one outside it (-5, 150) means nothing.
ESG_SCORES = (0.0, 100.0)

# The request's MAX_MONEY: the most a money setting may be, below what the book's money columns
# keep (18 digits, 2 of them cents: under 1e16), so a setting the engine accepts can be stored.
MAX_MONEY = 1e15

# The one description of every setting: the dataclasses below, with each field's bounds, choices
# and help in its metadata (``setting``).  From it derive the checks in ``__post_init__``, the
# JSON shape (``to_dict``/``from_dict``) and the JSON Schema (``parameters_json_schema``; the
# committed schemas/request.schema.json is regenerated from it by ``python -m rebalancing.engine.schemas``).
_SYMBOLS = {"$ref": "#/$defs/symbols"}
_FRACTION = {"$ref": "#/$defs/fraction"}
# JSON Schema of each annotation used by a setting (annotations are strings: postponed evaluation).
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "float": {"type": "number"},
    "float | None": {"type": ["number", "null"]},
    "int | None": {"type": ["integer", "null"]},
    "bool": {"type": "boolean"},
    "str | None": {"type": ["string", "null"]},
    "tuple[str, ...]": {"type": "array", "items": {"type": "string"}},
    "tuple[tuple[str, ...], ...]": {"type": "array", "items": _SYMBOLS},
    "Mapping[str, str]": {"type": "object", "additionalProperties": {"type": "string"}},
}


def setting(
    default: Any = MISSING,
    *,
    factory: Any = MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    money: bool = False,
    choices: tuple[str, ...] | None = None,
    schema: Mapping[str, Any] | None = None,
    title: str | None = None,
    description: str | None = None,
) -> Any:
    """A dataclass field described once: its default, its bounds (``minimum``/``maximum``; ``above``
    is an exclusive minimum; ``money`` caps at ``MAX_MONEY``, published as its maximum), its
    ``choices``, a ``schema`` fragment replacing the one its annotation gives (a shared ``$ref``),
    and its ``title``/``description`` for the published schema and the forms built from it."""
    meta = {
        "minimum": minimum,
        "maximum": maximum,
        "above": above,
        "money": money,
        "choices": choices,
        "schema": schema,
        "title": title,
        "description": description,
    }
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _bounds_error(value: Any, name: str, lower: float, upper: float) -> InvalidRequest | None:
    if value is None:
        return None
    # (An int is finite, however large: 10**400 is compared, never converted to a float.)
    if not isinstance(value, int | float) or isinstance(value, bool) or (
            isinstance(value, float) and not math.isfinite(value)):
        return InvalidRequest(f"parameter {name} must be a number, got {value!r}", {"parameter": name})
    if not lower <= value <= upper:
        return InvalidRequest(
            f"parameter {name} must be between {lower:g} and {upper:g}, got {_number_text(value)}", {"parameter": name}
        )
    return None


def _check_settings(obj: Any, group: str) -> None:
    """The checks every ``setting`` declares: numbers within their bounds, strings among their choices."""
    for name, choices, lower, upper, above in _checks(type(obj)):
        value = getattr(obj, name)
        if choices is not None:
            if value not in choices:
                raise InvalidRequest(f"parameter {group}.{name} must be one of {choices}, got {value!r}")
            continue
        error = _bounds_error(value, f"{group}.{name}", lower, upper)
        if error is not None:
            raise error
        if above is not None and value <= above:
            raise InvalidRequest(f"parameter {group}.{name} must be above {above:g}")


@cache
def _settings(cls: type) -> tuple[Field, ...]:
    return tuple(f for f in fields(cls) if "minimum" in f.metadata)


@cache
def _checks(cls: type) -> tuple[tuple[str, tuple[str, ...] | None, float, float, float | None], ...]:
    """(name, choices, lower, upper, exclusive lower) of each checked setting of ``cls``."""
    out = []
    for f in _settings(cls):
        meta = f.metadata
        lower = meta["minimum"] if meta["minimum"] is not None else meta["above"]
        if meta["choices"] is None and lower is None:
            continue
        upper = MAX_MONEY if meta["money"] else meta["maximum"]
        out.append((f.name, meta["choices"], lower, upper, meta["above"]))
    return tuple(out)


def _default(f: Field) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def _leaf_schema(f: Field, *, with_default: bool = True) -> dict[str, Any]:
    meta = f.metadata
    out: dict[str, Any] = {}
    if meta["schema"] is not None:
        out.update(meta["schema"])
    elif meta["choices"] is not None:
        out["enum"] = list(meta["choices"])
    else:
        out.update(copy.deepcopy(_JSON_TYPES[f.type]))
    if meta["minimum"] is not None and meta["schema"] is None:
        out["minimum"] = meta["minimum"]
    if meta["above"] is not None:
        out["exclusiveMinimum"] = meta["above"]
    if meta["maximum"] is not None and meta["schema"] is None:
        out["maximum"] = meta["maximum"]
    elif meta["money"] and meta["schema"] is None:
        # Published so that the schema refuses it too: it checks a switched-off group's leaves,
        # which the dataclasses never build, and the forms built from it show the limit.
        out["maximum"] = MAX_MONEY
    if with_default:
        out["default"] = _json_value(_default(f))
    if meta["title"]:
        out["title"] = meta["title"]
    if meta["description"]:
        out["description"] = meta["description"]
    return out


def _json_value(value: Any) -> Any:
    """A setting's value in the JSON shape: tuples become lists, maps plain dicts."""
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _python_value(f: Field, value: Any) -> Any:
    """A setting's value from the JSON shape, as its annotation declares it."""
    if f.type == "tuple[str, ...]":
        return _symbols(value)
    if f.type == "tuple[tuple[str, ...], ...]":
        return tuple(_symbols(g) for g in value)
    if f.type == "Mapping[str, str]":
        return dict(value)
    return value


def _symbols(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _leaves(obj: Any, *, skip: str | None = None) -> dict[str, Any]:
    return {f.name: _json_value(getattr(obj, f.name)) for f in _settings(type(obj)) if f.name != skip}


def _group_from(cls: type, data: Mapping[str, Any], **given: Any) -> Any:
    return cls(**given, **{f.name: _python_value(f, data[f.name]) for f in _settings(cls) if f.name not in given})


@dataclass(frozen=True, slots=True)
class TransitionParams:
    """Tax-sensitive transitioning toward the model.

    ``max_net_gain_per_run`` / ``max_net_gain_per_year``: caps on net realised capital gain (account
    currency; ``None`` = no cap; the yearly cap counts the realised gains so far this year).
    ``substitutes``: legacy symbol -> model symbol it may stand in for (a close substitute kept
    instead of being sold, up to the model symbol's target).
    """

    max_net_gain_per_run: float | None = setting(
        None, minimum=0, money=True, description="Cap on net realised gain of one run (account currency); null = none."
    )
    max_net_gain_per_year: float | None = setting(
        None, minimum=0, money=True, description="Cap on net realised gain for the year, including gains realised so far."
    )
    substitutes: Mapping[str, str] = setting(
        factory=dict, description="Legacy symbol -> model symbol it may stand in for (kept instead of sold)."
    )

    def __post_init__(self) -> None:
        _check_settings(self, "transition")


@dataclass(frozen=True, slots=True)
class ScreenParams:
    """ESG / values screens.  A security is excluded if any rule matches.

    ``rescale``: ``"pro_rata"`` gives the freed weight to the sleeve's other holdings pro rata;
    ``"track_benchmark"`` lets the optimiser re-allocate it to track the sleeve's (unscreened)
    benchmark through the risk model.
    """

    excluded_symbols: tuple[str, ...] = setting((), schema=_SYMBOLS)
    excluded_sectors: tuple[str, ...] = setting(())
    excluded_tags: tuple[str, ...] = setting(())
    min_esg_score: float | None = setting(
        None, minimum=ESG_SCORES[0], maximum=ESG_SCORES[1],
        description="Exclude rated securities scoring below this (scores run from 0 to 100).",
    )
    rescale: str = setting(
        "pro_rata",
        choices=SCREEN_RESCALES,
        description="Where freed weight goes: pro rata within the sleeve, or re-optimised to track the sleeve's benchmark.",
    )

    def __post_init__(self) -> None:
        _check_settings(self, "screen")


@dataclass(frozen=True, slots=True)
class HarvestParams:
    """Year-round loss harvesting.

    A lot is harvested when its unrealised loss is at least ``min_loss_pct`` of its cost basis AND
    the security's lots that pass that test lose at least ``min_loss_value`` (account currency)
    together.  ``substitutes``: symbol -> replacement
    bought with the proceeds (securities outside a direct-indexed sleeve need one; inside a direct
    index the optimiser picks replacements within the sleeve).
    """

    min_loss_value: float = setting(
        500.0, minimum=0, money=True, description="Harvest a position whose losing lots lose at least this much together..."
    )
    min_loss_pct: float = setting(
        0.05, minimum=0, maximum=1, description="...counting lots down at least this fraction of their cost basis."
    )
    substitutes: Mapping[str, str] = setting(
        factory=dict, description="Symbol -> replacement bought with the proceeds."
    )

    def __post_init__(self) -> None:
        _check_settings(self, "harvest")
        itself = sorted(symbol for symbol, substitute in self.substitutes.items() if symbol == substitute)
        if itself:
            raise InvalidRequest(f"parameter harvest.substitutes names {itself[0]} as its own substitute: buying it "
                                 "with a harvest's proceeds would wash the loss; give another security",
                                 {"parameter": "harvest.substitutes"})


@dataclass(frozen=True, slots=True)
class WashSaleParams:
    """Wash-sale rules (always on).

    ``equivalent_groups``: groups of symbols treated as "substantially identical" (besides the
    same symbol).  ``allow``: explicitly allow loss sales that a purchase in the window disallows,
    and purchases after a loss sale; the disallowed amount is then reported.
    """

    equivalent_groups: tuple[tuple[str, ...], ...] = setting(
        (), description="Groups of substantially identical securities."
    )
    allow: bool = setting(False, description="Explicitly allow wash sales; the disallowed loss is reported.")


@dataclass(frozen=True, slots=True)
class DirectIndexParams:
    """Hold the constituents of sleeve ``sleeve``'s benchmark instead of its funds.

    ``max_names``: at most this many constituents (``None`` = all); ``min_position_weight``: a
    bought name ends at least this fraction of account value (smaller buys are dropped).
    """

    sleeve: str
    max_names: int | None = setting(None, minimum=1)
    min_position_weight: float = setting(0.0, minimum=0, maximum=1)

    def __post_init__(self) -> None:
        if self.max_names is not None and (not isinstance(self.max_names, int) or self.max_names < 1):
            raise InvalidRequest(f"parameter direct_index.{self.sleeve}.max_names must be a positive integer")
        error = _bounds_error(self.min_position_weight, f"direct_index.{self.sleeve}.min_position_weight", 0, 1)
        if error is not None:
            raise error


@dataclass(frozen=True, slots=True)
class Restrictions:
    """Per-symbol restrictions: never buy, never sell, or do not trade at all (hold)."""

    do_not_buy: tuple[str, ...] = setting((), schema=_SYMBOLS)
    do_not_sell: tuple[str, ...] = setting((), schema=_SYMBOLS)
    hold: tuple[str, ...] = setting((), schema=_SYMBOLS)


def _percent(fraction: float) -> str:
    """0.05 -> "5%", 0.0125 -> "1.25%": a fraction of account value as the pages type it."""
    return f"{fraction * 100:.4f}".rstrip("0").rstrip(".") + "%"


@dataclass(frozen=True, slots=True)
class CashParams:
    """Cash target and floor as fractions of account value (floor is a hard constraint)."""

    target: float = setting(0.01, minimum=0, maximum=1, schema=_FRACTION)
    floor: float = setting(0.0, minimum=0, maximum=1, schema=_FRACTION)

    def __post_init__(self) -> None:
        _check_settings(self, "cash")
        # The floor is the least cash the account keeps, the target what it aims for: a floor above
        # the target would hold cash the target says to invest, and the target could never be met.
        if self.floor > self.target:
            raise InvalidRequest(
                f"parameter cash.floor ({_percent(self.floor)} = {self.floor:.4g}) must not be above cash.target "
                f"({_percent(self.target)} = {self.target:.4g}): the "
                "floor is the least cash the account keeps, the target what it aims for",
                {"parameter": "cash.floor"},
            )


@dataclass(frozen=True, slots=True)
class DriftParams:
    """Drift tolerance bands.

    A position (a security, a whole direct-indexed sleeve, or cash) is inside its band when
    ``|weight - target| <= max(absolute_band, relative_band * target)``.  When every position is
    inside its band nothing trades unless harvesting, a screen, a restriction or an instruction
    requires it; when one is outside, the whole account is rebalanced.
    """

    absolute_band: float = setting(0.03, minimum=0, maximum=1, schema=_FRACTION)
    relative_band: float = setting(0.25, minimum=0, maximum=10)

    def __post_init__(self) -> None:
        _check_settings(self, "drift")


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

    min_trade_value: float = setting(0.0, minimum=0, money=True)
    whole_shares: bool = setting(True)
    max_turnover: float | None = setting(
        None, minimum=0, maximum=1, description="(buys + sells) / 2 as a fraction of account value."
    )
    lot_selection: str = setting("tax_optimal", choices=LOT_SELECTIONS)
    trading_cost_bps: float = setting(0.0, minimum=0, maximum=1000)
    tracking_error_cost: float = setting(
        0.2,
        above=0,
        maximum=1000,
        title="Tax vs tracking",
        description=(
            "Direct-indexed sleeves: the tax, in % of account value, worth (1%/yr)^2 of tracking-error variance "
            "held for a year. 0.2 means 1%/yr of tracking error for a year is worth 0.2% of the account in tax "
            "(2%/yr: 0.8%). A gain is realised when the tracking it restores for a year is worth its tax; a "
            "harvest is made when its tax saved outweighs the tracking error it adds for a month, until the "
            "wash-sale window lets the name be bought back. Higher tracks more tightly; lower saves more tax. "
            "Elsewhere taxes only break ties (drift bands and the tax budget decide how far to move). "
            "docs/backtest.md measures the default."
        ),
    )

    def __post_init__(self) -> None:
        _check_settings(self, "trading")


@dataclass(frozen=True, slots=True)
class Instruction:
    """A one-off instruction.

    ``kind``: ``"sell_buy"`` (sell ``sell`` - all of it, or ``quantity`` shares, or ``amount`` of
    value - and buy ``buy`` with the proceeds; ``buy`` may be None), ``"raise_cash"`` (set aside
    ``amount`` of cash on top of the cash target), ``"liquidate"`` (sell everything),
    ``"bring_to_model"`` (ignore drift bands and the tax budget this once).
    """

    kind: str = setting(
        choices=INSTRUCTION_KINDS,
        description=(
            "sell_buy: sell 'sell' (all, or quantity/amount) and buy 'buy' with the proceeds; raise_cash: set "
            "aside 'amount'; liquidate: sell everything; bring_to_model: ignore drift bands and the tax budget once."
        ),
    )
    sell: str | None = setting(None)
    buy: str | None = setting(None)
    quantity: float | None = setting(None, minimum=0)
    amount: float | None = setting(None, minimum=0)

    def __post_init__(self) -> None:
        if self.kind not in INSTRUCTION_KINDS:
            raise InvalidRequest(f"unknown instruction {self.kind!r}; expected one of {INSTRUCTION_KINDS}")
        if self.kind == "sell_buy" and not self.sell:
            raise InvalidRequest("instruction sell_buy needs a 'sell' symbol")
        if self.kind == "raise_cash" and (self.amount is None or self.amount <= 0):
            raise InvalidRequest("instruction raise_cash needs a positive 'amount'")
        for name in ("quantity", "amount"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, float) and not math.isfinite(value) or value < 0):
                raise InvalidRequest(f"instruction {self.kind}: {name} must be a non-negative number")
            if value is not None and value > MAX_MONEY:
                raise InvalidRequest(f"instruction {self.kind}: {name} {_number_text(value)} is beyond any account "
                                     f"(at most {MAX_MONEY:.3g})")
        if self.kind == "sell_buy" and self.quantity is not None and self.amount is not None:
            # Which one would be sold? The engine would take the quantity and drop the amount unsaid.
            raise InvalidRequest(f"instruction sell_buy of {self.sell}: give the quantity or the amount to sell, "
                                 "not both")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (all keys present)."""
        return _leaves(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instruction:
        """Build from the JSON form; unknown keys are rejected."""
        unknown = set(data) - {f.name for f in _settings(cls)}
        if unknown:
            raise InvalidRequest(f"unknown instruction field(s): {sorted(unknown)}")
        if "kind" not in data:
            raise InvalidRequest("instruction without 'kind'")
        return cls(**{f.name: data.get(f.name) for f in _settings(cls)})


# The groups of ``Parameters``: (field, dataclass, title); a group whose field may be None is
# switched on and off by an "enabled" leaf in the JSON shape.
_GROUPS: tuple[tuple[str, type, str], ...] = (
    ("transition", TransitionParams, "Tax-sensitive transitioning"),
    ("screen", ScreenParams, "ESG / values screens"),
    ("harvest", HarvestParams, "Year-round loss harvesting"),
    ("wash_sale", WashSaleParams, "Wash-sale rules"),
    ("restrictions", Restrictions, "Restrictions"),
    ("cash", CashParams, "Cash"),
    ("drift", DriftParams, "Drift tolerance bands"),
    ("trading", TradingParams, "Trading"),
)
_SWITCHED = frozenset(("transition", "screen", "harvest", "drift"))


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

    def __post_init__(self) -> None:
        # Settings that ask for opposite things of one security: a screen that sells what a
        # restriction holds as it is. Every run would fail on it; said once, where it is set.
        if self.screen is not None and self.restrictions.hold:
            both = sorted(set(self.screen.excluded_symbols) & set(self.restrictions.hold))
            if both:
                raise InvalidRequest(f"parameters screen.excluded_symbols and restrictions.hold both name {both[0]}: the "
                                     "screen sells it and the restriction keeps it as it is; remove it from one",
                                     {"parameter": "restrictions.hold", "conflicts": ["screen.excluded_symbols",
                                                                                      "restrictions.hold"]})

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-friendly dict; every leaf is an individually overridable setting."""
        out: dict[str, Any] = {}
        for name, cls, _ in _GROUPS:
            value = getattr(self, name)
            if name in _SWITCHED:
                out[name] = {"enabled": value is not None, **_leaves(value or cls())}
            else:
                out[name] = _leaves(value)
        out["removed_asset_classes"] = list(self.removed_asset_classes)
        out["direct_index"] = {d.sleeve: _leaves(d, skip="sleeve") for d in self.direct_index}
        out["instructions"] = [i.to_dict() for i in self.instructions]
        return {name: out[name] for name in _ORDER}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Parameters:
        """Build from a (possibly partial) nested dict; missing leaves take their defaults.

        Raises ``InvalidRequest`` naming the offending key for unknown keys or wrong types.
        """
        merged = merge_parameter_dicts(_DEFAULTS, data or {})
        _validate_parameters_dict(merged)
        # A group switched off is still built, so what it holds is checked where it is set: a template
        # saved with harvesting off and a substitute that is the harvested security itself failed only
        # once an account switched harvesting on.
        built = {name: _group_from(group, merged[name]) for name, group, _ in _GROUPS}
        groups = {name: built[name] if name not in _SWITCHED or merged[name]["enabled"] else None
                  for name, _, _ in _GROUPS}
        return cls(
            **groups,
            removed_asset_classes=_symbols(merged["removed_asset_classes"]),
            direct_index=tuple(
                _group_from(DirectIndexParams, {**_DIRECT_INDEX_DEFAULTS, **v}, sleeve=sleeve)
                for sleeve, v in merged["direct_index"].items()
            ),
            instructions=tuple(Instruction.from_dict(i) for i in merged["instructions"]),
        )


_ORDER = tuple(f.name for f in fields(Parameters))
_DIRECT_INDEX_DEFAULTS = {f.name: _default(f) for f in _settings(DirectIndexParams) if f.name != "sleeve"}


def parameters_json_schema() -> dict[str, Any]:
    """The JSON Schema of the parameters and of an instruction, derived from the dataclasses:
    ``{"parameters": ..., "instruction": ...}`` (the ``$defs`` of the request schema)."""

    def group(cls: type, title: str, *, switched: bool) -> dict[str, Any]:
        props = {"enabled": {"type": "boolean", "default": False}} if switched else {}
        props.update({f.name: _leaf_schema(f) for f in _settings(cls)})
        return {"title": title, "type": "object", "additionalProperties": False, "properties": props}

    properties = {name: group(cls, title, switched=name in _SWITCHED) for name, cls, title in _GROUPS}
    properties["removed_asset_classes"] = {
        "title": "Removed asset classes",
        "type": "array",
        "items": {"type": "string"},
        "uniqueItems": True,
        "default": [],
    }
    properties["direct_index"] = {
        "title": "Direct indexing",
        "description": "Sleeve (asset class) -> settings; the sleeve holds constituents of its benchmark instead of funds.",
        "type": "object",
        "default": {},
        "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {f.name: _leaf_schema(f) for f in _settings(DirectIndexParams)},
        },
    }
    properties["instructions"] = {
        "title": "One-off instructions",
        "type": "array",
        "items": {"$ref": "#/$defs/instruction"},
        "default": [],
    }
    parameters = {
        "title": "Parameters",
        "description": (
            "Independent switches combined freely; every leaf is an individually overridable setting "
            "(templates merge with account overrides key by key)."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": {name: properties[name] for name in _ORDER},
    }
    instruction = {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {f.name: _leaf_schema(f, with_default=False) for f in _settings(Instruction)},
    }
    return {"parameters": parameters, "instruction": instruction}


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
    """The JSON Schema of the parameters, standing alone: derived from the dataclasses, with the
    request schema's shared definitions (``symbols``, ``fraction``...) under ``$defs``."""
    text = resources.files("rebalancing.engine").joinpath("schemas/request.schema.json").read_text("utf-8")
    schema = json.loads(text)
    derived = parameters_json_schema()
    params = dict(derived["parameters"])
    params["$defs"] = {k: v for k, v in schema["$defs"].items() if k != "parameters"}
    params["$defs"]["instruction"] = derived["instruction"]
    params["$schema"] = schema["$schema"]
    return params


@cache
def _parameters_validator():
    import jsonschema

    return jsonschema.Draft202012Validator(parameters_schema())


def _not_finite(value: Any, path: tuple = ()) -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity in a parameter dict (JSON has neither; Python's
    json reads them, and the schema's bounds let NaN through: every comparison with it is false)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".".join(str(p) for p in path), value
    children = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _not_finite(child, (*path, key))
        if found is not None:
            return found
    return None


def _range_text(schema: Mapping[str, Any]) -> str:
    lower = schema.get("minimum", schema.get("exclusiveMinimum"))
    above = "minimum" not in schema and lower is not None
    upper = schema.get("maximum")
    if lower is not None and upper is not None:
        return f"from {lower:g}{' (excluded)' if above else ''} to {upper:g}"
    if upper is not None:
        return f"at most {upper:g}"
    return f"{'above' if above else 'at least'} {lower:g}"


def settings_check(data: Mapping[str, Any]) -> None:
    """Each setting in ``data`` (a partial nested dict) by its own declared rule - type, bounds,
    choices - and not by the rules between settings, which only a whole set can meet: a cash
    floor's limit of 20% is a value the floor may take whatever the default target. What a
    template's override limits are checked by."""
    _validate_parameters_dict(merge_parameter_dicts(_DEFAULTS, data))


def _validate_parameters_dict(data: Mapping[str, Any]) -> None:
    import jsonschema

    found = _not_finite(data)
    if found is not None:
        where, value = found
        raise InvalidRequest(f"invalid parameter {where}: must be a finite number, got {value!r}", {"parameter": where})
    error = jsonschema.exceptions.best_match(_parameters_validator().iter_errors(data))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(root)"
        message = error.message
        if error.validator in ("minimum", "maximum", "exclusiveMinimum") and isinstance(error.instance, int | float):
            # Name the whole range (jsonschema names one bound, with its every digit: "the maximum of
            # 1000000000000000.0"); a $ref'd leaf (a fraction) has its bounds in the schema it refers to.
            message = f"must be {_range_text(error.schema)}, got {_number_text(error.instance)}"
        raise InvalidRequest(f"invalid parameter {where}: {message}", {"parameter": where})
    found = _beyond_float(data)
    if found is not None:  # within the schema's bounds (a leaf without a maximum), yet no float holds it
        where, value = found
        raise InvalidRequest(f"invalid parameter {where}: must be a number below 1e308, got {_number_text(value)}",
                             {"parameter": where})


def _number_text(value: int | float) -> str:
    """A number in a refusal: 0.25, 1e+15; an integer too large for a float (JSON allows 10**400, which
    Python's json reads as an int and ``:g`` cannot format) by its number of digits."""
    try:
        return f"{value:g}"
    except OverflowError:
        return f"a number of {len(str(abs(value)))} digits"


def _beyond_float(value: Any, path: tuple = ()) -> tuple[str, int] | None:
    """The path and value of the first integer in a parameter dict too large for a float."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return ".".join(str(p) for p in path), value
        return None
    children = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _beyond_float(child, (*path, key))
        if found is not None:
            return found
    return None


# Built once at import: the web app builds its parameter forms from it.
PARAMETERS_SCHEMA: dict[str, Any] = parameters_schema()
_DEFAULTS: dict[str, Any] = default_parameters().to_dict()

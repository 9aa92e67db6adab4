"""Parameter forms generated from the engine's ``PARAMETERS_SCHEMA``: one field per leaf (the unit a
template lets an account override), with the schema's title, description, type and limits.

Fractions are shown and typed as percentages (an advisor types 2 for a 2% cash target); lists of
sectors, tags and asset classes offer the values the firm's security master knows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from config.input_limits import JsonTooDeep, json_loads_bounded
from rebalancing.effective_parameters import flatten_parameters
from rebalancing.engine import PARAMETERS_SCHEMA, default_parameters

__all__ = [
    "FIELDS", "FIELDS_BY_PATH", "ParamField", "display_value", "parse_fields",
]

# Leaves typed as percentages (stored as fractions).
PERCENT = frozenset(
    {
        "cash.target",
        "cash.floor",
        "harvest.min_loss_pct",
        "drift.absolute_band",
        "drift.relative_band",
        "trading.max_turnover",
    }
)
# Leaves whose values are sectors, tags or asset classes the security master knows (checkbox lists).
VOCABULARY = {
    "screen.excluded_sectors": "sectors",
    "screen.excluded_tags": "tags",
    "removed_asset_classes": "asset_classes",
}
LABELS = {
    "enabled": "Switched on",
    "max_net_gain_per_run": "Net gain allowed per run",
    "max_net_gain_per_year": "Net gain allowed per year",
    "min_loss_value": "Minimum loss per lot",
    "min_loss_pct": "Minimum loss (% of cost)",
    "min_esg_score": "Minimum ESG score",
    "excluded_symbols": "Excluded securities",
    "excluded_sectors": "Excluded sectors",
    "excluded_tags": "Excluded values tags",
    "rescale": "Freed weight goes",
    "equivalent_groups": "Substantially identical groups",
    "allow": "Allow wash sales",
    "do_not_buy": "Do not buy",
    "do_not_sell": "Do not sell",
    "hold": "Hold (neither buy nor sell)",
    "target": "Target",
    "floor": "Floor",
    "absolute_band": "Absolute band",
    "relative_band": "Relative band",
    "min_trade_value": "Minimum trade",
    "whole_shares": "Whole shares only",
    "max_turnover": "Turnover cap",
    "lot_selection": "Lot selection",
    "trading_cost_bps": "Trading cost (basis points)",
    "tracking_error_cost": "Tax vs tracking (% of value per (%/yr)² of tracking error for a year)",
    "substitutes": "Substitutes",
}
CHOICE_LABELS = {
    "pro_rata": "Pro rata to the sleeve's other holdings",
    "track_benchmark": "Re-optimised to track the benchmark",
    "tax_optimal": "Tax-optimal",
    "highest_cost": "Highest cost first (HIFO)",
    "fifo": "First in, first out (FIFO)",
}


@dataclass(frozen=True)
class ParamField:
    path: str
    group: str
    group_title: str
    label: str
    kind: str  # "bool" | "choice" | "number" | "integer" | "symbols" | "words" | "map" | "json"
    help: str = ""
    nullable: bool = False
    percent: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    vocabulary: str = ""

    @property
    def name(self) -> str:
        return "p__" + self.path.replace(".", "__")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        target = dict(PARAMETERS_SCHEMA["$defs"][ref.rsplit("/", 1)[1]])
        target.update({k: v for k, v in node.items() if k != "$ref"})
        return target
    return node


def _kind(path: str, node: dict[str, Any]) -> tuple[str, bool]:
    node = _resolve(node)
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    nullable = "null" in types
    if "enum" in node:
        return "choice", nullable
    if "boolean" in types:
        return "bool", nullable
    if "integer" in types:
        return "integer", nullable
    if "number" in types:
        return "number", nullable
    if "array" in types:
        items = _resolve(node.get("items", {}))
        if items.get("type") == "string" or items.get("pattern"):
            return ("words" if path in VOCABULARY else "symbols"), nullable
        return "json", nullable
    if "object" in types and node.get("additionalProperties", {}) == {"type": "string"}:
        return "map", nullable
    return "json", nullable


def _field(path: str, group: str, group_title: str, node: dict[str, Any]) -> ParamField:
    node = _resolve(node)
    kind, nullable = _kind(path, node)
    key = path.rsplit(".", 1)[-1]
    choices = tuple((c, CHOICE_LABELS.get(c, c)) for c in node.get("enum", ()))
    return ParamField(
        path=path,
        group=group,
        group_title=group_title,
        label=node.get("title") if path == group else LABELS.get(key, key.replace("_", " ").capitalize()),
        kind=kind,
        help=node.get("description", ""),
        nullable=nullable,
        percent=path in PERCENT,
        choices=choices,
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        vocabulary=VOCABULARY.get(path, ""),
    )


def _fields() -> list[ParamField]:
    out = []
    for group, node in PARAMETERS_SCHEMA["properties"].items():
        node = _resolve(node)
        title = node.get("title", group.replace("_", " ").capitalize())
        props = node.get("properties")
        if node.get("type") == "object" and props:
            out += [_field(f"{group}.{key}", group, title, sub) for key, sub in props.items()]
        else:  # a whole-group leaf: a list (removed asset classes, instructions) or a map (direct index)
            out.append(_field(group, group, title, node))
    return out


FIELDS: list[ParamField] = _fields()
FIELDS_BY_PATH = {f.path: f for f in FIELDS}
DEFAULTS = flatten_parameters(default_parameters().to_dict())


def display_value(path: str, value: Any) -> str:
    """A parameter's value in words, for tables."""
    f = FIELDS_BY_PATH.get(path) or FIELDS_BY_PATH.get(path.split(".", 1)[0])
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if f is not None and f.percent and isinstance(value, int | float):
        return f"{value * 100:g}%"
    if f is not None and f.kind == "choice":
        return CHOICE_LABELS.get(value, str(value))
    if isinstance(value, list):
        if not value:
            return "none"
        if all(isinstance(v, str) for v in value):
            return ", ".join(value)
        return json.dumps(value)
    if isinstance(value, dict):
        if not value:
            return "none"
        if all(isinstance(v, str) for v in value.values()):
            return ", ".join(f"{k} → {v}" for k, v in value.items())
        return json.dumps(value)
    if isinstance(value, float) and path.endswith(("_value", "gain_per_run", "gain_per_year")):
        return f"${value:,.2f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def input_value(f: ParamField, value: Any) -> Any:
    """The value as the form control shows it."""
    if f.kind == "bool":
        return "yes" if value else "no"
    if value is None:
        return ""
    if f.percent and isinstance(value, int | float):
        return f"{value * 100:g}"
    if f.kind in ("symbols",):
        return ", ".join(value)
    if f.kind == "words":
        return list(value)
    if f.kind == "map":
        return "\n".join(f"{k} = {v}" for k, v in value.items())
    if f.kind == "json":
        return json.dumps(value, indent=1) if value not in ([], {}) else ""
    if isinstance(value, float):
        return f"{value:g}"
    return value


def _parse_one(f: ParamField, post) -> Any:
    raw = post.get(f.name, "")
    if f.kind == "bool":
        return raw == "yes"
    if f.kind == "choice":
        if raw not in {c for c, _ in f.choices}:
            raise ValueError("choose one of the options")
        return raw
    if f.kind in ("number", "integer"):
        raw = raw.strip().replace(",", "").replace("$", "").replace("%", "")
        if raw == "":
            if f.nullable:
                return None
            raise ValueError("enter a number")
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"“{raw}” is not a number") from None
        if not math.isfinite(number):  # "inf", "nan", 1e999
            raise ValueError(f"“{raw}” is not a number")
        if f.percent:
            number = round(number / 100, 10)
        if f.kind == "integer":
            if number != int(number):
                raise ValueError("enter a whole number")
            number = int(number)
        if f.minimum is not None and number < f.minimum:
            raise ValueError(f"must be at least {display_value(f.path, f.minimum)}")
        if f.maximum is not None and number > f.maximum:
            raise ValueError(f"must be at most {display_value(f.path, f.maximum)}")
        return number
    if f.kind == "symbols":
        return [s.strip().upper() for s in raw.replace("\n", ",").split(",") if s.strip()]
    if f.kind == "words":
        return [w for w in post.getlist(f.name) if w]
    if f.kind == "map":
        out = {}
        for line in raw.replace(",", "\n").splitlines():
            if not line.strip():
                continue
            if "=" not in line:
                raise ValueError(f"write each pair as SYMBOL = SUBSTITUTE (“{line.strip()}”)")
            a, b = (s.strip().upper() for s in line.split("=", 1))
            out[a] = b
        return out
    raw = raw.strip()
    if not raw:
        return DEFAULTS.get(f.path, [] if f.path != "direct_index" else {})
    try:
        return json_loads_bounded(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except JsonTooDeep as exc:
        raise ValueError(str(exc)) from None


def parse_fields(post, fields: list[ParamField]) -> tuple[dict[str, Any], dict[str, str]]:
    """Submitted values by leaf path, and an error per leaf that could not be read."""
    values, errors = {}, {}
    for f in fields:
        if f.kind == "words" and f.name + "__present" not in post and f.name not in post:
            continue
        if f.kind != "words" and f.name not in post:
            continue
        try:
            values[f.path] = _parse_one(f, post)
        except ValueError as exc:
            errors[f.path] = str(exc)
    return values, errors


@dataclass
class BoundField:
    """A field with its current value, inherited value, limits and error, ready for a template."""

    field: ParamField
    value: Any
    inherited: Any = None
    source: str = "default"
    limits: dict[str, Any] | None = None
    error: str = ""
    options: list[str] | None = None  # the vocabulary offered for a list of words

    @property
    def input(self) -> Any:
        return input_value(self.field, self.value)

    @property
    def inherited_display(self) -> str:
        return display_value(self.field.path, self.inherited)

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        allowed = (self.limits or {}).get("choices")
        return tuple(c for c in self.field.choices if not allowed or c[0] in allowed)

    @property
    def limits_text(self) -> str:
        if not self.limits:
            return ""
        parts = []
        if "min" in self.limits:
            parts.append(f"at least {display_value(self.field.path, self.limits['min'])}")
        if "max" in self.limits:
            parts.append(f"at most {display_value(self.field.path, self.limits['max'])}")
        return "Allowed: " + " and ".join(parts) if parts else ""


def group_fields(bound: list[BoundField]) -> list[tuple[str, str, list[BoundField]]]:
    """(group key, title, fields) in the engine's order."""
    groups: dict[str, tuple[str, list[BoundField]]] = {}
    for b in bound:
        groups.setdefault(b.field.group, (b.field.group_title, []))[1].append(b)
    return [(key, title, items) for key, (title, items) in groups.items()]

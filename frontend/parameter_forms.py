"""Parameter forms generated from the engine's ``PARAMETERS_SCHEMA``: one field per leaf (the unit a
template lets an account override), with the schema's title, description, type and limits.

Fractions are shown and typed as percentages (an advisor types 2 for a 2% cash target), amounts in
dollars; lists of sectors, tags and asset classes offer the values the firm's security master knows.
Nothing is typed as JSON: wash-sale groups are one group a line, direct-index sleeves and one-off
instructions are rows of ordinary inputs, and a template's override limits are a table
(``overridable_from_post``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from frontend.templatetags.formatting import money
from rebalancing import engine
from rebalancing.effective_parameters import (
    MONEY_LEAVES,
    PERCENT_LEAVES,
    amount_text,
    flatten_parameters,
    unflatten,
)
from rebalancing.engine import PARAMETERS_SCHEMA, default_parameters
from rebalancing.engine.parameters import MAX_MONEY
from rebalancing.household_parameters import INSIDE_BANDS_CHOICES
from rebalancing.parameter_labels import LABELS, settings_in_words  # refusals use the form's labels
from rebalancing.typed_numbers import DOLLARS, PLAIN, TypedNumberProblem, typed_number
from rebalancing.typed_numbers import PERCENT as PERCENT_SIGN

__all__ = [
    "FIELDS", "FIELDS_BY_PATH", "HOUSEHOLD_FIELDS", "INSTRUCTION_KINDS", "ParamField", "display_value",
    "overridable_from_post", "TypedRows", "TypedText", "overridable_rows", "parameters_problems", "parse_fields",
    "parse_group_lines",
    "parse_groups", "parse_substitutes", "rows_as_typed", "vocabulary_options",
]

# Leaves typed as percentages (stored as fractions) and in dollars: their one home is effective_parameters.
PERCENT = PERCENT_LEAVES
MONEY = MONEY_LEAVES
# Leaves edited as rows or lines of ordinary inputs instead of the schema's nested JSON.
STRUCTURED = {"wash_sale.equivalent_groups": "groups", "direct_index": "direct_index", "instructions": "instructions"}
INSTRUCTION_KINDS = (
    ("sell_buy", "Sell one security and buy another with the proceeds"),
    ("raise_cash", "Raise cash (set an amount aside)"),
    ("liquidate", "Sell everything"),
    ("bring_to_model", "Bring to the model at every run (ignore drift bands and the tax budget)"),
)
BLANK_ROWS = 2  # empty rows offered under the existing ones
# The cells of each row of a structured leaf, as the form names its inputs (``p__direct_index__sleeve``).
ROW_CELLS = {"direct_index": ("sleeve", "max_names", "min_weight"),
             "instructions": ("kind", "sell", "buy", "quantity", "amount")}
# Leaves whose values are sectors, tags or asset classes the security master knows (checkbox lists).
VOCABULARY = {
    "screen.excluded_sectors": "sectors",
    "screen.excluded_tags": "tags",
    "removed_asset_classes": "asset_classes",
    "direct_index": "asset_classes",
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
    kind: str  # "bool" | "choice" | "number" | "integer" | "symbols" | "words" | "map" | "groups" | "direct_index"
    #            | "instructions"
    help: str = ""
    nullable: bool = False
    percent: bool = False
    money: bool = False
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
    if path in STRUCTURED:
        return STRUCTURED[path], False
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
        help=_help(node.get("description", ""), nullable),
        nullable=nullable,
        percent=path in PERCENT,
        money=path in MONEY,
        choices=choices,
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        vocabulary=VOCABULARY.get(path, ""),
    )


def _help(text: str, nullable: bool) -> str:
    """The schema's description for people: no "null", no "fraction" (the form asks for %)."""
    text = re.sub(r";?\s*null = none\.?", ".", text).replace("..", ".").strip()
    text = text.replace("as a fraction of", "as a percentage of").replace("this fraction of", "this percentage of")
    if nullable:
        text = (text + " " if text else "") + "Leave empty for no limit."
    return text


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
# A household's own settings (``household_parameters``) a template may let it change: rows of the
# template's override table only (they are not engine parameters, so not in FIELDS).
HOUSEHOLD_FIELDS: list[ParamField] = [
    ParamField(path="household.tax_budget", group="household", group_title="Household", label="Tax budget",
               kind="number", nullable=True, money=True, minimum=0, maximum=MAX_MONEY),
    ParamField(path="household.location", group="household", group_title="Household", label="Asset location",
               kind="map"),
    ParamField(path="household.inside_bands", group="household", group_title="Household",
               label="Trades inside the bands", kind="choice", choices=tuple(INSIDE_BANDS_CHOICES.items())),
]
_OVERRIDE_FIELDS = FIELDS + HOUSEHOLD_FIELDS


def display_value(path: str, value: Any) -> str:
    """A parameter's value in words, for tables."""
    f = FIELDS_BY_PATH.get(path) or FIELDS_BY_PATH.get(path.split(".", 1)[0])
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if f is not None and f.kind in ("groups", "direct_index", "instructions"):
        if f.path == path:
            return _structured_words(f.kind, value)
        # One leaf inside the structure (flattened, e.g. direct_index.us_equity.max_names): its own words.
        if path.endswith("_weight") and isinstance(value, int | float):
            return f"{value * 100:g}%"
        f = None
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
    if isinstance(value, int | float) and not isinstance(value, bool) and (
            path in MONEY or path.endswith(("_value", "gain_per_run", "gain_per_year"))):
        return amount_text(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _structured_words(kind: str, value: Any) -> str:
    if not value:
        return "none"
    if kind == "groups":
        return "; ".join(" ≡ ".join(group) for group in value)
    if kind == "direct_index":
        return "; ".join(
            f"{sleeve.replace('_', ' ')}" + (f" (at most {s['max_names']} names)" if s.get("max_names") else "")
            + (f" (positions of at least {s['min_position_weight'] * 100:g}%)" if s.get("min_position_weight") else "")
            for sleeve, s in value.items())
    words = dict(INSTRUCTION_KINDS)
    out = []
    for i in value:
        text = words.get(i.get("kind"), str(i.get("kind")))
        details = [f"sell {i['sell']}" if i.get("sell") else "", f"buy {i['buy']}" if i.get("buy") else "",
                   f"{i['quantity']:g} shares" if i.get("quantity") else "",
                   money(i["amount"], 0) if i.get("amount") else ""]
        details = [d for d in details if d]
        out.append(text + (f" ({', '.join(details)})" if details else ""))
    return "; ".join(out)


def _rows(f: ParamField, value: Any) -> list[dict[str, str]]:
    """Direct-index sleeves or instructions as rows for the form, with blank rows to add more."""
    rows = []
    if f.kind == "direct_index":
        for sleeve, settings in (value or {}).items():
            weight = settings.get("min_position_weight") or 0
            rows.append({"sleeve": sleeve, "max_names": "" if settings.get("max_names") is None else
                         str(settings["max_names"]), "min_weight": f"{weight * 100:g}" if weight else ""})
        blank = {"sleeve": "", "max_names": "", "min_weight": ""}
    else:
        for i in value or ():
            rows.append({"kind": i.get("kind", ""), "sell": i.get("sell") or "", "buy": i.get("buy") or "",
                         "quantity": "" if i.get("quantity") is None else f"{i['quantity']:g}",
                         "amount": "" if i.get("amount") is None else f"{i['amount']:g}"})
        blank = {"kind": "", "sell": "", "buy": "", "quantity": "", "amount": ""}
    return rows + [dict(blank) for _ in range(BLANK_ROWS)]


class TypedText(str):
    """What was typed in a field that could not be read ("abc", "-5" for a score from 0): shown again
    as typed, beside its error, rather than the stored value or nothing."""


class TypedRows(list):
    """The rows of a direct-index or instructions table as typed in a refused form, cell by cell:
    rebuilt from what could be read, a row that could not be read (0 names) would come back empty
    and the next save would drop it."""


# The kinds typed as one line of text, which a refusal shows again as typed.
_TYPED_KINDS = frozenset({"number", "integer", "choice", "symbols", "map", "groups"})


def rows_as_typed(post, fields: list[ParamField]) -> dict[str, TypedRows]:
    """The row tables among ``fields`` that ``post`` sent, by leaf path, as typed (``TypedRows``)."""
    out = {}
    for f in fields:
        cells = ROW_CELLS.get(f.kind)
        if cells and f.name + "__present" in post:
            columns = [post.getlist(f"{f.name}__{cell}") for cell in cells]
            out[f.path] = TypedRows(dict(zip(cells, row, strict=True))
                                    for row in zip_longest(*columns, fillvalue=""))
    return out


def vocabulary_options(known: list[str], value: Any) -> list[str]:
    """The words a list or table offers: the security master's, and those the value holds (a sleeve
    no security is classed in yet), so that what is stored or typed stays chosen."""
    held = (row["sleeve"] for row in value) if isinstance(value, TypedRows) else value or ()
    return sorted(set(known) | {word for word in held if word})


def input_value(f: ParamField, value: Any) -> Any:
    """The value as the form control shows it."""
    if isinstance(value, TypedText):
        return str(value)
    if isinstance(value, TypedRows):
        return list(value)
    if f.kind in ("direct_index", "instructions"):
        return _rows(f, value)
    if f.kind == "groups":
        return "\n".join(", ".join(group) for group in value or ())
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
    if isinstance(value, float):
        return f"{value:g}"
    return value


def _bounds(f: ParamField, limits: Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    """The least and most a number may be: the setting's own range, narrowed by a template's limits
    (``limits``, what the form's hint says "Allowed: ..."), so a value is refused in one set of words."""
    low, high = f.minimum, f.maximum
    if limits and isinstance(limits.get("min"), int | float) and (low is None or limits["min"] > low):
        low = limits["min"]
    if limits and isinstance(limits.get("max"), int | float) and (high is None or limits["max"] < high):
        high = limits["max"]
    return low, high


def _parse_one(f: ParamField, post, limits: Mapping[str, Any] | None = None, inherited: Any = None) -> Any:
    raw = post.get(f.name, "")
    if f.kind == "bool":
        return raw == "yes"
    if f.kind == "choice":
        if raw not in {c for c, _ in f.choices}:
            raise ValueError("choose one of the options")
        return raw
    if f.kind in ("number", "integer"):
        raw = raw.strip()
        if raw == "":
            if f.nullable:
                return None
            raise ValueError("enter a number")
        number = float(typed_number(raw, unit=PERCENT_SIGN if f.percent else DOLLARS if f.money else PLAIN))
        if not math.isfinite(number):  # 1e999
            raise ValueError(f"“{raw[:30]}” is not a number")
        if f.percent:
            number = round(number / 100, 10)
        if f.kind == "integer":
            if number != int(number):
                raise ValueError("enter a whole number")
            number = int(number)
        # The inherited value sent back as it was is no override: a template's limits do not bind it.
        unchanged = isinstance(inherited, int | float) and math.isclose(number, inherited, abs_tol=1e-12)
        low, high = _bounds(f, None if unchanged else limits)
        if low is not None and number < low:
            raise ValueError(f"must be at least {display_value(f.path, low)}")
        if high is not None and number > high:
            raise ValueError(f"must be at most {display_value(f.path, high)}")
        return number
    if f.kind == "symbols":  # each once: "BND, bnd" is one security
        return list(dict.fromkeys(s.strip().upper() for s in raw.replace("\n", ",").split(",") if s.strip()))
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
    if f.kind == "groups":
        return parse_groups(raw)
    if f.kind == "direct_index":
        return _parse_direct_index(f, post)
    return _parse_instructions(f, post)


def _number(raw: str, what: str, *, percent: bool = False, money: bool = False,
            whole: bool = False) -> float | int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        number = float(typed_number(raw, unit=PERCENT_SIGN if percent else DOLLARS if money else PLAIN))
    except TypedNumberProblem as problem:
        raise ValueError(f"{what}: {problem}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what}: “{raw[:20]}” must be a number of at least 0")
    if whole:
        if number != int(number):
            raise ValueError(f"{what}: enter a whole number")
        return int(number)
    if percent:
        if number > 100:
            raise ValueError(f"{what}: at most 100%")
        return round(number / 100, 10)
    return number


def parse_groups(raw: str) -> list[list[str]]:
    """Groups of symbols typed one group a line, separated by commas (ValueError naming the line)."""
    return [symbols for _, symbols in parse_group_lines(raw)]


def parse_group_lines(raw: str, *, alone: bool = False) -> list[tuple[int, list[str]]]:
    """Groups of symbols typed one group a line, separated by commas, each with its line number
    (ValueError naming the line). With ``alone``, a line of one symbol is read too (the firm's list
    reads it as "this security in no group"); otherwise it is refused."""
    groups, seen = [], {}
    for n, line in enumerate(raw.splitlines(), start=1):
        symbols = list(dict.fromkeys(s.strip().upper() for s in line.replace(";", ",").split(",") if s.strip()))
        if not symbols:
            continue
        if len(symbols) < 2 and not alone:
            raise ValueError(f"line {n}: a group needs at least two securities (“{line.strip()[:30]}”)")
        for symbol in symbols:
            if symbol in seen:
                raise ValueError(f"{symbol} is in two groups (lines {seen[symbol]} and {n}); merge them")
            seen[symbol] = n
        groups.append((n, symbols))
    return groups


def parse_substitutes(raw: str) -> dict[str, str]:
    """Pairs typed one a line, ``SYMBOL = SUBSTITUTE`` as a template's (``->`` and ``→`` read too);
    ValueError naming the line."""
    pairs: dict[str, str] = {}
    lines: dict[str, int] = {}
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        parts = re.split(r"\s*(?:=|->|→)\s*", line.strip())
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"line {n}: write each pair as SYMBOL = SUBSTITUTE (“{line.strip()[:30]}”)")
        symbol, substitute = (p.strip().upper() for p in parts)
        if symbol in pairs:
            raise ValueError(f"{symbol} has two substitutes (lines {lines[symbol]} and {n}); keep one")
        pairs[symbol], lines[symbol] = substitute, n
    return pairs


def _parse_direct_index(f: ParamField, post) -> dict[str, dict[str, Any]]:
    sleeves, names, weights = (post.getlist(f"{f.name}__{part}") for part in ROW_CELLS["direct_index"])
    out: dict[str, dict[str, Any]] = {}
    for n, sleeve in enumerate(sleeves):
        sleeve = sleeve.strip()
        max_names = names[n] if n < len(names) else ""
        min_weight = weights[n] if n < len(weights) else ""
        if not sleeve:
            if max_names.strip() or min_weight.strip():
                raise ValueError(f"row {n + 1}: choose the sleeve (asset class) these settings are for")
            continue
        if sleeve in out:
            raise ValueError(f"the sleeve {sleeve.replace('_', ' ')} is listed twice")
        count = _number(max_names, f"{sleeve.replace('_', ' ')}, most names", whole=True)
        if count is not None and count < 1:
            raise ValueError(f"{sleeve.replace('_', ' ')}: at least 1 name, or empty for every constituent")
        weight = _number(min_weight, f"{sleeve.replace('_', ' ')}, smallest position", percent=True)
        out[sleeve] = {"max_names": count, "min_position_weight": weight or 0.0}
    return out


def _parse_instructions(f: ParamField, post) -> list[dict[str, Any]]:
    parts = {p: post.getlist(f"{f.name}__{p}") for p in ROW_CELLS["instructions"]}
    kinds = dict(INSTRUCTION_KINDS)
    out = []
    for n, kind in enumerate(parts["kind"]):
        cell = {p: (parts[p][n].strip() if n < len(parts[p]) else "") for p in parts}
        if not kind:
            if any(cell[p] for p in ("sell", "buy", "quantity", "amount")):
                raise ValueError(f"row {n + 1}: choose what the instruction does")
            continue
        if kind not in kinds:
            raise ValueError(f"row {n + 1}: choose one of the listed instructions")
        item: dict[str, Any] = {"kind": kind}
        sell, buy = cell["sell"].upper(), cell["buy"].upper()
        quantity = _number(cell["quantity"], f"row {n + 1}, shares")
        amount = _number(cell["amount"], f"row {n + 1}, amount", money=True)
        if kind == "sell_buy":
            if not sell:
                raise ValueError(f"row {n + 1}: name the security to sell")
            item.update({"sell": sell, "buy": buy or None, "quantity": quantity, "amount": amount})
        elif kind == "raise_cash":
            if not amount:
                raise ValueError(f"row {n + 1}: give the amount of cash to raise ($)")
            item["amount"] = amount
        out.append({k: v for k, v in item.items() if v is not None})
    return out


# --- A template's override limits -----------------------------------------------------------------

def overridable_rows(overridable: dict[str, Any], errors: dict[str, str] | None = None,
                     typed=None) -> list[dict[str, Any]]:
    """One row per leaf for the template form: may households and accounts override it, and within
    which limits (in the leaf's unit: % for fractions, $ for amounts). ``typed``: a refused form's
    POST, whose ticks and limits are shown as typed instead, the rows that could not be read too
    (read back, they would come back unticked and the next save would drop them)."""
    from rebalancing.effective_parameters import override_limits

    rows = []
    for f in _OVERRIDE_FIELDS:
        if typed is not None:
            allowed = typed.get(f"ov__{f.name}") == "yes"
            low, high = typed.get(f"ov_min__{f.name}", ""), typed.get(f"ov_max__{f.name}", "")
            chosen = typed.getlist(f"ov_choices__{f.name}")
        else:
            limits = override_limits(f.path, overridable or {})
            allowed, limits = limits is not None, limits or {}
            low, high = _unit_text(f, limits.get("min")), _unit_text(f, limits.get("max"))
            chosen = limits.get("choices", [c for c, _ in f.choices])
        numeric = f.kind in ("number", "integer")
        rows.append({
            "field": f, "allowed": allowed, "min": low if numeric else None, "max": high if numeric else None,
            "choices": [(c, label, c in chosen) for c, label in f.choices] if f.kind == "choice" else None,
            "error": (errors or {}).get("ov:" + f.path, ""),
        })
    return rows


def _unit_text(f: ParamField, value) -> str:
    if value is None:
        return ""
    return f"{value * 100:g}" if f.percent else f"{value:g}"


def overridable_beyond_table(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The stored limits the table has no row for - a sleeve's own leaf under the direct index -
    which a save of the page keeps: it can neither show nor change them (read from the table alone,
    every save dropped them). A household setting (``household.*``) has its row (HOUSEHOLD_FIELDS)."""
    paths = [f.path for f in _OVERRIDE_FIELDS]
    return {k: v for k, v in stored.items() if not any(k == p or p.startswith(k + ".") for p in paths)}


def overridable_from_post(post, stored: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The template's ``overridable`` from the limits table: ``{path: {"min", "max", "choices"}}``,
    and errors keyed ``"ov:<path>"``. A range typed on a row not ticked is refused rather than
    dropped (it allows nothing); a range as ``stored`` (the template's limits, which the page fills
    in) on a row just unticked is the permission withdrawn, and goes with it."""
    from rebalancing.effective_parameters import override_limits

    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in _OVERRIDE_FIELDS:
        if post.get(f"ov__{f.name}") != "yes":
            if f.kind in ("number", "integer"):
                was = override_limits(f.path, stored or {}) or {}
                typed = {b: post.get(f"ov_{b}__{f.name}", "").strip() for b in ("min", "max")}
                if any(typed[b] and typed[b] != _unit_text(f, was.get(b)) for b in typed):
                    errors["ov:" + f.path] = (f"{f.label}: a range is typed but “may override” is not ticked; tick it "
                                              "to let households and accounts change the setting within the range, "
                                              "or clear the range")
            continue
        limits: dict[str, Any] = {}
        try:
            if f.kind in ("number", "integer"):
                for bound in ("min", "max"):
                    value = _number(post.get(f"ov_{bound}__{f.name}", ""), f"{f.label}, {bound}imum",
                                    percent=f.percent, money=f.money, whole=f.kind == "integer")
                    if value is not None and f.maximum is not None and value > f.maximum:
                        # a limit is a value the setting may take (money: the engine's cap)
                        raise ValueError(f"{f.label}, {bound}imum: at most {display_value(f.path, f.maximum)}")
                    if value is not None:
                        limits[bound] = value
                if "min" in limits and "max" in limits and limits["min"] > limits["max"]:
                    raise ValueError(f"{f.label}: the minimum is above the maximum")
            elif f.kind == "choice":
                chosen = [c for c in post.getlist(f"ov_choices__{f.name}") if c in {c for c, _ in f.choices}]
                if not chosen:
                    raise ValueError(f"{f.label}: tick at least one choice an account may make")
                if len(chosen) < len(f.choices):
                    limits["choices"] = chosen
        except ValueError as exc:
            errors["ov:" + f.path] = str(exc)
            continue
        out[f.path] = limits
    return out, errors


def parse_fields(post, fields: list[ParamField] | list[BoundField]) -> tuple[dict[str, Any], dict[str, str]]:
    """Submitted values by leaf path, and an error per leaf that could not be read. Bound fields
    (an account's, a household's) are read within their template's limits too, in the words of
    their hint ("Allowed: at least $100" -> "must be at least $100")."""
    values, errors = {}, {}
    for item in fields:
        f = getattr(item, "field", item)
        limits, inherited = getattr(item, "limits", None), getattr(item, "inherited", None)
        if f.kind in ("words", "direct_index", "instructions"):
            if f.name + "__present" not in post and f.name not in post:
                continue
        elif f.name not in post:
            continue
        try:
            values[f.path] = _parse_one(f, post, limits, inherited)
        except ValueError as exc:
            errors[f.path] = str(exc)
            if f.kind in _TYPED_KINDS:
                values[f.path] = TypedText(post.get(f.name, ""))
    return values, errors


# How many settings one save reports the engine refusing (each found by setting the last aside).
_MOST_PROBLEMS = 12


def parameters_problems(parameters: Mapping[str, Any], *, level: str, unread=(),
                        stored: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every setting of the layer ``parameters`` the engine refuses (``engine.Parameters.from_dict``,
    which says the first), each by its path with the words the saving service uses ("``level``:
    ..."), so a form shows them all at once, not one per save. Found one at a time: a refused setting
    is set aside (back to its default) and the rest checked again, so a second problem that does not
    depend on the first is found too; one the engine names no setting for is said once (``__all__``).

    ``unread``: the settings the form could not read (said beside them already); they are checked at
    their ``stored`` value (the layer saved until now), not the default, so a check between two
    settings (cash floor not above the target) does not blame one the user did not change."""
    flat = flatten_parameters(parameters)
    before = flatten_parameters(stored or {})
    for path in unread:
        if path in before:
            flat[path] = before[path]
        else:
            flat.pop(path, None)
    problems: dict[str, str] = {}
    for _ in range(_MOST_PROBLEMS):
        try:
            engine.Parameters.from_dict(unflatten(flat))
        except engine.InvalidRequest as exc:
            path = (exc.detail or {}).get("parameter") or ""
            message = f"{level}: {settings_in_words(exc.message)}"
            if not path or path in problems or not any(p == path or p.startswith(path + ".") for p in flat):
                problems.setdefault(path or "__all__", message)  # cannot be set aside: said, and the search ends
                return problems
            problems[path] = message
            flat = {p: v for p, v in flat.items() if not (p == path or p.startswith(path + "."))}
        else:
            break
    return problems


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
    def instruction_kinds(self) -> tuple[tuple[str, str], ...]:
        return INSTRUCTION_KINDS

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
        parts = []  # the bounds the form reads the value within (``_bounds``), in its words
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

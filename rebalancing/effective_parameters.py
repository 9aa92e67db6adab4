"""An account's effective parameters: engine defaults <- firm <- template <- household <- account.

Each leaf of the engine's parameter dict is one overridable setting (``"cash.target"``,
``"harvest.enabled"``). A template says which leaves households and accounts may override and
within which limits; the effective value of every leaf records where it came from.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rebalancing.engine import (
    InvalidRequest,
    Parameters,
    default_parameters,
    merge_parameter_dicts,
    settings_check,
)
from rebalancing.parameter_labels import settings_in_words
from tenants.errors import ValidationFailed

__all__ = [
    "MAP_LEAVES",
    "MONEY_LEAVES",
    "PERCENT_LEAVES",
    "RESTRICTED_SOURCE",
    "amount_text",
    "empty_groups_dropped",
    "leaf_value_text",
    "EffectiveParameters",
    "flatten_parameters",
    "override_limits",
    "override_limits_problems",
    "override_problems",
    "parameters_combined_validate",
    "parameters_from_text",
    "parameters_from_values",
    "parameters_effective",
    "overrides_after_edit",
    "overrides_validate",
    "unflatten",
    "value_at",
]

# Leaves whose value is a mapping: replaced whole, like the engine's merge does.
MAP_LEAVES = frozenset({"transition.substitutes", "harvest.substitutes"})
# The units people think in: fractions of account value (or cost) are percentages, amounts are dollars.
PERCENT_LEAVES = frozenset({"cash.target", "cash.floor", "harvest.min_loss_pct", "drift.absolute_band",
                            "drift.relative_band", "trading.max_turnover"})
MONEY_LEAVES = frozenset({"transition.max_net_gain_per_run", "transition.max_net_gain_per_year",
                          "harvest.min_loss_value", "trading.min_trade_value", "household.tax_budget"})


# Amounts from a trillion up are said in words (or as a power of ten): a refusal of 1e300 would
# otherwise print a 300-digit number.
_AMOUNT_WORDS = ((1e12, "trillion"), (1e15, "quadrillion"))


def _figure(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def amount_text(value: float) -> str:
    """A dollar amount as people read it: "$250,000", "$1,250.50"; from a trillion up in words
    ("$1.5 trillion", "$1 quadrillion") and from a quintillion as a power of ten ("$1 × 10^300")."""
    size = abs(value)
    if not math.isfinite(size) or size < _AMOUNT_WORDS[0][0]:
        return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"
    sign = "-" if value < 0 else ""
    for scale, word in _AMOUNT_WORDS:
        if round(size / scale, 2) < 1000:
            return f"{sign}${_figure(size / scale)} {word}"
    exponent = math.floor(math.log10(size))
    mantissa = round(size / 10.0**exponent, 2)
    if mantissa >= 10:  # 9.999 rounds up to the next power
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{sign}${_figure(mantissa)} × 10^{exponent}"


def leaf_value_text(path: str, value: Any) -> str:
    """A leaf's number as people read it: 0.05 of cash.target is "5%", 250000 of a gain cap "$250,000"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value) if isinstance(value, str) else str(value)
    if path in PERCENT_LEAVES:
        return f"{value * 100:g}%"
    if path in MONEY_LEAVES:
        return amount_text(value)
    return f"{value:g}"


@dataclass(frozen=True)
class EffectiveParameters:
    values: dict[str, Any]  # the full nested engine parameter dict
    # leaf path -> "default" | "firm" | "template:<code>" | "household" | "account" | "restricted" (the
    # firm's restricted list; "restricted + account": with the account's own restrictions)
    sources: dict[str, str]

    def parameters(self) -> Parameters:
        return parameters_from_values(self.values)

    def leaves(self) -> list[tuple[str, Any, str]]:
        """(path, value, source) for every leaf, in the engine's order."""
        flat = flatten_parameters(self.values)
        return [(path, value, self.sources.get(path, "default")) for path, value in flat.items()]

    def value_at(self, path: str) -> Any:
        return value_at(self.values, path)

    def source_of(self, path: str) -> str:
        """Where the value at ``path`` comes from; for a group, its last overridden leaf's source."""
        exact = self.sources.get(path)
        if exact:
            return exact
        below = [s for p, s in self.sources.items() if p.startswith(path + ".") and s != "default"]
        return below[-1] if below else "default"


@lru_cache(maxsize=512)
def parameters_from_text(canonical: str) -> Parameters:
    """``Parameters`` of values given as their canonical JSON (``json.dumps(values, sort_keys=True)``),
    memoised: for a caller that has that text already."""
    return Parameters.from_dict(json.loads(canonical))


def parameters_from_values(values: Mapping[str, Any]) -> Parameters:
    """``Parameters.from_dict`` memoised on the values: most accounts of a firm share a handful of
    parameter sets, and validating one against the JSON Schema costs more than loading its lots."""
    return parameters_from_text(json.dumps(values, sort_keys=True))


def flatten_parameters(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and path not in MAP_LEAVES and value:
            flat.update(flatten_parameters(value, f"{path}."))
        else:
            flat[path] = value
    return flat


@lru_cache(maxsize=1)
def _groups() -> frozenset[str]:
    """The paths of the engine's groups of settings (``cash``, ``harvest``, ``direct_index``): objects
    merged key by key, so an empty one changes nothing (a map leaf, replaced whole, is not one)."""
    def walk(values: Mapping[str, Any], prefix: str) -> list[str]:
        paths = []
        for key, value in values.items():
            if isinstance(value, Mapping) and f"{prefix}{key}" not in MAP_LEAVES:
                paths += [f"{prefix}{key}", *walk(value, f"{prefix}{key}.")]
        return paths
    return frozenset(walk(default_parameters().to_dict(), ""))


def _empty_group(path: str, value: Any) -> bool:
    return isinstance(value, Mapping) and not value and path in _groups()


def empty_groups_dropped(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``values`` (a template's parameters, a household's or account's overrides) without the groups
    left empty (``{"cash": {}}``, what a merge patch removing the last cash override leaves): an empty
    group overrides nothing, and kept, it read as an override of the group itself. A map leaf
    (``harvest.substitutes``) kept empty is a value - no substitutes - and stays."""
    kept: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and path in _groups():
            value = empty_groups_dropped(value, f"{path}.")
        if not _empty_group(path, value):
            kept[key] = value
    return kept


def override_limits(path: str, overridable: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The limits for a leaf, or None if the template does not let it be overridden.

    A listed group (``"direct_index"``) allows every leaf under it.
    """
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        limits = overridable.get(".".join(parts[:i]))
        if limits is not None:
            return limits
    return None


def overrides_validate(*, overrides: Mapping[str, Any], template, level: str,
                       household_overrides: Mapping[str, Any] | None = None) -> None:
    """Refuse overrides the engine refuses or the template does not allow, or values outside its limits.

    The overrides are checked on what they sit on: the template's parameters and, for an account,
    its household's overrides (``household_overrides``), merged as a run merges them, so that a rule
    between two settings (the cash floor at most the target) holds where one comes from the
    template and the other from the overrides (alone, on the engine's defaults, a floor of 3% would
    be refused under a template's 5% target).
    Without a template any override the engine accepts is allowed (there is nothing to limit it).
    """
    if not isinstance(overrides, Mapping):
        raise ValidationFailed(f"{level} overrides must be an object", detail={"field": "overrides"})
    parameters_combined_validate(template=template, household_overrides=household_overrides,
                                 account_overrides=overrides, level=level)
    if template is None:
        return
    problems = override_problems(overrides, code=template.code, overridable=template.overridable or {})
    if problems:
        raise ValidationFailed(
            f"{level} overrides refused: " + "; ".join(problems),
            detail={"field": "overrides", "problems": problems},
        )


def parameters_combined_validate(*, template, household_overrides: Mapping[str, Any] | None,
                                 account_overrides: Mapping[str, Any] | None, level: str) -> None:
    """Refuse layers that the engine refuses once merged as a run merges them (a cash floor of the
    account's above a target of its template's), naming the setting and the ``level`` refused."""
    effective = parameters_effective(template=template, household_overrides=household_overrides,
                                     account_overrides=account_overrides)
    try:
        parameters_from_values(effective.values)
    except InvalidRequest as exc:
        raise ValidationFailed(f"{level} overrides: {settings_in_words(exc.message)}",
                               detail={"field": "overrides", **exc.detail}) from None


def override_problems(overrides: Mapping[str, Any], *, code: str, overridable: Mapping[str, Any]) -> list[str]:
    """What a template (``code``, its ``overridable`` limits) refuses in ``overrides``: leaves it
    does not let be overridden, values outside its limits (empty: nothing)."""
    problems = []
    for path, value in flatten_parameters(overrides).items():
        if _empty_group(path, value):  # {"cash": {}} overrides nothing (``empty_groups_dropped``)
            continue
        limits = override_limits(path, overridable)
        if limits is None:
            problems.append(f"{path} may not be overridden under template {code!r}")
            continue
        shown = leaf_value_text
        if "min" in limits and isinstance(value, int | float) and value < limits["min"]:
            problems.append(f"{path} = {shown(path, value)} is below the template's minimum "
                            f"{shown(path, limits['min'])}")
        if "max" in limits and isinstance(value, int | float) and value > limits["max"]:
            problems.append(f"{path} = {shown(path, value)} is above the template's maximum "
                            f"{shown(path, limits['max'])}")
        if "choices" in limits and value not in limits["choices"]:
            problems.append(f"{path} = {value!r} is not one of {limits['choices']}")
    return problems


def override_limits_problems(overridable: Mapping[str, Any]) -> list[str]:
    """A template's limits (``{path: {"min", "max"}}``) that are not values their setting may take
    (a maximum of 1e300 for a dollar amount, a minimum of -1...): each checked by the setting's own
    rule (the engine's parameters; ``household_settings_validate`` for ``household.``), not by the
    rules between settings: a cash floor's maximum of 20% is allowed under a default target of 1%,
    since an override may raise the target too."""
    from rebalancing.household_parameters import HOUSEHOLD_DEFAULTS, household_settings_validate

    leaves = flatten_parameters(default_parameters().to_dict())
    problems = []
    for path, limits in overridable.items():
        if not _setting_named(path, leaves, HOUSEHOLD_DEFAULTS):
            problems.append(f"{path}: no such setting (a typo?), so it would allow nothing")
            continue
        low, high = (limits.get("min"), limits.get("max")) if isinstance(limits, Mapping) else (None, None)
        if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            problems.append(f"{path}: the minimum {leaf_value_text(path, low)} is above the maximum "
                            f"{leaf_value_text(path, high)}, so no value is allowed")
        for bound in ("min", "max"):
            value = limits.get(bound) if isinstance(limits, Mapping) else None
            if value is None:
                continue
            try:
                if path.startswith("household."):
                    household_settings_validate({path.removeprefix("household."): value}, level="template household")
                elif path in leaves:
                    settings_check(unflatten({path: value}))
            except (InvalidRequest, ValidationFailed) as exc:
                problems.append(f"{path}: the {bound}imum {leaf_value_text(path, value)} is not a value it may "
                                f"take ({exc.message})")
    return problems


# Settings whose value is keyed by a sleeve or a symbol: a limit may name one key of them.
_KEYED = ("direct_index", "harvest.substitutes", "transition.substitutes")


def _setting_named(path: str, leaves: Mapping[str, Any], household: Mapping[str, Any]) -> bool:
    """Whether ``path`` names a setting an override may change: a leaf, a group of leaves, one key
    of a keyed setting, or a household setting."""
    if path == "household" or path.startswith("household."):
        return path == "household" or path.removeprefix("household.") in household
    return (path in leaves or any(leaf.startswith(path + ".") for leaf in leaves)
            or any(path.startswith(keyed + ".") for keyed in _KEYED))


def value_at(values: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (a leaf or a group) of a nested parameter dict, or None."""
    node: Any = values
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"cash.target": 0.02} -> {"cash": {"target": 0.02}}."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def overrides_after_edit(*, overrides: Mapping[str, Any], inherited: EffectiveParameters,
                         submitted: Mapping[str, Any], shown: Iterable[str]) -> dict[str, Any]:
    """An account's (or household's) overrides after a form showed the leaves ``shown``: a shown
    leaf is overridden only where its submitted value differs from what it would inherit; a leaf
    the form did not show keeps its current override."""
    shown = set(shown)
    keep = {p: v for p, v in flatten_parameters(overrides or {}).items()
            if not any(p == s or p.startswith(s + ".") for s in shown)}
    changed = {p: submitted[p] for p in shown if p in submitted and submitted[p] != inherited.value_at(p)}
    return unflatten({**keep, **changed})


def parameters_effective(
    *, template, household_overrides: Mapping[str, Any] | None, account_overrides: Mapping[str, Any] | None,
    firm_substitutes: Mapping[str, str] | None = None, firm_restrictions: Mapping[str, str] | None = None,
) -> EffectiveParameters:
    """Merge the layers key by key and record the source of every leaf.

    ``firm_substitutes`` (the firm-wide harvest substitutes) sit under the layers per security: a
    layer's ``harvest.substitutes`` replaces the layer below whole, as every map leaf does, and
    the firm's pairs fill in the securities it does not name.

    ``firm_restrictions`` (the firm's restricted list in force: symbol -> ``"do_not_buy"`` or
    ``"do_not_trade"``) bind above every layer: no template, household or account can lift them.
    Each symbol joins ``restrictions.do_not_buy``, and ``restrictions.do_not_sell`` too when it may
    not be traded at all; the source of a leaf they add to is ``"restricted"`` (``"restricted +
    account"`` when a layer restricts other securities as well)."""
    values = default_parameters().to_dict()
    sources = dict.fromkeys(flatten_parameters(values), "default")
    layers = [
        (f"template:{template.code}" if template else "", template.parameters if template else None),
        ("household", household_overrides),
        ("account", account_overrides),
    ]
    for source, layer in layers:
        if not layer:
            continue
        values = merge_parameter_dicts(values, layer)
        for path in flatten_parameters(layer):
            sources[path] = source
    if firm_substitutes:
        own = values["harvest"].get("substitutes") or {}
        values["harvest"]["substitutes"] = {**firm_substitutes, **own}
        if not own:
            sources["harvest.substitutes"] = "firm"
        elif set(firm_substitutes) - set(own):
            sources["harvest.substitutes"] = f"firm + {sources.get('harvest.substitutes', 'default')}"
    if firm_restrictions:
        _restricted_list_merge(values, sources, firm_restrictions)
    return EffectiveParameters(values=values, sources=sources)


RESTRICTED_SOURCE = "restricted"


def _restricted_list_merge(values: dict[str, Any], sources: dict[str, str], firm: Mapping[str, str]) -> None:
    restrictions = values["restrictions"] = dict(values.get("restrictions") or {})
    for leaf, kinds in (("do_not_buy", ("do_not_buy", "do_not_trade")), ("do_not_sell", ("do_not_trade",))):
        named = sorted(symbol for symbol, kind in firm.items() if kind in kinds)
        if not named:
            continue
        own = list(restrictions.get(leaf) or ())
        restrictions[leaf] = own + [symbol for symbol in named if symbol not in own]
        path = f"restrictions.{leaf}"
        below = sources.get(path, "default")
        extra = set(own) - set(named)
        sources[path] = f"{RESTRICTED_SOURCE} + {below}" if extra and below != "default" else RESTRICTED_SOURCE

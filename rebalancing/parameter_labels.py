"""The names people see for the engine's parameter settings: the parameter form's labels.

The form (``frontend.parameter_forms``) heads each group with its schema title ("Year-round loss
harvesting") and labels each leaf from ``LABELS``; a refusal written where settings are saved
(``services.setting_conflicts``, ``effective_parameters``) names a setting the same way, so a firm
admin reads “Removed asset classes” where the engine and the API say ``removed_asset_classes``
(the API's ``detail`` keeps the codes).
"""

from __future__ import annotations

import re
from functools import cache

from rebalancing.engine import PARAMETERS_SCHEMA

__all__ = ["LABELS", "setting_label", "settings_in_words"]

# A leaf's label on the form, by its last key (``harvest.min_loss_pct`` -> "min_loss_pct").
LABELS = {
    "enabled": "Switched on",
    "max_net_gain_per_run": "Net gain allowed per run",
    "max_net_gain_per_year": "Net gain allowed per year",
    "min_loss_value": "Minimum loss per position",
    "min_loss_pct": "Minimum loss per lot (% of cost)",
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


def _group_title(group: str) -> str:
    node = PARAMETERS_SCHEMA["properties"].get(group) or {}
    ref = node.get("$ref")
    if ref and "title" not in node:
        node = PARAMETERS_SCHEMA["$defs"][ref.rsplit("/", 1)[1]]
    return node.get("title") or group.replace("_", " ").capitalize()


def setting_label(path: str) -> str:
    """A setting as the parameter form shows it: a whole-group setting by its title
    ("removed_asset_classes" -> "Removed asset classes"), a leaf by its group's title and its label
    ("restrictions.hold" -> "Restrictions: hold (neither buy nor sell)")."""
    group, _, leaf = path.partition(".")
    if not leaf:
        return _group_title(group)
    key = leaf.rsplit(".", 1)[-1]
    words = LABELS.get(key) or key.replace("_", " ").capitalize()
    return f"{_group_title(group)}: {words[:1].lower()}{words[1:]}"


@cache
def _paths() -> re.Pattern:
    """Every setting's code as it may stand in a message: a group's leaves (``cash.floor``) and the
    whole-group settings whose code is not an ordinary word (``direct_index``, not ``instructions``)."""
    paths = []
    for group, node in PARAMETERS_SCHEMA["properties"].items():
        leaves = node.get("properties") or {}
        paths += [f"{group}.{leaf}" for leaf in leaves] if leaves else [group] if "_" in group else []
    alternatives = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])({alternatives})(?![\w.])")


def settings_in_words(message: str) -> str:
    """``message`` (an engine refusal, or a rule between settings) with each setting's code written
    as the form labels it: "parameters screen.excluded_symbols and restrictions.hold both name X" ->
    "settings “ESG / values screens: excluded securities” and “Restrictions: hold (neither buy nor
    sell)” both name X". The refusal's detail keeps the codes, for the API's callers."""
    labelled = _paths().sub(lambda m: f"“{setting_label(m.group(1))}”", message)
    return re.sub(r"\b(P|p)arameter(s?)(?= “)", lambda m: ("S" if m.group(1) == "P" else "s") + "etting" + m.group(2),
                  labelled)

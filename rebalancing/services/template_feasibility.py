"""A template's settings taken together, as the firm admin who saves them means them: settings no
account could ever meet are refused, naming them; settings that are allowed but almost surely a
mistake are saved and said (on the template's page, and by ``template_save`` in ``warnings``).

A template governs many accounts, each run every day: a contradiction saved here fails or
misleads every one of them, silently, until someone reads a proposal closely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from rebalancing.effective_parameters import amount_text, leaf_value_text, value_at
from rebalancing.engine import default_parameters, merge_parameter_dicts
from rebalancing.household_parameters import HOUSEHOLD_DEFAULTS
from rebalancing.models import Account, TaxLot
from rebalancing.parameter_labels import setting_label
from rebalancing.selectors import asset_classes_known, latest_prices
from tenants.errors import ValidationFailed

__all__ = ["template_settings_refuse", "template_settings_warnings"]


def _label(path: str) -> str:
    if path.startswith("household."):
        return f"“Household: {path.removeprefix('household.').replace('_', ' ')}”"
    return f"“{setting_label(path)}”"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _own_value(path: str, values: Mapping[str, Any], household: Mapping[str, Any]) -> Any:
    """The value the template itself gives ``path`` (its own, or the default it keeps)."""
    if path.startswith("household."):
        return value_at(household, path.removeprefix("household."))
    return value_at(values, path)


def _range_words(path: str, limits: Mapping[str, Any]) -> str:
    low, high = limits.get("min"), limits.get("max")
    if _number(low) and _number(high):
        return f"from {leaf_value_text(path, low)} to {leaf_value_text(path, high)}"
    if _number(low):
        return f"at least {leaf_value_text(path, low)}"
    return f"at most {leaf_value_text(path, high)}"


def _problems(values: Mapping[str, Any], overridable: Mapping[str, Any],
              household: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    # Every asset class removed: every account sells everything, and the assignment of the template
    # to any model is refused (services.setting_conflicts), so no account could ever follow it.
    removed = set(values.get("removed_asset_classes") or ())
    known = asset_classes_known()
    if known and known <= removed:
        out.append((f"{_label('removed_asset_classes')} removes every asset class of the firm "
                    f"({', '.join(sorted(known))}): every account it governed would sell everything it holds, and "
                    "no model could be assigned with it; keep at least one asset class (to sell one account's "
                    "holdings, give that account the instruction “Sell everything”)",
                    {"parameter": "removed_asset_classes"}))
    for path, limits in overridable.items():
        if not isinstance(limits, Mapping):
            continue
        own = _own_value(path, values, household)
        low, high = limits.get("min"), limits.get("max")
        if _number(own) and ((_number(low) and own < low) or (_number(high) and own > high)):
            out.append((f"the template's own {_label(path)} is {leaf_value_text(path, own)}, outside the range "
                        f"households and accounts may override it within ({_range_words(path, limits)}): every "
                        "account that keeps the template's value would hold one the template does not allow; "
                        "widen the range or change the value",
                        {"parameter": path if not path.startswith("household.") else None, "limit": path}))
        choices = limits.get("choices")
        if isinstance(choices, list) and isinstance(own, str) and own not in choices:
            out.append((f"the template's own {_label(path)} is {own!r}, not one of the choices households and "
                        f"accounts may make ({', '.join(map(repr, choices))}): every account that keeps the "
                        "template's value would hold one the template does not allow; add it to the choices or "
                        "change the value", {"parameter": path if not path.startswith("household.") else None,
                                             "limit": path}))
    return out


def template_settings_refuse(*, parameters: Mapping[str, Any], overridable: Mapping[str, Any],
                             household_parameters: Mapping[str, Any] | None) -> None:
    """Refuse a template whose settings (``parameters`` over the engine's defaults, its override
    ``overridable`` limits, its ``household_parameters``) no account could meet, naming them all."""
    values = merge_parameter_dicts(default_parameters().to_dict(), parameters)
    household = {**HOUSEHOLD_DEFAULTS, **(household_parameters or {})}
    problems = _problems(values, overridable or {}, household)
    if problems:
        words = [problem for problem, _ in problems]
        detail = {k: v for k, v in problems[0][1].items() if v is not None}
        raise ValidationFailed("Template refused: " + "; ".join(words) + ". Nothing was saved.",
                               detail={"field": "overridable" if "limit" in detail else "parameters", **detail,
                                       "problems": words})


def _largest_account_value() -> float:
    """What the firm's largest account is worth today (cash and holdings at their latest closes); 0
    when it holds nothing. Two queries: the lots summed by account and security, the latest closes."""
    prices = latest_prices(timezone.localdate())
    values = {pk: float(cash) for pk, cash in Account.objects.values_list("pk", "cash")}
    held = TaxLot.objects.values("account_id", "security_id").annotate(shares=Sum("quantity")).order_by()
    for row in held:
        values[row["account_id"]] += float(row["shares"]) * prices.get(row["security_id"], 0.0)
    return max(values.values(), default=0.0)


def _min_trade_too_large(minimum: float) -> str | None:
    """Why a minimum trade means no account trades (None if it does not): above what the firm's largest
    account is worth, or, in a firm that holds nothing yet, above what any client account holds (the
    imports' plausibility bound, ``MAX_AMOUNT``)."""
    from rebalancing.imports.cells import MAX_AMOUNT  # imports -> services.book -> here: read when called

    if not minimum > 0:
        return None
    if minimum > MAX_AMOUNT:
        return f"more than any client account holds (${int(MAX_AMOUNT):,})"
    largest = _largest_account_value()
    if 0 < largest < minimum:
        return f"more than the firm's largest account is worth ({amount_text(round(largest))})"
    return None


def template_settings_warnings(parameters: Mapping[str, Any]) -> list[str]:
    """What the template's settings do that is allowed but almost surely not meant, in words."""
    values = merge_parameter_dicts(default_parameters().to_dict(), parameters or {})
    out = []
    # A 100% target can be met, with any minimum trade (closing a position is never dropped as too
    # small: engine/rounding.py), but it liquidates every account the template governs.
    if values["cash"]["target"] >= 1:
        out.append(f"{_label('cash.target')} is 100%: every account it governs will sell every security and hold "
                   "only cash at its next run. To sell one account's holdings, give that account the instruction "
                   "“Sell everything” instead.")
    if values["trading"]["max_turnover"] == 0:
        out.append(f"{_label('trading.max_turnover')} is 0%: the accounts it governs will not trade at all - no "
                   "rebalancing, no harvesting - and a run that must trade (a screen, a restriction, an "
                   "instruction) fails.")
    minimum = values["trading"]["min_trade_value"]
    if beyond := _min_trade_too_large(minimum):
        # Smaller trades are dropped (engine/rounding.py), but for a position sold whole or a trade
        # that must be made: every account then stays as it is, as with a 0% turnover cap.
        out.append(f"{_label('trading.min_trade_value')} is {leaf_value_text('trading.min_trade_value', minimum)}, "
                   f"{beyond}: every trade smaller is dropped, so the accounts it governs will not rebalance, buy "
                   "or harvest - only a position sold whole, or a trade a screen, a restriction or an instruction "
                   "forces, is made.")
    return out

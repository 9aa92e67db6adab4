"""A household's own settings when it is managed as one: its tax budget per year, where each
asset class should be held and how it is kept on its model while inside its drift bands. Engine defaults <- template <- household, each value with its source,
like an account's parameters (``effective_parameters``); a template lists which a household may
change, and within what limits, under ``household.`` in its ``overridable``.

    {"tax_budget": 5000,                                   # realised-gain tax per calendar year
     "location": {"US Bonds": ["traditional", "roth", "taxable"]},   # replaced whole
     "inside_bands": "cash_flows"}                         # or "tax_free" (engine.INSIDE_BANDS)

Which accounts may hold which asset classes is each account's (``Account.asset_classes``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rebalancing.effective_parameters import (
    EffectiveParameters,
    amount_text,
    override_problems,
    parameters_effective,
    parameters_from_values,
)
from rebalancing.engine import INSIDE_BANDS, TAX_STATUSES, DriftParams
from rebalancing.engine.parameters import MAX_MONEY
from rebalancing.engine.tax import estimated_tax, netting_reserve, own_return
from tenants.errors import ValidationFailed

__all__ = [
    "HOUSEHOLD_DEFAULTS",
    "INSIDE_BANDS_CHOICES",
    "accounts_on_return",
    "joining_rates",
    "household_drift_bands",
    "household_settings_effective",
    "household_settings_validate",
    "rates_apart_on_returns",
    "return_rates",
    "tax_budget_left",
    "tax_realised_ytd",
]

# "inside_bands" defaults to the engine's own default (HouseholdRequest.inside_bands).
HOUSEHOLD_DEFAULTS: dict[str, Any] = {"tax_budget": None, "location": {}, "inside_bands": "tax_free"}
# What each way of rebalancing inside the bands means, in the words the pages and the API use.
INSIDE_BANDS_CHOICES: dict[str, str] = {
    "tax_free": "keep on model with tax-free trades",
    "cash_flows": "only direct cash flows",
}
_PREFIX = "household."


def household_settings_validate(settings: Any, *, template=None, level: str = "household") -> dict[str, Any]:
    """The settings, checked: known keys, a budget of at least zero, a location naming tax
    statuses once each, a way of rebalancing inside the bands the engine knows; within the
    template's limits when ``template`` is given."""
    if not isinstance(settings, Mapping):
        raise ValidationFailed(f"{level} settings must be an object", detail={"field": "household_overrides"})
    unknown = sorted(set(settings) - set(HOUSEHOLD_DEFAULTS))
    if unknown:
        raise ValidationFailed(f"unknown {level} setting(s): {', '.join(unknown)} "
                               f"(known: {', '.join(HOUSEHOLD_DEFAULTS)})", detail={"field": "household_overrides"})
    budget = settings.get("tax_budget")
    if isinstance(budget, float) and not math.isfinite(budget):  # NaN compares false with everything
        raise ValidationFailed(f"the tax budget must be an amount from 0 to {amount_text(MAX_MONEY)}, not {budget}",
                               detail={"field": "tax_budget"})
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0):
        shown = (f"-{amount_text(-budget)}" if isinstance(budget, int | float) and not isinstance(budget, bool)
                 else repr(budget))
        raise ValidationFailed(f"the tax budget must be an amount of at least 0, not {shown}",
                               detail={"field": "tax_budget"})
    if budget is not None and not budget <= MAX_MONEY:  # the engine's money cap: a proposal can record it
        raise ValidationFailed(f"the tax budget must be at most {amount_text(MAX_MONEY)}, not {amount_text(budget)}",
                               detail={"field": "tax_budget"})
    if "inside_bands" in settings and settings["inside_bands"] not in INSIDE_BANDS:
        choices = " or ".join(f"{k!r} ({v})" for k, v in INSIDE_BANDS_CHOICES.items())
        raise ValidationFailed(f"inside_bands (how the household is rebalanced inside its drift bands) must be "
                               f"{choices}, not {settings['inside_bands']!r}", detail={"field": "inside_bands"})
    location = settings.get("location", {})
    if not isinstance(location, Mapping):
        raise ValidationFailed("location must map asset classes to tax statuses", detail={"field": "location"})
    for asset_class, statuses in location.items():
        if not isinstance(statuses, list | tuple) or not statuses:
            raise ValidationFailed(f"location of {asset_class}: list the tax statuses in order of preference",
                                   detail={"field": "location"})
        wrong = [s for s in statuses if s not in TAX_STATUSES]
        if wrong or len(set(statuses)) != len(statuses):
            raise ValidationFailed(
                f"location of {asset_class}: each of {', '.join(TAX_STATUSES)} at most once, not {list(statuses)}",
                detail={"field": "location"})
    if template is not None:
        problems = override_problems({f"{_PREFIX}{k}": v for k, v in settings.items()}, code=template.code,
                                     overridable=template.overridable or {})
        if problems:
            raise ValidationFailed(f"{level} settings refused: " + "; ".join(problems),
                                   detail={"field": "household_overrides", "problems": problems})
    return dict(settings)


def household_settings_effective(household, *, own: bool = True) -> EffectiveParameters:
    """The household's settings and where each comes from ("default", "template:<code>", "household");
    ``own=False``: what it inherits, its own overrides left out (what "follow the template" gives)."""
    values = dict(HOUSEHOLD_DEFAULTS)
    sources = dict.fromkeys(values, "default")
    template = household.template
    layers = [(f"template:{template.code}" if template else "", (template.household_parameters if template else None)),
              ("household", household.household_overrides if own else None)]
    for source, layer in layers:
        for key, value in (layer or {}).items():
            if key in values:
                values[key] = value
                sources[key] = source
    return EffectiveParameters(values=values, sources=sources)


def _returns(accounts):
    """Each return of the household's taxable accounts once (``engine.TaxReturn``), with the
    account whose rates it is taxed at (the first on it). An account given no return is its own."""
    seen: set[str] = set()
    for a in accounts:
        if not a.taxable:
            continue
        for r in a.tax_returns or (own_return(a),):
            if r.id and r.id in seen:
                continue
            if r.id:
                seen.add(r.id)
            yield r, a


def tax_realised_ytd(accounts) -> float:
    """Tax the household's sales have cost this year so far (``engine.Account``s): on each return
    once, the tax with the year's results - every taxable account's on it netted together, then
    the loss it carries in (Schedule D) - less the tax without them. The carried loss takes up to
    3,000 (1,500 filing separately) off ordinary income whether or not anything is sold: that
    deduction is not the year's sales' to spend. Negative when the year's losses saved tax."""
    total = 0.0
    for r, a in _returns(accounts):
        carried = estimated_tax(-r.carried_short, -r.carried_long, a.short_term_rate, a.long_term_rate, r.loss_limit,
                                r.taxable_income)
        total += estimated_tax(r.short_term_ytd - r.carried_short, r.long_term_ytd - r.carried_long,
                               a.short_term_rate, a.long_term_rate, r.loss_limit, r.taxable_income) - carried
    return round(total, 2)


def accounts_on_return(household, accounts, spouse: str) -> list:
    """The taxable accounts whose sales go on a return: every one on the household's one return
    (``spouse`` ""); filing separately, the spouse's own and the joint ones (half on each)."""
    return [a for a in accounts if a.taxable and (not spouse or a.spouse in (spouse, a.Spouse.JOINT))]


def return_rates(household, accounts) -> dict[str, tuple | None]:
    """Each return's (short-term, long-term) marginal rates: what its taxable accounts carry; None
    when they differ or it has none."""
    out = {}
    for spouse in household.returns:
        rates = {(a.short_term_rate, a.long_term_rate) for a in accounts_on_return(household, accounts, spouse)}
        out[spouse] = next(iter(rates)) if len(rates) == 1 else None
    return out


def joining_rates(household, account, others) -> tuple | None:
    """The (short-term, long-term) rates a taxable account joining ``household`` files at: those
    its return's taxable accounts (``others``) agree on - filing separately its spouse's, both for
    a joint account; None when it is not taxable, or they have none or differ."""
    if not account.taxable:
        return None
    spouses = [""] if not household.files_separately else (
        [account.Spouse.FIRST, account.Spouse.SECOND] if account.spouse == account.Spouse.JOINT else [account.spouse])
    found = set()
    for spouse in spouses:
        rates = {(a.short_term_rate, a.long_term_rate) for a in accounts_on_return(household, others, spouse)}
        if len(rates) != 1:
            return None
        found |= rates
    return next(iter(found)) if len(found) == 1 else None


def rates_apart_on_returns(household, accounts) -> list[str]:
    """Returns of the household whose taxable accounts carry different tax rates, in words: a return
    has one taxpayer's marginal rates, but each account's estimate uses its own and the household's
    tax budget one of them (``tax_realised_ytd``). Empty when every return's accounts agree."""
    out = []
    for spouse in household.returns:
        on = accounts_on_return(household, accounts, spouse)
        rates = {(a.short_term_rate, a.long_term_rate) for a in on}
        if len(rates) > 1:
            whose = f"the {spouse} spouse's return" if spouse else "the household's return"
            listed = ", ".join(f"{a.custodian_number} {a.short_term_rate:.1%} / {a.long_term_rate:.1%}" for a in on)
            out.append(f"On {whose} the accounts carry different tax rates (short-term / long-term: {listed}). "
                       "A return has one marginal rate; until they agree, each account's tax estimate uses its own "
                       "and the household's tax budget one of them. Set the return's rates under Tax returns (or "
                       "give every account on it the same rates in the accounts file).")
    return out


def tax_budget_left(budget, accounts) -> float | None:
    """What is left of a yearly tax budget for this run (None: no budget): the budget less what
    the year's sales have cost (``tax_realised_ytd``) and less, on each return, what a run's gains
    can cost beyond their own rates once netted with the year so far (``engine.netting_reserve``:
    the placement prices each gain at its own rate, so a long-term gain that uses up a loss the
    year would otherwise deduct at the short-term rate is priced that much short)."""
    if budget is None:
        return None
    reserve = sum(netting_reserve(r.short_term_ytd - r.carried_short, r.long_term_ytd - r.carried_long,
                                  a.short_term_rate, a.long_term_rate, r.loss_limit, r.taxable_income)
                  for r, a in _returns(accounts))
    return max(float(budget) - tax_realised_ytd(accounts) - reserve, 0.0)


def household_drift_bands(household) -> DriftParams | None:
    """The household's tolerance bands when it is managed as one: the drift parameters of its
    template and its own overrides (the layers its accounts inherit), not any one account's. With
    them the engine rebalances the household as a whole (inside the bands no gain is realised, and
    the ``inside_bands`` setting says whether tax-free trades or only cash flows keep it on its
    model; a taxable gain only outside), and the accounts' own bands give way; None leaves each account's
    bands in charge of when it trades."""
    values = parameters_effective(template=household.template, household_overrides=household.overrides,
                                  account_overrides=None).values
    return parameters_from_values(values).drift

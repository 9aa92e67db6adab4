"""Which template and which model govern accounts (and households), assigned in bulk by a firm admin.

A firm has hundreds of accounts: the accounts page's filter selects them, and one call assigns a
template and/or a model to all of them in one transaction with one audit row per account changed.
Overrides an account (or a household) already has must stay within the new template's limits, or
nothing is assigned and the refusal names the accounts and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from rebalancing.access import require, with_advisors
from rebalancing.effective_parameters import override_problems
from rebalancing.models import (
    Account,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Price,
    Sleeve,
    SleeveHolding,
)
from rebalancing.services.alerts import harvest_alerted, harvest_alerts_resolve_switched_off
from rebalancing.services.proposals import proposals_supersede_changed
from rebalancing.services.screen_checks import screen_sleeves_refuse
from rebalancing.services.setting_conflicts import assignment_conflicts_refuse
from tenants.audit.actions import Action
from tenants.audit.services import audit_many
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["KEEP", "AssignmentOutcome", "accounts_assign", "households_advisor_assign", "households_assign",
           "households_template_assign", "model_symbols_unpriced", "model_unpriced_refuse", "model_unpriced_words",
           "settings_changed_supersede", "settings_change_words", "superseded_words", "unpriced_words"]

KEEP = object()  # "leave this field as it is" (None means "no template / no model")
_NAMED = 5  # how many refused accounts a message names


@dataclass(frozen=True)
class AssignmentOutcome:
    selected: int  # accounts (or households) the selection held
    changed: int  # of them, how many now differ
    superseded: int = 0  # open proposals made under the settings they had before


def _name(thing) -> str:
    return f"“{thing.name}”" if thing is not None else "none"


def settings_change_words(*, template_before=KEEP, template_after=KEEP, model_before=KEEP, model_after=KEEP) -> str:
    """Why an account's open proposals give way: "the account's template changed from “A” to “B”"
    (and/or its model); empty when neither the template that governs it nor the model it is
    managed to changed."""
    words = []
    if template_after is not KEEP and template_before != template_after:
        words.append(f"template changed from {_name(template_before)} to {_name(template_after)}")
    if model_after is not KEEP and model_before != model_after:
        words.append(f"model changed from {_name(model_before)} to {_name(model_after)}")
    return f"the account's {' and its '.join(words)}" if words else ""


def superseded_words(superseded: int) -> str:
    """What an assignment's message adds about the open proposals it superseded (nothing when none)."""
    if not superseded:
        return ""
    return (f" {superseded} open proposal{'s' if superseded != 1 else ''} made under the settings before "
            f"{'were' if superseded != 1 else 'was'} superseded: the next run proposes again.")


def settings_changed_supersede(reasons: dict[int, str]) -> int:
    """Open proposals (pending approval, approved not released) of the accounts in ``reasons``
    (account id -> why) were made under the template or model they no longer have: they give way,
    each audited with its account's reason, a household proposal's legs together
    (``proposals_supersede_changed``)."""
    return proposals_supersede_changed(reasons)


def model_symbols_unpriced(model: ModelPortfolio) -> list[str]:
    """The symbols held by ``model``'s current version (its submodels' in their place) that have no
    price at all: a run prices every holding of the model, so each run of an account on it fails
    ("no price for HTHRX on or before the run's date") until one is imported."""
    seen, pending, version_ids = set(), [model.pk], []
    while pending:
        model_id = pending.pop()
        if model_id in seen:
            continue  # a loop is refused where models are saved; here it only must not spin
        seen.add(model_id)
        version = ModelPortfolio(pk=model_id).versions.order_by("-number").first()
        if version is not None:
            version_ids.append(version.pk)
            pending += list(version.sleeves.filter(kind=Sleeve.Kind.SUBMODEL).values_list("submodel_id", flat=True))
    priced = Price.objects.values("security_id")
    return sorted(set(SleeveHolding.objects.filter(sleeve__version_id__in=version_ids)
                      .exclude(security_id__in=priced).values_list("security__symbol", flat=True)))


def unpriced_words(symbols: list[str]) -> str:
    """"HTHRX, which has no price: every run ... would fail ...; import a price for it ..." (after "holds")."""
    named = " and ".join([", ".join(symbols[:-1]), symbols[-1]] if len(symbols) > 1 else symbols)
    which, it = ("which have", "them") if len(symbols) > 1 else ("which has", "it")
    return (f"{named}, {which} no price: every run of an account on the model would fail (“no price for "
            f"{symbols[0]}”); import a price for {it} on the Import page (“Closing prices by day”)")


def model_unpriced_words(model: ModelPortfolio, symbols: list[str] | None = None) -> str:
    """"model “Growth” holds HTHRX, which has no price: ..." (``unpriced_words``), or "" when every
    security ``model`` holds (``symbols``: its unpriced ones, if known) has a price."""
    symbols = model_symbols_unpriced(model) if symbols is None else symbols
    return f"model “{model.name}” holds {unpriced_words(symbols)}" if symbols else ""


def model_unpriced_refuse(model: ModelPortfolio, *, nothing: str, again: str) -> None:
    """Refuse setting ``model`` (nothing written) while a security it holds has no price, wherever an
    account or a household gets it: "{nothing}: model “Growth” holds HTHRX, ..., then {again}."."""
    if symbols := model_symbols_unpriced(model):
        raise ValidationFailed(f"{nothing}: {model_unpriced_words(model, symbols)}, then {again}.",
                               code="missing_price", detail={"field": "model", "model": model.code, "symbols": symbols})


def _refuse_beyond_limits(rows: list[tuple[str, dict]], template: ParameterTemplate | None, what: str) -> None:
    """``what``: the rows' noun in the plural ("accounts", "households"); one refused is said in the singular."""
    if template is None:
        return  # without a template nothing limits the overrides
    refused = []
    for label, overrides in rows:
        problems = override_problems(overrides or {}, code=template.code, overridable=template.overridable or {})
        if problems:
            refused.append((label, problems[0]))
    if refused:
        named = "; ".join(f"{label}: {problem}" for label, problem in refused[:_NAMED])
        more = f" and {len(refused) - _NAMED} more" if len(refused) > _NAMED else ""
        raise ValidationFailed(
            f"Nothing assigned: {len(refused)} {what if len(refused) != 1 else what[:-1]} "
            f"{'has' if len(refused) == 1 else 'have'} overrides the template “{template.name}” does not "
            f"allow ({named}{more}). Remove those overrides or widen the template's limits first.",
            detail={"field": "template", "refused": [label for label, _ in refused]},
        )


def _template_after(account: Account, template) -> ParameterTemplate | None:
    """The template that will govern ``account`` once ``template`` (or ``KEEP``) is assigned."""
    return account.governing_template if template is KEEP else account.governing_template_if(template)


def _by_template_after(rows: list[Account], template) -> dict[int | None, list[Account]]:
    """The accounts grouped by the template that will govern them (``KEEP``: the one that does)."""
    grouped: dict[int | None, list[Account]] = {}
    for account in rows:
        governing = _template_after(account, template)
        grouped.setdefault(governing.pk if governing else None, []).append(account)
    return grouped


def _model_after(account: Account, model) -> int | None:
    """The model ``account`` will be managed to once ``model`` (or ``KEEP``) is assigned."""
    if account.household.is_unit:
        return account.household.model_id
    return account.model_id if model is KEEP else (model.pk if model else None)


def _managed_model(account: Account, model=KEEP) -> ModelPortfolio | None:
    """The model (an object) ``account`` is managed to, or will be once ``model`` is assigned."""
    if account.household.is_unit:
        return account.household.model
    return account.model if model is KEEP else model


@transaction.atomic
def accounts_assign(*, accounts, template=KEEP, model=KEEP, by) -> AssignmentOutcome:
    """Set the template and/or the model of every account in ``accounts`` (a queryset already scoped
    to ``by``). ``KEEP`` leaves a field alone; ``None`` clears it (the household's template then
    governs; an account without a model is not rebalanced)."""
    require(by, Capability.MANAGE_MODELS)
    if template is KEEP and model is KEEP:
        raise ValidationFailed("Choose a template or a model to assign.", detail={"field": "template"})
    if template is not KEEP and template is not None and not isinstance(template, ParameterTemplate):
        raise ValidationFailed("Unknown template.", detail={"field": "template"})
    if model is not KEEP and model is not None and not isinstance(model, ModelPortfolio):
        raise ValidationFailed("Unknown model.", detail={"field": "model"})
    rows = list(Account.objects.select_for_update(of=("self",)).filter(pk__in=accounts.values("pk"))
                .with_governing_template().select_related("model", "household__model").order_by("custodian_number"))
    if not rows:
        raise ValidationFailed("The selection holds no accounts.", detail={"field": "selection"})
    if model is not KEEP and model is not None:
        model_unpriced_refuse(model, nothing="Nothing assigned",
                              again=f"assign it to the {len(rows)} account{'s' if len(rows) != 1 else ''} again")
    # The template that will govern each account: its own, else (None) its household's.
    groups = list(_by_template_after(rows, template).values())
    if template is not KEEP:
        for accounts_under in groups:
            _refuse_beyond_limits([(a.custodian_number, a.overrides) for a in accounts_under],
                                  _template_after(accounts_under[0], template), "accounts")
    for accounts_under in groups:
        governing = _template_after(accounts_under[0], template)
        if governing is not None:
            holders = [(a.custodian_number, _model_after(a, model)) for a in accounts_under]
            screen_sleeves_refuse(governing.parameters or {}, holders,
                                  what=f"the assignment under template “{governing.name}”")
    assignment_conflicts_refuse(
        placements=[(a, _template_after(a, template), _model_after(a, model)) for a in rows],
        field_name="template" if template is not KEEP else "model")
    harvesting = harvest_alerted(Account.objects.filter(pk__in=[a.pk for a in rows]))
    changes, changed = [], []
    reasons = {a.pk: settings_change_words(
        template_before=a.governing_template,
        template_after=_template_after(a, template) if template is not KEEP else KEEP,
        model_before=_managed_model(a), model_after=_managed_model(a, model) if model is not KEEP else KEEP)
        for a in rows}
    for account in rows:
        before, after = {}, {}
        if template is not KEEP and account.template_id != (template.pk if template else None):
            before["template"] = account.template.code if account.template else None
            after["template"] = template.code if template else None
            account.template = template
        if model is not KEEP and account.model_id != (model.pk if model else None):
            before["model"] = account.model.code if account.model else None
            after["model"] = model.code if model else None
            account.model = model
        if after:
            changed.append(account)
            changes.append(("account", str(account.pk), {"account": account.custodian_number, **before},
                            {"account": account.custodian_number, **after}))
    if changed:
        Account.objects.bulk_update(changed, ["template", "model"])
        audit_many(actor=by, action=Action.ACCOUNT_ASSIGN, changes=changes)
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    return AssignmentOutcome(selected=len(rows), changed=len(changed), superseded=settings_changed_supersede(reasons))


@transaction.atomic
def households_template_assign(*, households, template: ParameterTemplate | None, by) -> AssignmentOutcome:
    """Set the template of every household in ``households`` (its accounts without a template of
    their own follow it). Household overrides, and those of the accounts that would follow it, must
    stay within the template's limits."""
    require(by, Capability.MANAGE_MODELS)
    if template is not None and not isinstance(template, ParameterTemplate):
        raise ValidationFailed("Unknown template.", detail={"field": "template"})
    rows = list(Household.objects.select_for_update(of=("self",)).filter(pk__in=households.values("pk"))
                .select_related("template").order_by("name"))
    if not rows:
        raise ValidationFailed("The selection holds no households.", detail={"field": "selection"})
    _refuse_beyond_limits([(h.name, h.overrides) for h in rows], template, "households")
    followers = Account.objects.filter(household__in=rows).following_household_template().order_by("custodian_number")
    _refuse_beyond_limits([(a.custodian_number, a.overrides) for a in followers], template, "accounts")
    if template is not None:
        # A unit household's accounts hold its model; the others follow the template with their own.
        holders = [(a.custodian_number, a.managed_model_id) for a in followers.select_related("household")]
        holders += [(a.custodian_number, h.model_id) for h in rows if h.is_unit
                    for a in h.accounts.order_by("custodian_number")]
        screen_sleeves_refuse(template.parameters or {}, holders, what=f"the assignment of template “{template.name}”")
    # Each account the household's template governs: its own overrides and the household's on its model.
    governed = followers.with_governing_template()
    assignment_conflicts_refuse(placements=[(a, a.governing_template_under(template),
                                             a.managed_model_id) for a in governed], field_name="template")
    changed = [h for h in rows if h.template_id != (template.pk if template else None)]
    changes = [("household", str(h.pk), {"household": h.name, "template": h.template.code if h.template else None},
                {"household": h.name, "template": template.code if template else None}) for h in changed]
    # The accounts without a template of their own follow the household's: theirs changes with it.
    reasons = {a.pk: settings_change_words(template_before=a.governing_template,
                                           template_after=a.governing_template_under(template))
               for a in followers.filter(household__in=changed).with_governing_template()}
    harvesting = harvest_alerted(Account.objects.filter(household__in=changed))
    for household in changed:
        household.template = template
    if changed:
        Household.objects.bulk_update(changed, ["template"])
        audit_many(actor=by, action=Action.HOUSEHOLD_TEMPLATE, changes=changes)
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    return AssignmentOutcome(selected=len(rows), changed=len(changed), superseded=settings_changed_supersede(reasons))


@transaction.atomic
def households_advisor_assign(*, households, advisor, by) -> AssignmentOutcome:
    """Give every household in ``households`` to ``advisor`` (None: to nobody), each through
    ``advisor_assign``, which moves the advisor's object permissions and audits it."""
    from rebalancing.services.people import advisor_assign

    require(by, Capability.MANAGE_USERS)
    rows = list(with_advisors(Household.objects.filter(pk__in=households.values("pk")).order_by("name")))
    if not rows:
        raise ValidationFailed("The selection holds no households.", detail={"field": "selection"})
    wanted = [advisor.pk] if advisor else []
    changed = [h for h in rows if sorted(u.pk for u in h.advisors) != wanted]
    for household in changed:
        advisor_assign(household=household, advisor=advisor, by=by)
    return AssignmentOutcome(selected=len(rows), changed=len(changed))


@transaction.atomic
def households_assign(*, households, template=KEEP, advisor=KEEP, by) -> AssignmentOutcome:
    """A template and/or an advisor for every household of a selection, in one transaction."""
    if template is KEEP and advisor is KEEP:
        raise ValidationFailed("Choose a template or an advisor for the households.", detail={"field": "template"})
    outcomes = []
    if template is not KEEP:
        outcomes.append(households_template_assign(households=households, template=template, by=by))
    if advisor is not KEEP:
        outcomes.append(households_advisor_assign(households=households, advisor=advisor, by=by))
    return AssignmentOutcome(selected=outcomes[0].selected, changed=max(o.changed for o in outcomes),
                             superseded=sum(o.superseded for o in outcomes))

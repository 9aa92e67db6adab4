"""Households: create them, move accounts in and out, manage one as a unit, set its settings.

Who advises a household is ``services.people.household_advisors_set`` (object permissions).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from rebalancing import engine
from rebalancing.access import accounts_visible_to, households_visible_to, require
from rebalancing.engine_inputs import book_day_check, household_inputs_load
from rebalancing.household_parameters import household_settings_validate, joining_rates
from rebalancing.imports.rows import import_begin
from rebalancing.ledger.adjustments import LEDGER_LOCK, wash_sales_recompute
from rebalancing.models import Account, Household, ModelPortfolio, TaxLot, TradeRecord
from rebalancing.selectors import ModelBook, asset_classes_known
from rebalancing.services.alerts import harvest_alerted, harvest_alerts_resolve_switched_off
from rebalancing.services.assignments import (
    model_unpriced_refuse,
    settings_change_words,
    settings_changed_supersede,
)
from rebalancing.services.runs import accounts_held_back
from rebalancing.services.setting_conflicts import assignment_conflicts_refuse
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, NotFound, ValidationFailed, fields_refused
from tenants.permissions import Capability

__all__ = [
    "HouseholdManaged",
    "household_account_move",
    "household_rebalance_preview",
    "household_create",
    "household_ids_clashing",
    "household_ids_free_check",
    "household_management_set",
    "household_settings_set",
]


def _visible(user, household: Household) -> Household:
    found = households_visible_to(user).filter(pk=household.pk).first()
    if found is None:
        raise NotFound("No such household.")
    return Household.objects.select_for_update(of=("self",)).select_related("template", "model").get(pk=found.pk)


def _check_unit(managed_as: str, model: ModelPortfolio | None) -> None:
    if managed_as not in Household.ManagedAs.values:
        raise ValidationFailed(f"managed as {managed_as!r}: choose accounts or household", detail={"field": "managed_as"})
    if managed_as == Household.ManagedAs.HOUSEHOLD and model is None:
        raise ValidationFailed("A household managed as one needs its model.", detail={"field": "model"})


def _household_clean(household: Household) -> None:
    try:
        household.full_clean()
    except DjangoValidationError as exc:  # a name or id longer than its column: said, not a server error
        raise fields_refused(exc, "The household") from None


def household_ids_clashing(external_ids) -> dict[str, str]:
    """New household ids equal, ignoring capitals, to another household's id, or to another of
    ``external_ids``: each such id -> the id it clashes with (one query). The same id exactly is not
    a clash (it is that household). Ids are told apart ignoring capitals, as model and template codes
    are: "acm-hh-00009" beside "ACM-HH-00009" would be two households people read as one, and a file
    or report naming it in other capitals would reach the wrong one (the database refuses it too:
    ``household_external_id_unique_ignoring_case``)."""
    given = list(dict.fromkeys(i for i in external_ids if i))
    if not given:
        return {}
    stored = {}
    for existing in (Household.objects.annotate(key=Upper("external_id")).filter(key__in={i.upper() for i in given})
                     .order_by("external_id").values_list("external_id", flat=True)):
        stored.setdefault(existing.upper(), existing)
    out = {}
    for external_id in given:
        other = stored.setdefault(external_id.upper(), external_id)  # a later one in ``given`` meets the first
        if other != external_id:
            out[external_id] = other
    return out


def household_ids_free_check(external_ids) -> None:
    """Refuse new household ids equal but for capitals to another (``household_ids_clashing``), naming both."""
    clashing = household_ids_clashing(external_ids)
    if clashing:
        external_id, other = next(iter(clashing.items()))
        more = f" (and {len(clashing) - 1} more)" if len(clashing) > 1 else ""
        raise ValidationFailed(f"The household id “{external_id}” differs only in capitals from the id “{other}” of "
                               f"another household{more}: household ids are told apart ignoring capitals; choose "
                               "another id, or use that household.",
                               detail={"field": "external_id", "existing": other, "clashing": clashing})


@transaction.atomic
def household_create(*, user, name: str, external_id: str, managed_as: str = Household.ManagedAs.ACCOUNTS,
                     model: ModelPortfolio | None = None, template=None) -> Household:
    """A new household (no accounts yet: move them in with ``household_account_move``)."""
    require(user, Capability.IMPORT_DATA)
    name, external_id = (name or "").strip(), (external_id or "").strip()
    if not name or not external_id:
        raise ValidationFailed("A household needs a name and an id.", detail={"field": "name" if not name else "external_id"})
    if Household.objects.filter(external_id=external_id).exists():
        raise Conflict(f"A household with id {external_id} exists already.", code="duplicate",
                       detail={"field": "external_id"})
    household_ids_free_check([external_id])
    _check_unit(managed_as, model)
    if managed_as == Household.ManagedAs.HOUSEHOLD:
        model_unpriced_refuse(model, nothing="Nothing created",
                              again="create the household managed as one to it again")
    household = Household(name=name, external_id=external_id, managed_as=managed_as, model=model, template=template)
    _household_clean(household)
    household.save()
    audit_record(actor=user, action=Action.HOUSEHOLD_CREATE, obj=household, after={
        "name": name, "external_id": external_id, "managed_as": managed_as, "model": model.code if model else None,
        "template": template.code if template else None})
    return household


@dataclass(frozen=True)
class HouseholdManaged:
    household: Household
    superseded: int  # its accounts' open proposals made under the template or model they had


def _managed_words(household: Household, *, managed_as: str, model, template) -> dict[int, str]:
    """Each account's change of governing template and managed model, as ``household`` (not saved
    yet) would be managed as ``managed_as`` to ``model`` under ``template``."""
    unit_before, unit_after = household.is_unit, managed_as == Household.ManagedAs.HOUSEHOLD
    return {a.pk: settings_change_words(
        template_before=a.governing_template, template_after=a.governing_template_under(template),
        model_before=household.model if unit_before else a.model, model_after=model if unit_after else a.model)
        for a in household.accounts.select_related("template", "model", "household__template")}


@transaction.atomic
def household_management_set(*, user, household: Household, managed_as: str, model: ModelPortfolio | None,
                             template=None) -> HouseholdManaged:
    """Manage the household account by account, or as one to ``model``; its template. Its accounts'
    open proposals made under the template or model they no longer have give way."""
    require(user, Capability.IMPORT_DATA)
    household = _visible(user, household)
    _check_unit(managed_as, model)
    unit = managed_as == Household.ManagedAs.HOUSEHOLD
    if unit and not (household.is_unit and household.model_id == model.pk):  # a model it gets, not one it has
        model_unpriced_refuse(model, nothing="Nothing changed",
                              again="manage the household as one to it again")
    reasons = _managed_words(household, managed_as=managed_as, model=model, template=template)
    # What its accounts would be run under: refused, writing nothing, if that contradicts their settings.
    members = Account.objects.filter(household=household).with_governing_template().select_related("household")
    assignment_conflicts_refuse(placements=[(a, a.governing_template_under(template),
                                             model.pk if unit else a.model_id) for a in members], field_name="model")
    before = {"managed_as": household.managed_as, "model": household.model.code if household.model else None,
              "template": household.template.code if household.template else None}
    harvesting = harvest_alerted(members)
    household.managed_as, household.model, household.template = managed_as, model, template
    _household_clean(household)
    _model_classes_held_nowhere_refuse(household, {a.pk: a for a in members})
    household.save(update_fields=["managed_as", "model", "template"])
    after = {"managed_as": managed_as, "model": model.code if model else None,
             "template": template.code if template else None}
    if before != after:
        audit_record(actor=user, action=Action.HOUSEHOLD_CHANGE, obj=household, before=before, after=after)
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    return HouseholdManaged(household, settings_changed_supersede(reasons))


@transaction.atomic
def household_account_move(*, user, account: Account, household: Household | None) -> Account:
    """Move ``account`` into ``household``; with None, into a new household of its own. Wash sales
    are matched within a household (IRS Pub. 550), so both households' are replayed."""
    require(user, Capability.IMPORT_DATA)
    if not accounts_visible_to(user).filter(pk=account.pk).exists():
        raise NotFound("No such account.")
    account = Account.objects.select_for_update(of=("self",)).select_related("household").get(pk=account.pk)
    source = account.household
    if household is None:
        external_id = f"{account.custodian_number}-HH"
        if Household.objects.filter(external_id=external_id).exists():
            raise Conflict(f"A household with id {external_id} exists already; move the account into it.",
                           code="duplicate")
        household_ids_free_check([external_id])
        household = Household.objects.create(name=f"{account.name} household", external_id=external_id)
        audit_record(actor=user, action=Action.HOUSEHOLD_CREATE, obj=household,
                     after={"name": household.name, "external_id": external_id})
    else:
        household = _visible(user, household)
    if household.pk == source.pk:
        raise ValidationFailed(f"{account.custodian_number} is in {household.name} already.")
    import_begin(LEDGER_LOCK)
    harvesting = harvest_alerted(Account.objects.filter(pk=account.pk))  # its household's template and overrides
    account.household = household
    # It files on the household's return now: at the rates its accounts agree on.
    rates_before = (account.short_term_rate, account.long_term_rate)
    rates = joining_rates(household, account, list(household.accounts.exclude(pk=account.pk)))
    if rates is not None:
        account.short_term_rate, account.long_term_rate = rates
    account.save(update_fields=["household", "short_term_rate", "long_term_rate"])
    securities = set(TaxLot.objects.filter(account=account).values_list("security_id", flat=True))
    securities |= set(TradeRecord.objects.filter(account=account).values_list("security_id", flat=True))
    wash_sales_recompute(household_ids={source.pk, household.pk}, security_ids=securities,
                         year=timezone.localdate().year, actor=user, trigger="account moved between households")
    before, after = {"household": source.external_id}, {"household": household.external_id}
    if (account.short_term_rate, account.long_term_rate) != rates_before:
        before["rates"] = "{:.4f} / {:.4f}".format(*rates_before)
        after["rates"] = f"{account.short_term_rate:.4f} / {account.long_term_rate:.4f}"
    audit_record(actor=user, action=Action.HOUSEHOLD_MEMBERS, obj=account, before=before, after=after)
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    # Its open proposals were solved in the household it left (its return, its wash-sale family, a
    # household proposal's legs); a household managed as one is solved again with its new member.
    moved = [account.pk, *(household.accounts.exclude(pk=account.pk).values_list("pk", flat=True)
                           if household.is_unit else ())]
    account.superseded = settings_changed_supersede(dict.fromkeys(
        moved, f"account {account.custodian_number} moved from household {source.name} to {household.name}"))
    return account


def _asset_classes_check(named, field: str) -> None:
    """A class no security or model of the firm has is a typo: an account allowed only that class
    would be kept from buying anything, and a location for it would never apply. ``field``: where
    the classes were given (``location`` or ``asset_classes``), named in the refusal."""
    unknown = sorted({c.strip() for c in named if c and c.strip()} - asset_classes_known())
    if unknown:
        shown = ", ".join(repr(c if len(c) <= 40 else c[:40] + "…") for c in unknown[:5])
        raise ValidationFailed(f"Unknown asset class {shown}; the firm's are {', '.join(sorted(asset_classes_known()))}.",
                               detail={"field": field, "unknown": [c[:64] for c in unknown[:20]]})


def _model_classes_held_nowhere_refuse(household: Household, members: dict[int, Account]) -> None:
    """A household managed as one holds its model across its accounts: a class of the model that no
    account may hold (each allowed a list that leaves it out) would keep it off its model by that
    class's whole weight at every run. Refused, naming the class and the accounts."""
    if not household.is_unit or household.model_id is None or not members:
        return
    if any(not account.asset_classes for account in members.values()):
        return  # an account allowed any class holds them all
    allowed = {c for account in members.values() for c in account.asset_classes}
    weights: dict[str, float] = {}
    for sleeve, weight, _ in ModelBook({household.model_id}, timezone.localdate()).flat_sleeves(household.model_id):
        weights[sleeve.asset_class] = weights.get(sleeve.asset_class, 0.0) + weight
    nowhere = sorted(c for c, w in weights.items() if w > 0 and c not in allowed)
    if nowhere:
        named = "; ".join(f"{c} ({weights[c]:.1%} of the model)" for c in nowhere)
        accounts = ", ".join(f"{a.custodian_number}: {', '.join(a.asset_classes)}"
                             for a in sorted(members.values(), key=lambda a: a.custodian_number))
        raise ValidationFailed(
            f"No account of the household may hold {named}, so the household could never be on its model "
            f"{household.model.name}. Allow it in at least one account (now {accounts}), or leave an account's "
            "classes empty (any).", detail={"field": "asset_classes", "classes": nowhere})


@transaction.atomic
def household_settings_set(*, user, household: Household, settings: dict,
                           asset_classes: dict[int, list[str]] | None = None) -> Household:
    """The household's own settings (tax budget per year, asset location) within its template's
    limits, and which asset classes each of its accounts may hold (empty: any)."""
    require(user, Capability.EDIT_PARAMETERS)
    household = _visible(user, household)
    settings = household_settings_validate(settings, template=household.template)
    _asset_classes_check(settings.get("location") or {}, "location")
    _asset_classes_check([c for classes in (asset_classes or {}).values() for c in classes], "asset_classes")
    before = {"settings": household.household_overrides}
    after = {"settings": settings}
    household.household_overrides = settings
    household.save(update_fields=["household_overrides"])
    if asset_classes is not None:
        members = {a.pk: a for a in Account.objects.select_for_update().filter(household=household)}
        strangers = sorted(set(asset_classes) - set(members))
        if strangers:
            raise ValidationFailed("Asset classes may be set only for the household's own accounts.",
                                   detail={"accounts": strangers})
        before["asset_classes"], after["asset_classes"] = {}, {}
        for pk, classes in asset_classes.items():
            classes = sorted({c.strip() for c in classes if c and c.strip()})
            account = members[pk]
            if account.asset_classes != classes:
                before["asset_classes"][account.custodian_number] = account.asset_classes
                after["asset_classes"][account.custodian_number] = classes
                account.asset_classes = classes
                account.save(update_fields=["asset_classes"])
        _model_classes_held_nowhere_refuse(household, members)
    household.superseded = 0
    if before != after:
        audit_record(actor=user, action=Action.HOUSEHOLD_SETTINGS, obj=household, before=before, after=after)
    if before != after and household.is_unit:
        # Its accounts' open proposals were solved under the budget, location and asset classes it no
        # longer has (as an override or a template change supersedes them); account by account, the
        # settings apply to no proposal.
        household.superseded = settings_changed_supersede(dict.fromkeys(
            Account.objects.filter(household=household).values_list("pk", flat=True),
            f"household {household.name}'s settings changed"))
    return household


def _held_back_check(household: Household) -> None:
    """Refuse, naming why, a preview of a household a run would leave as it is (orders still open at
    the custodian, a withdrawal's sales waiting): its trades would be ones no run makes."""
    numbers = dict(Account.objects.filter(household=household).values_list("pk", "custodian_number"))
    held = accounts_held_back(dict.fromkeys(numbers, household.pk))
    if not held:
        return
    causes = sorted({h.because_of for h in held.values()}, key=numbers.get)  # each in its own words
    said = "; ".join(f"{numbers[a]} is {held[a].message}" for a in causes)
    raise Conflict(f"A rebalance now would leave {'the household' if household.is_unit else 'some accounts'} as "
                   f"{'it is' if household.is_unit else 'they are'}, so there is nothing to preview: {said}.",
                   code=held[causes[0]].code, detail={"accounts": sorted(numbers[a] for a in held)})


def household_rebalance_preview(*, user, household: Household, as_of) -> engine.HouseholdResult:
    """The household rebalanced as one on its book as it is now (the loader runs use); nothing is
    stored. The what-if of the household page and the API."""
    if not households_visible_to(user).filter(pk=household.pk).exists():
        raise NotFound("No such household.")
    book_day_check(as_of, what="what-if's day")
    _held_back_check(household)
    [inputs] = household_inputs_load([household], as_of=as_of)
    if inputs.error is not None:
        raise inputs.error
    return engine.rebalance_household(inputs.request)

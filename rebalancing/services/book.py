"""Changes to models, templates and account parameters (each audited in its own transaction)."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from rebalancing import engine
from rebalancing.access import accounts_visible_to, require
from rebalancing.effective_parameters import (
    empty_groups_dropped,
    override_limits_problems,
    overrides_validate,
    parameters_combined_validate,
)
from rebalancing.household_parameters import household_settings_validate
from rebalancing.models import (
    Account,
    Benchmark,
    Household,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Security,
    Sleeve,
    SleeveHolding,
)
from rebalancing.parameter_labels import settings_in_words
from rebalancing.selectors import asset_classes_known, benchmark_weights_latest
from rebalancing.services.alerts import harvest_alerted, harvest_alerts_resolve_switched_off
from rebalancing.services.assignments import settings_changed_supersede
from rebalancing.services.parameter_symbols import (
    parameter_lists_bounded,
    parameter_symbols_checked,
    parameter_words_checked,
)
from rebalancing.services.screen_checks import screen_sleeves_refuse
from rebalancing.services.setting_conflicts import (
    account_overrides_conflicts_refuse,
    household_overrides_conflicts_refuse,
    model_change_problems,
    models_holding,
    template_conflicts_refuse,
)
from rebalancing.services.template_feasibility import template_settings_refuse, template_settings_warnings
from tenants.audit.services import audit_record
from tenants.errors import NotFound, ValidationFailed, fields_refused
from tenants.permissions import Capability

__all__ = [
    "SleeveSpec",
    "account_overrides_set",
    "household_overrides_set",
    "model_create",
    "model_version_create",
    "template_save",
]

WEIGHT_TOLERANCE = Decimal("0.000001")


@transaction.atomic
def account_overrides_set(*, account: Account, overrides: dict, user) -> Account:
    """Set an account's parameter overrides, within what its template allows (advisors: own accounts).
    Changed, they supersede its open proposals (``account.superseded``: how many)."""
    require(user, Capability.EDIT_PARAMETERS)
    if not accounts_visible_to(user).filter(pk=account.pk).exists():
        raise NotFound("No such account.")
    account = (
        Account.objects.select_for_update(of=("self",)).with_governing_template().get(pk=account.pk)
    )
    parameter_lists_bounded(overrides, field="overrides", level=f"Account {account.custodian_number}'s overrides")
    overrides_validate(overrides=overrides, template=account.governing_template, level="account",
                       household_overrides=account.household.overrides)
    overrides = empty_groups_dropped(overrides)  # {"cash": {}}, a patch's removed cash target, overrides nothing
    level = f"Account {account.custodian_number}'s overrides"
    overrides = parameter_symbols_checked(overrides, field="overrides", before=account.overrides, level=level,
                                          words=False)
    account_overrides_conflicts_refuse(account=account, overrides=overrides)
    parameter_words_checked(overrides, field="overrides", before=account.overrides, level=level)
    harvesting = harvest_alerted(Account.objects.filter(pk=account.pk))
    before = account.overrides
    account.overrides = overrides
    account.save(update_fields=["overrides"])
    audit_record(actor=user, action="account.parameters", obj=account, before={"overrides": before},
                 after={"overrides": overrides})
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    # Its open proposals were solved under the client's settings before: a "do not sell" added since
    # is not approved past. (A preview's rolled-back savepoint takes this back with the change.)
    account.superseded = 0
    if overrides != empty_groups_dropped(before or {}):
        account.superseded = settings_changed_supersede({account.pk: f"account {account.custodian_number}'s "
                                                                     "settings changed"})
    return account


@transaction.atomic
def household_overrides_set(*, household: Household, overrides: dict, user) -> Household:
    """Set a household's parameter overrides, within what its template allows; changed, they supersede
    its accounts' open proposals (``household.superseded``: how many)."""
    require(user, Capability.EDIT_PARAMETERS)
    from rebalancing.access import households_visible_to

    if not households_visible_to(user).filter(pk=household.pk).exists():
        raise NotFound("No such household.")
    household = Household.objects.select_for_update(of=("self",)).select_related("template").get(pk=household.pk)
    parameter_lists_bounded(overrides, field="overrides", level=f"Household {household.name}'s overrides")
    overrides_validate(overrides=overrides, template=household.template, level="household")
    overrides = empty_groups_dropped(overrides)  # as an account's
    overrides = parameter_symbols_checked(overrides, field="overrides", before=household.overrides,
                                          level=f"Household {household.name}'s overrides", words=False)
    # Each account's own overrides sit on the household's: a household target below an account's
    # floor would leave that account's parameters refused at its next run.
    for account in household.accounts.with_governing_template().order_by("custodian_number"):
        try:
            parameters_combined_validate(template=account.governing_template, household_overrides=overrides,
                                         account_overrides=account.overrides,
                                         level=f"account {account.custodian_number}")
        except ValidationFailed as exc:
            raise ValidationFailed(f"Household overrides refused: with them, {exc.message}",
                                   detail={**exc.detail, "account": account.custodian_number}) from None
    household_overrides_conflicts_refuse(household=household, overrides=overrides)
    parameter_words_checked(overrides, field="overrides", before=household.overrides,
                            level=f"Household {household.name}'s overrides")
    harvesting = harvest_alerted(household.accounts.all())
    before = household.overrides
    household.overrides = overrides
    household.save(update_fields=["overrides"])
    audit_record(actor=user, action="household.parameters", obj=household, before={"overrides": before},
                 after={"overrides": overrides})
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    household.superseded = 0
    if overrides != empty_groups_dropped(before or {}):  # as an account's, for each of its accounts
        household.superseded = settings_changed_supersede(dict.fromkeys(
            household.accounts.values_list("pk", flat=True), f"household {household.name}'s settings changed"))
    return household


@transaction.atomic
def template_save(*, user, code: str, name: str, parameters: dict, overridable: dict, description: str = "",
                  template: ParameterTemplate | None = None,
                  household_parameters: dict | None = None) -> ParameterTemplate:
    """Create or change a parameter template; accounts that do not override a value follow it.
    ``household_parameters``: the settings of households managed as one (None: keep them). A change
    of its settings supersedes the open proposals of the accounts it governs, made under the settings
    before (``template.superseded``: how many). Settings no account could meet are refused; those
    allowed but almost surely not meant are saved and listed in ``template.warnings``."""
    require(user, Capability.MANAGE_MODELS)
    if not (name or "").strip():  # a cleared name was once saved as "saved", the old name kept without a word
        raise ValidationFailed("Give the template a name: it cannot be empty.", detail={"field": "name"})
    if template is None:
        _code_free(ParameterTemplate, code, what="template")
    if household_parameters is not None:
        household_parameters = household_settings_validate(household_parameters, level="template household")
    parameter_lists_bounded(parameters, field="parameters", level="Template parameters")
    try:
        engine.Parameters.from_dict(parameters)
    except engine.InvalidRequest as exc:
        raise ValidationFailed(f"Template parameters: {settings_in_words(exc.message)}",
                               detail={"field": "parameters", **exc.detail}) from None
    parameters = empty_groups_dropped(parameters)  # a patch's emptied group (``"cash": {}``) sets nothing
    parameters = parameter_symbols_checked(parameters, field="parameters", level="Template parameters",
                                           before=template.parameters if template is not None else None,
                                           words=False)
    if template is not None:
        _governed_layers_validate(template=template, parameters=parameters)
        governed = Account.objects.governed_by(template).select_related("household")
        screen_sleeves_refuse(parameters, [(a.custodian_number, a.managed_model_id) for a in governed],
                              what="the template's change")
    template_conflicts_refuse(template=template, parameters=parameters)
    parameter_words_checked(parameters, field="parameters", level="Template parameters",
                            before=template.parameters if template is not None else None)
    if not isinstance(overridable, dict) or any(not isinstance(v, dict) for v in overridable.values()):
        raise ValidationFailed('Give each overridable setting its limits, e.g. {"cash.target": {"max": 0.05}}.',
                               detail={"field": "overridable"})
    limit_problems = override_limits_problems(overridable)
    if limit_problems:
        raise ValidationFailed("Template limits refused: " + "; ".join(limit_problems),
                               detail={"field": "overridable", "problems": limit_problems})
    template_settings_refuse(parameters=parameters, overridable=overridable, household_parameters=(
        household_parameters if household_parameters is not None else template.household_parameters
        if template is not None else None))
    warnings = template_settings_warnings(parameters)
    before, harvesting = None, set()
    if template is not None:
        template = ParameterTemplate.objects.select_for_update().get(pk=template.pk)
        harvesting = harvest_alerted(Account.objects.governed_by(template))
        before = {"name": template.name, "parameters": template.parameters, "overridable": template.overridable,
                  "household_parameters": template.household_parameters}
        stored = empty_groups_dropped(template.parameters or {})  # a "cash": {} kept before changes nothing
        unchanged = {"name": name, "parameters": parameters, "overridable": overridable,
                     "household_parameters": template.household_parameters if household_parameters is None
                     else household_parameters} == {**before, "parameters": stored} and description == template.description
        if unchanged:  # a save of the page as it is: nothing to write, nothing to audit
            template.unchanged, template.warnings = True, warnings
            return template
    else:
        template = ParameterTemplate(code=code)
    template.name, template.description = name, description
    template.parameters, template.overridable = parameters, overridable
    if household_parameters is not None:
        template.household_parameters = household_parameters
    try:
        template.full_clean()
    except DjangoValidationError as exc:  # a name too long, a code taken or malformed: said, not a server error
        raise fields_refused(exc, "The template") from None
    if before is None:
        _saved_new(template, what="The template")
    else:
        template.save()
    audit_record(actor=user, action="template.create" if before is None else "template.change", obj=template,
                 before=before, after={"name": name, "parameters": parameters, "overridable": overridable,
                                       "household_parameters": template.household_parameters})
    if before is not None and (stored, before["household_parameters"]) != (
            parameters, template.household_parameters):
        followers = Account.objects.governed_by(template).values_list("pk", flat=True)
        template.superseded = settings_changed_supersede(
            dict.fromkeys(followers, f"the account's template “{template.name}” changed its settings"))
    harvest_alerts_resolve_switched_off(account_ids=harvesting)
    template.warnings = warnings  # saved, but almost surely not meant: for the caller to say
    return template


def _governed_layers_validate(*, template: ParameterTemplate, parameters: dict) -> None:
    """Refuse template parameters that the overrides sitting on them turn into a set the engine
    refuses (a target lowered under an account's own cash floor): every run of that account would
    then fail. Checked once per distinct pair of household and account overrides, as a run merges
    them, naming the first account (or household) refused."""
    proposed = ParameterTemplate(code=template.code, parameters=parameters)
    layers = [(f"account {number}", number, household, own) for number, household, own in
              Account.objects.governed_by(template).order_by("custodian_number")
              .values_list("custodian_number", "household__overrides", "overrides")]
    layers += [(f"household {name}", None, overrides, None) for name, overrides in
               Household.objects.filter(template=template).order_by("name").values_list("name", "overrides")]
    checked = set()
    for level, number, household_overrides, account_overrides in layers:
        key = (repr(household_overrides), repr(account_overrides))
        if key in checked or not (household_overrides or account_overrides):
            continue  # (without overrides the template's own check above decides)
        checked.add(key)
        try:
            parameters_combined_validate(template=proposed, household_overrides=household_overrides,
                                         account_overrides=account_overrides, level=level)
        except ValidationFailed as exc:
            where = {"account": number} if number else {}
            raise ValidationFailed(f"Template parameters refused: with them, {exc.message}",
                                   detail={**exc.detail, **where, "field": "parameters"}) from None


@dataclass(frozen=True)
class SleeveSpec:
    asset_class: str
    weight: Decimal
    holdings: dict[str, Decimal]  # symbol -> weight within the sleeve (kind "holdings")
    kind: str = Sleeve.Kind.HOLDINGS
    benchmark: str | None = None  # benchmark code (direct index; optional for holdings)
    submodel: str | None = None  # model code (kind "submodel")
    percent: bool = False  # typed in percent (the pages' form): problems then say weights in %


def _weight_words(weight: Decimal, *, percent: bool) -> str:
    """A weight as the caller typed it: a fraction (the API's "0.9") or a percentage (the page's "90%");
    an absurd one in a few characters (1e400 would print four hundred digits)."""
    value = weight * 100 if percent else weight
    text = format(value.normalize(), "f") if abs(value) < 10**6 else f"{value:.3E}"
    return f"{text}%" if percent else text


def _code_free(model_class, code: str, *, what: str) -> None:
    """Refuse a new ``code`` equal, ignoring capitals, to another one's: the code is the key of the
    imports and the API, so "Growth-80-20" beside "growth-80-20" would be two keys people read as one.
    (The same code exactly is left to ``full_clean``, which says it is taken.)"""
    code = (code or "").strip()
    existing = model_class.objects.filter(code__iexact=code).exclude(code=code).order_by("code").first()
    if code and existing is not None:
        raise ValidationFailed(f"The {what} code “{code}” differs only in capitals from the code “{existing.code}” of "
                               f"the {what} “{existing.name}”: codes are told apart ignoring capitals; choose "
                               "another code.", detail={"field": "code", "existing": existing.code})


def _saved_new(record: ModelPortfolio | ParameterTemplate, *, what: str) -> None:
    """Insert a new model or template whose code ``full_clean`` found free. A request saving the same
    code at the same moment may commit in between: the code's unique key then refuses this insert,
    and it is said as a code found taken is (checked again, now that the other one is committed),
    not a server error; the savepoint leaves the transaction usable for the refusal."""
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        try:
            record.full_clean()
        except DjangoValidationError as exc:
            raise fields_refused(exc, what) from None
        raise


def _sleeves_of(version: ModelVersion | None) -> dict[str, tuple]:
    """A version's sleeves as ``_sleeve_key`` compares them, by asset class (None: no version)."""
    if version is None:
        return {}
    return {s.asset_class: (Decimal(s.weight), s.kind, s.benchmark.code if s.benchmark else None,
                            s.submodel.code if s.submodel else None,
                            {h.security.symbol: Decimal(h.weight) for h in s.holdings.all()})
            for s in version.sleeves.select_related("benchmark", "submodel").prefetch_related("holdings__security")}


def _sleeve_key(s: SleeveSpec) -> tuple:
    return (Decimal(s.weight), s.kind, s.benchmark or None, s.submodel or None,
            {sym: Decimal(w) for sym, w in s.holdings.items()})


def _sleeves_audited(sleeves: dict[str, tuple]) -> list[list]:
    """Sleeves as the audit record keeps them: [asset class, weight, {symbol: weight}] (weights as
    typed in fractions, "0.6" rather than "0.60000000")."""
    def text(weight):
        return format(Decimal(weight).normalize(), "f")
    return [[asset_class, text(weight), {sym: text(w) for sym, w in holdings.items()}]
            for asset_class, (weight, _kind, _benchmark, _submodel, holdings) in sleeves.items()]


def _asset_class_problems(sleeves: list[SleeveSpec]) -> list[str]:
    """A sleeve's asset class must be one of the firm's (its securities' and its models' sleeves'):
    a class typed free ("US large cap" for us_large_cap) would be a class no security belongs to,
    shown beside the real one on the asset-location forms and missed by the removed-asset-class
    checks. A sleeve holding another model is named after that model, not an asset class."""
    named = {s.asset_class for s in sleeves if s.kind != Sleeve.Kind.SUBMODEL}
    known = asset_classes_known()
    unknown = sorted(named - known)
    if not unknown:
        return []

    def plain(text: str) -> str:
        return " ".join(re.split(r"[\s_\-]+", text.strip().lower()))

    by_words = {plain(c): c for c in known}
    problems = []
    for c in unknown:
        shown = c if len(c) <= 40 else c[:40] + "…"
        meant = by_words.get(plain(c))
        problems.append(f"unknown asset class “{shown}”" + (f" (did you mean {meant}?)" if meant else ""))
    problems.append(f"the firm's asset classes are {', '.join(sorted(known))}" if known else
                    "the firm has no asset class yet: import its securities first")
    return problems


WEIGHT_PLACES = Decimal("1E-8")  # Sleeve.weight and SleeveHolding.weight: 8 decimal places


def _weight_problem(what: str, weight: Decimal, *, percent: bool) -> str:
    """Why one sleeve's or holding's weight cannot be kept ("" if it can): the database holds a weight
    above 0 and at most 1, at 8 places (``sleeve_weight_0_1``, ``sleeve_holding_weight_0_1``), so a
    weight of 0 - which the API's fractions and the page's percentages both let through - was a server
    error, not a refusal naming it."""
    words = _weight_words(weight, percent=percent)
    if weight < 0:  # it would short the sleeve or security: named, not only seen in the sum
        return f"{what}'s weight {words} is negative: a model holds, it does not short"
    if weight == 0:
        return f"{what} is weighted {words}: a model holds what it names with a weight above 0; leave it out"
    kept = weight.quantize(WEIGHT_PLACES) if weight < 2 else weight
    if kept == 0:
        return (f"{what}'s weight {words} is below the smallest weight kept, "
                f"{_weight_words(WEIGHT_PLACES, percent=percent)} (8 decimal places of a fraction)")
    if kept > 1:
        return f"{what}'s weight {words} is more than {_weight_words(Decimal(1), percent=percent)}"
    return ""


def _weights_problems(s: SleeveSpec, *, percent: bool) -> list[str]:
    """The sleeve's weight and each of its holdings', checked one by one (a sum of 1 can hide a 0)."""
    problems = [_weight_problem(f"sleeve {s.asset_class}", Decimal(s.weight), percent=percent)]
    problems += [_weight_problem(f"holding {sym} of sleeve {s.asset_class}", Decimal(w), percent=percent)
                 for sym, w in s.holdings.items()]
    return [p for p in problems if p]


def _of_another_class(asset_class: str, securities) -> list[Security]:
    """Those of ``securities`` a sleeve of ``asset_class`` may not hold, by symbol. A sleeve is an asset
    class's share of the model: a security of another class in it (BND in us_large_cap, or the S&P
    500's names in us_large_growth) would be counted, located and removed as the wrong class."""
    return sorted((sec for sec in securities if sec.asset_class != asset_class), key=lambda sec: sec.symbol)


def _constituents(indexed: set[Benchmark]) -> dict[int, list[Security]]:
    """The latest constituents of each benchmark (by its id): the names a direct index of it holds."""
    latest = benchmark_weights_latest({b.pk for b in indexed}, date.max)
    securities = Security.objects.in_bulk({sid for weights in latest.values() for sid in weights})
    return {bid: [securities[sid] for sid in weights] for bid, weights in latest.items()}


NAMES_SHOWN = 3  # a benchmark's stray constituents named per asset class (an index has hundreds)


def _index_strays_words(asset_class: str, benchmark: Benchmark, strays: list[Security], members: int) -> str:
    by_class: dict[str, list[str]] = {}
    for sec in strays:
        by_class.setdefault(sec.asset_class, []).append(sec.symbol)
    listed = "; ".join(f"{cls} ({', '.join(symbols[:NAMES_SHOWN])}"
                       + (f" and {len(symbols) - NAMES_SHOWN} more)" if len(symbols) > NAMES_SHOWN else ")")
                       for cls, symbols in sorted(by_class.items()))
    mend = (f"make it the {next(iter(by_class))} sleeve, " if len(strays) == members and len(by_class) == 1 else
            "correct their asset class in the security master, ")
    return (f"sleeve {asset_class} is a direct index of benchmark {benchmark.code} ({benchmark.name}), {len(strays)} of "
            f"whose {members} constituents are of another asset class: {listed}: a sleeve holds securities of its "
            f"own asset class ({mend}or direct-index a benchmark of {asset_class} securities)")


@transaction.atomic
def model_version_create(*, model: ModelPortfolio, sleeves: list[SleeveSpec], user, note: str = "") -> ModelVersion:
    """Editing a model makes a new version; proposals keep the version they used, and the open ones of
    the accounts on it (or on a model holding it) are superseded (``version.superseded``: how many).
    Sleeves the same as the current version's make no version: nothing is written, audited or
    superseded, and the current version is returned with ``version.unchanged`` set."""
    require(user, Capability.MANAGE_MODELS)
    previous = model.versions.order_by("-number").first()
    before = _sleeves_of(previous)
    if (previous is not None and len(sleeves) == len(before) == len({s.asset_class for s in sleeves})
            and all(s.asset_class in before and before[s.asset_class] == _sleeve_key(s) for s in sleeves)):
        previous.unchanged, previous.superseded = True, 0  # a save of the page as it is
        return previous
    problems = _asset_class_problems(sleeves)
    percent = any(s.percent for s in sleeves)
    total = sum((Decimal(s.weight) for s in sleeves), Decimal(0))
    one = _weight_words(Decimal(1), percent=percent)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        problems.append(f"sleeve weights sum to {_weight_words(total, percent=percent)}, not {one}")
    symbols = {sym for s in sleeves for sym in s.holdings}
    securities = {sec.symbol: sec for sec in Security.objects.filter(symbol__in=symbols)}
    problems += [f"unknown symbol {sym!r}" for sym in sorted(symbols - set(securities))]
    benchmarks = {b.code: b for b in Benchmark.objects.filter(code__in=[s.benchmark for s in sleeves if s.benchmark])}
    submodels = {m.code: m for m in ModelPortfolio.objects.filter(code__in=[s.submodel for s in sleeves if s.submodel])}
    constituents = _constituents({benchmarks[s.benchmark] for s in sleeves
                                  if s.kind == Sleeve.Kind.DIRECT_INDEX and s.benchmark in benchmarks})
    for s in sleeves:
        problems += _weights_problems(s, percent=percent)
        if s.kind == Sleeve.Kind.HOLDINGS:
            strays = _of_another_class(s.asset_class, [securities[sym] for sym in s.holdings if sym in securities])
            if strays:
                problems.append(f"sleeve {s.asset_class} holds {', '.join(f'{x.symbol} ({x.asset_class})' for x in strays)}"
                                ": a sleeve holds securities of its own asset class (move each to its class's sleeve, "
                                "or correct its asset class in the security master)")
            sub_total = sum((Decimal(w) for w in s.holdings.values()), Decimal(0))
            if abs(sub_total - 1) > WEIGHT_TOLERANCE:
                problems.append(f"holdings of sleeve {s.asset_class} sum to "
                                f"{_weight_words(sub_total, percent=percent)}, not {one}")
        if s.benchmark and s.benchmark not in benchmarks:
            problems.append(f"unknown benchmark {s.benchmark!r}")
        if s.kind == Sleeve.Kind.DIRECT_INDEX and not s.benchmark:
            problems.append(f"sleeve {s.asset_class} is a direct index but names no benchmark")
        elif s.kind == Sleeve.Kind.DIRECT_INDEX and s.benchmark in benchmarks:
            # A direct index holds its benchmark's names in the sleeve: the holdings' rule, on them.
            members = constituents.get(benchmarks[s.benchmark].pk, [])
            if strays := _of_another_class(s.asset_class, members):
                problems.append(_index_strays_words(s.asset_class, benchmarks[s.benchmark], strays, len(members)))
        if s.kind == Sleeve.Kind.SUBMODEL and (s.submodel not in submodels or s.submodel == model.code):
            problems.append(f"sleeve {s.asset_class} names no valid submodel")
        elif s.kind != Sleeve.Kind.SUBMODEL and s.submodel:  # it was dropped without a word
            problems.append(f"sleeve {s.asset_class} is of kind {s.kind}: it takes no submodel ({s.submodel})")
    classes = [s.asset_class for s in sleeves]
    if twice := sorted({c for c in classes if classes.count(c) > 1}):
        problems.append("; ".join(f"{classes.count(c)} sleeves are of asset class {c} (sleeves "
                                  f"{', '.join(str(i + 1) for i, k in enumerate(classes) if k == c)}): a model holds "
                                  "each asset class in one sleeve" for c in twice))
    if not problems:  # with the other models and the accounts on them: a loop, a sleeve still in use
        problems += model_change_problems(model=model, sleeves=sleeves, submodels=submodels)
    if problems:
        raise ValidationFailed("The model was not saved: " + "; ".join(problems), detail={"problems": problems})
    version = ModelVersion.objects.create(model=model, number=(previous.number + 1) if previous else 1,
                                          created_by=user, note=note)
    for s in sleeves:
        sleeve = Sleeve.objects.create(version=version, asset_class=s.asset_class, weight=Decimal(s.weight), kind=s.kind,
                                       benchmark=benchmarks.get(s.benchmark), submodel=submodels.get(s.submodel))
        SleeveHolding.objects.bulk_create([SleeveHolding(sleeve=sleeve, security=securities[sym], weight=Decimal(w))
                                           for sym, w in s.holdings.items()])
    audit_record(actor=user, action="model.version", obj=version,
                 before={"version": previous.number, "sleeves": _sleeves_audited(before)} if previous else None,
                 after={"version": version.number,
                        "sleeves": _sleeves_audited({s.asset_class: _sleeve_key(s) for s in sleeves})},
                 comment=note)
    version.unchanged = False
    # Open proposals of the accounts on it (or on a model holding it) were made to the version before.
    codes = [model.code, *ModelPortfolio.objects.filter(pk__in=models_holding(model.pk)).values_list("code", flat=True)]
    on_it = Account.objects.none()
    for code in codes:
        on_it |= Account.objects.managed_to(code)
    version.superseded = settings_changed_supersede(dict.fromkeys(
        on_it.values_list("pk", flat=True), f"the account's model “{model.name}” changed (version {version.number})"))
    return version


@transaction.atomic
def model_create(*, user, code: str, name: str, sleeves: list[SleeveSpec], description: str = "") -> ModelPortfolio:
    """A new model and its first version, in one transaction (a refused version leaves no model)."""
    require(user, Capability.MANAGE_MODELS)
    _code_free(ModelPortfolio, code, what="model")
    model = ModelPortfolio(code=code, name=name, description=description)
    try:
        model.full_clean()
    except DjangoValidationError as exc:
        raise fields_refused(exc, "The model") from None
    _saved_new(model, what="The model")
    audit_record(actor=user, action="model.create", obj=model, after={"code": code, "name": name})
    model_version_create(model=model, sleeves=sleeves, user=user, note="first version")
    return model

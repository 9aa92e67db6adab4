"""Settings that contradict each other, refused where they are saved rather than failing every run.

A run flattens an account's model (a submodel's sleeves in its parent's place) and lays its
template, its household's overrides and its own over the engine's defaults; the engine then
refuses an account whose settings name a sleeve its model does not have, remove every asset class
of the model, or direct-index a sleeve they also remove. A model's change and a template's change
are checked here against the models and accounts they reach, naming the models, templates and
accounts concerned; the refusal writes nothing (the callers raise before their first write).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Subquery

from rebalancing import engine
from rebalancing.effective_parameters import amount_text, parameters_effective
from rebalancing.models import (
    Account,
    Household,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Security,
    Sleeve,
)
from rebalancing.parameter_labels import setting_label, settings_in_words
from rebalancing.selectors import model_chain_problem
from tenants.errors import ValidationFailed

__all__ = ["account_overrides_conflicts_refuse", "assignment_conflicts_refuse", "household_overrides_conflicts_refuse",
           "model_change_problems", "parameter_conflicts", "template_conflicts_refuse"]

# Refusals name a setting as the parameter form labels it ("“Direct indexing”"); their detail keeps
# the code ("direct_index") for the API's callers.
_REMOVED, _INDEXED = (f"“{setting_label(p)}”" for p in ("removed_asset_classes", "direct_index"))

# The screen's rule that excluded a security (``engine.screen_reason``'s first word) -> its setting.
_SCREEN_SETTING = {"symbol": "screen.excluded_symbols", "sector": "screen.excluded_sectors",
                   "tag": "screen.excluded_tags", "ESG": "screen.min_esg_score"}


@dataclass
class _Book:
    """The current version of every model as a graph: its own sleeves' asset classes (``leaves``),
    those of them with a benchmark (``benchmarked``) and the models it holds as sleeves (``holds``),
    in the sleeves' order."""

    names: dict[int, str]
    codes: dict[int, str]
    leaves: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    holds: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    benchmarked: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def current(cls) -> _Book:
        models = ModelPortfolio.objects.values_list("pk", "name", "code")
        book = cls(names={pk: name for pk, name, _ in models}, codes={pk: code for pk, _, code in models})
        latest = ModelVersion.objects.filter(model=OuterRef("version__model")).order_by("-number").values("number")[:1]
        for model_id, asset_class, kind, submodel_id, benchmark_id in (
                Sleeve.objects.filter(version__number=Subquery(latest))
                .values_list("version__model_id", "asset_class", "kind", "submodel_id", "benchmark_id")):
            if kind == Sleeve.Kind.SUBMODEL:
                book.holds[model_id].append(submodel_id)
            else:
                book.leaves[model_id].add(asset_class)
                if benchmark_id is not None:
                    book.benchmarked[model_id].add(asset_class)
        return book

    def edited(self, model_id: int, leaves: set[str], holds: list[int], benchmarked: set[str]) -> _Book:
        """This book with ``model_id``'s version replaced by the one being saved."""
        out = _Book(self.names, self.codes, defaultdict(set, self.leaves), defaultdict(list, self.holds),
                    defaultdict(set, self.benchmarked))
        out.leaves[model_id], out.holds[model_id], out.benchmarked[model_id] = leaves, holds, benchmarked
        return out

    def holders(self, model_id: int) -> list[int]:
        """The models that hold ``model_id`` as a sleeve, directly or through others."""
        held_by = defaultdict(set)
        for parent, children in self.holds.items():
            for child in children:
                held_by[child].add(parent)
        found, pending = set(), [model_id]
        while pending:
            for parent in held_by[pending.pop()] - found - {model_id}:
                found.add(parent)
                pending.append(parent)
        return sorted(found, key=lambda pk: self.names[pk])

    def nesting_problem(self, model_id: int, starts: Iterable[int]) -> str | None:
        """The first chain from one of ``starts`` through ``model_id`` that a run could not flatten."""

        def walk(chain: tuple[int, ...]) -> str | None:
            problem = model_chain_problem(chain, self.names.__getitem__)
            if problem:
                return problem if model_id in chain else None
            for child in self.holds.get(chain[-1], ()):
                if problem := walk((*chain, child)):
                    return problem
            return None

        return next(filter(None, (walk((start,)) for start in starts)), None)

    def asset_classes(self, model_id: int | None, chain: tuple[int, ...] = (), *, benchmarked: bool = False) -> set[str]:
        """The asset classes a run gives ``model_id``'s accounts: its sleeves', its submodels' in their place
        (``benchmarked``: only those with a benchmark, as a run merges a class's sleeves: one with it is enough)."""
        if model_id is None or model_id in chain:
            return set()
        out = set((self.benchmarked if benchmarked else self.leaves).get(model_id, ()))
        for child in self.holds.get(model_id, ()):
            out |= self.asset_classes(child, (*chain, model_id), benchmarked=benchmarked)
        return out

    def unbenchmarked(self, model_id: int | None) -> set[str]:
        """The asset classes of ``model_id`` a run could not direct-index: no sleeve of theirs has a benchmark
        (``engine.targets``: "cannot be direct-indexed: it has no benchmark")."""
        return self.asset_classes(model_id) - self.asset_classes(model_id, benchmarked=True)


def models_holding(model_id: int) -> list[int]:
    """The models that hold ``model_id`` as a sleeve, directly or through others (current versions)."""
    return _Book.current().holders(model_id)


def _effective(template, household_overrides, account_overrides) -> dict[str, Any]:
    return parameters_effective(template=template, household_overrides=household_overrides,
                                account_overrides=account_overrides).values


_GOVERNING = object()  # "the template that governs the account now"


def _layers(account: Account, template=_GOVERNING) -> list[tuple[str, Mapping[str, Any]]]:
    """(who set them, the settings) of the layers a run lays over the defaults for ``account``:
    ``template`` (None: none), else the one governing it; its household's overrides; its own."""
    template = account.governing_template if template is _GOVERNING else template
    layers = [(f"template “{template.name}”", template.parameters or {})] if template else []
    return layers + [(f"household {account.household.name}'s overrides", account.household.overrides or {}),
                     (f"account {account.custodian_number}'s overrides", account.overrides or {})]


@dataclass(frozen=True)
class _Misfit:
    """A setting of an account's that its model cannot meet, so that every run of it fails: a sleeve
    it direct-indexes that the model lacks (``direct_index``) or has without a benchmark
    (``benchmark``), or every asset class of the model removed (``removed_asset_classes``)."""

    kind: str
    model_id: int
    sleeve: str | None = None

    @property
    def setting(self) -> str:
        return "removed_asset_classes" if self.kind == "removed_asset_classes" else "direct_index"

    def words(self, book: _Book) -> str:
        name = book.names[self.model_id]
        if self.kind == "removed_asset_classes":
            return (f"the setting {_REMOVED} removes every asset class of model {name} "
                    f"({', '.join(sorted(book.asset_classes(self.model_id)))})")
        if self.kind == "direct_index":
            return f"the setting {_INDEXED} names sleeve {self.sleeve}, which model {name} does not have"
        return f"the setting {_INDEXED} names sleeve {self.sleeve}, which model {name} has without a benchmark"

    def outcome(self, *, plural: bool) -> str:
        """What follows for the accounts (one: ``plural`` False) and what to change."""
        whose, them = ("those accounts", "them") if plural else ("the account", "it")
        if self.kind == "removed_asset_classes":
            return f"nothing of the model would be left for {them} to hold; keep at least one of its asset classes"
        if self.kind == "direct_index":
            return f"every run of {whose} would fail; direct-index one of the model's sleeves"
        return (f"every run of {whose} would fail (a direct index tracks its sleeve's benchmark); direct-index a "
                "sleeve with a benchmark, or give this one a benchmark")

    def setter(self, layers: list[tuple[str, Mapping[str, Any]]]) -> int:
        """The index in ``layers`` of the one that sets what misfits (the last to set it: a run's merge)."""
        for i in range(len(layers) - 1, -1, -1):
            values = layers[i][1]
            if (self.sleeve in (values.get("direct_index") or {}) if self.sleeve
                    else "removed_asset_classes" in values):
                return i
        return len(layers) - 1


def _misfits(values: Mapping[str, Any], model_id: int | None, book: _Book) -> list[_Misfit]:
    """What of ``values`` (a whole set, defaults merged) the model ``model_id`` cannot meet: the one
    home of the rule for template saves, assignments and overrides."""
    classes = book.asset_classes(model_id)
    if not classes:
        return []  # no model (not rebalanced), or one without a version yet
    indexed = set(values.get("direct_index") or {})
    out = [_Misfit("removed_asset_classes", model_id)] if classes <= set(values.get("removed_asset_classes") or ()) else []
    out += [_Misfit("direct_index", model_id, sleeve) for sleeve in sorted(indexed - classes)]
    return out + [_Misfit("benchmark", model_id, sleeve) for sleeve in sorted(indexed & book.unbenchmarked(model_id))]


def _accounts(counted: list[str]) -> str:
    shown = ", ".join(counted[:5]) + (f" and {len(counted) - 5} more" if len(counted) > 5 else "")
    return f"{len(counted)} account{'s' if len(counted) != 1 else ''} ({shown})"


def model_change_problems(*, model: ModelPortfolio, sleeves, submodels: Mapping[str, ModelPortfolio]) -> list[str]:
    """What is wrong with ``model``'s new version of ``sleeves`` (``SleeveSpec``s; ``submodels``:
    the models they name, by code) given the other models and the accounts that use them: models
    that would contain themselves or nest deeper than a run flattens, and sleeves dropped (or left
    without a benchmark) that the parameters of accounts on it (or on a model holding it)
    direct-index, or that leave them nothing once their parameters' removed asset classes are taken out."""
    before = _Book.current()
    before.names.setdefault(model.pk, model.name)
    leaves = [s for s in sleeves if s.kind != Sleeve.Kind.SUBMODEL]
    after = before.edited(model.pk, {s.asset_class for s in leaves},
                          [submodels[s.submodel].pk for s in sleeves if s.kind == Sleeve.Kind.SUBMODEL],
                          {s.asset_class for s in leaves if s.benchmark})
    holders = after.holders(model.pk)
    problem = after.nesting_problem(model.pk, [model.pk, *holders])
    if problem:
        return [problem]
    problems = []
    for model_id in [model.pk, *holders]:
        lost = before.asset_classes(model_id) - after.asset_classes(model_id)
        unbenchmarked = after.unbenchmarked(model_id) - before.unbenchmarked(model_id)
        if lost or unbenchmarked:
            problems += _sleeves_in_use(model_id, lost, unbenchmarked, after)
    return problems


def _sleeves_in_use(model_id: int, lost: set[str], unbenchmarked: set[str], after: _Book) -> list[str]:
    """Problems of the accounts managed to ``model_id`` whose settings need a sleeve in ``lost``, or
    direct-index one in ``unbenchmarked``."""
    name, left = after.names[model_id], after.asset_classes(model_id)
    indexed: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # sleeve -> who -> accounts
    emptied: list[str] = []
    accounts = (Account.objects.managed_to(after.codes[model_id]).with_governing_template()
                .order_by("custodian_number"))
    for account in accounts:
        layers = _layers(account)
        for who, values in layers:
            for sleeve in sorted(set(values.get("direct_index") or {}) & (lost | unbenchmarked)):
                indexed[sleeve][who].append(account.custodian_number)
        # removed_asset_classes is a list: the last layer that sets it gives it whole
        removed = next((v["removed_asset_classes"] for _, v in reversed(layers) if "removed_asset_classes" in v), [])
        if lost and left and left <= set(removed or ()):
            emptied.append(account.custodian_number)
    problems = []
    for sleeve, holders in sorted(indexed.items()):
        who = "; ".join(f"{w}, for {_accounts(numbers)}" for w, numbers in holders.items())
        if sleeve in lost:
            problems.append(f"it drops sleeve {sleeve} from {name}, which the direct index of {who} on {name} names: "
                            "every run of those accounts would fail; take the sleeve out of their direct index first, "
                            "or keep it")
        else:  # a direct index tracks its sleeve's benchmark: the engine refuses a sleeve without one
            problems.append(f"it leaves sleeve {sleeve} of {name} without a benchmark, which the direct index of {who} "
                            f"on {name} names: every run of those accounts would fail (a direct index tracks its "
                            "sleeve's benchmark); give the sleeve a benchmark, or take it out of their direct index "
                            "first")
    if emptied:
        problems.append(f"what is left of {name} ({', '.join(sorted(left))}) is all removed by the setting "
                        f"{_REMOVED} of {_accounts(emptied)}: nothing would be left for them to hold")
    return problems


def parameter_conflicts(values: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(problem, detail) for each pair of ``values``' settings (a whole set, defaults merged) that
    ask for opposite things: a sleeve both direct-indexed and removed, a transition's net gain allowed
    per run above the one allowed per year (the year's cap would always bind first), a security the screen sells
    by its sector, tags or ESG score while ``restrictions.hold`` keeps it (by its symbol the engine's
    ``Parameters`` refuses it already, in the same words)."""
    out = []
    both = sorted(set(values.get("direct_index") or {}) & set(values.get("removed_asset_classes") or ()))
    for sleeve in both:
        out.append((f"settings {_INDEXED} and {_REMOVED} both name {sleeve}: the direct index holds "
                    "the sleeve's benchmark and the removal drops the sleeve; remove it from one",
                    {"parameter": "removed_asset_classes", "conflicts": ["direct_index", "removed_asset_classes"]}))
    transition = values.get("transition") or {}
    per_run, per_year = transition.get("max_net_gain_per_run"), transition.get("max_net_gain_per_year")
    if _number(per_run) and _number(per_year) and per_run > per_year:
        run_setting, year_setting = "transition.max_net_gain_per_run", "transition.max_net_gain_per_year"
        out.append((f"setting “{setting_label(run_setting)}” ({amount_text(per_run)}) is above "
                    f"“{setting_label(year_setting)}” ({amount_text(per_year)}): a run may never realise more than "
                    "the year allows; lower the first or raise the second",
                    {"parameter": run_setting, "conflicts": [run_setting, year_setting]}))
    try:
        params = engine.Parameters.from_dict(values)
    except engine.InvalidRequest as exc:  # (a security both excluded by symbol and held: the engine's words)
        return [*out, (settings_in_words(exc.message), exc.detail or {})]
    if params.screen is not None and params.restrictions.hold:
        for security in Security.objects.filter(symbol__in=params.restrictions.hold).order_by("symbol"):
            reason = engine.screen_reason(engine.Security(
                symbol=security.symbol, price=1.0, asset_class=security.asset_class, sector=security.sector or None,
                tags=tuple(security.tags or ()), esg_score=security.esg_score), params.screen)
            if reason:
                setting = _SCREEN_SETTING[reason.split(" ", 1)[0]]
                out.append((f"settings “{setting_label(setting)}” and “{setting_label('restrictions.hold')}” both name "
                            f"{security.symbol} ({reason}): the "
                            "screen sells it and the restriction keeps it as it is; remove it from one",
                            {"parameter": "restrictions.hold", "conflicts": [setting, "restrictions.hold"]}))
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def template_conflicts_refuse(*, template: ParameterTemplate | None, parameters: dict) -> None:
    """Refuse template ``parameters`` (the change of ``template``, or a new one) whose settings
    contradict each other, or which, laid with the overrides of the accounts the template governs
    over their models, name a sleeve the model lacks, remove all its asset classes, or contradict
    the overrides (naming the account and the model)."""
    proposed = ParameterTemplate(code=template.code if template else "", name=template.name if template else "",
                                 parameters=parameters)
    for problem, detail in parameter_conflicts(_effective(proposed, None, None)):
        raise ValidationFailed(f"Template parameters: {problem}", detail={"field": "parameters", **detail})
    if template is None:
        return
    book = _Book.current()
    emptied: dict[int, list[str]] = defaultdict(list)
    missing: dict[_Misfit, list[str]] = defaultdict(list)
    checked = set()
    for account in Account.objects.governed_by(template).select_related("household").order_by("custodian_number"):
        values = _effective(proposed, account.household.overrides, account.overrides)
        key = (repr(account.household.overrides), repr(account.overrides))
        if key not in checked and (account.household.overrides or account.overrides):
            checked.add(key)
            for problem, detail in parameter_conflicts(values):
                raise ValidationFailed(f"Template parameters refused: with them, account {account.custodian_number}'s "
                                       f"{problem}", detail={"field": "parameters", **detail,
                                                             "account": account.custodian_number})
        for misfit in _misfits(values, account.managed_model_id, book):
            if misfit.kind == "removed_asset_classes":
                emptied[misfit.model_id].append(account.custodian_number)
            else:
                missing[misfit].append(account.custodian_number)
    if emptied:
        names = "; ".join(f"{book.names[m]} ({', '.join(sorted(book.asset_classes(m)))})" for m in emptied)
        raise ValidationFailed(
            f"Template parameters refused: the setting {_REMOVED} removes every asset class of model {names}, "
            f"which {_accounts([n for ns in emptied.values() for n in ns])} it governs hold: nothing of the model "
            "would be left for them to hold; keep at least one of its asset classes",
            detail={"field": "parameters", "parameter": "removed_asset_classes",
                    "models": [book.codes[m] for m in emptied], "accounts": [n for ns in emptied.values() for n in ns]})
    if missing:
        misfit, numbers = next(iter(missing.items()))
        raise ValidationFailed(
            f"Template parameters refused: {misfit.words(book)}, and {_accounts(numbers)} it governs hold that model: "
            f"{misfit.outcome(plural=True)}",
            detail={"field": "parameters", "parameter": "direct_index", "sleeve": misfit.sleeve,
                    "model": book.codes[misfit.model_id], "accounts": numbers})


def _new(after: Iterable, before: Iterable) -> list:
    """What ``after`` has that ``before`` had not, in ``after``'s order: a change is refused for the
    contradictions it brings, not for those an account had already (and the change leaves as they were)."""
    had = set(before)
    return [item for item in after if item not in had]


def _conflicts_new(after: Mapping[str, Any], before: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    had = {problem for problem, _ in parameter_conflicts(before)}
    return [(problem, detail) for problem, detail in parameter_conflicts(after) if problem not in had]


def _refuse_misfits(found: Mapping[_Misfit, Mapping[str, list[str]]], book: _Book, *, prefix: str,
                    field_name: str) -> None:
    """Refuse with the first of ``found`` (misfit -> who sets it -> the accounts), naming the setting, the
    model, whose parameters set it and for which accounts (five of them and a count), and how many more."""
    if not found:
        return
    misfit, setters = next(iter(found.items()))
    numbers = [n for ns in setters.values() for n in ns]
    who = "; ".join(f"{w}, for {_accounts(ns)}" for w, ns in setters.items())
    more = len(found) - 1
    also = f" ({more} more such problem{'s' if more != 1 else ''} besides)" if more else ""
    raise ValidationFailed(
        f"{prefix}{misfit.words(book)}, in the parameters of {who}: {misfit.outcome(plural=True)}{also}",
        detail={"field": field_name, "parameter": misfit.setting, "sleeve": misfit.sleeve,
                "model": book.codes[misfit.model_id], "accounts": numbers})


def assignment_conflicts_refuse(*, placements: Iterable[tuple[Account, ParameterTemplate | None, int | None]],
                                field_name: str) -> None:
    """Refuse an assignment (``placements``: each account, the template that will govern it and the
    model it will be managed to) whose template, laid with the accounts' overrides, contradicts them
    or their model: a sleeve direct-indexed that the model lacks (or has without a benchmark), every
    asset class of the model removed, a sleeve both direct-indexed and removed, a held security
    screened out. The refusal names the setting, the model and the accounts; ``field_name`` is the
    form's field the assignment sets ("template", "model")."""
    book = _Book.current()
    found: dict[_Misfit, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    checked = set()
    for account, template, model_id in placements:
        governing = account.governing_template
        if (getattr(template, "pk", None), model_id) == (getattr(governing, "pk", None), account.managed_model_id):
            continue  # nothing changes for it
        household_overrides, own = account.household.overrides, account.overrides
        before = _effective(governing, household_overrides, own)
        after = _effective(template, household_overrides, own) if template != governing else before
        key = (getattr(template, "pk", None), repr(household_overrides), repr(own))
        if template != governing and key not in checked:
            checked.add(key)
            for problem, detail in _conflicts_new(after, before):
                raise ValidationFailed(f"Nothing assigned: with it, account {account.custodian_number}'s {problem}",
                                       detail={"field": field_name, **detail, "account": account.custodian_number})
        layers = _layers(account, template)
        for misfit in _new(_misfits(after, model_id, book), _misfits(before, account.managed_model_id, book)):
            i = misfit.setter(layers)
            who = "their own overrides" if i == len(layers) - 1 else layers[i][0]
            found[misfit][who].append(account.custodian_number)
    _refuse_misfits(found, book, prefix="Nothing assigned: ", field_name=field_name)


def account_overrides_conflicts_refuse(*, account: Account, overrides: Mapping[str, Any]) -> None:
    """Refuse an account's ``overrides`` that, laid over its template and its household's, contradict
    each other or its model (as ``assignment_conflicts_refuse``), naming the setting."""
    template, household_overrides = account.governing_template, account.household.overrides
    before = _effective(template, household_overrides, account.overrides)
    after = _effective(template, household_overrides, overrides)
    for problem, detail in _conflicts_new(after, before):
        raise ValidationFailed(f"Account overrides refused: {problem}", detail={"field": "overrides", **detail})
    book = _Book.current()
    model_id = account.managed_model_id
    for misfit in _new(_misfits(after, model_id, book), _misfits(before, model_id, book)):
        raise ValidationFailed(
            f"Account overrides refused: {misfit.words(book)}: {misfit.outcome(plural=False)}",
            detail={"field": "overrides", "parameter": misfit.setting, "sleeve": misfit.sleeve,
                    "model": book.codes[misfit.model_id]})


def household_overrides_conflicts_refuse(*, household: Household, overrides: Mapping[str, Any]) -> None:
    """Refuse a household's ``overrides`` that, laid over its template (and under each account's own
    overrides, on the account's template and model), contradict each other or a model (as
    ``assignment_conflicts_refuse``), naming the setting and the accounts."""
    for problem, detail in _conflicts_new(_effective(household.template, overrides, None),
                                          _effective(household.template, household.overrides, None)):
        raise ValidationFailed(f"Household overrides refused: {problem}", detail={"field": "overrides", **detail})
    book = _Book.current()
    found: dict[_Misfit, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for account in household.accounts.with_governing_template().order_by("custodian_number"):
        template, model_id = account.governing_template, account.managed_model_id
        before = _effective(template, household.overrides, account.overrides)
        after = _effective(template, overrides, account.overrides)
        for problem, detail in _conflicts_new(after, before):
            raise ValidationFailed(f"Household overrides refused: with them, account {account.custodian_number}'s "
                                   f"{problem}", detail={"field": "overrides", **detail,
                                                         "account": account.custodian_number})
        for misfit in _new(_misfits(after, model_id, book), _misfits(before, model_id, book)):
            found[misfit]["them"].append(account.custodian_number)
    if found:
        misfit, setters = next(iter(found.items()))
        numbers = setters["them"]
        raise ValidationFailed(
            f"Household overrides refused: with them, {misfit.words(book)}, which {_accounts(numbers)} of the "
            f"household hold: {misfit.outcome(plural=True)}",
            detail={"field": "overrides", "parameter": misfit.setting, "sleeve": misfit.sleeve,
                    "model": book.codes[misfit.model_id], "accounts": numbers})

"""Settings that contradict each other, refused where they are saved rather than failing every run.

A run flattens an account's model (a submodel's sleeves in its parent's place) and lays its
template, its household's overrides and its own over the engine's defaults; the engine then
refuses an account whose settings name a sleeve its model does not have, remove every asset class
of the model, or direct-index a sleeve they also remove. A model's change and a template's change
are checked here against the models and accounts they reach, naming the models, templates and
accounts concerned; the refusal writes nothing (the callers raise before their first write).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import OuterRef, Subquery

from rebalancing import engine
from rebalancing.effective_parameters import parameters_effective
from rebalancing.models import Account, ModelPortfolio, ModelVersion, ParameterTemplate, Security, Sleeve
from rebalancing.selectors import model_chain_problem
from tenants.errors import ValidationFailed

__all__ = ["model_change_problems", "parameter_conflicts", "template_conflicts_refuse"]

# The screen's rule that excluded a security (``engine.screen_reason``'s first word) -> its setting.
_SCREEN_SETTING = {"symbol": "screen.excluded_symbols", "sector": "screen.excluded_sectors",
                   "tag": "screen.excluded_tags", "ESG": "screen.min_esg_score"}


@dataclass
class _Book:
    """The current version of every model as a graph: its own sleeves' asset classes (``leaves``)
    and the models it holds as sleeves (``holds``), in the sleeves' order."""

    names: dict[int, str]
    codes: dict[int, str]
    leaves: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    holds: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def current(cls) -> _Book:
        models = ModelPortfolio.objects.values_list("pk", "name", "code")
        book = cls(names={pk: name for pk, name, _ in models}, codes={pk: code for pk, _, code in models})
        latest = ModelVersion.objects.filter(model=OuterRef("version__model")).order_by("-number").values("number")[:1]
        for model_id, asset_class, kind, submodel_id in (
                Sleeve.objects.filter(version__number=Subquery(latest))
                .values_list("version__model_id", "asset_class", "kind", "submodel_id")):
            if kind == Sleeve.Kind.SUBMODEL:
                book.holds[model_id].append(submodel_id)
            else:
                book.leaves[model_id].add(asset_class)
        return book

    def edited(self, model_id: int, leaves: set[str], holds: list[int]) -> _Book:
        """This book with ``model_id``'s version replaced by the one being saved."""
        out = _Book(self.names, self.codes, defaultdict(set, self.leaves), defaultdict(list, self.holds))
        out.leaves[model_id], out.holds[model_id] = leaves, holds
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

    def asset_classes(self, model_id: int | None, chain: tuple[int, ...] = ()) -> set[str]:
        """The asset classes a run gives ``model_id``'s accounts: its sleeves', its submodels' in their place."""
        if model_id is None or model_id in chain:
            return set()
        out = set(self.leaves.get(model_id, ()))
        for child in self.holds.get(model_id, ()):
            out |= self.asset_classes(child, (*chain, model_id))
        return out


def _effective(template, household_overrides, account_overrides) -> dict[str, Any]:
    return parameters_effective(template=template, household_overrides=household_overrides,
                                account_overrides=account_overrides).values


def _layers(account: Account, template: ParameterTemplate | None = None) -> list[tuple[str, Mapping[str, Any]]]:
    """(who set them, the settings) of the layers a run lays over the defaults for ``account``:
    ``template``, else the one governing it; its household's overrides; its own."""
    template = template or account.governing_template
    layers = [(f"template “{template.name}”", template.parameters or {})] if template else []
    return layers + [(f"household {account.household.name}'s overrides", account.household.overrides or {}),
                     (f"account {account.custodian_number}'s overrides", account.overrides or {})]


def _accounts(counted: list[str]) -> str:
    shown = ", ".join(counted[:5]) + (f" and {len(counted) - 5} more" if len(counted) > 5 else "")
    return f"{len(counted)} account{'s' if len(counted) != 1 else ''} ({shown})"


def model_change_problems(*, model: ModelPortfolio, sleeves, submodels: Mapping[str, ModelPortfolio]) -> list[str]:
    """What is wrong with ``model``'s new version of ``sleeves`` (``SleeveSpec``s; ``submodels``:
    the models they name, by code) given the other models and the accounts that use them: models
    that would contain themselves or nest deeper than a run flattens, and sleeves dropped that
    the parameters of accounts on it (or on a model holding it) direct-index, or that leave them
    nothing once their parameters' removed asset classes are taken out."""
    before = _Book.current()
    before.names.setdefault(model.pk, model.name)
    after = before.edited(model.pk, {s.asset_class for s in sleeves if s.kind != Sleeve.Kind.SUBMODEL},
                          [submodels[s.submodel].pk for s in sleeves if s.kind == Sleeve.Kind.SUBMODEL])
    holders = after.holders(model.pk)
    problem = after.nesting_problem(model.pk, [model.pk, *holders])
    if problem:
        return [problem]
    problems = []
    for model_id in [model.pk, *holders]:
        lost = before.asset_classes(model_id) - after.asset_classes(model_id)
        if lost:
            problems += _sleeves_in_use(model_id, lost, after)
    return problems


def _sleeves_in_use(model_id: int, lost: set[str], after: _Book) -> list[str]:
    """Problems of the accounts managed to ``model_id`` whose settings need a sleeve in ``lost``."""
    name, left = after.names[model_id], after.asset_classes(model_id)
    indexed: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # sleeve -> who -> accounts
    emptied: list[str] = []
    accounts = (Account.objects.managed_to(after.codes[model_id]).with_governing_template()
                .order_by("custodian_number"))
    for account in accounts:
        layers = _layers(account)
        for who, values in layers:
            for sleeve in sorted(set(values.get("direct_index") or {}) & lost):
                indexed[sleeve][who].append(account.custodian_number)
        # removed_asset_classes is a list: the last layer that sets it gives it whole
        removed = next((v["removed_asset_classes"] for _, v in reversed(layers) if "removed_asset_classes" in v), [])
        if left and left <= set(removed or ()):
            emptied.append(account.custodian_number)
    problems = []
    for sleeve, holders in sorted(indexed.items()):
        who = "; ".join(f"{w}, for {_accounts(numbers)}" for w, numbers in holders.items())
        problems.append(f"it drops sleeve {sleeve} from {name}, which the direct index of {who} on {name} names: "
                        "every run of those accounts would fail; take the sleeve out of their direct index first, "
                        "or keep it")
    if emptied:
        problems.append(f"what is left of {name} ({', '.join(sorted(left))}) is all removed by the parameters "
                        f"(removed_asset_classes) of {_accounts(emptied)}: nothing would be left for them to hold")
    return problems


def parameter_conflicts(values: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(problem, detail) for each pair of ``values``' settings (a whole set, defaults merged) that
    ask for opposite things: a sleeve both direct-indexed and removed, a security the screen sells
    by its sector, tags or ESG score while ``restrictions.hold`` keeps it (by its symbol the engine's
    ``Parameters`` refuses it already, in the same words)."""
    out = []
    both = sorted(set(values.get("direct_index") or {}) & set(values.get("removed_asset_classes") or ()))
    for sleeve in both:
        out.append((f"parameters direct_index and removed_asset_classes both name {sleeve}: the direct index holds "
                    "the sleeve's benchmark and the removal drops the sleeve; remove it from one",
                    {"parameter": "removed_asset_classes", "conflicts": ["direct_index", "removed_asset_classes"]}))
    try:
        params = engine.Parameters.from_dict(values)
    except engine.InvalidRequest as exc:  # (a security both excluded by symbol and held: the engine's words)
        return [*out, (exc.message, exc.detail or {})]
    if params.screen is not None and params.restrictions.hold:
        for security in Security.objects.filter(symbol__in=params.restrictions.hold).order_by("symbol"):
            reason = engine.screen_reason(engine.Security(
                symbol=security.symbol, price=1.0, asset_class=security.asset_class, sector=security.sector or None,
                tags=tuple(security.tags or ()), esg_score=security.esg_score), params.screen)
            if reason:
                setting = _SCREEN_SETTING[reason.split(" ", 1)[0]]
                out.append((f"parameters {setting} and restrictions.hold both name {security.symbol} ({reason}): the "
                            "screen sells it and the restriction keeps it as it is; remove it from one",
                            {"parameter": "restrictions.hold", "conflicts": [setting, "restrictions.hold"]}))
    return out


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
    missing: dict[tuple[str, int], list[str]] = defaultdict(list)
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
        model_id = account.managed_model_id
        classes = book.asset_classes(model_id)
        if not classes:
            continue
        if classes <= set(values["removed_asset_classes"]):
            emptied[model_id].append(account.custodian_number)
        for sleeve in sorted(set(values["direct_index"]) - classes):
            missing[(sleeve, model_id)].append(account.custodian_number)
    if emptied:
        names = "; ".join(f"{book.names[m]} ({', '.join(sorted(book.asset_classes(m)))})" for m in emptied)
        raise ValidationFailed(
            f"Template parameters refused: removed_asset_classes removes every asset class of model {names}, "
            f"which {_accounts([n for ns in emptied.values() for n in ns])} it governs hold: nothing of the model "
            "would be left for them to hold; keep at least one of its asset classes",
            detail={"field": "parameters", "parameter": "removed_asset_classes",
                    "models": [book.codes[m] for m in emptied], "accounts": [n for ns in emptied.values() for n in ns]})
    if missing:
        (sleeve, model_id), numbers = next(iter(missing.items()))
        raise ValidationFailed(
            f"Template parameters refused: direct_index names sleeve {sleeve}, which model {book.names[model_id]} "
            f"does not have, and {_accounts(numbers)} it governs hold that model: every run of theirs would fail; "
            "direct-index one of the model's sleeves",
            detail={"field": "parameters", "parameter": "direct_index", "sleeve": sleeve,
                    "model": book.codes[model_id], "accounts": numbers})

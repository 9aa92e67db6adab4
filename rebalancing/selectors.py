"""Reads of the book that runs, reports and pages share: which accounts a run covers, an account's
effective parameters, the models' current versions flattened, latest prices and benchmark weights.
(Loading accounts for the engine is ``engine_inputs``.)"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Case, Count, Exists, F, Max, Min, OuterRef, Q, Subquery, When
from django.utils import timezone

from rebalancing.access import households_advised_by
from rebalancing.effective_parameters import EffectiveParameters, parameters_effective
from rebalancing.models import (
    Account,
    BenchmarkWeight,
    Household,
    ModelVersion,
    Order,
    Price,
    Proposal,
    RebalanceRun,
    RestrictedSecurity,
    RiskModelVersion,
    Security,
    Sleeve,
    SleeveHolding,
    TaxLot,
)
from tenants.errors import ValidationFailed

__all__ = [
    "asset_classes_known",
    "backtest_basket",
    "backtest_firm_price_days",
    "backtest_firm_price_span",
    "backtest_price_history",
    "DRIFT_STANDING",
    "MODEL_NESTING_LIMIT",
    "ModelBook",
    "RunScope",
    "account_parameters",
    "accounts_approved_unreleased",
    "approved_unreleased",
    "accounts_for_scope",
    "benchmark_weights_latest",
    "firm_harvest_substitutes",
    "firm_restrictions_on",
    "latest_prices",
    "latest_prices_dated",
    "lot_counts",
    "model_chain_problem",
    "risk_model_current",
    "RISK_MODEL_STALE_DAYS",
]


@dataclass(frozen=True)
class RunScope:
    """Which accounts a run covers. Criteria combine (AND); ``firm=True`` with none means all."""

    firm: bool = False
    account_ids: tuple[int, ...] = ()
    household_id: int | None = None
    model_code: str | None = None
    template_code: str | None = None
    advisor_id: int | None = None
    min_drift: float | None = None
    # Accounts whose approved proposal is not released yet are left out (their approval stands)
    # unless the person starting the run chose to replace those proposals.
    replace_approved: bool = False
    # The run whose failed accounts this one runs again (``services.run_retries``): a note, not a criterion.
    retry_of: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunScope:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValidationFailed(f"unknown run scope field(s): {sorted(unknown)}", detail={"field": "scope"})
        values = dict(data)
        values["account_ids"] = tuple(int(a) for a in values.get("account_ids", ()))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, (), False)}
        if "account_ids" in out:
            out["account_ids"] = list(out["account_ids"])
        return out

    def is_empty(self) -> bool:
        """No criterion at all (``replace_approved`` is a choice about proposals, not a criterion)."""
        return not {k for k in self.to_dict() if k not in ("replace_approved", "retry_of")}


def asset_classes_known() -> set[str]:
    """The firm's asset classes: those of its security master and of its models' sleeves (a sleeve
    holding another model is named after that model, not an asset class)."""
    sleeves = Sleeve.objects.exclude(kind=Sleeve.Kind.SUBMODEL)
    return (set(Security.objects.values_list("asset_class", flat=True).distinct())
            | set(sleeves.values_list("asset_class", flat=True).distinct()))


# The drift a proposal leaves its account at, until a newer one measures it: what it found until its
# trades have executed as planned, then what they left (the runs' min_drift, the dashboard, the
# accounts list). An order cancelled in part or whole leaves drift the proposal did not plan: it still
# counts at what it found, as its drift alert stays open (``services.alerts``), and the account page
# measures what is left.
DRIFT_STANDING = Case(When(Q(status=Proposal.Status.EXECUTED)
                           & ~Exists(Order.objects.filter(proposal=OuterRef("pk"), cancelled_quantity__gt=0)),
                           then=F("drift_after")), default=F("drift_before"))


def accounts_for_scope(scope: RunScope):
    """Account ids a run over ``scope`` covers, in a stable order.

    ``min_drift`` uses the drift each account's latest proposal leaves it at (the nightly scan keeps
    it current): what the proposal found (``drift_before``) until its trades have executed, then
    what they left (``drift_after``). A released proposal partly filled still counts at what it
    found: its open orders are still to execute and its fills so far are measured by no proposal, so
    the account is not left out of a run while it may still be drifted (the same rule as the
    dashboard's and accounts list's drift: ``DRIFT_STANDING``). Accounts never
    rebalanced count as drifted, so they are included.
    """
    if scope.is_empty():
        raise ValidationFailed("a run needs a scope: an account, a household, a selection or the whole firm")
    qs = Account.objects.managed()
    if scope.account_ids:
        qs = qs.filter(pk__in=scope.account_ids)
    if scope.household_id is not None:
        qs = qs.filter(household_id=scope.household_id)
    if scope.model_code:
        qs = qs.managed_to(scope.model_code)
    if scope.template_code:
        qs = qs.governed_by(scope.template_code)
    if scope.advisor_id is not None:
        qs = qs.filter(household__in=households_advised_by(scope.advisor_id))
    if scope.min_drift is not None:
        # A withdrawal's or RMD's proposal raises cash and measures no drift: the last rebalance's counts.
        latest = (Proposal.objects.filter(account=OuterRef("pk")).exclude(run__kind=RebalanceRun.Kind.CASH_FLOW)
                  .annotate(standing=DRIFT_STANDING).order_by("-created_at", "-pk").values("standing")[:1])
        qs = qs.annotate(last_drift=Subquery(latest)).filter(
            Q(last_drift__isnull=True) | Q(last_drift__gte=scope.min_drift)
        )
    # A household managed as one is solved whole: any of its accounts brings in the others.
    accounts = Account.objects.filter(
        Q(pk__in=qs.values("pk"))
        | Q(household__managed_as=Household.ManagedAs.HOUSEHOLD, household_id__in=qs.values("household_id"))
    )
    if not scope.replace_approved:
        # Their approval stands: such accounts (a household managed as one: all its accounts) sit out.
        approved = Proposal.objects.filter(status=Proposal.Status.APPROVED)
        accounts = accounts.exclude(pk__in=approved.values("account_id")).exclude(
            household__managed_as=Household.ManagedAs.HOUSEHOLD, household_id__in=approved.values("account__household_id"))
    return accounts.order_by("pk").values_list("pk", flat=True)


def accounts_approved_unreleased(scope: RunScope) -> int:
    """How many accounts of ``scope`` a run leaves out because an approved proposal not yet released
    stands (or replaces, when told to): each with one, and every account of a household managed as
    one whose any account has one. Counted as ``accounts_for_scope`` selects, so the two agree."""
    replacing, keeping = (RunScope(**{**scope.__dict__, "replace_approved": replace}) for replace in (True, False))
    return Account.objects.filter(pk__in=accounts_for_scope(replacing)).exclude(
        pk__in=accounts_for_scope(keeping)).count()


def approved_unreleased(scope: RunScope) -> list[Proposal]:
    """The approved proposals not yet released of ``scope``'s accounts (those a run leaves out, their
    approval standing, or replaces when told to), with their accounts, by account number."""
    replacing = RunScope(**{**scope.__dict__, "replace_approved": True})
    return list(Proposal.objects.filter(status=Proposal.Status.APPROVED, account_id__in=accounts_for_scope(replacing))
                .select_related("account", "run").order_by("account__custodian_number", "pk"))


def lot_counts(account_ids) -> dict[int, int]:
    rows = TaxLot.objects.filter(account_id__in=account_ids).values("account_id").annotate(n=Count("id"))
    return {r["account_id"]: r["n"] for r in rows}


def firm_harvest_substitutes() -> dict[str, str]:
    """The firm-wide harvest substitutes, symbol -> substitute symbol, by symbol (one query)."""
    rows = (Security.objects.filter(harvest_substitute__isnull=False).order_by("symbol")
            .values_list("symbol", "harvest_substitute__symbol"))
    return dict(rows)


def firm_restrictions_on(day: date) -> dict[str, str]:
    """The firm's restricted list in force on ``day``: symbol -> ``"do_not_buy"`` or
    ``"do_not_trade"`` (do not trade wins where two entries name one security), one query."""
    out: dict[str, str] = {}
    for symbol, kind in (RestrictedSecurity.objects.in_force_on(day).order_by("security__symbol", "pk")
                         .values_list("security__symbol", "restriction")):
        if out.get(symbol) != RestrictedSecurity.Restriction.DO_NOT_TRADE:
            out[symbol] = kind
    return out


def account_parameters(account: Account, *, firm_substitutes: dict[str, str] | None = None,
                       firm_restrictions: dict[str, str] | None = None, as_of: date | None = None,
                       ) -> EffectiveParameters:
    """An account's effective parameters, as every run, what-if, household run, page and API reads
    them: its layers, the firm's harvest substitutes and the firm's restricted list in force on
    ``as_of`` (today when not given). ``firm_substitutes`` / ``firm_restrictions``: when the caller
    loaded them already (a batch), else read here; ``{}`` leaves them out (a form editing the
    account's own layers)."""
    household = account.household
    if firm_restrictions is None:
        firm_restrictions = firm_restrictions_on(as_of or timezone.localdate())
    return parameters_effective(
        template=account.governing_template,
        household_overrides=household.overrides,
        account_overrides=account.overrides,
        firm_substitutes=firm_harvest_substitutes() if firm_substitutes is None else firm_substitutes,
        firm_restrictions=firm_restrictions,
    )


# How many levels of models of models a run flattens below an account's model.
MODEL_NESTING_LIMIT = 8


def model_chain_problem(chain: Sequence[int], name: Callable[[int], str]) -> str | None:
    """What makes a chain of models, each holding the next as a sleeve, impossible to flatten: the
    last is one of the others (a model that contains itself) or it is more than
    ``MODEL_NESTING_LIMIT`` levels deep; None when neither. The one rule the model save refuses
    by and a run fails by (``ModelBook.flat_sleeves``); ``name``: a model's name by id."""
    if chain[-1] in chain[:-1]:
        return (f"model {name(chain[-1])} contains itself ({' → '.join(map(name, chain))}), so its accounts cannot "
                "be rebalanced: change one of these models so that it no longer holds the next")
    if len(chain) - 1 > MODEL_NESTING_LIMIT:
        return (f"models nest more than {MODEL_NESTING_LIMIT} levels deep ({' → '.join(map(name, chain))}), more "
                "than a run flattens: hold the deepest model's sleeves directly in one above it")
    return None


class ModelBook:
    """Current versions of the firm's models, flattened (a submodel's sleeves scaled into its parent)."""

    def __init__(self, model_ids: set[int], as_of: date):
        self.versions: dict[int, ModelVersion] = {}
        self.sleeves: dict[int, list[Sleeve]] = defaultdict(list)
        self.holdings: dict[int, dict[int, float]] = defaultdict(dict)
        pending = set(model_ids)
        # One round of queries per nesting level (models of models are rarely deeper than two).
        while pending:
            versions = (
                ModelVersion.objects.filter(model_id__in=pending)
                .order_by("model_id", "-number")
                .distinct("model_id")
                .select_related("model")
            )
            new = {v.model_id: v for v in versions}
            self.versions.update(new)
            sleeves = list(Sleeve.objects.filter(version__in=new.values()).select_related("benchmark"))
            for sleeve in sleeves:
                self.sleeves[sleeve.version_id].append(sleeve)
            for h in SleeveHolding.objects.filter(sleeve__in=sleeves).values_list("sleeve_id", "security_id", "weight"):
                self.holdings[h[0]][h[1]] = float(h[2])
            pending = {s.submodel_id for s in sleeves if s.submodel_id and s.submodel_id not in self.versions}
            if len(self.versions) > 200:
                raise ValidationFailed("models nest too deeply (a model of models that contains itself?)")

    def flat_sleeves(self, model_id: int, scale: float = 1.0,
                     chain: tuple[int, ...] = ()) -> list[tuple[Sleeve, float, dict[int, float]]]:
        """``chain``: the models above ``model_id`` holding it as a sleeve, outermost first."""
        chain = (*chain, model_id)
        problem = model_chain_problem(chain, lambda pk: self.versions[pk].model.name if pk in self.versions
                                      else f"model {pk}")
        if problem:
            raise ValidationFailed(problem, code="model_nesting", detail={"models": list(chain)})
        if model_id is None:  # (not "model None": the account is managed to none)
            raise ValidationFailed("the account has no model to be managed to: give it (or its household) one",
                                   code="no_model")
        version = self.versions.get(model_id)
        if version is None:
            raise ValidationFailed(f"model {model_id} has no version yet")
        out = []
        for sleeve in self.sleeves[version.id]:
            weight = scale * float(sleeve.weight)
            if sleeve.kind == Sleeve.Kind.SUBMODEL:
                out += self.flat_sleeves(sleeve.submodel_id, weight, chain)
            else:
                out.append((sleeve, weight, self.holdings.get(sleeve.id, {})))
        return out


def latest_prices(as_of: date) -> dict[int, float]:
    """Security id -> its latest close on or before ``as_of``."""
    return {sid: float(close) for sid, close in Price.objects.latest_on(as_of).values_list("security_id", "close")}


def latest_prices_dated(as_of: date) -> tuple[dict[int, float], dict[int, date]]:
    """``latest_prices`` and, by security id, the day of each close."""
    prices, days = {}, {}
    for sid, close, day in Price.objects.latest_on(as_of).values_list("security_id", "close", "date"):
        prices[sid], days[sid] = float(close), day
    return prices, days


def benchmark_weights_latest(benchmark_ids: set[int], as_of: date) -> dict[int, dict[int, float]]:
    if not benchmark_ids:
        return {}
    latest = (
        BenchmarkWeight.objects.filter(benchmark_id__in=benchmark_ids, date__lte=as_of)
        .order_by("benchmark_id", "-date")
        .distinct("benchmark_id")
        .values_list("benchmark_id", "date")
    )
    condition = Q()
    for bid, d in latest:
        condition |= Q(benchmark_id=bid, date=d)
    out: dict[int, dict[int, float]] = defaultdict(dict)
    if condition:
        for bid, sid, w in BenchmarkWeight.objects.filter(condition).values_list("benchmark_id", "security_id", "weight"):
            out[bid][sid] = float(w)
    return out


# Backtests -----------------------------------------------------------------------------------------


def backtest_basket(*, basket: str, model_id: int | None = None, benchmark_id: int | None = None,
                    as_of: date) -> dict[str, float]:
    """A backtest's starting basket, symbol -> weight (summing to 1): the bundled sample's 20 names
    equally weighted, a model's current holdings (direct-indexed sleeves as their benchmark's
    constituents, submodels flattened), or a benchmark's latest constituents."""
    from rebalancing.backtest.prices import SAMPLE_SECTORS

    if basket == "sample":
        return {s: 1 / len(SAMPLE_SECTORS) for s in SAMPLE_SECTORS}
    by_id: dict[int, float] = defaultdict(float)
    if basket == "benchmark":
        by_id.update(benchmark_weights_latest({benchmark_id}, as_of).get(benchmark_id, {}))
    elif basket == "model":
        book = ModelBook({model_id}, as_of)
        sleeves = book.flat_sleeves(model_id)
        weights = benchmark_weights_latest({s.benchmark_id for s, _, _ in sleeves if s.benchmark_id}, as_of)
        for sleeve, weight, holdings in sleeves:
            parts = holdings if holdings else weights.get(sleeve.benchmark_id, {})
            for security_id, w in parts.items():
                by_id[security_id] += weight * w
    else:
        raise ValidationFailed(f"unknown basket {basket!r}", detail={"field": "basket"})
    symbols = dict(Security.objects.filter(pk__in=by_id).values_list("pk", "symbol"))
    total = sum(w for w in by_id.values() if w > 0)
    if total <= 0:
        raise ValidationFailed("the basket is empty: the model or benchmark holds nothing yet", detail={"field": basket})
    return {symbols[i]: w / total for i, w in sorted(by_id.items(), key=lambda kv: symbols[kv[0]]) if w > 0}


def backtest_price_history(*, source: str, symbols: list[str], first: date | None = None, last: date | None = None):
    """Daily closes of ``symbols`` for a backtest: the bundled sample, or the firm's own prices
    (the days on which every symbol has one, between ``first`` and ``last``), with their sectors."""
    from rebalancing.backtest.prices import load_sample, prices_from_rows

    if source == "sample":
        return load_sample().select(symbols)
    securities = dict(Security.objects.filter(symbol__in=symbols).values_list("pk", "symbol"))
    missing = sorted(set(symbols) - set(securities.values()))
    if missing:
        raise ValidationFailed(f"unknown securities: {', '.join(missing[:10])}", detail={"symbols": missing[:50]})
    rows = Price.objects.filter(security_id__in=securities)
    if first is not None:
        rows = rows.filter(date__gte=first)
    if last is not None:
        rows = rows.filter(date__lte=last)
    sectors = dict(Security.objects.filter(pk__in=securities).values_list("symbol", "sector"))
    return prices_from_rows(
        ((d, securities[sid], close) for sid, d, close in rows.values_list("security_id", "date", "close").iterator()),
        sectors={s: sectors.get(s) or None for s in symbols},
        source="firm",
    )


def backtest_firm_price_span(symbols: list[str]) -> tuple[tuple[date, date] | None, list[str]]:
    """The span over which the firm holds prices of every one of ``symbols`` (first day each has a
    price, last day each has one), and the symbols it holds no price of (the span is then None)."""
    spans = {
        symbol: (first, last) for symbol, first, last in
        Price.objects.filter(security__symbol__in=symbols).values("security__symbol")
        .annotate(first=Min("date"), last=Max("date")).values_list("security__symbol", "first", "last")
    }
    missing = sorted(set(symbols) - set(spans))
    if missing or not spans:
        return None, missing
    return (max(f for f, _ in spans.values()), min(last for _, last in spans.values())), []


def backtest_firm_price_days(symbols: list[str], *, first: date, last: date) -> list[date]:
    """The days from ``first`` to ``last`` on which the firm holds a price of every one of ``symbols``
    (the days a backtest on its prices replays), in one grouped query."""
    ids = list(Security.objects.filter(symbol__in=symbols).values_list("pk", flat=True))
    return list(
        Price.objects.filter(security_id__in=ids, date__gte=first, date__lte=last).values("date")
        .annotate(n=Count("security_id")).filter(n=len(set(symbols))).order_by("date").values_list("date", flat=True)
    )


# A risk model estimated more than this many days before a run is not used (the nightly refresh
# has stopped, or the firm's prices have): the engine's default model is safer than a stale one.
RISK_MODEL_STALE_DAYS = 31


def risk_model_current(as_of: date) -> tuple[RiskModelVersion | None, str]:
    """The firm's risk model for a run on ``as_of``: its latest version on or before that day, or
    None with the reason the engine's default model is used instead."""
    from rebalancing.engine.risk_estimation import MIN_OBSERVATIONS

    version = RiskModelVersion.objects.filter(as_of__lte=as_of).order_by("-as_of", "-id").first()
    if version is None:
        return None, (f"the engine's default risk model: none has been estimated from the firm's prices up to "
                      f"{as_of:%Y-%m-%d} (it needs prices on {MIN_OBSERVATIONS + 1} days)")
    if (as_of - version.as_of).days > RISK_MODEL_STALE_DAYS:
        return None, (f"the engine's default risk model: the latest estimate (#{version.pk}, as of "
                      f"{version.as_of:%Y-%m-%d}) is more than {RISK_MODEL_STALE_DAYS} days old")
    return version, ""

"""What-if previews for the pages: run the engine on candidate parameters or a candidate model and
report what would change. Nothing is stored; the same loader and engine as a run are used, so a
preview shows what the next run would propose.

Previews of a template or a model solve a sample of the accounts it governs, before and after the
change, after one load of the whole sample: fast enough to answer while the person waits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from rebalancing import engine
from rebalancing.access import accounts_visible_to, require
from rebalancing.effective_parameters import overrides_validate, parameters_effective
from rebalancing.models import (
    Account,
    Benchmark,
    BenchmarkWeight,
    ModelPortfolio,
    ParameterTemplate,
    Price,
    Security,
    Sleeve,
)
from rebalancing.permissions import Capability
from rebalancing.selectors import AccountInputs, rebalance_inputs_load
from tenants.errors import NotFound, ValidationFailed

__all__ = [
    "AccountPreview",
    "ChangePreview",
    "SampleRow",
    "account_overrides_preview",
    "model_change_preview",
    "template_change_preview",
]

# Accounts listed individually in a change preview (the most affected first).
ROWS_SHOWN = 12


@dataclass(frozen=True)
class Outcome:
    """One solve: its summary and trades (``error`` set instead when the engine refused)."""

    trade_count: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_code: str = ""
    error: str = ""

    @property
    def estimated_tax(self) -> float:
        return float(self.summary.get("estimated_tax") or 0)

    @property
    def turnover(self) -> float:
        return float(self.summary.get("turnover") or 0)

    def trade_keys(self) -> frozenset[tuple[str, str, float]]:
        return frozenset((t["symbol"], t["side"], round(t["quantity"], 2)) for t in self.trades)


@dataclass(frozen=True)
class AccountPreview:
    """An account under its current parameters and under the candidate overrides."""

    account_id: int
    overrides: dict[str, Any]
    current: Outcome
    candidate: Outcome


@dataclass(frozen=True)
class SampleRow:
    account_id: int
    custodian_number: str
    name: str
    before: Outcome
    after: Outcome

    @property
    def changed(self) -> bool:
        return self.before.error != self.after.error or self.before.trade_keys() != self.after.trade_keys()


@dataclass(frozen=True)
class ChangePreview:
    """What a template or model change does to a sample of the accounts it governs."""

    accounts_total: int  # accounts the change applies to (that the user may see)
    sampled: int
    changed: int  # sampled accounts whose proposed trades differ
    trading_before: int
    trading_after: int
    estimated_tax_before: float  # summed over the sample
    estimated_tax_after: float
    turnover_before: float  # mean over the sample
    turnover_after: float
    failures_after: int
    rows: list[SampleRow]  # the most affected sampled accounts
    problems: list[str] = field(default_factory=list)  # why some accounts could not be previewed

    @property
    def extra_tax(self) -> float:
        return self.estimated_tax_after - self.estimated_tax_before

    @property
    def extra_tax_extrapolated(self) -> float:
        """The sample's extra tax scaled to every account the change applies to."""
        return self.extra_tax * self.accounts_total / self.sampled if self.sampled else 0.0

    @property
    def changed_extrapolated(self) -> int:
        return round(self.changed * self.accounts_total / self.sampled) if self.sampled else 0


def _today() -> date:
    return timezone.localdate()


def _solve(request: engine.RebalanceRequest) -> Outcome:
    try:
        result = engine.rebalance(request)
    except engine.EngineError as exc:
        return Outcome(error_code=exc.code, error=exc.message)
    data = engine.result_to_dict(result)
    return Outcome(trade_count=result.summary.trade_count, summary=data["summary"], trades=data["trades"],
                   warnings=list(result.warnings))


def _failed(inputs: AccountInputs) -> Outcome:
    return Outcome(error_code=inputs.error.code, error=inputs.error.message)


def _with_parameters(request: engine.RebalanceRequest, values: dict[str, Any]) -> engine.RebalanceRequest:
    """The loaded request under other parameter values, keeping the wash-sale equivalence groups
    the loader derived from the security master."""
    groups = [list(g) for g in request.parameters.wash_sale.equivalent_groups]
    if groups:
        values = engine.merge_parameter_dicts(values, {"wash_sale": {"equivalent_groups": groups}})
    return dataclasses.replace(request, parameters=engine.Parameters.from_dict(values))


def account_overrides_preview(*, account: Account, overrides: dict[str, Any], user,
                              as_of: date | None = None) -> AccountPreview:
    """The account's proposal under its current parameters and under ``overrides`` (replacing its
    own overrides), refusing what saving would refuse. Stores nothing."""
    require(user, Capability.EDIT_PARAMETERS)
    account = (accounts_visible_to(user).select_related("household__template", "template")
               .filter(pk=account.pk).first())
    if account is None:
        raise NotFound("No such account.")
    template = account.governing_template
    overrides_validate(overrides=overrides, template=template, level="account")
    [inputs] = rebalance_inputs_load([account.pk], as_of=as_of or _today())
    if inputs.error is not None:
        raise inputs.error
    values = parameters_effective(template=template, household_overrides=account.household.overrides,
                                  account_overrides=overrides).values
    return AccountPreview(account_id=account.pk, overrides=overrides, current=_solve(inputs.request),
                          candidate=_solve(_with_parameters(inputs.request, values)))


def _sample_ids(ids: list[int], sample: int) -> list[int]:
    """``sample`` ids spread evenly over the book (not just the oldest accounts)."""
    if len(ids) <= sample:
        return ids
    step = len(ids) / sample
    return [ids[int(i * step)] for i in range(sample)]


def _change_preview(accounts_qs, sample: int, as_of: date, after) -> ChangePreview:
    ids = list(accounts_qs.filter(model__isnull=False).order_by("pk").values_list("pk", flat=True))
    chosen = _sample_ids(ids, sample)
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=chosen).select_related("household", "template")}
    rows: list[SampleRow] = []
    problems: list[str] = []
    for inputs in rebalance_inputs_load(chosen, as_of=as_of):
        account = accounts[inputs.account_id]
        if inputs.error is not None:
            before = after_outcome = _failed(inputs)
        else:
            before = _solve(inputs.request)
            try:
                after_outcome = _solve(after(account, inputs.request))
            except (ValidationFailed, engine.InvalidRequest) as exc:
                after_outcome = Outcome(error_code=getattr(exc, "code", "invalid"), error=exc.message)
        if after_outcome.error and after_outcome.error not in problems:
            problems.append(after_outcome.error)
        rows.append(SampleRow(account.pk, account.custodian_number, account.name, before, after_outcome))
    ok = [r for r in rows if not r.before.error and not r.after.error]
    n = len(rows)
    rows.sort(key=lambda r: (not r.changed, -abs(r.after.estimated_tax - r.before.estimated_tax),
                             -abs(r.after.turnover - r.before.turnover)))
    return ChangePreview(
        accounts_total=len(ids),
        sampled=n,
        changed=sum(r.changed for r in rows),
        trading_before=sum(r.before.trade_count > 0 for r in rows),
        trading_after=sum(r.after.trade_count > 0 for r in rows),
        estimated_tax_before=sum(r.before.estimated_tax for r in ok),
        estimated_tax_after=sum(r.after.estimated_tax for r in ok),
        turnover_before=sum(r.before.turnover for r in ok) / len(ok) if ok else 0.0,
        turnover_after=sum(r.after.turnover for r in ok) / len(ok) if ok else 0.0,
        failures_after=sum(bool(r.after.error) for r in rows),
        rows=rows[:ROWS_SHOWN],
        problems=problems[:5],
    )


def template_change_preview(*, template: ParameterTemplate, parameters: dict[str, Any], user, sample: int = 50,
                            as_of: date | None = None) -> ChangePreview:
    """What saving ``parameters`` on ``template`` would do to up to ``sample`` of its accounts:
    how many would trade differently, the turnover and the estimated tax, before and after."""
    require(user, Capability.MANAGE_MODELS)
    try:
        engine.Parameters.from_dict(parameters)
    except engine.InvalidRequest as exc:
        raise ValidationFailed(f"Template parameters: {exc.message}", detail={"field": "parameters"}) from None
    candidate = SimpleNamespace(code=template.code, parameters=parameters)

    def after(account: Account, request: engine.RebalanceRequest) -> engine.RebalanceRequest:
        values = parameters_effective(template=candidate, household_overrides=account.household.overrides,
                                      account_overrides=account.overrides).values
        return _with_parameters(request, values)

    governed = accounts_visible_to(user).governed_by(template)
    return _change_preview(governed, sample, as_of or _today(), after)


def _latest_prices(symbols: set[str], as_of: date) -> dict[str, float]:
    rows = Price.objects.filter(security__symbol__in=symbols).latest_on(as_of).values_list("security__symbol", "close")
    return {symbol: float(close) for symbol, close in rows}


def _benchmark(code: str, as_of: date) -> engine.Benchmark:
    benchmark = Benchmark.objects.filter(code=code).first()
    if benchmark is None:
        raise ValidationFailed(f"unknown benchmark {code!r}")
    latest = (BenchmarkWeight.objects.filter(benchmark=benchmark, date__lte=as_of)
              .order_by("-date").values_list("date", flat=True).first())
    weights = dict(BenchmarkWeight.objects.filter(benchmark=benchmark, date=latest)
                   .values_list("security__symbol", "weight")) if latest else {}
    if not weights:
        raise ValidationFailed(f"benchmark {code} has no constituent weights on or before {as_of}")
    total = float(sum(weights.values()))
    return engine.Benchmark(name=code, constituents={s: float(w) / total for s, w in weights.items()})


def _flatten(specs, as_of: date, depth: int = 0) -> list[tuple[str, float, dict[str, float], str | None]]:
    """(asset class, weight, holdings, benchmark code) per sleeve, submodels scaled into their parent."""
    if depth > 8:
        raise ValidationFailed("models nest more than 8 levels deep")
    out = []
    for s in specs:
        if s.kind == Sleeve.Kind.SUBMODEL:
            sub = ModelPortfolio.objects.filter(code=s.submodel).first()
            version = sub.current_version if sub else None
            if version is None:
                raise ValidationFailed(f"sleeve {s.asset_class} names no valid submodel")
            inner = [SimpleNamespace(asset_class=x.asset_class, weight=x.weight, kind=x.kind,
                                     holdings={h.security.symbol: h.weight for h in x.holdings.all()},
                                     benchmark=x.benchmark.code if x.benchmark else None,
                                     submodel=x.submodel.code if x.submodel else None)
                     for x in version.sleeves.select_related("benchmark", "submodel").prefetch_related("holdings__security")]
            out += [(a, float(s.weight) * w, h, b) for a, w, h, b in _flatten(inner, as_of, depth + 1)]
        else:
            out.append((s.asset_class, float(s.weight), {k: float(v) for k, v in s.holdings.items()}, s.benchmark))
    return out


def model_change_preview(*, model: ModelPortfolio, sleeves: list, user, sample: int = 50,
                         as_of: date | None = None) -> ChangePreview:
    """What a new version of ``model`` with ``sleeves`` (``SleeveSpec``s) would do to up to
    ``sample`` of the accounts on it: trades, turnover and estimated tax, before and after."""
    require(user, Capability.MANAGE_MODELS)
    as_of = as_of or _today()
    flat = _flatten(sleeves, as_of)
    symbols = {sym for _, _, holdings, _ in flat for sym in holdings}
    masters = {s.symbol: s for s in Security.objects.filter(symbol__in=symbols)}
    unknown = sorted(symbols - set(masters))
    if unknown:
        raise ValidationFailed(f"unknown symbol(s): {', '.join(unknown)}")
    prices = _latest_prices(symbols, as_of)
    unpriced = sorted(symbols - set(prices))
    if unpriced:
        raise ValidationFailed(f"no price on or before {as_of} for {', '.join(unpriced)}")
    benchmarks = {code: _benchmark(code, as_of) for *_, code in flat if code}
    bench_symbols = {sym for b in benchmarks.values() for sym in b.constituents}
    extra_masters = {s.symbol: s for s in Security.objects.filter(symbol__in=bench_symbols - set(masters))}
    masters |= extra_masters
    prices |= _latest_prices(set(extra_masters), as_of)
    merged: dict[str, dict[str, Any]] = {}
    for asset_class, weight, holdings, code in flat:
        entry = merged.setdefault(asset_class, {"weight": 0.0, "holdings": {}, "benchmark": None})
        entry["weight"] += weight
        for sym, w in holdings.items():
            entry["holdings"][sym] = entry["holdings"].get(sym, 0.0) + w * weight
        entry["benchmark"] = benchmarks.get(code) if code else entry["benchmark"]
    engine_sleeves = []
    for asset_class, entry in merged.items():
        total = sum(entry["holdings"].values())
        engine_sleeves.append(engine.Sleeve(
            asset_class=asset_class, weight=entry["weight"],
            holdings={s: w / total for s, w in entry["holdings"].items()} if total else {},
            benchmark=entry["benchmark"],
        ))
    new_model = engine.Model(name=model.code, sleeves=tuple(engine_sleeves))

    def security(symbol: str) -> engine.Security:
        s = masters[symbol]
        return engine.Security(symbol=symbol, price=prices[symbol], asset_class=s.asset_class, sector=s.sector or None,
                               tags=tuple(s.tags or ()), esg_score=s.esg_score, fractional=s.fractional)

    needed = symbols | {sym for b in benchmarks.values() for sym in b.constituents if sym in prices}

    def after(account: Account, request: engine.RebalanceRequest) -> engine.RebalanceRequest:
        have = {s.symbol for s in request.securities}
        added = tuple(security(sym) for sym in sorted(needed - have))
        return dataclasses.replace(request, model=new_model, securities=request.securities + added)

    return _change_preview(accounts_visible_to(user).filter(model=model), sample, as_of, after)


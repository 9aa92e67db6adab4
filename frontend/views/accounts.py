"""Accounts: the filterable list, and one account's holdings, lots, parameters and what-if."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.http import require_POST

from frontend.parameter_forms import (
    FIELDS,
    BoundField,
    group_fields,
    parse_fields,
    rows_as_typed,
    vocabulary_options,
)
from frontend.selectors import (
    LotRow,
    Position,
    SleeveView,
    account_latest_outcome,
    account_stats,
    accounts_with_latest,
    drift_measured,
    holdings_by_sleeve,
    lots_with_gains,
    open_alerts,
)
from rebalancing import engine
from rebalancing.access import accounts_visible_to, proposals_visible_to, with_advisors
from rebalancing.effective_parameters import (
    flatten_parameters,
    override_limits,
    overrides_after_edit,
    parameters_effective,
)
from rebalancing.engine.harvest import loss_candidates
from rebalancing.engine.parameters import HarvestParams
from rebalancing.engine.positions import build_book
from rebalancing.engine.tax import term as engine_term
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.models import (
    Account,
    Alert,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Price,
    Proposal,
    RebalanceRun,
    RunOutcome,
    Security,
    TaxLot,
)
from rebalancing.parameter_labels import settings_in_words
from rebalancing.selectors import RunScope, account_parameters
from rebalancing.services.account_instructions import account_instruct, instruction_replaces, one_off_actions
from rebalancing.services.assignments import superseded_words
from rebalancing.services.previews import account_overrides_preview, account_overrides_save
from rebalancing.services.proposals import OPEN
from rebalancing.services.rmd import rmd_open_for_account
from rebalancing.services.row_edits import account_facts_as_typed, account_facts_edit
from rebalancing.services.runs import accounts_held_back, run_start
from tenants.errors import DomainError
from tenants.permissions import Capability, is_advisor_only, user_can
from tenants.roles import FirmRole

from ..filters import AccountListFilter
from .common import (
    firm_page,
    is_htmx,
    keep_posted,
    paginate,
    parameter_refusal,
    posted_kept,
    visible_or_404,
    warn_unknown_symbols,
)
from .proposals import MAX_INSTRUCTION_ROWS, instructions_posted, tracking_with_cash
from .securities import row_fields, row_words


@firm_page(Capability.VIEW_BOOK)
def account_list(request):
    user, get = request.user, request.GET
    listed = AccountListFilter(get, queryset=accounts_with_latest(user), request=request)
    qs = listed.qs
    sort = get.get("sort", "number")
    attention = get.get("attention", "")
    page = paginate(request, qs)
    page_stats = account_stats([a.pk for a in page])
    rows = []
    for account in page:
        s = page_stats.get(account.pk)
        value = (s.securities_value if s else 0.0) + float(account.cash)
        rows.append({"account": account, "value": value, "cash_pct": float(account.cash) / value if value else None,
                     "gain": s.unrealised_gain if s else 0.0, "loss": s.unrealised_loss if s else 0.0,
                     "unpriced": s.unpriced if s else (),
                     "template": account.governing_template})
    advisors = []
    if not is_advisor_only(user):
        advisors = get_user_model().objects.filter(groups__name=FirmRole.ADVISOR).order_by("first_name", "username")
    return render(request, "frontend/account_list.html", {
        "page": page, "rows": rows, "advisors": advisors, "filtered": listed.filtered,
        "models": ModelPortfolio.objects.order_by("name"), "templates": ParameterTemplate.objects.order_by("name"),
        "total": accounts_visible_to(user).count(), "sort": sort, "attention": attention,
        "alert_kinds": Alert.Kind.choices,
    })


def _vocabularies() -> dict[str, list[str]]:
    sectors = sorted(s for s in Security.objects.exclude(sector="").values_list("sector", flat=True).distinct() if s)
    classes = sorted(Security.objects.values_list("asset_class", flat=True).distinct())
    tags = sorted({t for tags in Security.objects.exclude(tags=[]).values_list("tags", flat=True) for t in tags or ()})
    return {"sectors": sectors, "tags": tags, "asset_classes": classes}


def _override_fields(account, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                     typed=None):
    """The leaves this account may override (all of them without a template), bound to their
    current (or submitted) values, the inherited values and the template's limits."""
    template = account.governing_template
    overridable = template.overridable if template else None
    # The form edits the account's own layers: the firm's harvest substitutes fill in below them and
    # the firm's restricted list binds above them (either would otherwise be saved into the account's
    # overrides when the form is sent back unchanged).
    effective = account_parameters(account, firm_substitutes={}, firm_restrictions={})
    inherited = parameters_effective(template=template, household_overrides=account.household.overrides,
                                     account_overrides=None)
    vocab = _vocabularies()
    # A refused form's row tables as typed: a row that could not be read is missing from ``values``
    # and would come back as stored, the edit lost.
    rows = rows_as_typed(typed, FIELDS) if typed is not None else {}
    bound = []
    for f in FIELDS:
        limits = override_limits(f.path, overridable) if overridable is not None else {}
        if limits is None:
            continue
        current = effective.value_at(f.path)
        value = rows[f.path] if f.path in rows else values[f.path] if values and f.path in values else current
        options = vocabulary_options(vocab[f.vocabulary], value) if f.vocabulary else None
        bound.append(BoundField(f, value, inherited=inherited.value_at(f.path),
                                source=effective.source_of(f.path), limits=limits,
                                error=(errors or {}).get(f.path, ""), options=options))
    return bound


def _overrides_from(account, bound: list[BoundField], submitted: dict[str, Any]) -> dict[str, Any]:
    inherited = parameters_effective(template=account.governing_template,
                                     household_overrides=account.household.overrides, account_overrides=None)
    return overrides_after_edit(overrides=account.overrides, inherited=inherited, submitted=submitted,
                                shown=[b.field.path for b in bound])


@dataclass
class _UnpricedPosition(Position):
    """A held security without a price: listed, not valued (no weight, no drift)."""

    @property
    def drift(self) -> None:
        return None


@dataclass
class _UnpricedLot(LotRow):
    @property
    def gain(self) -> None:
        return None

    @property
    def gain_pct(self) -> None:
        return None


@dataclass(frozen=True)
class _Holdings:
    sleeves: list
    total: float
    lots: list
    lot_totals: dict
    unpriced: tuple[str, ...] = ()  # held symbols without a price: in no figure
    targets_known: bool = True


def _holdings_priced_apart(account, as_of, targets: dict[str, float] | None, names: dict[str, str]) -> _Holdings:
    """The holdings and lots when the engine's request could not be built (a held security without
    a price, a model without a version...): every lot from the ledger at the latest prices, the
    securities without one listed and flagged but left out of every figure, so one missing price
    does not empty the page. Targets only from a proposal (``_targets_proposal``: the model's need the request)."""
    held = list(TaxLot.objects.filter(account=account).select_related("security")
                .order_by("security__symbol", "acquired", "lot_id"))
    symbols = {lot.security.symbol for lot in held} | {s for s in (targets or {}) if s != engine.CASH_KEY}
    masters = {s.symbol: s for s in Security.objects.filter(symbol__in=symbols)}
    prices = {sid: float(close) for sid, close in Price.objects.latest_on(as_of).filter(
        security_id__in=[s.pk for s in masters.values()]).values_list("security_id", "close") if close > 0}
    securities = [engine.Security(symbol=s.symbol, price=prices[s.pk], asset_class=s.asset_class)
                  for s in masters.values() if s.pk in prices]
    priced = [engine.TaxLot(id=lot.lot_id, symbol=lot.security.symbol, quantity=float(lot.quantity),
                            cost_basis=float(lot.cost_basis), acquired=lot.acquired)
              for lot in held if lot.security_id in prices]
    # The page's two selectors read only these parts of a request; a model without sleeves groups
    # the holdings by their asset class.
    standin = SimpleNamespace(securities=securities, as_of=as_of, model=SimpleNamespace(sleeves=()),
                              account=SimpleNamespace(lots=priced, cash=float(account.cash)))
    sleeves, total, _ = holdings_by_sleeve(standin, dict(targets or {}), names)
    lots, lot_totals = lots_with_gains(standin, account)
    unpriced = sorted({lot.security.symbol for lot in held if lot.security_id not in prices})
    by_class = {s.asset_class: s for s in sleeves}
    for symbol in unpriced:
        security = masters[symbol]
        view = by_class.get(security.asset_class)
        if view is None:
            view = by_class[security.asset_class] = SleeveView(security.asset_class)
            sleeves.insert(len(sleeves) - 1, view)  # before the cash
        view.positions = [p for p in view.positions if p.symbol != symbol]
        view.positions.insert(0, _UnpricedPosition(symbol, names.get(symbol, ""), None, None,
                                                   float((targets or {}).get(symbol, 0.0))))
    for lot in held:
        if lot.security_id not in prices:
            lots.append(_UnpricedLot(lot.lot_id, lot.security.symbol, lot.acquired, float(lot.quantity),
                                     float(lot.cost_basis), None, engine_term(lot.acquired, as_of)))
    return _Holdings(sleeves, total, lots, lot_totals, tuple(unpriced), targets_known=targets is not None)


@dataclass(frozen=True)
class _Harvestable:
    """The unrealised losses past the harvest thresholds: not every losing lot, only those the
    engine's own test (``engine.harvest.loss_candidates``) passes - the account's thresholds, or the
    engine's defaults when harvesting is off, as its harvest alerts measure them."""

    amount: float  # negative, as the page shows losses
    positions: int
    enabled: bool
    min_loss_value: float
    min_loss_pct: float
    symbols: tuple[str, ...] = ()  # the positions counted


def _harvestable(account, request) -> _Harvestable | None:
    """None where nothing is harvested (an IRA or Roth: the engine harvests taxable accounts only)
    or the engine's request could not be built."""
    if request is None or not account.taxable or not request.account.lots:
        return None
    params = request.parameters.harvest
    thresholds = params or HarvestParams()
    book = build_book(request, {s.symbol: s for s in request.securities}, ())
    passing = loss_candidates(book, thresholds)
    symbols = tuple(sorted({book.symbols[i] for i in book.lot_sec[passing].tolist()}))
    return _Harvestable(float(book.lot_gain[passing].sum()), len(symbols),
                        params is not None, thresholds.min_loss_value, thresholds.min_loss_pct, symbols)


@dataclass(frozen=True)
class _HarvestApart:
    """Why the open harvest alert counts less than the page: the alert is its run's - the losses the
    engine left unharvested that day, at that day's prices, those its proposal sells left out
    (engine.limits._harvest_alerts) - while the page counts every position past the thresholds now."""

    alert: Alert
    sold: tuple[str, ...]  # positions the page counts that the latest proposal, not yet executed, sells
    proposal: Proposal | None


def _harvest_apart(harvestable: _Harvestable | None, alerts: list[Alert], latest) -> _HarvestApart | None:
    alert = next((a for a in alerts if a.kind == Alert.Kind.HARVEST), None)
    if harvestable is None or alert is None or alert.amount is None:
        return None
    if abs(abs(float(alert.amount)) - abs(harvestable.amount)) < 0.5:
        return None  # they agree (to the dollar the page shows)
    sold: tuple[str, ...] = ()
    waiting = (Proposal.Status.DRAFT, Proposal.Status.PENDING, Proposal.Status.APPROVED, Proposal.Status.RELEASED)
    if latest is not None and latest.status in waiting and isinstance(latest.result, dict):
        selling = {t.get("symbol") for t in latest.result.get("trades") or () if t.get("side") == "sell"}
        sold = tuple(s for s in harvestable.symbols if s in selling)
    return _HarvestApart(alert, sold, latest if sold else None)


@dataclass(frozen=True)
class _Drift:
    """The headline drift: the latest proposal's, until its trades executed; then what they left."""

    value: float | None
    executed: bool = False  # measured now, after the latest proposal's trades
    measured: bool = False  # from the holdings at today's prices (else the proposal's drift after)


def _drift(latest, sleeves, targets_known: bool) -> _Drift | None:
    if latest is None or latest.run.kind == RebalanceRun.Kind.CASH_FLOW:
        return None
    if latest.status != Proposal.Status.EXECUTED:
        return _Drift(latest.drift_before)
    now = drift_measured(sleeves) if targets_known else None
    return _Drift(latest.drift_after if now is None else now, executed=True, measured=now is not None)


def _failed_after(account, latest) -> RunOutcome | None:
    """The account's latest run's outcome when it failed, after the latest proposal's run (or with
    none): the page's proposal is then older than what the engine last tried."""
    outcome = account_latest_outcome(account)
    if outcome is None or outcome.outcome != RunOutcome.Outcome.FAILED:
        return None
    return outcome if latest is None or outcome.run_id > latest.run_id else None


# Proposals the account is no longer aimed at: their targets (a one-off instruction's among them) are not
# the account's, so the page's "target" column never reads them.
_NOT_AIMED_AT = (Proposal.Status.REJECTED, Proposal.Status.EXPIRED, Proposal.Status.SUPERSEDED)


def _targets_proposal(user, account, inputs) -> Proposal | None:
    """The proposal whose targets the holdings are shown against (``holdings_by_sleeve``): the latest
    one still standing - open, released or executed - made to the account's current model version;
    None (the model's weights are shown) when there is none."""
    if inputs.request is not None:
        version_id = inputs.model_version_id
    else:  # the request could not be built: the model's current version, read apart
        version_id = (ModelVersion.objects.filter(model_id=account.managed_model_id).order_by("-number")
                      .values_list("pk", flat=True).first()) if account.managed_model_id else None
    standing = proposals_visible_to(user).filter(account=account).exclude(status__in=_NOT_AIMED_AT)
    if version_id is not None:
        standing = standing.filter(model_version_id=version_id)
    return standing.order_by("-created_at", "-pk").first()


def _account_context(request, account, *, form_values=None, form_errors=None, form_message="", form_typed=None):
    user = request.user
    as_of = timezone.localdate()
    [inputs] = rebalance_inputs_load([account.pk], as_of=as_of)
    latest = (proposals_visible_to(user).filter(account=account).select_related("run", "risk_model_version")
              .order_by("-created_at").first())
    names = dict(Security.objects.values_list("symbol", "name"))
    aimed = _targets_proposal(user, account, inputs)
    targets = aimed.result.get("targets") if aimed and isinstance(aimed.result, dict) else None
    if inputs.request is not None:
        sleeves, total, _ = holdings_by_sleeve(inputs.request, targets or None, names)
        lots, lot_totals = lots_with_gains(inputs.request, account)
        holdings = _Holdings(sleeves, total, lots, lot_totals)
    else:
        holdings = _holdings_priced_apart(account, as_of, targets or None, names)
    sleeves, total, lots, lot_totals = holdings.sleeves, holdings.total, holdings.lots, holdings.lot_totals
    effective = account_parameters(account)
    leaves = [(p, v, s) for p, v, s in effective.leaves()]
    can_edit = user_can(user, Capability.EDIT_PARAMETERS)
    bound = _override_fields(account, form_values, form_errors, form_typed) if can_edit else []
    giving_way = _giving_way(user, account) if can_edit else []
    lots.sort(key=lambda r: (r.gain is None, r.gain or 0.0))  # largest losses first, the unvalued last
    lot_page = paginate(request, lots, per_page=20, param="lots_page")
    labels = [s.asset_class.replace("_", " ") for s in sleeves]
    chart = {"kind": "bar", "unit": "%", "labels": labels, "series": [
        {"label": "Now", "data": [round(s.weight * 100, 2) for s in sleeves], "color": "#1f5fbf"},
        *([{"label": "Target", "data": [round(s.target * 100, 2) for s in sleeves], "color": "#9aa5b4"}]
          if holdings.targets_known else []),
    ]}
    drift_chart = {"kind": "bar", "unit": " pts", "horizontal": True, "labels": labels, "series": [
        {"label": "Drift (now − target)", "data": [round(s.drift * 100, 2) for s in sleeves], "color": "#c98a00"},
    ]}
    ytd_short, ytd_long = account.realised_ytd(as_of.year)
    alerts = list(open_alerts(user).filter(account=account).order_by("-created_at")[:10])
    # What each alert's run proposed for the account (to open), and for a loss worth harvesting the
    # one-off harvest (services.account_instructions) when the user may run and the account can.
    proposed = {p.run_id: p for p in proposals_visible_to(user).filter(
        account=account, run_id__in={a.run_id for a in alerts if a.run_id})}
    can_harvest = user_can(user, Capability.RUN_REBALANCE) and "harvest" in one_off_actions(account)
    harvestable = _harvestable(account, inputs.request)
    return {
        "account": account, "inputs": inputs, "latest": latest, "targets_from": aimed, "sleeves": sleeves, "total": total,
        "unpriced": holdings.unpriced, "targets_known": holdings.targets_known,
        "unpriced_lots": sum(1 for r in lots if r.value is None),
        # This tax year's only (Account.realised_ytd): what every estimate of the year nets against.
        "realised_ytd": {"year": as_of.year, "short": ytd_short, "long": ytd_long} if account.taxable else None,
        "te_cash": tracking_with_cash(latest.result.get("summary") or {})
        if latest and isinstance(latest.result, dict) else [],
        "lot_page": lot_page, "lot_totals": lot_totals, "lot_count": len(lots),
        "harvestable": harvestable, "harvest_apart": _harvest_apart(harvestable, alerts, latest),
        "drift": _drift(latest, sleeves, holdings.targets_known), "failed_run": _failed_after(account, latest),
        "leaves": leaves, "groups": group_fields(bound), "can_edit": can_edit and bool(bound),
        "form_errors": form_errors or {}, "form_message": form_message, "chart": chart, "drift_chart": drift_chart,
        "template": account.governing_template,
        "template_governing": template_governing(account),
        "can_edit_facts": user_can(user, Capability.IMPORT_DATA),
        "proposals": proposals_visible_to(user).filter(account=account).select_related("run").order_by("-created_at")[:10],
        "alerts": [(a, proposed.get(a.run_id), can_harvest and a.kind == Alert.Kind.HARVEST) for a in alerts],
        "alert_kinds": Alert.Kind,
        "can_run": user_can(user, Capability.RUN_REBALANCE),
        "parameters_supersede": giving_way,
        "parameters_supersede_approved": any(p.status == Proposal.Status.APPROVED for p in giving_way),
        **_instruct_kept(request, account),
        "rmds": rmd_open_for_account(account, as_of=as_of) if account.tax_status == Account.TaxStatus.TRADITIONAL
        else [],
    }


def _giving_way(user, account) -> list[Proposal]:
    """The open proposals a change of the account's parameters supersedes (``account_overrides_set``:
    pending approval, or approved not yet released; a withdrawal's or RMD's sales wait for their
    decision), said before saving as the message after says how many gave way."""
    return list(proposals_visible_to(user).filter(account=account, status__in=OPEN)
                .exclude(run__kind=RebalanceRun.Kind.CASH_FLOW).order_by("pk"))


def _instruct_kept(request, account) -> dict:
    """The one-off instruction form: its rows as refused (one empty row when none) and its words."""
    posted = posted_kept(request, f"instruct-{account.pk}")
    columns = [posted.getlist(name) for name in ("ins_action", "ins_symbol", "ins_buy", "ins_amount")]
    rows = [dict(zip(("action", "symbol", "buy", "amount"), row, strict=True))
            for row in zip(*columns, strict=False)][:MAX_INSTRUCTION_ROWS]
    replaces = list(instruction_replaces(account))
    return {"instruct_rows": rows or [{}], "instruct_actions": one_off_actions(account),
            "max_instruction_rows": MAX_INSTRUCTION_ROWS, "instruct_refusal": posted.refusal,
            # Said before the instruction is given: its proposal supersedes these (the message after says it again).
            "instruct_replaces": (f"{capfirst(_proposals_named(replaces, account))} "
                                  f"{'is' if len(replaces) == 1 else 'are'} pending approval; a new instruction "
                                  f"replaces {'it' if len(replaces) == 1 else 'them'}.") if replaces else ""}


def _proposals_named(proposals, account) -> str:
    """"proposal #186", "proposals #186 and #190 of F-002": another account's named (an account solved
    with its household replaces its household's proposals too)."""
    names = [f"#{p.pk}" + ("" if p.account_id == account.pk else f" of {p.account.custodian_number}") for p in proposals]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"proposal{'s' if len(names) != 1 else ''} {listed}"


def _replaced_words(proposal, account) -> str:
    """What the instruction's message adds about the proposals its proposal superseded (nothing when none)."""
    replaced = getattr(proposal, "superseded", [])
    if not replaced:
        return ""
    # Only proposals pending approval are replaced (``instruction_replaces``); they are superseded now.
    return (f"; it replaces {_proposals_named(replaced, account)} (pending approval), which "
            f"{'is' if len(replaced) == 1 else 'are'} superseded")


def _account(request, pk):
    return visible_or_404(with_advisors(accounts_visible_to(request.user), "household__").with_governing_template()
                         .select_related("household__model", "model"), pk=pk)


@firm_page(Capability.VIEW_BOOK, post=Capability.EDIT_PARAMETERS)
def account_detail(request, pk: int):
    account = _account(request, pk)
    if request.method == "POST":
        bound = _override_fields(account)
        submitted, errors = parse_fields(request.POST, bound)  # within the template's limits, as the hints say
        if not errors:
            overrides = _overrides_from(account, bound, submitted)
            try:
                saved = account_overrides_save(account=account, overrides=overrides, user=request.user)
            except DomainError as exc:
                message, beside = parameter_refusal(exc, [b.field.path for b in bound])  # said once, in words
                context = _account_context(request, account, form_values=submitted, form_errors=beside,
                                           form_message=message, form_typed=request.POST)
                return render(request, "frontend/account_detail.html", context, status=400)
            messages.success(request, "Parameters saved. The next run uses them."
                             + superseded_words(getattr(saved, "superseded", 0)))
            warn_unknown_symbols(request, overrides)
            return redirect(f"{request.path}#parameters")
        context = _account_context(request, account, form_values=submitted, form_errors=errors,
                                   form_message="Some values could not be read; see the fields marked below.",
                                   form_typed=request.POST)
        return render(request, "frontend/account_detail.html", context, status=400)
    if is_htmx(request) and request.GET.get("lots_page"):
        return render(request, "frontend/partials/lots.html", _account_context(request, account))
    return render(request, "frontend/account_detail.html", _account_context(request, account))


@firm_page(Capability.EDIT_PARAMETERS)
@require_POST
def account_preview(request, pk: int):
    """The what-if: the account's proposal now, and with the overrides in the form (htmx fragment)."""
    account = _account(request, pk)
    bound = _override_fields(account)
    # The setting's own range only: the template's limits are the preview's "would be refused".
    submitted, errors = parse_fields(request.POST, [b.field for b in bound])
    context: dict[str, Any] = {"account": account, "errors": errors}
    if not errors:
        overrides = _overrides_from(account, bound, submitted)
        context["overrides"] = flatten_parameters(overrides)
        try:
            context["preview"] = account_overrides_preview(account=account, overrides=overrides, user=request.user)
        except DomainError as exc:
            # A setting by the page's label, not its code ("cash.target" -> "Cash: target ...").
            context["problem"] = settings_in_words(exc.message)
    return render(request, "frontend/partials/account_preview.html", context)


def _held_back_words(account: Account) -> str:
    """Why a run would leave ``account`` as it is, naming the proposal it waits on ("" if it would not)."""
    held = accounts_held_back({account.pk: account.household_id}).get(account.pk)
    if held is None:
        return ""
    waiting = Proposal.objects.filter(account_id=held.because_of)
    if held.code == "orders_open":
        waiting = waiting.filter(status=Proposal.Status.RELEASED)
    else:
        waiting = waiting.filter(status__in=OPEN, run__kind=RebalanceRun.Kind.CASH_FLOW)
    proposal = waiting.select_related("account").order_by("-pk").first()
    named = ""
    if proposal is not None:
        named = f" (proposal #{proposal.pk}" + (f", of account {proposal.account.custodian_number}"
                                                if proposal.account_id != account.pk else "") + ")"
    return f"Account {account.custodian_number} is {held.message}{named}. No run was started."


@firm_page(Capability.RUN_REBALANCE)
@require_POST
def account_rebalance(request, pk: int):
    """Start a run over this one account (portfolio managers and firm admins). An account a run
    would leave as it is (a withdrawal's or RMD's sales waiting for a decision, released orders
    still open: ``accounts_held_back``, what the run asks) is refused at once, in the run's words
    and naming the proposal that holds it, rather than started to do nothing."""
    account = _account(request, pk)
    held = _held_back_words(account)
    if held:
        messages.error(request, held)
        return redirect("account_detail", pk=account.pk)
    try:
        run = run_start(scope=RunScope(account_ids=(account.pk,)), user=request.user)
    except DomainError as exc:
        messages.error(request, f"{exc.message} No run was started.")
        return redirect("account_detail", pk=account.pk)
    messages.success(request, f"Run {run.pk} started for account {account.custodian_number}.")
    return redirect("run_detail", pk=run.pk)


@firm_page(Capability.RUN_REBALANCE)
@require_POST
def account_instruct_view(request, pk: int):
    """A one-off instruction, solved now as a proposal (``services.account_instructions``)."""
    account = _account(request, pk)
    try:
        instructions = [i for _, _, i in instructions_posted(request.POST)]
        proposal = account_instruct(account=account, instructions=instructions, by=request.user)
    except (ValueError, DomainError) as exc:
        # The rows come back as entered, with the refusal inside the form: the page reopens at the
        # form, far below the messages at the top, where the refusal was out of sight.
        keep_posted(request, f"instruct-{pk}", exc)
        return redirect(f"{reverse('account_detail', args=[pk])}#instruct")
    state = "approved within the firm's limits" if proposal.status == proposal.Status.APPROVED \
        else "it waits for approval"
    messages.success(request, f"Proposal #{proposal.pk}: {'; '.join(proposal.revision['changes'])} "
                              f"({proposal.trade_count} trades, {state}){_replaced_words(proposal, account)}. "
                              "The account's parameters are unchanged.")
    return redirect("proposal_detail", pk=proposal.pk)


def template_governing(account) -> dict:
    """Which template governs the account and why (``Account.governing_template``, the rule's one
    home: its own, else its household's), in words for its page."""
    template, own = account.governing_template, account.template
    household = account.household.name
    if template is None:
        words = (f"No template governs this account: neither it nor its household {household} has one, so the "
                 "engine's defaults apply.")
        return {"template": None, "source": None, "words": words}
    if own is not None:
        beside = account.household.template
        under = (f"; it overrides its household {household}'s template {beside.name}" if beside is not None
                 else f"; its household {household} has none")
        return {"template": template, "source": "account",
                "words": f"Template {template.name} governs this account: assigned to the account itself{under}."}
    return {"template": template, "source": "household",
            "words": f"Template {template.name} governs this account: its household {household}'s template (the "
                     "account has none of its own)."}


def _facts_fields() -> tuple:
    """The accounts file's columns as the facts form's fields (label, hint, kind, choices)."""
    none = [("", "none")]
    models_ = none + list(ModelPortfolio.objects.order_by("code").values_list("code", "name"))
    templates = [("", "none: its household's governs")] + list(
        ParameterTemplate.objects.order_by("code").values_list("code", "name"))
    return (
        ("account_name", "Name", "", "text"),
        ("household_id", "Household (its id)", "Moving the account to another household matches its wash sales "
         "again in both.", "text"),
        ("model", "Model", "The account's own model (a household managed as one uses the household's).", "select",
         models_),
        ("template", "Template", "Its own; none: its household's template governs it.", "select", templates),
        ("tax_status", "Tax status", "", "select", Account.TaxStatus.choices),
        ("spouse", "Whose return (when the household files separately)", "", "select", Account.Spouse.choices),
        ("discretionary", "Discretionary", "", "checkbox"),
        ("short_term_rate", "Short-term (ordinary income) tax rate", "A fraction: 0.37 for 37%.", "text"),
        ("long_term_rate", "Long-term tax rate", "A fraction: 0.20 for 20%.", "text"),
        ("cash", "Cash ($)", "", "text"),
        ("realised_short_term_ytd", "Realised short-term gain this year ($)", "", "text"),
        ("realised_long_term_ytd", "Realised long-term gain this year ($)", "", "text"),
        ("opened_on", "Opened on", "Not after a trade or fill already booked in the account.", "date"),
        ("owner_name", "Owner's name", "", "text"),
        ("owner_birth_date", "Owner's date of birth", "", "date"),
        ("spouse_birth_date", "Spouse's date of birth", "", "date"),
        ("asset_classes", "Asset classes it may hold", "Separated by |; empty: any.", "text"),
    )


def _facts_form(account, typed=None, refusal=None) -> dict:
    values = account_facts_as_typed(account) | {k: v for k, v in (typed or {}).items() if k != "account_number"}
    problems = dict((getattr(refusal, "detail", None) or {}).get("fields", {})) if refusal is not None else {}
    return {"account": account, "fields": row_fields(_facts_fields(), values, problems),
            "refusal": row_words(_facts_fields(), refusal) if refusal is not None else "",
            "template_governing": template_governing(account)}


@firm_page(Capability.IMPORT_DATA)
def account_facts(request, pk: int):
    """The account's facts (the accounts file's row), changed through that file's import
    (``services.row_edits.account_facts_edit``): refused in its words beside the field, nothing saved."""
    account = _account(request, pk)
    if request.method == "POST":
        typed = {name: request.POST.get(name, "") for name, *_ in _facts_fields()}
        typed["discretionary"] = "yes" if request.POST.get("discretionary") else "no"
        try:
            changed = account_facts_edit(account=account, typed=typed, by=request.user)
        except DomainError as exc:
            return render(request, "frontend/account_facts.html", _facts_form(account, typed, exc), status=400)
        messages.success(request, f"Saved: {row_words(_facts_fields(), changed=changed)} changed." if changed
                         else "Nothing changed.")
        return redirect("account_detail", pk=account.pk)
    return render(request, "frontend/account_facts.html", _facts_form(account))

"""Reads the pages need, always starting from what the user may see (rebalancing.access)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from rebalancing.access import (
    accounts_visible_to,
    alerts_visible_to,
    proposals_decidable_by,
    proposals_visible_to,
    with_advisors,
)
from rebalancing.api.visibility import runs_visible_to
from rebalancing.engine import CASH_KEY
from rebalancing.engine.tax import term as engine_term
from rebalancing.firm_health import accounts_failed_last, runs_over_the_book
from rebalancing.models import (
    Alert,
    Execution,
    Order,
    Price,
    Proposal,
    ProposalApproval,
    RealisedLot,
    RebalanceRun,
    RunOutcome,
    Security,
    TaxLot,
)
from rebalancing.selectors import DRIFT_STANDING
from tenants.audit.models import AuditEvent
from tenants.permissions import is_advisor_only

__all__ = [
    "AccountStats", "account_latest_outcome", "account_stats", "accounts_failed_last",
    "accounts_with_latest", "dashboard_counts", "drift_measured", "holdings_by_sleeve", "lots_with_gains",
    "open_alerts", "parameter_symbols_unknown", "proposal_executions", "run_proposal_counts",
]


@dataclass(frozen=True)
class AccountStats:
    securities_value: float = 0.0
    unrealised_gain: float = 0.0  # net, at the latest prices
    unrealised_loss: float = 0.0  # sum of the losing lots (negative or zero)
    unpriced: tuple[str, ...] = ()  # held securities without a price: not in the figures above


def account_stats(account_ids, as_of: date | None = None) -> dict[int, AccountStats]:
    """Market value and unrealised gains of these accounts at the latest prices, in one query."""
    ids = list(account_ids)
    if not ids:
        return {}
    # One query: the lots joined with the prices' own "latest on a day" rule (Price.objects.latest_on).
    prices, params = Price.objects.latest_on(as_of or timezone.localdate()).values("security_id", "close") \
        .query.sql_with_params()
    sql = f"""
        WITH px AS ({prices})
        SELECT l.account_id, COALESCE(SUM(l.quantity * px.close), 0)::float8,
               COALESCE(SUM(l.quantity * px.close - l.cost_basis), 0)::float8,
               COALESCE(SUM(LEAST(l.quantity * px.close - l.cost_basis, 0)), 0)::float8,
               ARRAY_REMOVE(ARRAY_AGG(DISTINCT s.symbol ORDER BY s.symbol)
                            FILTER (WHERE px.close IS NULL), NULL)
        FROM {TaxLot._meta.db_table} l LEFT JOIN px ON px.security_id = l.security_id
        JOIN {Security._meta.db_table} s ON s.id = l.security_id
        WHERE l.account_id = ANY(%s) GROUP BY l.account_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, ids])
        # A holding without a price is named, not valued at 0 in silence (the account page does the same).
        return {row[0]: AccountStats(*row[1:4], unpriced=tuple(row[4] or ())) for row in cursor.fetchall()}


def _latest_proposal(field_name: str, *, rebalancing: bool = False):
    """The account's latest proposal's ``field_name``; ``rebalancing``: of a run that rebalanced it
    (a withdrawal's or RMD's proposal raises cash and measures no drift)."""
    proposals = Proposal.objects.filter(account=OuterRef("pk"))
    if rebalancing:
        proposals = proposals.exclude(run__kind=RebalanceRun.Kind.CASH_FLOW)
    return Subquery(proposals.order_by("-created_at", "-pk").values(field_name)[:1])


def _latest_drift() -> Subquery:
    """An account's drift as its latest proposal leaves it (``DRIFT_STANDING``; the account page
    measures it from the holdings: ``drift_measured``)."""
    proposals = (Proposal.objects.filter(account=OuterRef("pk")).exclude(run__kind=RebalanceRun.Kind.CASH_FLOW)
                 .annotate(standing=DRIFT_STANDING))
    return Subquery(proposals.order_by("-created_at", "-pk").values("standing")[:1])


def accounts_with_latest(user):
    """The user's accounts with the latest proposal's drift (``DRIFT_STANDING``), status and id."""
    return (
        with_advisors(accounts_visible_to(user), "household__")
        .with_governing_template().select_related("model", "household__model")
        .annotate(last_drift=_latest_drift(), last_status=_latest_proposal("status"),
                  last_proposal_id=_latest_proposal("pk"), last_outcome=_latest_outcome("outcome"),
                  last_outcome_run=_latest_outcome("run_id"))
    )


def _latest_outcome(field: str) -> Subquery:
    """What the latest run that covered the account made of it (``RunOutcome``): an account inside
    its bands gets no proposal, and the list says so rather than "none yet"."""
    return Subquery(RunOutcome.objects.filter(account=OuterRef("pk")).exclude(run__status=RebalanceRun.Status.QUEUED)
                    .order_by("-run_id").values(field)[:1])


def account_latest_outcome(account) -> RunOutcome | None:
    """What the latest run that covered ``account`` made of it (as ``accounts_failed_last`` reads it)."""
    return (RunOutcome.objects.filter(account=account).exclude(run__status=RebalanceRun.Status.QUEUED)
            .select_related("run").order_by("-run_id").first())


def open_alerts(user):
    """The user's open alerts: the dashboard counts them and the accounts page's "Needs attention"
    lists them, one rule for both. An open alert is current whichever run raised it: a run refreshes
    or resolves the kinds it decides (``services.runs._alerts_write``), and a withdrawal's or an
    instruction's run decides no drift or harvest alert, so those of the run before stay open."""
    return alerts_visible_to(user).filter(resolved_at__isnull=True)


# Where a run's proposals stand, one bucket each: the policy's approval first (it stands while the
# proposal is approved, released or executed, or until a later run superseded it or it expired),
# then the others by their status. The buckets add up to the proposals made.
_DECIDED_BY_PEOPLE = (Proposal.Status.APPROVED, Proposal.Status.RELEASED, Proposal.Status.EXECUTED)


def run_proposal_counts(proposals) -> dict[str, int]:
    """A run's ``proposals`` (a query, of what the reader may see) counted by where they stand:
    ``auto_approved`` (by the firm's policy, pending again only if its tax was restated),
    ``pending``, ``approved_by_people``, ``rejected``, ``superseded``, ``expired``, ``draft``, and
    ``made``, their sum. The firm's run page and the provider's count alike through this."""
    policy = Exists(ProposalApproval.objects.filter(proposal=OuterRef("pk"),
                                                    capacity=ProposalApproval.Capacity.POLICY))
    S = Proposal.Status
    auto = Q(policy_approved=True) & ~Q(status__in=(S.PENDING, S.REJECTED, S.DRAFT))
    row = proposals.order_by().annotate(policy_approved=policy).aggregate(
        made=Count("pk"), auto_approved=Count("pk", filter=auto),
        pending=Count("pk", filter=Q(status=S.PENDING)),
        approved_by_people=Count("pk", filter=Q(status__in=_DECIDED_BY_PEOPLE) & ~auto),
        rejected=Count("pk", filter=Q(status=S.REJECTED)),
        superseded=Count("pk", filter=Q(status=S.SUPERSEDED) & ~auto),
        expired=Count("pk", filter=Q(status=S.EXPIRED) & ~auto),
        draft=Count("pk", filter=Q(status=S.DRAFT)),
    )
    return row


@dataclass(frozen=True)
class TradeExecuted:
    """What became of one trade of a released proposal: its order, the shares filled (at their
    average price) and cancelled, and the realised gain the ledger booked for a sale."""

    order_id: str
    status: str
    quantity: Decimal
    filled: Decimal
    cancelled: Decimal
    average_price: Decimal | None
    gain: Decimal | None
    disallowed_loss: Decimal
    sold_on: date | None = None  # a sale's last fill, else the day it was released: its wash-sale window's start


def proposal_executions(proposal: Proposal) -> dict[tuple[str, str], TradeExecuted]:
    """A released proposal's orders (one per trade) by (symbol, side), with their fills and the
    realised lots booked (rebalancing.models.ledger); empty before its release. Two queries."""
    fills = Q(executions__kind=Execution.Kind.FILL)
    orders = list(Order.objects.filter(proposal=proposal).select_related("security").annotate(
        fill_value=Sum(F("executions__quantity") * F("executions__price"), filter=fills),
        last_fill=Max("executions__trade_date", filter=fills)))
    if not orders:
        return {}
    booked = {row["execution__order_id"]: row for row in (
        RealisedLot.objects.filter(execution__order__proposal=proposal).values("execution__order_id")
        .annotate(gain=Sum("gain"), disallowed=Sum("disallowed_loss")))}
    out = {}
    for order in orders:
        lots = booked.get(order.pk)
        out[(order.security.symbol, order.side)] = TradeExecuted(
            order_id=order.order_id, status=order.get_status_display(), quantity=order.quantity,
            filled=order.filled_quantity, cancelled=order.cancelled_quantity,
            average_price=(order.fill_value / order.filled_quantity).quantize(Decimal("0.0001"))
            if order.filled_quantity and order.fill_value is not None else None,
            gain=lots["gain"] if lots else None, disallowed_loss=lots["disallowed"] if lots else Decimal(0),
            sold_on=(order.last_fill or order.released_on) if order.side == "sell" else None)
    return out


@dataclass
class DashboardCounts:
    drift: int = 0
    harvest: int = 0
    harvest_amount: float = 0.0
    pending: int = 0
    pending_mine: int = 0
    failed: int = 0
    last_run: RebalanceRun | None = None
    accounts: int = 0
    attention: list[dict[str, Any]] = field(default_factory=list)


def dashboard_counts(user, *, limit: int = 12) -> DashboardCounts:
    out = DashboardCounts()
    out.accounts = accounts_visible_to(user).count()
    alerts = open_alerts(user)
    by_kind: dict[str, set[int]] = defaultdict(set)
    harvest_amount = 0.0
    attention: dict[int, dict[str, Any]] = {}
    for alert in alerts.select_related("account__household").order_by("-created_at")[:5000]:
        by_kind[alert.kind].add(alert.account_id)
        if alert.kind == Alert.Kind.HARVEST and alert.amount:
            harvest_amount += abs(float(alert.amount))
        entry = attention.setdefault(alert.account_id, {"account": alert.account, "reasons": []})
        entry["reasons"].append(alert.get_kind_display())
    out.drift = len(by_kind[Alert.Kind.DRIFT])
    out.harvest = len(by_kind[Alert.Kind.HARVEST])
    out.harvest_amount = harvest_amount
    out.pending = proposals_visible_to(user).filter(status=Proposal.Status.PENDING).count()
    out.pending_mine = proposals_decidable_by(user).count()
    # The last run over the firm's book, not a re-solve of one account after it; failed: the accounts
    # whose latest run failed (the Accounts page's "Failed in the last run" lists the same).
    runs = runs_visible_to(user)
    out.last_run = (runs.filter(pk__in=runs_over_the_book().values("pk")).first()
                    or runs.exclude(status=RebalanceRun.Status.QUEUED).first())
    out.failed = accounts_failed_last(accounts_visible_to(user)).count()
    out.attention = list(attention.values())[:limit]
    return out


@dataclass
class Position:
    symbol: str
    name: str
    value: float
    weight: float
    target: float

    @property
    def drift(self) -> float:
        return self.weight - self.target


@dataclass
class SleeveView:
    asset_class: str
    weight: float = 0.0
    target: float = 0.0
    value: float = 0.0
    positions: list[Position] = field(default_factory=list)
    direct_index: bool = False

    @property
    def drift(self) -> float:
        return self.weight - self.target


def holdings_by_sleeve(request, targets: dict[str, float] | None, names: dict[str, str]) -> tuple[list[SleeveView], float, float]:
    """Holdings against targets, grouped by the model's sleeves (asset classes).

    ``targets``: the engine's targets of the latest proposal (after screens, removed classes...)
    when there is one; else the model's weights scaled for the cash target. Returns the sleeves,
    the market value and the cash weight.
    """
    prices = {s.symbol: s.price for s in request.securities}
    classes = {s.symbol: s.asset_class for s in request.securities}
    values: dict[str, float] = defaultdict(float)
    for lot in request.account.lots:
        values[lot.symbol] += lot.quantity * prices[lot.symbol]
    cash = request.account.cash
    total = sum(values.values()) + cash
    if targets is None:
        investable = 1 - request.parameters.cash.target
        targets = {CASH_KEY: request.parameters.cash.target}
        for sleeve in request.model.sleeves:
            for symbol, w in sleeve.holdings.items():
                targets[symbol] = targets.get(symbol, 0.0) + sleeve.weight * w * investable
            if not sleeve.holdings and sleeve.benchmark is not None:
                for symbol, w in sleeve.benchmark.constituents.items():
                    targets[symbol] = targets.get(symbol, 0.0) + sleeve.weight * w * investable
    sleeves: dict[str, SleeveView] = {}
    for sleeve in request.model.sleeves:
        sleeves[sleeve.asset_class] = SleeveView(sleeve.asset_class, direct_index=sleeve.benchmark is not None
                                                 and not sleeve.holdings)
    for symbol in set(values) | {s for s, t in targets.items() if t > 0 and s != CASH_KEY}:
        asset_class = classes.get(symbol, "other")
        view = sleeves.setdefault(asset_class, SleeveView(asset_class))
        weight = values.get(symbol, 0.0) / total if total else 0.0
        target = targets.get(symbol, 0.0)
        view.positions.append(Position(symbol, names.get(symbol, ""), values.get(symbol, 0.0), weight, target))
        view.weight += weight
        view.target += target
        view.value += values.get(symbol, 0.0)
    for view in sleeves.values():
        view.positions.sort(key=lambda p: -abs(p.drift))
    ordered = sorted(sleeves.values(), key=lambda v: -v.target)
    cash_view = SleeveView("cash", weight=cash / total if total else 0.0, target=targets.get(CASH_KEY, 0.0), value=cash)
    return [*ordered, cash_view], total, cash_view.weight


def drift_measured(sleeves: list[SleeveView]) -> float | None:
    """The account's drift now from ``holdings_by_sleeve``'s sleeves, as the engine measures it
    (``engine.drift``): half the sum of |weight - target| over its positions - each security, a
    direct-indexed sleeve as one, and cash. None when a held security has no price (not weighed)."""
    differences = []
    for sleeve in sleeves:
        if sleeve.direct_index or not sleeve.positions:  # the cash, or a sleeve judged as a whole
            differences.append(abs(sleeve.drift))
            continue
        for position in sleeve.positions:
            if position.value is None:
                return None
            differences.append(abs(position.drift))
    return 0.5 * sum(differences)


@dataclass
class LotRow:
    lot_id: str
    symbol: str
    acquired: date
    quantity: float
    cost_basis: float
    value: float
    term: str
    inherited_on: date | None = None  # shares that passed on this day (held long-term from the start)
    gift: tuple[date, float, float] | None = None  # received as a gift: (day, worth then, the donor's basis)

    @property
    def gain(self) -> float:
        return self.value - self.cost_basis

    @property
    def gain_pct(self) -> float | None:
        return self.gain / self.cost_basis if self.cost_basis else None


def lots_with_gains(request, account=None) -> tuple[list[LotRow], dict[str, float]]:
    """Every lot at the latest price with its unrealised gain and term, and totals by term; an
    inherited lot with the day its shares passed (the engine sees only where their holding period
    starts, IRC §1223(9)); a gift with its day, its value then and the donor's basis."""
    prices = {s.symbol: s.price for s in request.securities}
    inherited = {} if account is None else dict(
        TaxLot.objects.filter(account=account, inherited=True).values_list("lot_id", "purchased"))
    # A gift's cost here is the basis a sale today would use (IRC §1015(a), engine_inputs._gifts_priced).
    gifts = {} if account is None else {
        lot.lot_id: (lot.gift_date, float(lot.gift_value), float(lot.cost_basis))
        for lot in TaxLot.objects.filter(account=account, gift_date__isnull=False)}
    rows = [
        LotRow(lot.id, lot.symbol, lot.acquired, lot.quantity, lot.cost_basis, lot.quantity * prices[lot.symbol],
               engine_term(lot.acquired, request.as_of), inherited.get(lot.id), gifts.get(lot.id))
        for lot in request.account.lots
    ]
    totals = {"short_gain": 0.0, "short_loss": 0.0, "long_gain": 0.0, "long_loss": 0.0}
    for r in rows:
        totals[f"{r.term}_{'gain' if r.gain >= 0 else 'loss'}"] += r.gain
    totals["net"] = sum(r.gain for r in rows)
    totals["short_net"] = totals["short_gain"] + totals["short_loss"]
    totals["long_net"] = totals["long_gain"] + totals["long_loss"]
    totals["losses"] = totals["short_loss"] + totals["long_loss"]
    return rows, totals


def parameter_symbols_unknown(values: dict[str, Any]) -> list[str]:
    """The symbols a parameter set names (screened out, restricted, substitutes, equivalence groups,
    instructions) that the firm's security master does not hold: saved, since a restriction may be
    meant for a security not yet imported, but said, since a typo (AAPLX) restricts nothing."""
    named: set[str] = set(_listed(values, "screen", "excluded_symbols"))
    for key in ("do_not_buy", "do_not_sell", "hold"):
        named.update(_listed(values, "restrictions", key))
    for group in ("transition", "harvest"):
        for held, substitute in ((values.get(group) or {}).get("substitutes") or {}).items():
            named.update((held, substitute))
    for symbols in _listed(values, "wash_sale", "equivalent_groups"):
        named.update(symbols)
    for instruction in values.get("instructions") or ():
        named.update(s for s in (instruction.get("sell"), instruction.get("buy")) if s)
    named = {s for s in named if isinstance(s, str) and s}
    known = set(Security.objects.filter(symbol__in=named).values_list("symbol", flat=True))
    return sorted(named - known)


def _listed(values: dict[str, Any], group: str, key: str) -> list:
    return list((values.get(group) or {}).get(key) or ())


def provider_staff_names(usernames=None) -> dict[str, str]:
    """Provider staff's names by username (users of the public schema, read from any schema), for
    those who have one; ``usernames``: only these."""
    with schema_context(get_public_schema_name()):
        staff = get_user_model().objects.exclude(first_name="", last_name="")
        if usernames is not None:
            staff = staff.filter(username__in=list(usernames))
        return {username: f"{first} {last}".strip() for username, first, last in
                staff.values_list("username", "first_name", "last_name")}


# Runs no person started, by the label their command gives them: what started them, in words (the
# pages read "started ... by the demo's setup", not "by demo start").
COMMAND_RUNS = {
    "demo start": "the demo's setup",
    "manage.py rebalance": "the rebalance command (manage.py rebalance)",
    "nightly scan": "the nightly schedule",
}


def run_started_by_words(run, staff: dict[str, str]) -> str:
    """Who started ``run``, by name; the email only where there is no name. A provider's run keeps its
    operator's username in the label ("ops@… (provider)"), since the audit names the actor by it, so
    the name is looked up (``provider_staff_names``). A command's run: what started it (``COMMAND_RUNS``)."""
    if run.started_by is not None:  # a firm user, read in the firm's schema
        return run.started_by.get_full_name() or run.started_by_label or run.started_by.get_username()
    if run.started_by_label in COMMAND_RUNS:
        return COMMAND_RUNS[run.started_by_label]
    who, space, rest = run.started_by_label.partition(" ")
    return staff[who] + space + rest if who in staff else run.started_by_label


def run_kind_words(run) -> str:
    """How the run came about: its kind's words, but a run started by hand that no person started (a
    command's: the demo's setup, ``manage.py rebalance``) is not "Started by a person"."""
    if (run.kind == RebalanceRun.Kind.MANUAL and run.started_by_id is None
            and run.started_by_label in COMMAND_RUNS):
        return "Started by a command"
    return run.get_kind_display()


def runs_started_by_words(runs) -> None:
    """Set ``started_by_words`` on each of ``runs`` (one query for the provider staff they name)."""
    runs = list(runs)
    staff = provider_staff_names({r.started_by_label.partition(" ")[0] for r in runs if r.started_by is None
                                  and r.started_by_label})
    for run in runs:
        run.started_by_words = run_started_by_words(run, staff)
        run.kind_words = run_kind_words(run)


def proposals_chosen_pending(user) -> list[Proposal]:
    """The pending proposals ``user`` sees whose trades a person chose (an instruction, an edit:
    ``Proposal.chosen_by``): a run over their accounts supersedes them like any pending proposal
    (``services.proposals.proposals_supersede``), so the run form names them before it starts.
    A withdrawal's or RMD's sales are not among them: no run supersedes those."""
    return _chosen_names(list(proposals_visible_to(user).filter(status=Proposal.Status.PENDING, chosen_by__len__gt=0)
                              .exclude(run__kind=RebalanceRun.Kind.CASH_FLOW).select_related("account")
                              .order_by("account__custodian_number", "pk")[:50]))


def run_superseded_chosen(run: RebalanceRun, user) -> list[Proposal]:
    """The proposals whose trades a person chose that ``run`` superseded (among those ``user`` sees),
    read from their audit rows ("superseded by run N", ``proposals_supersede``), with who chose them
    (``chosen_names``)."""
    ids = (AuditEvent.objects.filter(action="proposal.supersede", object_type="proposal",
                                     comment=f"superseded by run {run.pk}").values_list("object_id", flat=True))
    chosen = list(proposals_visible_to(user).filter(pk__in=[int(i) for i in ids if i.isdigit()],
                                                    chosen_by__len__gt=0)
                  .select_related("account").order_by("account__custodian_number", "pk"))
    return _chosen_names(chosen)


def _chosen_names(proposals: list[Proposal]) -> list[Proposal]:
    """``proposals``, each with ``chosen_names``: who chose its trades, by name, first to last."""
    people = {u.pk: u.get_full_name() or u.get_username()
              for u in get_user_model().objects.filter(pk__in={pk for p in proposals for pk in p.chosen_by})}
    for proposal in proposals:
        proposal.chosen_names = ", ".join(people.get(pk, "a former user") for pk in proposal.chosen_by)
    return proposals


@dataclass(frozen=True)
class RunCounts:
    """A run's progress as a reader is shown it: the run's own figures, or - for an advisor, who sees
    their own book only (``accounts_visible_to``) - their accounts' (``own``): done and failed from
    the run's outcomes; the total and what remains only once the run has ended (None before: which of
    the run's accounts are theirs is known as each is done)."""

    total: int | None
    done: int
    failed: int
    remaining: int | None
    own: bool = False


def run_counts_shown_to(user, runs) -> dict[int, RunCounts]:
    """``runs``' progress as ``user`` is shown it, by run id (one query for a page of runs)."""
    runs = list(runs)
    if not is_advisor_only(user):  # everyone else sees the whole book a run covers
        return {r.pk: RunCounts(r.total, r.done, r.failed, r.remaining) for r in runs}
    failed = Q(outcome=RunOutcome.Outcome.FAILED)
    rows = {row["run_id"]: row for row in RunOutcome.objects.filter(
        run_id__in=[r.pk for r in runs], account__in=accounts_visible_to(user)).order_by().values("run_id")
        .annotate(done=Count("pk", filter=~failed), failed=Count("pk", filter=failed))}
    ended = (RebalanceRun.Status.COMPLETED, RebalanceRun.Status.CANCELLED, RebalanceRun.Status.FAILED)
    out = {}
    for run in runs:
        row = rows.get(run.pk, {"done": 0, "failed": 0})
        finished = run.status in ended
        out[run.pk] = RunCounts(row["done"] + row["failed"] if finished else None, row["done"], row["failed"],
                                0 if finished else None, own=True)
    return out

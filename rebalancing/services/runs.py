"""Rebalance runs: start, fan out in chunks, solve, record proposals, report progress, cancel.

A chunk is the unit of work and of retry: it loads its accounts in a fixed number of queries,
solves each with the engine, and writes its proposals, failures and alerts in one transaction. A
household managed as one is solved whole (``engine.rebalance_household``): one proposal per
account, gathered under one ``HouseholdProposal`` that is decided as one.
Unique (run, account) keys make a redelivered or duplicated chunk a no-op for what it already
wrote, so a worker killed mid-chunk loses nothing and duplicates nothing.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
import re
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from rebalancing import dispatch, engine
from rebalancing.access import accounts_visible_to, households_advised_by, households_visible_to, require
from rebalancing.array_filters import any_of
from rebalancing.copy_writes import objects_insert_by_copy
from rebalancing.engine_inputs import (
    AccountInputs,
    HouseholdInputs,
    book_day_check,
    household_inputs_from,
    rebalance_inputs_load,
)
from rebalancing.ledger.quantities import cents_of_float
from rebalancing.models import (
    Account,
    Alert,
    Household,
    HouseholdProposal,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    RebalanceRun,
    RunOutcome,
)
from rebalancing.planned_trades import trades_planned_by
from rebalancing.selectors import RunScope, accounts_for_scope, firm_restrictions_on, lot_counts
from rebalancing.services.proposals import OPEN, proposals_insert_submitted, proposals_supersede
from rebalancing.services.rmd import rmd_alerts_due
from rebalancing.services.tax_estimates import (
    OPEN_FOR_TAX,
    open_estimates_restate,
    proposals_restate_for_ledger,
    realised_open_beside,
    wash_sales_allowed,
)
from rebalancing.webhooks import events as webhook_events
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed
from tenants.permissions import Capability
from tenants.selectors import firm_active_check

__all__ = [
    "ChunkOutcome",
    "HeldBack",
    "accounts_held_back",
    "alert_text",
    "alerts_record",
    "proposal_build",
    "household_proposal_build",
    "run_cancel",
    "run_chunks",
    "run_chunks_dispatched",
    "run_process_chunk",
    "run_start",
    "runs_start_all_firms",
]

logger = logging.getLogger(__name__)

# A chunk holds about this many tax lots (or this many accounts): one to three seconds of solving
# (100 direct-indexed accounts of 2,000 lots, or 1,000 model portfolios), so progress moves steadily
# and a lost worker redoes little. Each chunk pays a dozen queries to load and two dozen statements
# to write whatever its size: with a tenth of these sizes that was a third of a direct-indexed
# account's writing, and halving them costs a direct-indexed account 0.16 ms (a tenth) more loading
# and writing, a model portfolio 0.02 ms (docs/engine.md, "The book").
CHUNK_LOTS = settings.RUN_CHUNK_LOTS
CHUNK_ACCOUNTS = settings.RUN_CHUNK_ACCOUNTS

_ENGINE_ALERTS = {
    "harvest_opportunity": Alert.Kind.HARVEST,
    "tax_limit_exceeded": Alert.Kind.TAX_LIMIT,
    "max_names_exceeded": Alert.Kind.MAX_NAMES,
    "wash_sale_disallowed": Alert.Kind.WASH_SALE,
}


def _today() -> date:
    return timezone.localdate()


def _accounts_unseen(scope: RunScope, user) -> str:
    """The scope's ``account_ids`` the user may not see (or that are no account), in words ("" if none)."""
    seen = set(accounts_visible_to(user).filter(pk__in=scope.account_ids).values_list("pk", flat=True))
    unseen = sorted(set(scope.account_ids) - seen)
    if not unseen:
        return ""
    return f"account_ids {', '.join(map(str, unseen))}: {'no account' if len(unseen) == 1 else 'no accounts'} you may see"


def scope_empty_reason(scope: RunScope, user) -> str:
    """Why a run over ``scope`` would cover no account, in words: the first criterion naming nothing the
    user may see, else the criteria together matching no managed account, else every account left out
    for its approved proposal."""
    unseen = _accounts_unseen(scope, user)
    if unseen:
        return unseen
    if scope.household_id is not None and not households_visible_to(user).filter(pk=scope.household_id).exists():
        return f"household_id {scope.household_id} is no household you may see"
    if scope.model_code and not ModelPortfolio.objects.filter(code=scope.model_code).exists():
        return f"model_code {scope.model_code!r} is no model of the firm"
    if scope.template_code and not ParameterTemplate.objects.filter(code=scope.template_code).exists():
        return f"template_code {scope.template_code!r} is no template of the firm"
    if scope.advisor_id is not None and not households_advised_by(scope.advisor_id).exists():
        return f"advisor_id {scope.advisor_id} advises no household"
    if scope.replace_approved or not accounts_for_scope(RunScope(**{**scope.__dict__, "replace_approved": True})):
        criteria = ", ".join(f"{k}={v}" for k, v in scope.to_dict().items() if k != "replace_approved")
        return f"no managed account matches {criteria} together (an account with no model is not rebalanced)"
    return ("each account it names has an approved proposal not yet released, whose approval stands; "
            "set replace_approved to replace them")


@transaction.atomic
def run_start(
    *,
    scope: RunScope,
    as_of: date | None = None,
    user=None,
    label: str = "",
    kind: str = RebalanceRun.Kind.MANUAL,
) -> RebalanceRun:
    """Create a run over ``scope`` and hand it to the workers once this transaction commits."""
    firm_active_check("No run starts")  # whoever asks: the nightly scan, the provider, its people, the API
    as_of = book_day_check(as_of or _today(), what="run's day")
    if getattr(user, "pk", None) and scope.account_ids:
        unseen = _accounts_unseen(scope, user)
        if unseen:  # a typo'd id was skipped without a word, the others run
            raise ValidationFailed(f"The run's scope names {unseen}.", detail={"field": "scope.account_ids"})
    account_ids = list(accounts_for_scope(scope))
    if not account_ids and getattr(user, "pk", None):
        # A person asked for accounts and would get a run of none, "completed": say why instead.
        # (A scheduled or system run over an empty book stays an empty run.)
        raise ValidationFailed(f"The run's scope covers no account: {scope_empty_reason(scope, user)}.",
                               detail={"field": "scope"})
    run = RebalanceRun(
        kind=kind,
        scope=scope.to_dict(),
        as_of=as_of,
        started_by=user if getattr(user, "pk", None) else None,
        started_by_label=label or (user.get_username() if getattr(user, "pk", None) else ""),
        total=len(account_ids),
        status=RebalanceRun.Status.QUEUED if account_ids else RebalanceRun.Status.COMPLETED,
    )
    if getattr(user, "pk", None):
        require(user, Capability.RUN_REBALANCE)
    run.full_clean()
    run.save()
    audit_record(actor=user if getattr(user, "pk", None) else (label or "system"), action="run.start", obj=run,
                 after={"scope": run.scope, "kind": run.kind, "as_of": str(run.as_of), "accounts": run.total})
    if not account_ids:
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        return run
    # The schema is read when the message is sent: on_commit runs in this firm's context.
    transaction.on_commit(lambda: dispatch.send(dispatch.RUN_DISPATCH, run.pk))
    return run


def run_chunks(run: RebalanceRun) -> list[list[int]]:
    """The run's accounts split into chunks of similar work (deterministic for a run). A
    household's accounts stay in one chunk, solved one after the other, so that none of them is
    proposed a trade that washes a loss another is proposed to take."""
    account_ids = list(accounts_for_scope(RunScope.from_dict(run.scope)))
    counts = lot_counts(account_ids)
    households: dict[int, list[int]] = defaultdict(list)
    for account_id, household_id in (Account.objects.filter(pk__in=account_ids).order_by("household_id", "pk")
                                     .values_list("pk", "household_id")):
        households[household_id].append(account_id)
    chunks: list[list[int]] = []
    current: list[int] = []
    lots = 0
    for members in households.values():
        n = sum(counts.get(a, 0) for a in members)
        if current and (lots + n > CHUNK_LOTS or len(current) + len(members) > CHUNK_ACCOUNTS):
            chunks.append(current)
            current, lots = [], 0
        current += members
        lots += n
    if current:
        chunks.append(current)
    return chunks


def run_chunks_dispatched(run: RebalanceRun) -> list[list[int]]:
    """The run's chunks as first sent to the workers (``tasks.run_dispatch``). The scope is read
    again then: accounts that left it since the run started (a proposal approved meanwhile sits its
    account out) or joined it are counted now, saying how many in the audit log - else the run
    waited for accounts no chunk solves until the stall watch ended it as if a worker were lost.
    Sent again (a redelivered message), the count stands."""
    chunks = run_chunks(run)
    sent = sum(len(c) for c in chunks)
    with transaction.atomic():
        locked = RebalanceRun.objects.select_for_update().get(pk=run.pk)
        first = not locked.chunks_total and locked.done + locked.failed == 0
        locked.chunks_total = len(chunks)
        fields = ["chunks_total"]
        if first and sent != locked.total:
            moved = locked.total - sent
            audit_record(actor="system", action=Action.RUN_DISPATCH, obj=locked, before={"accounts": locked.total},
                         after={"accounts": sent},
                         comment=f"{abs(moved)} account(s) {'left' if moved > 0 else 'joined'} the run's scope between "
                                 "its start and its dispatch (an approved proposal sits its account out)")
            locked.total = sent
            fields.append("total")
            if not sent:
                locked.status, locked.finished_at = RebalanceRun.Status.COMPLETED, timezone.now()
                fields += ["status", "finished_at"]
        locked.save(update_fields=fields)
    if not sent and "status" in fields:
        webhook_events.run_finished(run.pk)
    return chunks


def run_cancel(*, run: RebalanceRun, user=None) -> RebalanceRun:
    """Stop a run: chunks not yet started are skipped; what is written stays."""
    if getattr(user, "pk", None):
        require(user, Capability.RUN_REBALANCE)
    with transaction.atomic():
        run = RebalanceRun.objects.select_for_update().get(pk=run.pk)
        if run.status in (RebalanceRun.Status.COMPLETED, RebalanceRun.Status.CANCELLED, RebalanceRun.Status.FAILED):
            raise Conflict(f"run {run.pk} is already {run.status}; it cannot be cancelled")
        before = run.status
        run.status = RebalanceRun.Status.CANCELLED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit_record(actor=user, action="run.cancel", obj=run, before={"status": before},
                     after={"status": run.status, "done": run.done, "failed": run.failed})
    return run


@dataclass(frozen=True)
class ChunkOutcome:
    proposals: int
    failures: int
    skipped: int
    load_s: float
    solve_s: float
    write_s: float


def _failure(run, account_id: int, code: str, message: str, detail: dict | None = None) -> RunOutcome:
    return RunOutcome(run=run, account_id=account_id, outcome=RunOutcome.Outcome.FAILED, code=code,
                      message=message[:2000], detail=detail or {})


def _estimates_beside_older(run_id: int, households: set[int]) -> None:
    """The run solves a household's accounts together, but not beside its proposals still open from
    earlier (an approved one kept, a run for some of its accounts only): where there are such, the
    household's estimates are restated in the order the proposals were made (``tax_estimates``)."""
    if not households:
        return
    older = set(Proposal.objects.filter(any_of("account__household_id", sorted(households)),
                                        status__in=OPEN_FOR_TAX, account__taxable=True)
                .exclude(run_id=run_id).values_list("account__household_id", flat=True).distinct())
    if older:
        open_estimates_restate(older, because=f"run {run_id} proposed beside proposals still open from before")


def _solve(inputs: AccountInputs, request: engine.RebalanceRequest | None = None):
    if inputs.error is not None:
        return None, (inputs.error.code, inputs.error.message, inputs.error.detail)
    try:
        return engine.rebalance(request or inputs.request), None
    except engine.EngineError as exc:
        return None, (exc.code, exc.message, exc.detail or {})
    except Exception as exc:  # one account's bug must not stop the run; it is recorded with its error
        logger.exception("engine crashed on account %s", inputs.account_id)
        return None, ("engine_crash", f"{exc.__class__.__name__}: {exc}", {})


@contextmanager
def _cycles_collected_after():
    """Hold the cycle collector off while a chunk works, and let it run after.

    A chunk of 50 direct-indexed accounts allocates millions of short-lived objects (rows, lots,
    requests, results) that reference counting frees as it goes; the collector scanning them again
    and again took a fifth of loading (5.6 -> 4.4 ms per direct-indexed account, 9% of the chunk's
    CPU, measured with bench/chunk_bench.py's chunks). What a chunk leaves in cycles is collected
    once it is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect(1)


def run_process_chunk(*, run_id: int, account_ids: list[int]) -> ChunkOutcome | None:
    """Solve one chunk of a run and record the outcome. Safe to call again with the same chunk."""
    with _cycles_collected_after():
        return _chunk_process(run_id, account_ids)


def _chunk_process(run_id: int, account_ids: list[int]) -> ChunkOutcome | None:
    queued_at = time.perf_counter()
    run = RebalanceRun.objects.filter(pk=run_id).first()
    if run is None or run.status in (RebalanceRun.Status.CANCELLED, RebalanceRun.Status.FAILED):
        return None
    if run.status == RebalanceRun.Status.QUEUED:
        RebalanceRun.objects.filter(pk=run_id, status=RebalanceRun.Status.QUEUED).update(
            status=RebalanceRun.Status.RUNNING, started_at=timezone.now()
        )
    finished = set(
        RunOutcome.objects.filter(any_of("account_id", account_ids), run_id=run_id).values_list("account_id", flat=True)
    )
    todo = [a for a in account_ids if a not in finished]

    t0 = time.perf_counter()
    loaded = rebalance_inputs_load(todo, as_of=run.as_of, snapshot_key=run.pk) if todo else []
    missing = set(todo) - {i.account_id for i in loaded}
    # Reads, so timed as loading: who waits (a withdrawal's decision, open orders), which IRAs owe an RMD.
    loaded, outcomes = _waiting_apart(run, loaded)
    alerts = _rmd_alerts(run, todo)
    # The household's proposals that stay open beside this run's (an approved one kept, an account
    # not in the run): its accounts' estimates net after them (``tax_estimates``).
    open_before = realised_open_beside({i.household_id for i in loaded}, {i.account_id for i in loaded},
                                       run.as_of.year)
    # The firm's restricted list on the run's day, which the proposals' "restricted securities
    # traded" is judged by; it joins every account's restrictions, so none there: none to read.
    firm_list = firm_restrictions_on(run.as_of) if any(_may_be_listed(i.parameters) for i in loaded) else {}
    t1 = time.perf_counter()
    proposals = []
    units = {h.pk: h for h in Household.objects.filter(any_of("pk", {i.household_id for i in loaded}),
                                                       managed_as=Household.ManagedAs.HOUSEHOLD)
             .select_related("template")}
    unit_members: dict[int, list[AccountInputs]] = defaultdict(list)
    for inputs in loaded:
        if inputs.household_id in units:
            unit_members[inputs.household_id].append(inputs)
    together: list[tuple[HouseholdProposal, list[Proposal]]] = []
    for household_id, members in unit_members.items():
        household_inputs = household_inputs_from(units[household_id], members, as_of=run.as_of)
        solved = _solve_household(run, household_inputs, firm_list)
        outcomes += solved.outcomes
        alerts += solved.alerts
        if solved.proposal is not None:
            together.append((solved.proposal, solved.proposals))
            proposals += solved.proposals
    # A household's accounts one after the other, each seeing what was proposed for the others.
    proposed: dict[int | None, dict[int, list[engine.HouseholdTrade]]] = defaultdict(dict)
    realised: dict[int | None, dict[str, tuple[float, float]]] = defaultdict(dict, open_before)  # on each return
    singles = [i for i in loaded if i.household_id not in units]
    unsolved = Counter(i.household_id for i in singles)
    for inputs in sorted(singles, key=lambda i: (i.household_id or 0, i.account_id)):
        unsolved[inputs.household_id] -= 1
        siblings = proposed[inputs.household_id]
        request = inputs.seeing(siblings, realised[inputs.household_id])
        result, error = _solve(inputs, request)
        if error is not None:
            outcomes.append(_failure(run, inputs.account_id, *error))
            continue
        alerts += _alerts(run, inputs.account_id, result)
        if not result.trades:
            # Nothing to do: no proposal to decide on (the run's summary counts these apart).
            outcomes.append(RunOutcome(run=run, account_id=inputs.account_id, outcome=RunOutcome.Outcome.NO_TRADES))
            continue
        outcomes.append(RunOutcome(run=run, account_id=inputs.account_id, outcome=RunOutcome.Outcome.PROPOSED))
        fingerprint = inputs.fingerprint if request is inputs.request else _refingerprint(inputs.fingerprint, request)
        proposal = proposal_build(run, inputs, result, fingerprint, firm_list)
        if unsolved[inputs.household_id]:  # only the household's accounts still to solve look at it
            siblings[inputs.account_id] = trades_planned_by(proposal.result["trades"], account_number=result.account_id,
                                                            as_of=run.as_of, taxable=request.account.taxable)
            realised[inputs.household_id] = engine.realised_add(realised[inputs.household_id], request.account,
                                                                result.summary)
        proposals.append(proposal)
    for account_id in missing:  # deleted since the run started
        outcomes.append(_failure(run, account_id, "account_missing", "the account no longer exists"))
    # The engine's figures for a wash sale it may make are an estimate: the ledger's, as it will
    # book the trades (``tax_estimates.proposals_restate_for_ledger``); no query when none may.
    if any(wash_sales_allowed(p) for p in proposals) and (
            restated := proposals_restate_for_ledger(proposals, as_of=run.as_of, open_before=open_before)):
        for hp, members in together:
            hp.estimated_tax = sum((Decimal(str(p.estimated_tax)) for p in members), Decimal(0))
        alerts = alerts_restated(run, alerts, restated)
    t2 = time.perf_counter()
    with transaction.atomic():
        written = _outcomes_claim(run_id, todo)
        if written:  # a twin of this chunk (a redelivered message) wrote these accounts meanwhile
            proposals = [p for p in proposals if p.account_id not in written]
            outcomes = [o for o in outcomes if o.account_id not in written]
            alerts = [a for a in alerts if a.account_id not in written]
            together = [(hp, members) for hp, members in together if members[0].account_id not in written]
        proposals, outcomes, together = _newer_runs_apart(run, proposals, outcomes, together)
        _household_proposals_insert(run_id, together)
        proposals_supersede(account_ids=[p.account_id for p in proposals], by_run_id=run_id,
                            replace_approved=bool(run.scope.get("replace_approved")))
        proposals_insert_submitted(proposals)
        _estimates_beside_older(run_id, {i.household_id for i in loaded if i.household_id} if proposals else set())
        # Claimed above: none of these rows can be there already.
        objects_insert_by_copy(outcomes)
        # Solved: an outcome that neither failed nor was held back (those carry their reason's code).
        solved = {o.account_id for o in outcomes if o.outcome != RunOutcome.Outcome.FAILED and not o.code}
        _alerts_write(alerts, solved=solved, rmd_checked={o.account_id for o in outcomes} - missing)
        failed = sum(o.outcome == RunOutcome.Outcome.FAILED for o in outcomes)
        _record_progress(run_id, done=len(outcomes) - failed, failed=failed,
                         load=t1 - t0, solve=t2 - t1, write=time.perf_counter() - t2, queue=t0 - queued_at)
    write_s = time.perf_counter() - t2
    return ChunkOutcome(len(proposals), failed, len(finished), t1 - t0, t2 - t1, write_s)


def _newer_runs_apart(run, proposals: list[Proposal], outcomes: list[RunOutcome], together):
    """The chunk's proposals less those of accounts a run started after this one has already proposed
    for (two runs over one account, the later finishing first): the later run's advice stands - it
    was asked for later, on what was known then - and the account's outcome says so. A household
    solved as one gives way whole. (An older run finishing last superseded the newer one's proposals.)"""
    newer = dict(Proposal.objects.filter(any_of("account_id", [p.account_id for p in proposals]),
                                         status__in=(*OPEN, Proposal.Status.RELEASED), run_id__gt=run.pk)
                 .order_by("account_id", "-run_id").values_list("account_id", "run_id"))
    if not newer:
        return proposals, outcomes, together
    for _, members in together:
        if any(m.account_id in newer for m in members):
            first = next(newer[m.account_id] for m in members if m.account_id in newer)
            newer.update({m.account_id: newer.get(m.account_id, first) for m in members})
    together = [(hp, members) for hp, members in together if members[0].account_id not in newer]
    outcomes = [RunOutcome(run=run, account_id=o.account_id, outcome=RunOutcome.Outcome.NO_TRADES, code="newer_run",
                           message=f"run {newer[o.account_id]}, started after this one, proposed for it first; "
                                   "its proposal stands")
                if o.account_id in newer and o.outcome == RunOutcome.Outcome.PROPOSED else o for o in outcomes]
    return [p for p in proposals if p.account_id not in newer], outcomes, together


def _waiting_apart(run, loaded: list[AccountInputs]) -> tuple[list[AccountInputs], list[RunOutcome]]:
    """Accounts left as they are (``accounts_held_back``), with the reason as their outcome."""
    held = accounts_held_back({i.account_id: i.household_id for i in loaded})
    outcomes = [RunOutcome(run=run, account_id=i.account_id, outcome=RunOutcome.Outcome.NO_TRADES,
                           code=held[i.account_id].code, message=held[i.account_id].message)
                for i in loaded if i.account_id in held]
    return [i for i in loaded if i.account_id not in held], outcomes


@dataclass(frozen=True)
class HeldBack:
    code: str
    message: str
    because_of: int  # the account whose open proposal holds it back (itself, or one of its household's)


def accounts_held_back(households: dict[int, int | None]) -> dict[int, HeldBack]:
    """Of these accounts (account id -> its household's id), those a run leaves as they are, each
    with its reason (code and message):

    - ``cash_flow_pending``: a withdrawal's or RMD's sales wait for a decision; a proposal of this
      run would supersede them, and the money the client asked for would never be raised;
    - ``orders_open``: a released proposal's orders are still open at the custodian; the book does
      not hold their fills yet, so a new proposal would trade the same drift or lots a second time.

    A household managed as one waits whole (its accounts are solved together). Runs, and the
    household's preview (which must not show trades a run would not make), ask here."""
    if not households:
        return {}
    reasons = dict(Proposal.objects.filter(
        Q(status__in=OPEN, run__kind=RebalanceRun.Kind.CASH_FLOW) | Q(status=Proposal.Status.RELEASED),
        any_of("account_id", list(households))).values_list("account_id", "status").order_by("-status"))
    if not reasons:
        return {}
    units = set(Household.objects.filter(pk__in={households[a] for a in reasons},
                                         managed_as=Household.ManagedAs.HOUSEHOLD).values_list("pk", flat=True))
    by_household = {}
    for account_id, household_id in households.items():
        if account_id in reasons:
            by_household.setdefault(household_id, (reasons[account_id], account_id))
    held = {}
    for account_id, household_id in households.items():
        status, because_of = ((reasons[account_id], account_id) if account_id in reasons else
                              by_household.get(household_id, (None, None)) if household_id in units else (None, None))
        if status is None:
            continue
        what = "account" if account_id in reasons else "household"
        if status == Proposal.Status.RELEASED:
            held[account_id] = HeldBack("orders_open", f"not rebalanced: released orders of this {what} are still open "
                                                       "at the custodian; it is rebalanced once they are filled or "
                                                       "cancelled", because_of)
        else:
            held[account_id] = HeldBack("cash_flow_pending", "not rebalanced: the sales of a withdrawal or RMD wait "
                                                             f"for a decision on this {what}; decide them first",
                                        because_of)
    return held


def _outcomes_claim(run_id: int, account_ids: list[int]) -> set[int]:
    """Hold these accounts' places in the run until this transaction ends, and say which of them
    already have their outcome (written by a twin of this chunk since it started). What is left is
    this transaction's alone: its proposals go in with a plain COPY, no conflict to sidestep."""
    if not account_ids:
        return set()
    with connection.cursor() as cursor:
        # One transaction-scoped advisory lock per (schema, run, account), taken in the keys' order
        # (PostgreSQL calls the volatile lock function after sorting): twins wait for each other
        # here and never deadlock; other chunks hold other accounts.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(%s || a::text, 0) AS k "
            "FROM unnest(%s::bigint[]) AS a) AS keys ORDER BY k",
            [f"{connection.schema_name}:run:{run_id}:account:", account_ids],
        )
    return set(RunOutcome.objects.filter(any_of("account_id", account_ids), run_id=run_id)
               .values_list("account_id", flat=True))


def proposal_build(run, inputs: AccountInputs, result, fingerprint: str,
                   firm_list: dict[str, str] | None = None) -> Proposal:
    """The unsaved draft proposal of one account's engine result (a run's, or an advisor's revision).
    ``firm_list``: the firm's restricted list on the run's day when the caller loaded it (a chunk),
    else read here if a trade may be on it."""
    summary = result.summary
    return Proposal(
        run=run, account_id=inputs.account_id, model_version_id=inputs.model_version_id,
        risk_model_version_id=inputs.risk_model_version_id, risk_model_note=inputs.risk_model_note,
        parameters=inputs.parameters, inputs_fingerprint=fingerprint, priced_on=inputs.priced_on,
        result=engine.result_to_dict(result), trade_count=summary.trade_count, turnover=summary.turnover,
        estimated_tax=cents_of_float(summary.estimated_tax), harvested_losses=cents_of_float(summary.harvested_losses),
        drift_before=summary.drift_before, drift_after=summary.drift_after,
        restricted_traded=_trades_restricted(run, result, inputs.parameters, firm_list),
    )


@dataclass
class _HouseholdSolved:
    outcomes: list[RunOutcome]
    alerts: list[Alert]
    proposal: HouseholdProposal | None = None
    proposals: list[Proposal] = field(default_factory=list)


def _solve_household(run, inputs: HouseholdInputs, firm_list: dict[str, str] | None = None) -> _HouseholdSolved:
    """One household managed as one: every account's proposal, or every account failed with the
    household's error (its accounts are decided together, so none goes alone)."""
    ids = [m.account_id for m in inputs.members]
    error = None
    result = None
    if inputs.error is not None:
        error = (inputs.error.code, inputs.error.message, inputs.error.detail)
    else:
        try:
            result = engine.rebalance_household(inputs.request)
        except engine.EngineError as exc:
            error = (exc.code, exc.message, exc.detail or {})
        except Exception as exc:  # one household's bug must not stop the run
            logger.exception("engine crashed on household %s", inputs.household_id)
            error = ("engine_crash", f"{exc.__class__.__name__}: {exc}", {})
    if error is not None:
        return _HouseholdSolved([_failure(run, a, *error) for a in ids], [])
    alerts = [alert for m, r in zip(inputs.members, result.accounts, strict=True) for alert in _alerts(run, m.account_id, r)]
    if run.kind == RebalanceRun.Kind.NIGHTLY and not any(r.trades for r in result.accounts):
        return _HouseholdSolved([RunOutcome(run=run, account_id=a, outcome=RunOutcome.Outcome.NO_TRADES) for a in ids],
                                alerts)
    together, proposals = household_proposal_build(run, inputs, result, firm_list)
    outcomes = [RunOutcome(run=run, account_id=a, outcome=RunOutcome.Outcome.PROPOSED) for a in ids]
    return _HouseholdSolved(outcomes, alerts, together, proposals)


def household_proposal_build(run, inputs: HouseholdInputs, result, firm_list: dict[str, str] | None = None
                             ) -> tuple[HouseholdProposal, list[Proposal]]:
    """The unsaved household proposal of a household's engine result and its accounts' draft
    proposals (a run's, or an advisor's revision of the household)."""
    summary = engine.household_result_to_dict(result)
    summary.pop("accounts")
    summary["settings"] = {"values": inputs.settings, "sources": inputs.sources}
    summary["tax_budget"] = inputs.request.tax_budget
    together = HouseholdProposal(
        run=run, household_id=inputs.household_id, model_version_id=inputs.members[0].model_version_id,
        result=summary, drift_before=result.drift_before, drift_after=result.drift_after,
        estimated_tax=cents_of_float(result.tax_cost),
        tax_budget=None if inputs.request.tax_budget is None else round(inputs.request.tax_budget, 2),
    )
    proposals = [proposal_build(run, m, r, _refingerprint(inputs.fingerprint, m.account_id), firm_list)
                 for m, r in zip(inputs.members, result.accounts, strict=True)]
    return together, proposals


def _household_proposals_insert(run_id: int, together: list[tuple[HouseholdProposal, list[Proposal]]]) -> None:
    """Write the chunk's household proposals (once per run and household) and link their accounts' proposals."""
    if not together:
        return
    HouseholdProposal.objects.bulk_create([hp for hp, _ in together], ignore_conflicts=True)
    ids = dict(HouseholdProposal.objects.filter(run_id=run_id, household_id__in=[hp.household_id for hp, _ in together])
               .values_list("household_id", "pk"))
    for hp, members in together:
        for p in members:
            p.household_proposal_id = ids[hp.household_id]


def _refingerprint(fingerprint: str, seen) -> str:
    """The inputs' digest once the request also sees trades just proposed for the household (or,
    for an account of a household managed as one, the household's digest and the account)."""
    payload = pickle.dumps((fingerprint, getattr(getattr(seen, "account", None), "household_trades", seen)), protocol=5)
    return hashlib.sha256(payload).hexdigest()


def _may_be_listed(parameters: dict) -> bool:
    restrictions = parameters.get("restrictions") or {}
    return bool(restrictions.get("do_not_buy") or restrictions.get("do_not_sell"))


def _trades_restricted(run, result, parameters: dict, firm_list: dict[str, str] | None) -> bool:
    """Does the proposal trade a security of the firm's restricted list in force on the run's day
    (what the approval policy's "restricted securities traded" means, docs/frontend.md)? A client's
    own restriction on the account (do not sell, hold, "do not trade" on a re-solve), and the trades
    that make room for it, are the account's parameters, not a compliance matter."""
    # The list joins every account's do_not_buy (and do_not_sell): a symbol in neither is not on it.
    restrictions = parameters.get("restrictions") or {}
    candidates = {t.symbol for t in result.trades} & {
        *(restrictions.get("do_not_buy") or ()), *(restrictions.get("do_not_sell") or ())}
    if not candidates:
        return False
    return not candidates.isdisjoint(firm_restrictions_on(run.as_of) if firm_list is None else firm_list)


# Engine alerts whose figures with two decimals are amounts of money (the engine states them bare).
_MONEY_ALERTS = frozenset({"harvest_opportunity", "tax_limit_exceeded", "wash_sale_disallowed"})
_BARE_AMOUNT = re.compile(r"(?<![\w$.,])(\d{1,3}(?:,\d{3})*\.\d{2})(?![\d%])")


def alert_text(code: str, message: str) -> str:
    """The engine's message as the pages say it: its amounts with their currency sign."""
    return _BARE_AMOUNT.sub(r"$\1", message) if code in _MONEY_ALERTS else message


# An alert of several positions (a harvest opportunity in five names) names this many, then counts.
ALERT_POSITIONS_NAMED = 5


def _alerts(run, account_id: int, result) -> list[Alert]:
    """The alerts of an account's solve: the engine's (``_engine_alerts``), and drift beyond its band."""
    out = _engine_alerts(run, account_id, result.alerts)
    if any("drift" in t.reasons for t in result.trades) and all(a.kind != Alert.Kind.DRIFT for a in out):
        out.append(Alert(
            run=run, account_id=account_id, kind=Alert.Kind.DRIFT,
            message=f"drift {result.summary.drift_before:.1%} is beyond its band",
        ))
    return out


def alerts_restated(run, alerts: list[Alert], restated: list[Proposal]) -> list[Alert]:
    """``alerts`` with the wash-sale alerts of the ``restated`` proposals' accounts (those
    ``tax_estimates.proposals_restate_for_ledger`` changed) taken from the proposals: the ledger's
    figures, not the engine's estimate."""
    accounts = {p.account_id: p for p in restated}
    if not accounts:
        return alerts
    kept = [a for a in alerts if not (a.account_id in accounts and a.kind == Alert.Kind.WASH_SALE)]
    for account_id, p in accounts.items():
        washed = [engine.Alert(**a) for a in p.result.get("alerts") or () if a["code"] == "wash_sale_disallowed"]
        kept += _engine_alerts(run, account_id, washed)
    return kept


def _engine_alerts(run, account_id: int, engine_alerts) -> list[Alert]:
    """One alert per kind per run and account (the table's rule): the engine's alerts of one kind
    together - every position's message, the largest amounts first, and their amounts summed, so a
    harvest alert (and the dashboard's total of them) counts every harvestable position, not the
    first the engine reported."""
    by_kind: dict[str, list] = {}
    for alert in engine_alerts:
        by_kind.setdefault(_ENGINE_ALERTS.get(alert.code, Alert.Kind.OTHER), []).append(alert)
    out: dict[str, Alert] = {}
    for kind, alerts in by_kind.items():
        # Amounts add up only when they measure one thing (one code: "other" gathers several).
        summed = len({a.code for a in alerts}) == 1 and all(a.amount is not None for a in alerts)
        if summed:
            alerts = sorted(alerts, key=lambda a: -abs(a.amount))
        texts = [alert_text(a.code, a.message) for a in alerts[:ALERT_POSITIONS_NAMED]]
        if len(alerts) > ALERT_POSITIONS_NAMED:
            texts.append(f"and {len(alerts) - ALERT_POSITIONS_NAMED} more")
        # A tax-limit alert's limits (per run, per year) measure the same gains: its amount is the
        # largest excess, not their sum (which counted the proposal's gains twice).
        amount = (max if kind == Alert.Kind.TAX_LIMIT else sum)(a.amount for a in alerts) if summed else None
        out[kind] = Alert(run=run, account_id=account_id, kind=kind, message="; ".join(texts),
                          amount=cents_of_float(amount) if amount is not None else None)
    return list(out.values())


@transaction.atomic
def alerts_record(run, solved, *, drift: bool = True, restated=()) -> None:
    """Write the alerts of a person's solve (an edit, a one-off instruction: ``solved`` is its
    (account id, engine result) pairs) under its run, as a chunk writes a run's: the kinds it decides
    are refreshed or resolved, the others (an earlier run's) stay open and counted where they are
    shown (``frontend.selectors.open_alerts``). ``restated``: its proposals the ledger's figures
    restated (``alerts_restated``).

    ``drift=False`` (a one-off instruction): the solve does not decide the drift alert - an open one
    stays as it was and none is raised. The instruction's trades follow the advisor's command, not
    the bands ("bring back to the model" sets them aside), so they say nothing of whether the account
    is beyond its band; the drift it reports is the model's (``engine.drift``), and the account page
    reads the same drift and alert as before the instruction was proposed."""
    alerts = alerts_restated(run, [alert for account_id, result in solved for alert in _alerts(run, account_id, result)],
                             list(restated))
    kinds = _SOLVE_KINDS
    if not drift:
        alerts = [alert for alert in alerts if alert.kind != Alert.Kind.DRIFT]
        kinds = _SOLVE_KINDS - {Alert.Kind.DRIFT}
    _alerts_write(alerts, solved={account_id for account_id, _ in solved}, kinds=kinds)


# The kinds an engine solve decides: an account it solved without raising one has none open any more.
_SOLVE_KINDS = frozenset(Alert.Kind.values) - {Alert.Kind.RMD}


def _alerts_write(alerts: list[Alert], *, solved: set[int], rmd_checked: frozenset[int] | set[int] = frozenset(),
                  kinds: frozenset[str] = _SOLVE_KINDS) -> None:
    """Write alerts as each account's open alerts, one per account and kind: an open alert of the
    same kind for the account is refreshed (moved to this run, with its message, amount and date),
    not written again; an open alert of a kind this solve decides and no longer raises is resolved.

    ``solved``: the accounts the engine solved (their drift, harvest, tax-limit... alerts are decided;
    ``kinds``: which kinds its solve decides);
    ``rmd_checked``: the accounts whose RMDs were read (their RMD alert is decided). An account that
    failed or was held back is in neither: its open alerts stay as they are, since nothing re-checked
    them. ``created_at`` becomes the date the alert was last raised (the model keeps no other date)."""
    decided = {(a, k) for a in solved for k in kinds} | {(a, Alert.Kind.RMD) for a in rmd_checked}
    accounts = {a for a, _ in decided} | {a.account_id for a in alerts}
    if not accounts:
        return
    now = timezone.now()
    latest: dict[tuple[int, str], Alert] = {}
    resolved: list[int] = []
    for old in (Alert.objects.select_for_update().filter(any_of("account_id", accounts), resolved_at__isnull=True)
                .order_by("-created_at", "-id")):
        key = (old.account_id, old.kind)
        if key in latest:  # an older copy, from before alerts were refreshed: the newest stands for it
            resolved.append(old.pk)
        else:
            latest[key] = old
    new, refreshed = [], []
    for alert in alerts:
        old = latest.pop((alert.account_id, alert.kind), None)
        if old is None:
            new.append(alert)
            continue
        old.run, old.message, old.amount, old.created_at = alert.run, alert.message, alert.amount, now
        refreshed.append(old)
    resolved += [old.pk for key, old in latest.items() if key in decided]  # decided, and no longer raised
    if resolved:
        Alert.objects.filter(pk__in=resolved).update(resolved_at=now)
    if refreshed:
        Alert.objects.bulk_update(refreshed, ["run", "message", "amount", "created_at"])
    objects_insert_by_copy(new)


def _rmd_alerts(run, account_ids: list[int]) -> list[Alert]:
    """One RMD alert per IRA and run (a run keeps one alert of a kind per account): an IRA owing more
    than one year's - a missed one and this year's - has them in one alert, the amounts added."""
    owed: dict[int, list] = {}
    for due in rmd_alerts_due(account_ids, as_of=run.as_of):
        owed.setdefault(due.account.pk, []).append(due)
    return [Alert(run=run, account_id=pk, kind=Alert.Kind.RMD, amount=sum(due.remaining for due in dues),
                  message="; ".join(_rmd_alert_text(due) for due in dues)) for pk, dues in owed.items()]


def _rmd_alert_text(due) -> str:
    if due.missed:
        rate = (f"25%; 10% of what is made up by {due.window_end:%d %B %Y}" if due.window_end else
                "50%, the rate before 2023, made up or not")
        return (f"{due.year} RMD missed: ${due.shortfall:,.2f} was not taken by {due.required.deadline:%d %B %Y}; "
                f"${due.remaining:,.2f} is left to make up. Excise tax so far ${due.excise:,.2f} ({rate}; it may be "
                "waived for reasonable error, Form 5329); make it up on the household page")
    if due.owner_accounts:
        what = (f"{due.year} RMDs of ${due.owner_required:,.2f} from {', '.join(due.owner_accounts)} "
                "(one owner's IRAs: any of them may pay)")
    else:
        what = f"{due.year} RMD of ${due.required.amount:,.2f} from {due.account.custodian_number}"
    first = " (the owner's first)" if due.is_first else ""
    return (f"{what}{first}: ${due.remaining:,.2f} not yet taken or planned, due by "
            f"{due.required.deadline:%d %B %Y}; plan it on the household page")


def _record_progress(run_id: int, *, done: int, failed: int, **seconds: float) -> None:
    """Add a chunk's outcomes (``done`` and ``failed``) to the run's counts, in the transaction that
    wrote them. They are the outcomes of the accounts the chunk claimed (``_outcomes_claim``), none
    of which had one, so a redone chunk or its twin adds only what it wrote and nothing counts
    twice. (Counting the run's outcomes again for every chunk read the whole ledger: about 10 ms a
    chunk at 10,000 accounts, and it grew with the run.)"""
    run = RebalanceRun.objects.select_for_update().get(pk=run_id)
    done, failed = run.done + done, run.failed + failed
    timings = dict(run.timings or {})
    for phase, value in seconds.items():
        timings[phase] = round(timings.get(phase, 0.0) + value, 4)
    timings["chunks"] = timings.get("chunks", 0) + 1
    run.timings, run.done, run.failed = timings, done, failed
    fields = ["done", "failed", "timings"]
    if run.status in (RebalanceRun.Status.QUEUED, RebalanceRun.Status.RUNNING) and done + failed >= run.total:
        run.status = RebalanceRun.Status.COMPLETED
        run.finished_at = timezone.now()
        fields += ["status", "finished_at"]
    run.save(update_fields=fields)
    if "status" in fields:
        webhook_events.run_finished(run_id)
        # Approvers hear of what waits for them once the run's proposals are committed.
        transaction.on_commit(lambda: dispatch.send(dispatch.APPROVERS_NOTIFY, run_id))


@dataclass(frozen=True)
class FirmRunStarted:
    firm_slug: str
    firm_name: str
    run_id: int | None
    accounts: int
    error: str = ""


def firm_without_accounts() -> str:
    """Why a provider's run in this one firm (its schema) is refused: it has no account at all -
    just onboarded, a run would do nothing and leave its health reading "look at it" - or ""
    (accounts a run leaves out, with no model say, are named with the run instead). A run in
    every firm still starts an empty run there, as a scheduled run over an empty book does."""
    return "" if Account.objects.exists() else "it has no accounts to run."


def runs_start_all_firms(*, label: str, as_of: date | None = None) -> list[FirmRunStarted]:
    """A whole-firm run in every active firm, each started in its own schema and transaction (a
    provider operator's action: the console or ``manage.py rebalance --all-firms``). A firm whose
    run cannot start is reported with the reason; the others still start."""
    from django_tenants.utils import tenant_context

    from tenants.errors import DomainError
    from tenants.selectors import firms_active

    started = []
    for firm in firms_active():
        with tenant_context(firm):
            try:
                with transaction.atomic():
                    run = run_start(scope=RunScope(firm=True), as_of=as_of, label=label)
            except DomainError as exc:
                started.append(FirmRunStarted(firm.slug, firm.name, None, 0, exc.message))
                continue
        started.append(FirmRunStarted(firm.slug, firm.name, run.pk, run.total))
    return started

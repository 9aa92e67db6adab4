"""Money into and out of a household: deposits, withdrawals and required minimum distributions.

A withdrawal or RMD: the engine's ``plan_withdrawal`` chooses the accounts and lots (cash first,
the least tax per dollar raised first - losses first -, the IRA for an RMD, never a wash sale) and its tax cost;
the sales become proposals of a run of kind ``cash_flow``, gathered under one household proposal
and submitted to the firm's approval policy like any other. A deposit is cash received in one
account (its balance goes up) and a run of the household invests it - unless a run would leave that
account as it is (an approved proposal waiting for release, orders still open, a withdrawal's sales
waiting): then no run is started and the deposit says why it is not invested and what to do.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing import engine
from rebalancing.access import households_visible_to, require
from rebalancing.engine.rmd import applicable_age
from rebalancing.engine.withdrawal_results import withdrawal_results
from rebalancing.engine_inputs import book_day_check, household_inputs_load
from rebalancing.imports.cells import MAX_AMOUNT
from rebalancing.ledger.quantities import cents_of_float
from rebalancing.models import (
    Account,
    CashFlow,
    Household,
    HouseholdProposal,
    Proposal,
    RebalanceRun,
    RunOutcome,
)
from rebalancing.planned_trades import household_request_seeing, trades_planned_by
from rebalancing.selectors import RunScope, accounts_for_scope, approved_unreleased
from rebalancing.services.proposals import OPEN, proposals_submit_new, proposals_supersede
from rebalancing.services.rmd import (
    rmd_alerts_resolve_planned,
    rmd_due,
    rmd_open_for_account,
    rmd_owed_by_owner,
)
from rebalancing.services.runs import accounts_held_back, run_start
from rebalancing.services.tax_estimates import (
    open_estimates_restate,
    proposals_restate_for_ledger,
    wash_sales_allowed,
    withdrawal_plan_restate,
)
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import Conflict, NotFound, ValidationFailed
from tenants.permissions import Capability
from tenants.selectors import firm_active_check

__all__ = ["CashFlowEntered", "GaveWay", "cash_flow_enter", "deposits_invest"]


def _digits_limit(field) -> Decimal:
    return Decimal(10) ** (field.max_digits - field.decimal_places)


_AMOUNT_FIELD = CashFlow._meta.get_field("amount")
_CENT = Decimal(1).scaleb(-_AMOUNT_FIELD.decimal_places)
_CASH_LIMIT = _digits_limit(Account._meta.get_field("cash"))
_REFERENCE_MAX = CashFlow._meta.get_field("reference").max_length


@dataclass(frozen=True)
class GaveWay:
    """An open proposal superseded by a withdrawal planned on the book it was made on."""

    account: str  # custodian number
    proposal_id: int
    state: str  # in words: "approved", "waiting for approval", "waiting for compliance"


@dataclass(frozen=True)
class CashFlowEntered:
    cash_flow: CashFlow
    created: bool  # False: the reference was entered before (nothing new written)
    # Accounts whose approved, unreleased proposal gave way to the withdrawal (made on the book before it).
    approved_replaced: tuple[str, ...] = ()
    # Every open proposal that gave way to the withdrawal, approved and waiting ones alike.
    gave_way: tuple[GaveWay, ...] = ()
    # A deposit no run invests now: why, and what to do (empty: ``cash_flow.run`` invests it).
    not_invested: str = ""
    # A withdrawal's or RMD's proposals once submitted to the approval policy: their states, and how
    # many sales they make (none: cash pays it all).
    statuses: frozenset[str] = frozenset()
    sales: int = 0


def _visible(user, household: Household) -> Household:
    if not households_visible_to(user).filter(pk=household.pk).exists():
        raise NotFound("No such household.")
    return Household.objects.select_for_update(of=("self",)).select_related("template").get(pk=household.pk)


@transaction.atomic
def cash_flow_enter(*, user, household: Household, kind: str, amount: Decimal | None, account: Account | None = None,
                    as_of: date | None = None, reference: str = "", taken_outside: bool = False,
                    makes_up_year: int | None = None, invest_later: bool = False,
                    repeat: bool = False) -> CashFlowEntered:
    """Enter a deposit, withdrawal or RMD for ``household``; with a ``reference`` entered before,
    nothing happens (a file imported twice) - or, sent with other values, a 409 naming them. An RMD without an amount takes what is left of the
    year's RMD from the account (``services.rmd``). ``taken_outside``: a withdrawal or RMD the client
    already took from an IRA at the custodian, recorded on its day so that the IRA's RMD counts it;
    nothing is planned or sold. ``makes_up_year``: an RMD making up that year's missed RMD (past its
    deadline, not all taken); it counts for that year only, and without an amount takes what is left
    to make up. Bad input or a withdrawal the household cannot fund without a wash sale is refused,
    naming the problem, and nothing is written. ``invest_later``: a deposit's run is not started
    here; the caller starts one for many deposits of the household (``deposits_invest``).
    ``repeat``: a withdrawal or RMD the same as one still waiting is a second one, not the first sent
    again (``_resubmission_check``)."""
    require(user, Capability.EDIT_PARAMETERS)
    household = _visible(user, household)
    reference = (reference or "").strip()
    if reference:
        found = CashFlow.objects.filter(household=household, reference=reference).first()
        if found is not None:
            _same_as_entered(found, kind=kind, amount=amount, account=account, as_of=as_of,
                             taken_outside=taken_outside, makes_up_year=makes_up_year)
            return CashFlowEntered(found, created=False)
    if kind not in CashFlow.Kind.values:
        raise ValidationFailed(f"{kind!r} is not a deposit, withdrawal or rmd.", detail={"field": "kind"})
    if amount is not None or kind != CashFlow.Kind.RMD:
        amount = _amount_checked(Decimal(amount if amount is not None else 0))
    if len(reference) > _REFERENCE_MAX:
        raise ValidationFailed(f"The reference must be at most {_REFERENCE_MAX} characters (it has {len(reference)}).",
                               detail={"field": "reference"})
    if account is not None and account.household_id != household.pk:
        raise ValidationFailed(f"Account {account.custodian_number} is not in {household.name}.",
                               detail={"field": "account"})
    if kind in (CashFlow.Kind.DEPOSIT, CashFlow.Kind.RMD) and account is None:
        what = "receives the deposit" if kind == CashFlow.Kind.DEPOSIT else "the RMD is due from"
        raise ValidationFailed(f"Choose the account that {what}.", detail={"field": "account"})
    if taken_outside and (kind == CashFlow.Kind.DEPOSIT or account is None
                          or account.tax_status != Account.TaxStatus.TRADITIONAL or amount is None):
        raise ValidationFailed("A distribution already taken is recorded for the traditional IRA it came from, with "
                               "its amount and day (it counts towards the IRA's RMD); "
                               + ("a deposit is not one." if kind == CashFlow.Kind.DEPOSIT else
                                  "enter the amount." if amount is None else "choose that IRA."),
                               detail={"field": "kind" if kind == CashFlow.Kind.DEPOSIT else
                                       "amount" if amount is None else "account"})
    if kind == CashFlow.Kind.RMD and account.tax_status != Account.TaxStatus.TRADITIONAL:
        raise ValidationFailed(f"A required minimum distribution comes from a traditional IRA; "
                               f"{account.custodian_number} is {account.tax_status_noun}.",
                               detail={"field": "account"})
    today = timezone.localdate()
    as_of = book_day_check(as_of or today, what="cash flow's day")
    if makes_up_year is not None:
        if kind != CashFlow.Kind.RMD:
            raise ValidationFailed("Only a required minimum distribution makes up a missed one; choose that kind.",
                                   detail={"field": "makes_up_year"})
        missed = _missed_line(account, int(makes_up_year), as_of)
        if amount is None:
            amount = missed.remaining
        elif amount > missed.remaining:
            # A make-up counts for the missed year only; what it took beyond the shortfall would count
            # for no year at all, though it is a distribution of the year it is taken in (IRC §408(d)).
            raise ValidationFailed(f"${missed.remaining:,.2f} is left to make up of {account.custodian_number}'s "
                                   f"{missed.year} RMD; ${amount:,.2f} is more: enter the rest apart, as this "
                                   "year's RMD or a withdrawal.", detail={"field": "amount"})
    elif amount is None:
        amount = _rmd_remaining(account, as_of)
    elif kind == CashFlow.Kind.RMD:
        _rmd_owed(account, as_of)
        # What is left of the year's RMD bounds a planned one (a stale page's "Plan it" sent again
        # asks for what is planned already); one whose RMD cannot be computed is checked as a withdrawal.
        capped = taken_outside or _rmd_left_check(account, as_of, amount)
        if not capped and not reference and not repeat:
            _resubmission_check(household, kind=kind, amount=amount, account=account)
    if kind == CashFlow.Kind.WITHDRAWAL and not taken_outside and not reference and not repeat:
        _resubmission_check(household, kind=kind, amount=amount, account=account)
    flow = CashFlow(household=household, kind=kind, amount=amount, account=account, as_of=as_of,
                    reference=reference, created_by=user if getattr(user, "pk", None) else None,
                    taken_outside=taken_outside, makes_up_year=makes_up_year)
    gave_way: tuple[GaveWay, ...] = ()
    not_invested = ""
    statuses: frozenset[str] = frozenset()
    if kind == CashFlow.Kind.DEPOSIT:
        not_invested = _deposit(flow, user, invest=not invest_later)
    elif taken_outside:
        _recorded(flow)
    else:
        gave_way = _withdrawal(flow, user)
        statuses = frozenset(Proposal.objects.filter(run_id=flow.run_id).values_list("status", flat=True))
    if kind != CashFlow.Kind.DEPOSIT:  # what it takes from an IRA counts towards its RMD
        rmd_alerts_resolve_planned(household_id=household.pk, as_of=as_of)
    audit_record(actor=user, action=Action.CASH_FLOW_CREATE, obj=household, after={
        "kind": kind, "amount": str(amount), "account": account.custodian_number if account else None,
        "reference": reference, "tax_cost": str(flow.tax_cost), "run": flow.run_id, "taken_outside": taken_outside,
        "makes_up_year": makes_up_year,
        "sales": len(flow.plan.get("sales", [])) if flow.plan else 0})
    approved = tuple(g.account for g in gave_way if g.state == "approved")
    return CashFlowEntered(flow, created=True, approved_replaced=approved, gave_way=gave_way,
                           not_invested=not_invested, statuses=statuses,
                           sales=len(flow.plan.get("sales", [])) if flow.plan else 0)


def _same_as_entered(found: CashFlow, *, kind: str, amount, account: Account | None, as_of: date | None,
                     taken_outside: bool, makes_up_year: int | None) -> None:
    """Refuse a cash flow sent again under ``found``'s reference with other content, naming what differs:
    answering the first one would drop the change without a word (a corrected amount, say). What the
    sender left to its default is not compared: an RMD's amount (what was left of it then) and the day
    (a retry on a later day is the same cash flow)."""
    sent = {"kind": kind, "account": account.custodian_number if account is not None else None,
            "taken_outside": bool(taken_outside), "makes_up_year": makes_up_year}
    entered = {"kind": found.kind, "account": found.account.custodian_number if found.account_id else None,
               "taken_outside": found.taken_outside, "makes_up_year": found.makes_up_year}
    if amount is not None:
        sent["amount"], entered["amount"] = _decimal_or_text(amount), found.amount
    if as_of is not None:
        sent["as_of"], entered["as_of"] = as_of, found.as_of
    differs = {name: {"entered": _shown(entered[name]), "sent": _shown(sent[name])}
               for name in sent if sent[name] != entered[name]}
    if differs:
        words = "; ".join(f"{name} {d['entered']} then, {d['sent']} now" for name, d in differs.items())
        raise Conflict(f"Reference {found.reference} was entered before with other values ({words}). Nothing was "
                       "changed: send it as it was to see it, or give the new cash flow its own reference.",
                       detail={"field": "reference", "reference": found.reference, "cash_flow": found.pk,
                               "differs": differs})


def _decimal_or_text(value):
    try:
        return Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        return value  # not a number: differs from any amount, named as it was sent


def _shown(value) -> str | None:
    return None if value is None else str(value)


def _missed_line(account: Account, year: int, as_of: date):
    """``account``'s missed RMD of ``year`` on ``as_of``, refused in words when there is none to make up."""
    account = Account.objects.get(pk=account.pk)  # the stored facts
    for line in rmd_open_for_account(account, as_of=as_of):
        if line.year == year and line.missed:
            return line
    if not 2022 <= year < as_of.year + 1:
        raise ValidationFailed(f"{year} is not a year whose RMD can be made up on {as_of:%d %B %Y}.",
                               detail={"field": "makes_up_year"})
    line = rmd_due(account=account, year=year)
    if line.required is None:
        why = line.problem
    elif not line.required.due:
        why = "none was due: " + _not_due_words(line.required)
    elif as_of <= line.required.deadline:
        why = f"it is due by {line.required.deadline:%d %B %Y}, not missed: enter it as that year's RMD"
    else:
        why = "it was all taken by its deadline, or is made up already"
    raise ValidationFailed(f"{account.custodian_number} has no missed {year} RMD to make up: {why}",
                           detail={"field": "makes_up_year"})


def _rmd_owed(account: Account, as_of: date) -> None:
    """Refuse, in words, an RMD of a stated amount from an IRA that owes none this year (its owner
    is under the RMD age): the money is a withdrawal, and counting it as an RMD would show one taken
    that was never due. An RMD that cannot be computed (facts missing) is taken as stated."""
    account = Account.objects.get(pk=account.pk)  # the stored facts
    born = account.owner_birth_date
    if born is not None and born.year < as_of.year < engine.first_distribution_year(born):
        # Before the first RMD year none is due, whatever the IRA was worth: no 31 December value is
        # needed to say so (without one the year's line cannot be computed, and this was let through).
        first = engine.first_distribution_year(born)
        raise ValidationFailed(f"{account.custodian_number} owes no RMD for {as_of.year}: RMDs start at "
                               f"{applicable_age(born)} for an owner born on {born:%d %B %Y}; the first is "
                               f"for {first}, by 1 April {first + 1}. Enter the money as a withdrawal.",
                               detail={"field": "kind"})
    lines = rmd_open_for_account(account, as_of=as_of, missed=False)
    if lines and all(line.required is not None and not line.required.due for line in lines):
        line = lines[-1]
        raise ValidationFailed(f"{account.custodian_number} owes no RMD for {line.year}: "
                               f"{_not_due_words(line.required)}. Enter the money as a withdrawal.",
                               detail={"field": "kind"})


def _rmd_remaining(account: Account, as_of: date) -> Decimal:
    """What is left of the RMDs open on ``as_of`` that may come from ``account``: its owner's, and a
    first RMD waiting until 1 April with this year's (``services.rmd.rmd_open``); a missed earlier
    one is made up apart (``makes_up_year``), never by this year's."""
    # Read again: the facts are the stored ones, not those of the caller's copy of the account.
    account = Account.objects.get(pk=account.pk)
    lines = rmd_open_for_account(account, as_of=as_of, missed=False)
    for line in lines:
        if line.required is None:
            # The custodian's figure, once entered, is the RMD from then on (planned, counted, alerted);
            # an amount typed here is only this distribution's.
            where = (f" (with {account.custodian_number}'s RMD facts, on the household page or the API's rmd-facts)"
                     if line.amount_wanted else "")
            raise ValidationFailed(f"The {line.year} RMD cannot be computed: {line.problem.rstrip('.')}{where}. "
                                   "Or give this distribution its amount.", detail={"field": "amount"})
    left = sum((line.remaining for line in lines), Decimal("0.00"))
    if left <= 0:
        line = lines[-1]
        if not line.required.due:
            raise ValidationFailed(f"{account.custodian_number}'s {line.year} RMD is not due: "
                                   f"{_not_due_words(line.required)}. Enter an amount to take more.",
                                   detail={"field": "amount"})
        what = (f" (${line.distributed:,.2f})" if not line.owner_accounts else
                f" from {', '.join(line.owner_accounts)}, one owner's IRAs (${line.owner_distributed:,.2f} "
                f"of ${line.owner_required:,.2f})")
        raise ValidationFailed(f"{account.custodian_number}'s {line.year} RMD of ${line.required.amount:,.2f} is "
                               f"already taken or planned{what}{_rmd_plans_words(account, line)}: $0.00 left to "
                               "plan. What the client wants beyond it is a withdrawal: enter it as one.",
                               code="rmd_planned", detail={"field": "amount"})
    return left


def _rmd_left_check(account: Account, as_of: date, amount: Decimal) -> bool:
    """Refuse, naming what is left and the plans that took the rest, an RMD of ``amount`` above what
    is left of the RMDs open on ``as_of`` from ``account`` (``_rmd_remaining``'s): the excess is no
    RMD - a distribution beyond a year's RMD is credited to no later year (Treas. Reg.
    §1.401(a)(9)-5, Q&A-2, for IRAs by §1.408-8, Q&A-1; Pub. 590-B) -, so the user enters it as a
    withdrawal. False (nothing checked) where an RMD open cannot be computed: the amount is taken."""
    account = Account.objects.get(pk=account.pk)  # the stored facts
    lines = rmd_open_for_account(account, as_of=as_of, missed=False)
    if not lines or any(line.required is None for line in lines):
        return False
    left = sum((line.remaining for line in lines), Decimal("0.00"))
    if amount <= left:
        return True
    line = lines[-1]
    of = (f"{account.custodian_number}'s {line.year} RMD of ${line.required.amount:,.2f}" if not line.owner_accounts
          else f"The {line.year} RMD of {', '.join(line.owner_accounts)}, one owner's IRAs "
               f"(${line.owner_required:,.2f} in all),")
    taken = f"{of} is already taken or planned{_rmd_plans_words(account, line)}"
    if left:
        words = (f"{taken} but for ${left:,.2f}: ${left:,.2f} left to plan, and ${amount:,.2f} is more. Nothing was "
                 f"entered. Plan the ${left:,.2f} as the RMD, and what the client wants beyond it as a withdrawal "
                 f"from {account.custodian_number}.")
    else:
        words = (f"{taken}: $0.00 left to plan, so this is not an RMD (sent twice?). Nothing was entered. What the "
                 f"client wants beyond the RMD is a withdrawal: enter it as one from {account.custodian_number}.")
    raise ValidationFailed(words, code="rmd_planned", detail={"field": "amount", "left": str(left),
                                                              "asked": str(amount)})


def _rmd_plans_words(account: Account, line) -> str:
    """The withdrawals and RMDs still waiting that take from the IRAs of ``line`` this year, named by
    their household proposals: " (in household proposal #5, an RMD of $28,246.89 entered 3 May 2026,
    pending approval)"; "" when none waits (taken at the custodian, or paid out)."""
    numbers = set(line.owner_accounts or (account.custodian_number,))
    waiting = (CashFlow.objects.filter(household_id=account.household_id, kind__in=engine.WITHDRAWAL_KINDS,
                                       taken_outside=False, run__proposals__status__in=OPEN)
               .distinct().order_by("created_at", "pk"))
    named = []
    for flow in waiting:
        if not numbers & set((flow.plan or {}).get("distributions") or {}):
            continue
        together = HouseholdProposal.objects.filter(run_id=flow.run_id).order_by("pk").first()
        states = set(Proposal.objects.filter(run_id=flow.run_id, status__in=OPEN).values_list("status", flat=True))
        state = "approved, not yet released" if states == {Proposal.Status.APPROVED} else "pending approval"
        what = "an RMD" if flow.kind == CashFlow.Kind.RMD else "a withdrawal"
        where = f"household proposal #{together.pk}" if together is not None else f"run {flow.run_id}"
        named.append(f"{where}, {what} of ${flow.amount:,.2f} entered {flow.created_at:%d %B %Y}, {state}")
    return f" (in {'; '.join(named)})" if named else ""


def _resubmission_check(household: Household, *, kind: str, amount: Decimal, account: Account | None) -> None:
    """Refuse a withdrawal (or an RMD whose RMD cannot be computed) the same as one of the household
    still waiting - same kind, amount and account, its proposals open -: most likely the first sent
    again (a page left open, a second tab, an API retry), and approving both would pay the client
    twice. A second one is entered when the user says so (``repeat``) or gives it a reference."""
    same = (CashFlow.objects.filter(household=household, kind=kind, amount=amount, account=account,
                                    taken_outside=False, run__proposals__status__in=OPEN)
            .distinct().order_by("created_at", "pk").first())
    if same is None:
        return
    together = HouseholdProposal.objects.filter(run_id=same.run_id).order_by("pk").first()
    where = f"household proposal #{together.pk}" if together is not None else f"run {same.run_id}"
    what = "RMD" if kind == CashFlow.Kind.RMD else "withdrawal"
    source = f" from {account.custodian_number}" if account is not None else ""
    raise Conflict(f"The same {what} of ${amount:,.2f}{source} is already planned in {where}, entered "
                   f"{same.created_at:%d %B %Y}, and waits for a decision: is this one sent again? Nothing was "
                   f"entered. To plan a second {what} of the same amount, say it is a second one (repeat) or give "
                   "it a reference of its own.", code="cash_flow_repeated",
                   detail={"field": "amount", "cash_flow": same.pk, "household_proposal": getattr(together, "pk", None)})


def _not_due_words(required) -> str:
    """Why an RMD is not due, to follow "is not due: " mid-sentence: the engine's explanation without
    its own "None due for 2026: " opening and its closing period (the sentence ends after it)."""
    words = required.explanation.rstrip(".")
    opening = f"None due for {required.year}: "
    return words[len(opening):] if words.startswith(opening) else words


def _amount_checked(amount: Decimal) -> Decimal:
    """Dollars and cents the amount column can hold, refused in words before anything is written
    (the database would otherwise refuse it mid-way, as a server error)."""
    if not amount.is_finite() or amount <= 0:
        raise ValidationFailed("The amount must be more than 0.", detail={"field": "amount"})
    if amount > MAX_AMOUNT:  # the file's plausibility bound, here so that the API and the page meet it too
        raise ValidationFailed(f"The amount, ${amount.normalize():,f}, is more than any client account holds: at "
                               f"most ${int(MAX_AMOUNT):,} in one cash flow.", detail={"field": "amount"})
    in_cents = amount.quantize(_CENT, rounding=ROUND_DOWN)
    if amount != in_cents:
        raise ValidationFailed(f"The amount is in dollars and cents: {amount} has more than 2 decimal places.",
                               detail={"field": "amount"})
    return in_cents  # 12.500 is 12.50: the column's validator counts the places as written


def _deposit(flow: CashFlow, user, *, invest: bool = True) -> str:
    """Credit the cash and start the household's run that invests it (``invest``; else the caller
    starts it, ``deposits_invest``); where a run would leave the account as it is, start none and
    return why (also kept in the plan's explanation, for the cash-flow table)."""
    account = Account.objects.select_for_update().get(pk=flow.account_id)
    if account.cash + flow.amount >= _CASH_LIMIT:
        raise ValidationFailed(f"A deposit of {flow.amount:,} would take {account.custodian_number}'s cash above "
                               f"what an account can hold ({_CASH_LIMIT:,}).", detail={"field": "amount"})
    account.cash += flow.amount
    account.save(update_fields=["cash"])
    scope = RunScope(household_id=flow.household_id)
    not_invested = _deposit_held_back(flow, account, scope)
    if not_invested:
        flow.plan = {"explanation": [f"Not invested when entered: {not_invested}"]}
    # Its constraints are the checks cash_flow_enter made above, its foreign keys the rows it holds:
    # ten queries a deposit saved (a file of a thousand deposits runs in the request).
    flow.full_clean(exclude=["household", "account", "created_by", "run"], validate_constraints=False)
    flow.save()
    if not_invested or not invest:
        return not_invested
    flow.run = run_start(scope=scope, as_of=flow.as_of, user=None,
                         label=f"deposit of {flow.amount:,.2f} by {user.get_username()}")
    flow.save(update_fields=["run"])
    return ""


@transaction.atomic
def deposits_invest(flows: list[CashFlow], *, user) -> RebalanceRun | None:
    """Start one run of the household that invests these deposits of it and of one day (entered
    with ``invest_later``, none held back): a file of a thousand deposits starts a run per household,
    not a thousand runs of the same households."""
    if not flows:
        return None
    total = sum((f.amount for f in flows), Decimal(0))
    what = f"deposit of {total:,.2f}" if len(flows) == 1 else f"{len(flows)} deposits of {total:,.2f} in all"
    run = run_start(scope=RunScope(household_id=flows[0].household_id), as_of=flows[0].as_of, user=None,
                    label=f"{what} by {user.get_username()}")
    CashFlow.objects.filter(pk__in=[f.pk for f in flows]).update(run=run)
    for f in flows:
        f.run = run
    return run


def _deposit_held_back(flow: CashFlow, account: Account, scope: RunScope) -> str:
    """Why a run of the household now would not invest ``account``'s deposit, in words with what to
    do; "" when it would. A run started regardless would complete over nothing, saying nothing."""
    if account.pk not in set(accounts_for_scope(scope)):
        unit = flow.household.is_unit
        waiting = [p for p in approved_unreleased(scope) if unit or p.account_id == account.pk]
        if not waiting:
            return (f"{account.custodian_number} has no model to be managed to, and an account without one is not "
                    "rebalanced; give it (or its household) a model, then rebalance the household.")
        named = ", ".join(f"#{p.pk} of {p.account.custodian_number}" for p in waiting)
        return (f"the approved proposal{'s' if len(waiting) > 1 else ''} {named}, not yet released, "
                f"{'hold' if len(waiting) > 1 else 'holds'} {'the household' if unit else account.custodian_number} "
                "back: its approval stands, so a run leaves it as it is. Release it and rebalance the household "
                "once its orders are filled, or rebalance the household replacing approved proposals.")
    held = accounts_held_back({account.pk: flow.household_id}).get(account.pk)
    if held is not None:
        return f"{account.custodian_number} is {held.message}; then rebalance the household to invest it."
    return ""


def _recorded(flow: CashFlow) -> None:
    """A distribution already taken at the custodian: what it took from the IRA, in the plan's shape
    (``distributions``) so that the RMD counts it as it counts a planned one; no run, no sale. Its
    tax is the client's already (ordinary income of the day it was taken), not an estimate of ours."""
    number = flow.account.custodian_number
    flow.plan = {"distributions": {number: float(flow.amount)}, "sales": [], "cash_used": {},
                 "explanation": [f"Taken from {number} at the custodian on {flow.as_of:%d %B %Y} and recorded: "
                                 "it counts towards the IRA's RMD for its year. Nothing is sold."]}
    flow.full_clean()
    flow.save()


def _open_cash_flow_check(flow: CashFlow) -> None:
    """A withdrawal whose orders are out holds the next one back: its lots leave the book only as the
    orders fill (then its proposal is executed), so the book a plan would be made on is moving."""
    waiting = (CashFlow.objects.filter(household_id=flow.household_id, kind__in=engine.WITHDRAWAL_KINDS,
                                       run__proposals__status=Proposal.Status.RELEASED).order_by("created_at").first())
    if waiting is not None:
        raise Conflict(f"The {waiting.get_kind_display().lower()} of ${waiting.amount:,.2f} entered on "
                       f"{waiting.as_of:%d %B %Y} has orders out at the custodian: enter this one once they are "
                       "filled or cancelled (a plan now would count lots that are being sold).", code="cash_flow_pending",
                       detail={"cash_flow": waiting.pk, "run": waiting.run_id})


def _models_check(flow: CashFlow) -> None:
    """Refuse, naming them, a withdrawal from a household with accounts managed to no model (an
    accounts file row with an empty model column): the plan is made on the household's one request,
    which sells what the household holds most above its model, and an account without a model has
    no place in it. What to do is the user's choice: give it a model, or move it out."""
    household = flow.household
    accounts = Account.objects.filter(household=household).order_by("custodian_number")
    if household.is_unit and household.model_id is None:
        raise ValidationFailed(f"{household.name} is managed as one household but has no model, so its accounts "
                               "cannot be planned for a withdrawal: give the household a model, then enter it again.",
                               code="no_model", detail={"household": household.external_id})
    unmanaged = [] if household.is_unit else list(accounts.filter(model__isnull=True)
                                                  .values_list("custodian_number", flat=True))
    if unmanaged:
        many = len(unmanaged) > 1
        raise ValidationFailed(f"{', '.join(unmanaged)} {'have' if many else 'has'} no model: a withdrawal is planned "
                               f"over all of {household.name}'s accounts against their models, so give "
                               f"{'them' if many else 'it'} a model (or move {'them' if many else 'it'} out of the "
                               "household), then enter the withdrawal again.",
                               code="no_model", detail={"accounts": unmanaged})


def _waiting_plans(flow: CashFlow) -> list[engine.WithdrawalPlan]:
    """The household's earlier withdrawals and RMDs, oldest first, each as the part of its plan whose
    accounts' sales still wait for a decision or a release (an account already paid out is in the
    book as it is): a new plan is made on the book as they will leave it."""
    waiting: dict[int, set[str]] = defaultdict(set)
    for run_id, number in (Proposal.objects.filter(account__household_id=flow.household_id, status__in=OPEN,
                                                   run__kind=RebalanceRun.Kind.CASH_FLOW)
                           .values_list("run_id", "account__custodian_number")):
        waiting[run_id].add(number)
    plans = []
    for f in CashFlow.objects.filter(run_id__in=waiting).order_by("created_at", "pk"):
        plan, numbers = engine.withdrawal_plan_from_dict(f.plan), waiting[f.run_id]
        plans.append(dataclasses.replace(
            plan, sales=tuple(s for s in plan.sales if s[0] in numbers),
            cash_used={k: v for k, v in plan.cash_used.items() if k in numbers},
            distributions={k: v for k, v in plan.distributions.items() if k in numbers}))
    return plans


def _owners_born(household_id: int) -> dict:
    """Traditional account number -> its owner's date of birth (an early distribution's extra tax)."""
    return dict(Account.objects.filter(household_id=household_id, tax_status=Account.TaxStatus.TRADITIONAL,
                                       owner_birth_date__isnull=False).values_list("custodian_number", "owner_birth_date"))


def _standing_trades(flow: CashFlow, *, as_one: bool, giving_way: frozenset[str]) -> list[engine.HouseholdTrade]:
    """The trades of the household's open proposals that may stand after the withdrawal supersedes
    what it replaces: none in a household managed as one (every account's open proposal gives way),
    in a household managed account by account those of the accounts not ``giving_way`` (the accounts
    the plan draws on give way: ``_withdrawal_planned``), and the earlier withdrawals' sales in either.
    A loss the plan sells must not be washed by a purchase in one of them (IRC §1091, Rev. Rul.
    2008-5 for an IRA's); released ones are seen already, as their open orders."""
    standing = Proposal.objects.filter(account__household_id=flow.household_id, status__in=OPEN)
    if as_one:
        standing = standing.filter(run__kind=RebalanceRun.Kind.CASH_FLOW)
    elif giving_way:
        standing = standing.exclude(account__custodian_number__in=giving_way, run__kind__in=_GIVING_WAY_KINDS)
    out = []
    for number, result, taxable in standing.values_list("account__custodian_number", "result", "account__taxable"):
        out.extend(trades_planned_by((result or {}).get("trades") or [], account_number=number, as_of=flow.as_of,
                                     taxable=taxable))
    return out


# What gives way to a withdrawal in a household managed account by account: the open proposals of
# the accounts it draws on, except earlier withdrawals' (they were entered first and stand).
_GIVING_WAY_KINDS = [k for k in RebalanceRun.Kind.values if k != RebalanceRun.Kind.CASH_FLOW]


def approved_giving_way(household_id: int) -> list[Proposal]:
    """The household's approved proposals not yet released that a withdrawal or RMD entered now
    would replace (named to the user before entering it): earlier withdrawals' stand beside it, as
    they do when it is planned (``_GIVING_WAY_KINDS``)."""
    return [p for p in approved_unreleased(RunScope(household_id=household_id))
            if p.run.kind in _GIVING_WAY_KINDS]


def _withdrawal_planned(flow: CashFlow, inputs, *, as_one: bool):
    """The plan, its per-account results and the accounts whose open proposals give way to it.

    Account by account, the accounts the plan draws on give way, so their proposals' purchases are
    never made and wash nothing (IRC §1091(a) needs shares acquired): planned again without them
    until the accounts drawn on are among those left out (each round leaves out one account more at
    least, so it ends). A round's plan still sees the purchases of the accounts it does not leave
    out, so what it sells at a loss is never washed by a proposal left standing."""
    giving_way: frozenset[str] = frozenset()
    # A withdrawal from anywhere in the household takes an RMD still owed first (engine.plan_withdrawal).
    owed = rmd_owed_by_owner(flow.household_id, as_of=flow.as_of) if flow.kind == CashFlow.Kind.WITHDRAWAL else []
    while True:
        request = household_request_seeing(inputs.request,
                                            _standing_trades(flow, as_one=as_one, giving_way=giving_way))
        for earlier in _waiting_plans(flow):
            request = engine.household_after_plan(request, earlier)
        try:
            plan = engine.plan_withdrawal(request, amount=float(flow.amount), kind=flow.kind,
                                          account_id=flow.account.custodian_number if flow.account else None,
                                          birth_dates=_owners_born(flow.household_id),
                                          rmd_owed=[(ids, float(left)) for ids, left in owed])
        except engine.InvalidRequest as exc:
            detail = exc.detail or {}
            # "can raise only N of the M asked": the amount is what the household cannot fund (a file's column).
            raise ValidationFailed(exc.message, code="withdrawal_refused",
                                   detail={"field": "amount", **detail} if "available" in detail else detail) from None
        results = withdrawal_results(request, plan)
        drawn = frozenset(r.account_id for r in results)
        if as_one or drawn <= giving_way:
            return request, plan, results, giving_way
        giving_way |= drawn


def _withdrawal(flow: CashFlow, user) -> tuple[GaveWay, ...]:
    firm_active_check("No withdrawal is planned")  # its sales are proposals, as a run's are
    _open_cash_flow_check(flow)
    _models_check(flow)
    [inputs] = household_inputs_load([flow.household], as_of=flow.as_of)
    if inputs.error is not None:
        raise ValidationFailed(f"The household's accounts cannot be read for a withdrawal: {inputs.error.message}",
                               code=inputs.error.code, detail=inputs.error.detail)
    as_one = flow.household.is_unit
    request, plan, results, giving_way = _withdrawal_planned(flow, inputs, as_one=as_one)
    if not results:
        raise Conflict("The plan takes nothing from any account.", code="withdrawal_refused")
    members = {m.request.account.id: m for m in inputs.members}
    run = RebalanceRun.objects.create(
        kind=RebalanceRun.Kind.CASH_FLOW, scope=RunScope(household_id=flow.household_id).to_dict(), as_of=flow.as_of,
        started_by=user if getattr(user, "pk", None) else None, started_by_label=user.get_username(),
        total=len(results), done=len(results), status=RebalanceRun.Status.COMPLETED, started_at=timezone.now(),
        finished_at=timezone.now())
    audit_record(actor=user, action=Action.RUN_START, obj=run,
                 after={"scope": run.scope, "kind": run.kind, "as_of": str(run.as_of), "accounts": run.total})
    plan_dict = engine.withdrawal_plan_to_dict(plan)
    together = HouseholdProposal.objects.create(
        run=run, household_id=flow.household_id, result={"cash_flow": {"kind": flow.kind, "amount": float(flow.amount)},
                                                         "plan": plan_dict, "tax_cost": round(plan.tax_cost, 2)},
        estimated_tax=cents_of_float(plan.tax_cost))
    proposals = []
    for result in results:
        m = members[result.account_id]
        s = result.summary
        proposals.append(Proposal(
            run=run, account_id=m.account_id, household_proposal=together, model_version_id=m.model_version_id,
            parameters=m.parameters, inputs_fingerprint=inputs.fingerprint, priced_on=m.priced_on,
            result=engine.result_to_dict(result),
            trade_count=s.trade_count, turnover=s.turnover, estimated_tax=cents_of_float(s.estimated_tax),
            drift_before=0, drift_after=0))
    plan_tax = cents_of_float(plan.tax_cost)
    # With wash sales allowed the plan's figures are the engine's estimate; the ledger's, as it
    # will book the sales (``tax_estimates.proposals_restate_for_ledger``), take their place.
    if any(wash_sales_allowed(p) for p in proposals) and (
            restated := proposals_restate_for_ledger(proposals, as_of=flow.as_of)):
        plan_tax = sum((Decimal(str(p.estimated_tax)) for p in proposals), Decimal(0))
        plan_dict = withdrawal_plan_restate(plan_dict, restated)
        together.estimated_tax = plan_tax
        together.result = {**together.result, "plan": plan_dict, "tax_cost": float(plan_tax),
                           "wash_sales": [line for p in proposals for line in p.result.get("wash_sales") or ()]}
        together.save(update_fields=["estimated_tax", "result"])
    Proposal.objects.bulk_create(proposals)
    account_ids = [p.account_id for p in proposals]
    RunOutcome.objects.bulk_create([RunOutcome(run=run, account_id=a, outcome=RunOutcome.Outcome.PROPOSED)
                                    for a in account_ids])
    # The accounts' open proposals were made on the book before the withdrawal: their sales would
    # compete for its lots and their purchases for its cash, so they give way - approved ones too,
    # named to the user -, and in a household managed as one every account's (one joint proposal is
    # not left in part). A later run proposes again once the withdrawal is decided.
    affected = ([m.account_id for m in inputs.members] if as_one else
                sorted({*account_ids, *(m.account_id for m in inputs.members
                                        if m.request.account.id in giving_way)}))
    # Named to the user, every one: those waiting for approval were work someone meant to decide.
    gave_way = tuple(GaveWay(number, pk, _state_words(status, compliance)) for number, pk, status, compliance in (
        Proposal.objects.filter(account_id__in=affected, status__in=OPEN).exclude(run__kind=RebalanceRun.Kind.CASH_FLOW)
        .exclude(run=run).order_by("account__custodian_number", "pk")
        .values_list("account__custodian_number", "pk", "status", "requires_compliance")))
    proposals_supersede(account_ids=affected, by_run_id=run.pk, replace_approved=True)
    proposals_submit_new(run_id=run.pk, account_ids=account_ids)
    # The plan's sales net after the proposals left standing beside it (and released sales still
    # open) on the returns they share, as every account solved on its own does (tax_estimates);
    # the proposals it replaced leave the others' estimates too. The household's figure follows.
    restated = open_estimates_restate([flow.household_id], actor=user,
                                      because=f"{flow.get_kind_display().lower()} planned beside the household's "
                                              "open proposals")
    made = {p.pk for p in proposals}
    moved = sum((after - before for pk, (before, after) in restated.items() if pk in made), Decimal(0))
    tax_cost = plan_tax + moved
    if moved:
        together.estimated_tax = tax_cost
        together.result = {**together.result, "tax_cost": float(tax_cost)}
        together.save(update_fields=["estimated_tax", "result"])
    flow.plan, flow.tax_cost, flow.run = plan_dict, tax_cost, run
    flow.full_clean()
    flow.save()
    return gave_way


def _state_words(status: str, compliance: bool) -> str:
    if status == Proposal.Status.APPROVED:
        return "approved"
    if status == Proposal.Status.PENDING:
        return "waiting for compliance" if compliance else "waiting for approval"
    return Proposal.Status(status).label.lower()

"""A traditional IRA's required minimum distributions: what is due, what the household's cash flows
have already taken or planned, and the facts it is computed from.

The amount is the engine's (``engine.required_minimum_distribution``: start age, Uniform Lifetime
Table - for 2021 the one in force before 2022 - and 31 December value); where the spouse, sole
beneficiary, is more than 10 years younger, the custodian's RMD for the year as entered
(``Account.rmd_amounts``: the Joint and Last Survivor Table, which the product does not carry), and
until it is entered none is computed. Every distribution from the IRA counts, an RMD or a withdrawal the plan
funded from the account (IRC §408(d): what comes out is a distribution), unless its proposal was
rejected, expired or superseded: that money never left; and every one recorded as already taken at
the custodian (``CashFlow.taken_outside``). Two rules from the sources decide what
counts for which RMD:

- **One owner's IRAs share one total** (Treas. Reg. §1.408-8, Q&A-9): each IRA's RMD is computed
  on its own, and the owner may take the total from any one or more of them. A household's IRAs
  whose ``owner_name`` and ``owner_birth_date`` agree are one owner's; where any of them cannot be
  computed, each stands alone (never less than is due from it).
- **A first RMD may wait until 1 April** of the next year, and what is taken by then counts for
  the first year first (``engine.distributions_credited``), so in those three months a household
  can owe two RMDs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from rebalancing import engine
from rebalancing.access import require
from rebalancing.array_filters import any_of
from rebalancing.engine.rmd import FIRST_COMPUTED_YEAR, FIRST_TABLE_YEAR, spouse_table_applies
from rebalancing.imports.cells import MAX_AMOUNT
from rebalancing.models import Account, Alert, CashFlow, Proposal, RebalanceRun
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["ALERT_DAYS", "AS_STORED", "RmdDue", "account_rmd_facts_set", "rmd_alerts_due", "rmd_alerts_resolve_planned", "rmd_due",
           "rmd_due_for_household", "rmd_owed_by_owner", "rmd_open", "rmd_open_for_account", "RmdOwed", "rmds_owed", "RMD_SHOWS", "rmds_shown"]

ALERT_DAYS = 92  # a quarter before its deadline, an RMD not yet planned is an alert of every run
_NOT_DISTRIBUTED = (Proposal.Status.REJECTED, Proposal.Status.EXPIRED, Proposal.Status.SUPERSEDED)
_ZERO = Decimal("0.00")
_UNKNOWN = Decimal("Infinity")  # a first-year RMD that cannot be computed takes all that may count for it


class _Stored(enum.Enum):
    AS_STORED = "as stored"


# A fact a PATCH did not name: kept as the locked row holds it, not as a read before the lock saw it.
AS_STORED = _Stored.AS_STORED


@dataclass(frozen=True)
class RmdDue:
    """One IRA's RMD for ``year``. ``required`` is None with ``problem`` saying which fact is missing
    or why the table cannot answer. ``owner_accounts`` are the IRAs (custodian numbers, this one
    included) whose RMDs are one total; ``owner_required`` is that total, None when the IRA stands
    alone. ``remaining`` is what is left to take by the deadline - from any of ``owner_accounts``."""

    account: Account
    year: int
    required: engine.RequiredDistribution | None
    problem: str
    distributed: Decimal  # taken or planned from this IRA that counts for ``year``
    owner_accounts: tuple[str, ...] = ()
    owner_required: Decimal | None = None
    owner_distributed: Decimal = _ZERO  # taken or planned from any of them that counts for ``year``
    owner_note: str = ""  # why IRAs of one owner are not totalled
    # Past its deadline and not all taken by it (IRC §4974): ``made_up`` is what RMDs entered to make
    # it up took (from this IRA; ``owner_made_up``: from any of the owner's IRAs), of it
    # ``made_up_in_window`` by the end of the correction window (owner-level when totalled).
    missed: bool = False
    made_up: Decimal = _ZERO
    owner_made_up: Decimal = _ZERO
    made_up_in_window: Decimal = _ZERO
    # Not computed for want of the custodian's RMD alone (the Joint and Last Survivor Table's year):
    # the page asks for it (``account_rmd_facts_set``'s ``rmd_amounts``).
    amount_wanted: bool = False

    @property
    def remaining(self) -> Decimal:
        """What is left to take: by the deadline, or, once missed, to make it up."""
        if self.owner_required is not None:
            return max(self.owner_required - self.owner_distributed - self.owner_made_up, _ZERO)
        if self.required is None:
            return _ZERO
        return max(self.required.amount - self.distributed - self.made_up, _ZERO)

    @property
    def shortfall(self) -> Decimal:
        """What was not taken by the deadline (0 until it has passed)."""
        if not self.missed:
            return _ZERO
        if self.owner_required is not None:
            return max(self.owner_required - self.owner_distributed, _ZERO)
        return max(self.required.amount - self.distributed, _ZERO)

    @property
    def window_end(self) -> date | None:
        """The last day a missed RMD may be made up at the lower rate (None until missed, or for a
        deadline before 2023, when there was no lower rate)."""
        return engine.correction_window_end(self.required.deadline) if self.missed else None

    @property
    def excise(self) -> Decimal | None:
        """The excise tax on the shortfall so far: 25%, 10% of what was made up within the window."""
        return (engine.missed_rmd_excise(self.shortfall, self.made_up_in_window, deadline=self.required.deadline)
                if self.missed else None)

    @property
    def is_first(self) -> bool:
        """The owner's first RMD: it may wait until 1 April of the next year."""
        return self.required is not None and self.required.due and self.year == self.required.first_year


def _distributions(accounts: list[Account], years: tuple[int, ...], as_of: date | None = None,
                   ) -> dict[int, list[tuple[date, Decimal, int | None]]]:
    """Account id -> the (day, amount, year it makes up or None) the household's cash flows of
    ``years`` (taken in them, or making up a missed RMD of one of them) took or planned from it: two
    queries for any number of accounts (a run's chunk, a household page). Read on ``as_of``, one
    still waiting to be paid out is paid on that day at the earliest."""
    numbers = {a.pk: a.custodian_number for a in accounts}
    out: dict[int, list[tuple[date, Decimal, int | None]]] = {pk: [] for pk in numbers}
    if not numbers:
        return out
    live: dict[int, set[int]] = {}  # cash-flow run -> its accounts here whose sales still stand
    executed_on: dict[tuple[int, int], date] = {}  # (run, account) -> the day its proposal executed
    waiting: set[tuple[int, int]] = set()  # (run, account) not executed yet: nothing has left
    for run_id, account_id, status, changed, last_fill in (
            Proposal.objects.filter(account_id__in=numbers, run__kind=RebalanceRun.Kind.CASH_FLOW)
            .exclude(status__in=_NOT_DISTRIBUTED).values_list("run_id", "account_id", "status", "status_changed_at")
            .annotate(last_fill=Max("orders__executions__trade_date"))):
        live.setdefault(run_id, set()).add(account_id)
        if status == Proposal.Status.EXECUTED and changed is not None:
            # Executed on its last order's fill (or cancellation); with no order, when it was released.
            executed_on[run_id, account_id] = last_fill or timezone.localdate(changed)
        elif status != Proposal.Status.EXECUTED:
            waiting.add((run_id, account_id))
    # Planned ones whose sales still stand, and those recorded as taken at the custodian. One paid
    # out (``services.payouts``) may have been planned the year before.
    flows = CashFlow.objects.filter(Q(run_id__in=live) | Q(taken_outside=True, account_id__in=numbers),
                                    Q(as_of__year__in=(*years, min(years) - 1)) | Q(makes_up_year__in=years),
                                    kind__in=(CashFlow.Kind.WITHDRAWAL, CashFlow.Kind.RMD)
                                    ).values_list("run_id", "account_id", "as_of", "plan", "makes_up_year", "paid")
    for run_id, recorded_from, planned, plan, makes_up, paid in flows:
        for account_id in live[run_id] if run_id is not None else (recorded_from,):
            # What was paid out once the sales executed (less than planned if they raised less), on the
            # day it was paid: a distribution is of the year it is made in (Treas. Reg. §1.401(a)(9)-5,
            # Q&A-1), so an RMD planned on 30 December and paid on 2 January is not that year's. Else the plan's.
            number = numbers[account_id]
            day = executed_on.get((run_id, account_id), planned) if number in (paid or {}) else planned
            if as_of is not None and (run_id, account_id) in waiting:
                # Still waiting on ``as_of`` (a decision, a release, its fills): it is paid that day at the
                # earliest, so a plan of December still waiting in January is not the old year's.
                day = max(day, as_of)
            amount = Decimal(str((paid or {}).get(number) or (plan or {}).get("distributions", {}).get(number, 0)))
            if amount and (day.year in years or makes_up in years):
                out[account_id].append((max(day, planned), amount, makes_up))
    return out


def _required(account: Account, year: int) -> tuple[engine.RequiredDistribution | None, str]:
    number = account.custodian_number
    if account.tax_status != Account.TaxStatus.TRADITIONAL:
        return None, (f"{number} is {account.get_tax_status_display()}: only a traditional IRA has an RMD while its "
                      "owner lives.")
    if account.owner_birth_date is None:
        return None, f"Enter the date of birth of {number}'s owner: it sets when RMDs start and the period."
    value = account.year_end_value(year - 1)
    if value is None:
        return None, f"Enter {number}'s value on 31 December {year - 1}: the {year} RMD is computed from it."
    # The custodian's figure is read only where the Joint and Last Survivor Table applies: elsewhere
    # the product computes the RMD, and a figure kept from other facts must not replace it.
    entered = (account.rmd_amount(year) if spouse_table_applies(
        birth_date=account.owner_birth_date, year=year, spouse_birth_date=account.spouse_birth_date) else None)
    try:
        return engine.required_minimum_distribution(
            birth_date=account.owner_birth_date, year=year, year_end_value=value,
            spouse_birth_date=account.spouse_birth_date, entered_amount=entered), ""
    except engine.InvalidRequest as exc:
        return None, exc.message


def _amount_wanted(account: Account, year: int, problem: str) -> bool:
    """Whether ``account``'s ``year`` RMD is not computed only for want of the custodian's figure."""
    return (bool(problem) and account.tax_status == Account.TaxStatus.TRADITIONAL
            and account.owner_birth_date is not None and account.year_end_value(year - 1) is not None
            and year > FIRST_COMPUTED_YEAR and account.owner_birth_date.year < year
            and spouse_table_applies(birth_date=account.owner_birth_date, year=year,
                                     spouse_birth_date=account.spouse_birth_date))


def _owner_key(account: Account):
    name = " ".join(account.owner_name.split()).casefold()
    if not name or account.owner_birth_date is None:
        return ("account", account.pk)
    return ("owner", account.household_id, name, account.owner_birth_date)


def _first_year_amount(accounts: list[Account], first_year: int, year: int, known: dict) -> Decimal:
    """The first year's RMD of these IRAs together, for crediting what is taken by 1 April after it;
    unknown (infinite: everything taken by then counts for the first year, never less is due) when
    one of them cannot be computed (a 31 December value missing). A first year of 2021 is computed
    with the table before 2022: taking it as unknown put a 2022 RMD taken by 1 April 2022 on 2021
    and showed 2022 missed."""
    if year not in (first_year, first_year + 1):
        return _ZERO  # nothing taken in this line's years can count for the first year
    total = _ZERO
    for a in accounts:
        required = known[a.pk] if year == first_year else _required(a, first_year)[0]
        if required is None:
            return _UNKNOWN
        total += required.amount
    return total


def _group_lines(group: list[Account], year: int, flows: dict, as_of: date | None) -> list[RmdDue]:
    """``year``'s line for each IRA of one owner (or one IRA alone); missed when ``as_of`` is past
    its deadline."""
    known, problems = {}, {}
    for a in group:
        known[a.pk], problems[a.pk] = _required(a, year)

    def credited(accounts: list[Account]) -> Decimal:
        # A make-up of an earlier year's missed RMD counts for that year only.
        taken = [(day, amount) for a in accounts for day, amount, makes_up in flows.get(a.pk, ()) if makes_up is None]
        if not taken or accounts[0].owner_birth_date is None:
            return sum((amount for day, amount in taken if day.year == year), _ZERO)
        first = engine.first_distribution_year(accounts[0].owner_birth_date)
        by_year = engine.distributions_credited(taken, first_year=first,
                                                first_year_amount=_first_year_amount(accounts, first, year, known))
        return by_year.get(year, _ZERO)

    def made_up(accounts: list[Account], by: date = date.max) -> Decimal:
        return sum((amount for a in accounts for day, amount, makes_up in flows.get(a.pk, ())
                    if makes_up == year and day <= by), _ZERO)

    numbers = tuple(a.custodian_number for a in group)
    together = len(group) > 1 and all(known[a.pk] is not None for a in group)
    owner_required = sum((known[a.pk].amount for a in group), _ZERO) if together else None
    owner_distributed = credited(group) if together else _ZERO
    note = ""
    if len(group) > 1 and not together:
        missing = "; ".join(problems[a.pk] for a in group if known[a.pk] is None)
        note = f"{', '.join(numbers)} share one owner; their RMDs are totalled once each can be computed ({missing})"
    lines = []
    for a in group:
        required, distributed = known[a.pk], credited([a])
        missed = (as_of is not None and required is not None and required.due and as_of > required.deadline
                  and (owner_required if together else required.amount) > (owner_distributed if together else distributed))
        window = engine.correction_window_end(required.deadline) if missed else None
        lines.append(RmdDue(account=a, year=year, required=required, problem=problems[a.pk], distributed=distributed,
                            owner_accounts=numbers if len(group) > 1 else (), owner_required=owner_required,
                            owner_distributed=owner_distributed, owner_note=note, missed=missed,
                            made_up=made_up([a]), owner_made_up=made_up(group) if together else _ZERO,
                            made_up_in_window=made_up(group if together else [a], by=window) if window else _ZERO,
                            amount_wanted=_amount_wanted(a, year, problems[a.pk])))
    return lines


def _lines(accounts: list[Account], year: int, as_of: date | None = None) -> list[RmdDue]:
    """``year``'s line for each of these IRAs, one owner's IRAs totalled (``accounts`` hold every IRA
    of each owner: a household's); in account order. Missed when ``as_of`` is past its deadline."""
    groups: dict[tuple, list[Account]] = {}
    for a in sorted(accounts, key=lambda a: a.custodian_number):
        groups.setdefault(_owner_key(a), []).append(a)
    flows = _distributions(accounts, (year - 1, year, year + 1), as_of)
    lines = [line for group in groups.values() for line in _group_lines(group, year, flows, as_of)]
    return sorted(lines, key=lambda line: line.account.custodian_number)


def _household_iras(accounts) -> list[Account]:
    """These IRAs and the other IRAs of their households (an owner's total needs them all)."""
    households = {a.household_id for a in accounts}
    return list(Account.objects.filter(household_id__in=households, tax_status=Account.TaxStatus.TRADITIONAL))


def rmd_due(*, account: Account, year: int, as_of: date | None = None) -> RmdDue:
    """``account``'s RMD for ``year``, totalled with its owner's other IRAs in the household. Read on
    ``as_of``: a plan still waiting then is paid that day at the earliest (so a December plan waiting
    in January is not the old year's), and the line is missed once ``as_of`` is past its deadline;
    without it, every plan counts on its day and nothing is missed."""
    if account.tax_status != Account.TaxStatus.TRADITIONAL:
        required, problem = _required(account, year)
        return RmdDue(account=account, year=year, required=required, problem=problem, distributed=_ZERO)
    return next(line for line in _lines(_household_iras([account]), year, as_of) if line.account.pk == account.pk)


def rmd_open(accounts: list[Account], *, as_of: date, missed: bool = True) -> list[RmdDue]:
    """The RMD lines open on ``as_of``: this year's for every IRA; until 1 April, last year's where it
    was an owner's first and is not all taken (it may still be); and, with ``missed``, every earlier
    year's (from 2022: an earlier shortfall is not checked) that was not all taken by its deadline and is not yet made
    up - where its facts are entered (a year whose 31 December value before it is not known is not
    checked). In account order, the earlier year first."""
    lines = _lines(accounts, as_of.year, as_of)
    first_years = {a.pk for a in accounts if a.owner_birth_date is not None
                   and engine.first_distribution_year(a.owner_birth_date) == as_of.year - 1}
    past = []
    if as_of <= date(as_of.year, 4, 1) and first_years:
        past = [line for line in _lines(accounts, as_of.year - 1, as_of)
                if line.account.pk in first_years and (line.required is None or line.remaining > 0)]
    if missed:
        # Only a year whose 31 December value before it is entered can be computed, so missed: one pass
        # per such year, not per calendar year up to ``as_of`` (9998 would be thousands of queries).
        valued = sorted({int(y) + 1 for a in accounts if a.owner_birth_date is not None for y in a.year_end_values})
        for year in (y for y in valued if FIRST_TABLE_YEAR <= y < as_of.year):
            past += [line for line in _lines(accounts, year, as_of) if line.missed and line.remaining > 0
                     and not any(p.account.pk == line.account.pk and p.year == year for p in past)]
    return sorted(past + lines, key=lambda line: (line.account.custodian_number, line.year))


def rmd_owed_by_owner(household_id: int, *, as_of: date) -> list[tuple[tuple[str, ...], Decimal]]:
    """What a household's IRAs still owe of the RMDs open on ``as_of`` (this year's and a first one
    waiting until 1 April; a missed one is made up apart), each as the IRAs it may come from (one
    owner's IRAs share one total: Treas. Reg. §1.408-8, Q&A-9) and what is left: what a withdrawal
    takes first (``engine.plan_withdrawal``'s ``rmd_owed``). An RMD that cannot be computed is left out."""
    iras = list(Account.objects.filter(household_id=household_id, tax_status=Account.TaxStatus.TRADITIONAL))
    owed: dict[tuple[str, ...], dict[int, Decimal]] = {}
    for line in rmd_open(iras, as_of=as_of, missed=False):
        if line.required is None or line.remaining <= 0:
            continue
        owed.setdefault(line.owner_accounts or (line.account.custodian_number,), {})[line.year] = line.remaining
    return [(ids, sum(years.values(), _ZERO)) for ids, years in owed.items()]


def rmd_open_for_account(account: Account, *, as_of: date, missed: bool = True) -> list[RmdDue]:
    """``account``'s open RMD lines on ``as_of`` (``rmd_open``), its owner's other IRAs counted."""
    return [line for line in rmd_open(_household_iras([account]), as_of=as_of, missed=missed)
            if line.account.pk == account.pk]


def rmd_due_for_household(household, *, as_of: date) -> list[RmdDue]:
    """The household's open RMD lines on ``as_of`` (``rmd_open``)."""
    return rmd_open(list(household.accounts.filter(tax_status=Account.TaxStatus.TRADITIONAL)), as_of=as_of)


@dataclass(frozen=True)
class RmdOwed:
    """One row of the book's RMDs: an owner's IRAs totalled (or one IRA standing alone) for one year."""

    household: object
    owner: str
    accounts: tuple[Account, ...]
    year: int
    first: bool
    required: Decimal | None  # None: ``problem`` says why it cannot be computed
    distributed: Decimal
    remaining: Decimal
    deadline: date | None
    problem: str
    missed: bool = False  # past its deadline, not all taken by it: ``remaining`` is what is left to make up
    shortfall: Decimal = _ZERO
    made_up: Decimal = _ZERO
    excise: Decimal | None = None
    window_end: date | None = None


RMD_SHOWS = ("owing", "all", "missing")


def rmds_shown(rows: list[RmdOwed], show: str) -> list[RmdOwed]:
    """``owing``: computed and not all taken or planned; ``all``: every computed one; ``missing``:
    those that cannot be computed."""
    if show not in RMD_SHOWS:
        raise ValidationFailed(f"show must be one of {', '.join(RMD_SHOWS)}, not {show!r}.", detail={"field": "show"})
    return [r for r in rows if (r.required is None) == (show == "missing") and (show != "owing" or r.remaining > 0)]


def rmds_owed(accounts, *, as_of: date) -> list[RmdOwed]:
    """The RMDs open on ``as_of`` across these traditional IRAs (a user's visible book), one row per
    owner and year - one owner's IRAs in a household totalled as ``rmd_open`` totals them - the
    earliest deadline and the largest amount left first, those that cannot be computed last."""
    iras = list(accounts.filter(tax_status=Account.TaxStatus.TRADITIONAL).select_related("household"))
    visible = {a.pk for a in iras}
    households = {a.household_id: a.household for a in iras}
    by_number = {a.custodian_number: a for a in iras}
    rows, seen = [], set()
    for line in rmd_open(_household_iras(iras), as_of=as_of):
        if line.account.pk not in visible or (line.required is not None and not line.required.due):
            continue  # not the user's, or not due yet (the owner is below the start age)
        totalled = line.owner_required is not None
        numbers = line.owner_accounts if totalled else (line.account.custodian_number,)
        if (numbers, line.year) in seen:
            continue
        seen.add((numbers, line.year))
        members = tuple(by_number[n] for n in sorted(numbers) if n in by_number)
        required = line.owner_required if totalled else (line.required.amount if line.required else None)
        rows.append(RmdOwed(
            household=households[line.account.household_id], owner=line.account.owner_name, accounts=members,
            year=line.year, first=line.is_first, required=required,
            distributed=line.owner_distributed if totalled else line.distributed, remaining=line.remaining,
            deadline=line.required.deadline if line.required else None,
            problem=line.problem or line.owner_note, missed=line.missed, shortfall=line.shortfall,
            made_up=line.owner_made_up if totalled else line.made_up, excise=line.excise, window_end=line.window_end))
    return sorted(rows, key=lambda r: (r.required is None, r.deadline or date.max, -r.remaining,
                                       r.accounts[0].custodian_number, r.year))


def rmd_alerts_due(account_ids, *, as_of: date) -> list[RmdDue]:
    """Of these accounts, the IRAs with an RMD due within ``ALERT_DAYS`` of ``as_of``, or missed, and
    not all taken or planned (the excise tax of IRC §4974 falls on what is not taken by the deadline): one
    line per owner and year, on the owner's first IRA among ``account_ids``. One query when none of
    them has the facts an RMD needs, four otherwise."""
    candidates = list(Account.objects.filter(any_of("pk", account_ids), tax_status=Account.TaxStatus.TRADITIONAL,
                                             owner_birth_date__isnull=False).exclude(year_end_values={}))
    if not candidates:
        return []
    wanted = {a.pk for a in candidates}
    out, seen = [], set()
    for due in rmd_open(_household_iras(candidates), as_of=as_of):
        totalled = due.owner_required is not None  # else each IRA of the owner has its own to take
        owner = (due.owner_accounts if totalled else (due.account.custodian_number,), due.year)
        if (due.account.pk in wanted and owner not in seen and due.required is not None and due.required.due
                and due.remaining > 0 and (due.required.deadline - as_of).days <= ALERT_DAYS):
            seen.add(owner)
            out.append(due)
    return out


def rmd_alerts_resolve_planned(*, household_id: int, as_of: date) -> int:
    """A withdrawal or RMD of the household has just been planned or recorded as taken: resolve the
    open RMD alert of each of its IRAs that has nothing left to take or plan (every open line of it,
    its owner's IRAs totalled, at 0), in the caller's transaction. Read on ``as_of`` or the day of the
    run that raised the alert, whichever is later (the day the run's check would read it). A plan
    rejected, expired or superseded later gives its money back: the next run's RMD check raises the
    alert again (``services.runs._rmd_alerts``). Returns how many alerts were resolved.

    Not audited, as a run's resolutions are not: the cash flow's own audit row records the cause."""
    open_alerts = Alert.objects.filter(account__household_id=household_id, kind=Alert.Kind.RMD,
                                       resolved_at__isnull=True)
    alerted = dict(open_alerts.values_list("account_id", "run__as_of"))
    if not alerted:
        return 0
    day = max([as_of, *(d for d in alerted.values() if d is not None)])
    owing = {line.account.pk for line in rmd_open(_household_iras(Account.objects.filter(pk__in=alerted)), as_of=day)
             if line.account.pk in alerted and (line.required is None or (line.required.due and line.remaining > 0))}
    return open_alerts.exclude(account_id__in=owing).update(resolved_at=timezone.now())


@transaction.atomic
def account_rmd_facts_set(*, user, account: Account, year_end_value: Decimal | None, year_end_year: int | None,
                          today: date, owner_birth_date: date | None | Literal[_Stored.AS_STORED] = AS_STORED,
                          spouse_birth_date: date | None | Literal[_Stored.AS_STORED] = AS_STORED,
                          owner_name: str | None = None, rmd_amounts: dict[int, Decimal | None] | None = None,
                          ) -> Account:
    """Set what an IRA's RMD is computed from; refused, naming the field, when a fact cannot be right.
    The owner's name (None: as it is), dates of birth (None clears one; ``AS_STORED``, the default: as the
    row locked here holds it, so a concurrent change to it is not undone), and one year's 31 December
    value: given with its year it is set for that year, the year alone removes that year's value,
    neither leaves the values as they are. ``rmd_amounts``: year -> the RMD the custodian computed
    for it (None removes that year's), for a year the Joint and Last Survivor Table governs by the
    facts as saved; other years' are kept."""
    require(user, Capability.EDIT_PARAMETERS)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if owner_birth_date is AS_STORED:
        owner_birth_date = account.owner_birth_date
    if spouse_birth_date is AS_STORED:
        spouse_birth_date = account.spouse_birth_date
    if account.tax_status != Account.TaxStatus.TRADITIONAL:
        raise ValidationFailed(f"{account.custodian_number} is {account.get_tax_status_display()}: RMD facts are "
                               "kept for traditional IRAs.", detail={"field": "account"})
    if owner_name is not None:
        owner_name = " ".join(owner_name.split())
        limit = Account._meta.get_field("owner_name").max_length
        if len(owner_name) > limit:
            raise ValidationFailed(f"The owner's name must be at most {limit} characters (it has {len(owner_name)}).",
                                   detail={"field": "owner_name"})
    # Named by the labels of the RMD facts form, not by the fields' internal names.
    for field, label, born in (("owner_birth_date", "owner's date of birth", owner_birth_date),
                               ("spouse_birth_date", "spouse's date of birth", spouse_birth_date)):
        if born is not None and not date(1880, 1, 1) <= born <= today:
            raise ValidationFailed(f"The {label} cannot be {born}: it must be from 1880 on and not in the future.",
                                   detail={"field": field})
    if year_end_value is not None and year_end_year is None:
        raise ValidationFailed("Enter the year of the 31 December value.", detail={"field": "year_end_year"})
    if year_end_year is not None and not 1900 <= year_end_year < today.year:
        raise ValidationFailed(f"The 31 December value must be of a year that has ended ({year_end_year} has not, "
                               f"or is before 1900).", detail={"field": "year_end_year"})
    if year_end_value is not None:
        if not year_end_value.is_finite() or year_end_value < 0:
            raise ValidationFailed(f"The 31 December value must be 0 or more (it is {year_end_value}).",
                                   detail={"field": "year_end_value"})
        # The size first: quantizing 1e30 to cents overflows Decimal's precision (a traceback, not an answer).
        if year_end_value >= Decimal(10) ** 16 or year_end_value != year_end_value.quantize(Decimal("0.01")):
            raise ValidationFailed(f"The 31 December value is dollars and cents below 10,000,000,000,000,000 "
                                   f"({year_end_value} is not).", detail={"field": "year_end_value"})
        if year_end_value > MAX_AMOUNT:  # the accounts file's plausibility bound, for the API and the page too
            raise ValidationFailed(f"The 31 December value, ${year_end_value:,.2f}, is more than any client account "
                                   f"holds: at most ${int(MAX_AMOUNT):,} (as the accounts file allows).",
                                   detail={"field": "year_end_value"})
    fields = ("owner_name", "owner_birth_date", "spouse_birth_date", "year_end_values", "rmd_amounts")
    before = {f: str(getattr(account, f)) for f in fields}
    if owner_name is not None:
        account.owner_name = owner_name
    account.owner_birth_date, account.spouse_birth_date = owner_birth_date, spouse_birth_date
    if year_end_year is not None:
        values = dict(account.year_end_values or {})
        if year_end_value is None:
            values.pop(str(year_end_year), None)
        else:
            values[str(year_end_year)] = f"{year_end_value:.2f}"
        account.year_end_values = dict(sorted(values.items()))
    _rmd_amounts_set(account, rmd_amounts or {}, today=today)
    account.full_clean()
    account.save(update_fields=list(fields))
    audit_record(actor=user, action=Action.ACCOUNT_RMD_FACTS_SET, obj=account, before=before,
                 after={f: str(getattr(account, f)) for f in fields})
    return account


def _rmd_amounts_set(account: Account, amounts: dict[int, Decimal | None], *, today: date) -> None:
    """Put the custodian's RMDs (year -> amount, None removing one) on ``account``, whose other facts
    are set already: each checked by the engine as it will be read (more than 0, dollars and cents,
    at most the 31 December value before it), refused, naming the year, for a year the product
    computes itself or cannot read yet. One sent again as it is stored is kept whatever the facts
    (a form sends back what it shows): it is read only while the Joint and Last Survivor Table applies."""
    kept = dict(account.rmd_amounts or {})
    for year, amount in sorted(amounts.items()):
        detail = {"field": "rmd_amount", "year": year}
        if not FIRST_COMPUTED_YEAR < year <= today.year:
            raise ValidationFailed(f"An RMD from the custodian is entered for a year from {FIRST_COMPUTED_YEAR + 1} to "
                                   f"{today.year}, not {year}.", detail=detail)
        if amount is None:
            kept.pop(str(year), None)
            continue
        if amount.is_finite() and account.rmd_amount(year) == amount:
            continue
        if account.owner_birth_date is None or account.year_end_value(year - 1) is None:
            raise ValidationFailed(f"Enter the owner's date of birth and {account.custodian_number}'s value on 31 "
                                   f"December {year - 1} with the {year} RMD from the custodian: they say which "
                                   "table applies and bound the RMD.", detail=detail)
        if not spouse_table_applies(birth_date=account.owner_birth_date, year=year,
                                    spouse_birth_date=account.spouse_birth_date):
            computed, problem = _required(account, year)
            said = (f"the product computes it: ${computed.amount:,.2f}" if computed is not None and computed.due else
                    "none is due" if computed is not None else problem.rstrip("."))
            raise ValidationFailed(f"{account.custodian_number}'s {year} RMD is not entered from the custodian: "
                                   f"{said}. A custodian's RMD is entered only where the spouse, sole beneficiary, is "
                                   "more than 10 years younger (the Joint and Last Survivor Table).", detail=detail)
        kept[str(year)] = f"{amount}"
    account.rmd_amounts = dict(sorted(kept.items()))
    # Every year the table governs is read as it will be: a value lowered below an RMD entered is refused too.
    for year in sorted(int(y) for y in account.rmd_amounts if y.isascii() and y.isdigit()):
        if (account.owner_birth_date is not None and account.year_end_value(year - 1) is not None
                and spouse_table_applies(birth_date=account.owner_birth_date, year=year,
                                         spouse_birth_date=account.spouse_birth_date)):
            try:
                required = engine.required_minimum_distribution(
                    birth_date=account.owner_birth_date, year=year, year_end_value=account.year_end_value(year - 1),
                    spouse_birth_date=account.spouse_birth_date, entered_amount=account.rmd_amount(year))
            except engine.InvalidRequest as exc:
                raise ValidationFailed(exc.message, detail={"field": "rmd_amount", "year": year}) from None
            if required.entered:  # a year not due does not read it
                account.rmd_amounts[str(year)] = f"{required.amount:.2f}"

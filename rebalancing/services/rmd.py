"""A traditional IRA's required minimum distribution for the year: what is due, what the household's
cash flows have already taken or planned from the account, and the facts it is computed from.

The amount is the engine's (``engine.required_minimum_distribution``: start age, Uniform Lifetime
Table, 31 December value). Every distribution from the IRA in the year counts towards it, an RMD or
a withdrawal the plan funded from the account (IRC §408(d): what comes out is a distribution), unless
its proposal was rejected, expired or superseded: that money never left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from rebalancing import engine
from rebalancing.access import require
from rebalancing.models import Account, CashFlow, Proposal, RebalanceRun
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = ["ALERT_DAYS", "RmdDue", "account_rmd_facts_set", "rmd_alerts_due", "rmd_due", "rmd_due_for_household"]

ALERT_DAYS = 92  # a quarter before its deadline, an RMD not yet planned is an alert of every run
_NOT_DISTRIBUTED = (Proposal.Status.REJECTED, Proposal.Status.EXPIRED, Proposal.Status.SUPERSEDED)
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class RmdDue:
    """``required`` is None with ``problem`` saying which fact is missing or why the table cannot answer."""

    account: Account
    year: int
    required: engine.RequiredDistribution | None
    problem: str
    distributed: Decimal  # taken or planned from the account this year by the household's cash flows

    @property
    def remaining(self) -> Decimal:
        if self.required is None:
            return _ZERO
        return max(self.required.amount - self.distributed, _ZERO)


def _distributed(accounts: list[Account], year: int) -> dict[int, Decimal]:
    """Account id -> what the household's cash flows of ``year`` took or planned from it: two
    queries for any number of accounts (a run's chunk, a household page)."""
    numbers = {a.pk: a.custodian_number for a in accounts}
    out = dict.fromkeys(numbers, _ZERO)
    if not numbers:
        return out
    live: dict[int, set[int]] = {}  # cash-flow run -> its accounts here whose sales still stand
    for run_id, account_id in (Proposal.objects.filter(account_id__in=numbers, run__kind=RebalanceRun.Kind.CASH_FLOW)
                               .exclude(status__in=_NOT_DISTRIBUTED).values_list("run_id", "account_id")):
        live.setdefault(run_id, set()).add(account_id)
    flows = CashFlow.objects.filter(run_id__in=live, as_of__year=year,
                                    kind__in=(CashFlow.Kind.WITHDRAWAL, CashFlow.Kind.RMD)).values_list("run_id", "plan")
    for run_id, plan in flows:
        for account_id in live[run_id]:
            out[account_id] += Decimal(str((plan or {}).get("distributions", {}).get(numbers[account_id], 0)))
    return out


def rmd_due(*, account: Account, year: int, distributed: Decimal | None = None) -> RmdDue:
    """The RMD of ``year`` from ``account`` and what is left of it to take (``distributed``: what
    ``_distributed`` gives for it, when the caller has it for many accounts at once)."""
    if distributed is None:
        distributed = _distributed([account], year)[account.pk]

    def missing(problem: str) -> RmdDue:
        return RmdDue(account=account, year=year, required=None, problem=problem, distributed=distributed)

    number = account.custodian_number
    if account.tax_status != Account.TaxStatus.TRADITIONAL:
        return missing(f"{number} is {account.get_tax_status_display()}: only a traditional IRA has an RMD "
                       "while its owner lives.")
    if account.owner_birth_date is None:
        return missing(f"Enter the date of birth of {number}'s owner: it sets when RMDs start and the period.")
    if account.year_end_year != year - 1:
        have = f" (the value entered is for 31 December {account.year_end_year})" if account.year_end_year else ""
        return missing(f"Enter {number}'s value on 31 December {year - 1}: the {year} RMD is computed from it{have}.")
    try:
        required = engine.required_minimum_distribution(
            birth_date=account.owner_birth_date, year=year, year_end_value=account.year_end_value,
            spouse_birth_date=account.spouse_birth_date)
    except engine.InvalidRequest as exc:
        return missing(exc.message)
    return RmdDue(account=account, year=year, required=required, problem="", distributed=distributed)


def rmd_due_for_household(household, *, year: int) -> list[RmdDue]:
    """One line per traditional account of the household, in account order."""
    accounts = list(household.accounts.filter(tax_status=Account.TaxStatus.TRADITIONAL).order_by("custodian_number"))
    distributed = _distributed(accounts, year)
    return [rmd_due(account=a, year=year, distributed=distributed[a.pk]) for a in accounts]


def rmd_alerts_due(account_ids, *, as_of: date) -> list[RmdDue]:
    """Of these accounts, the IRAs whose RMD for ``as_of``'s year is due within ``ALERT_DAYS`` and not
    all taken or planned (the excise tax of IRC §4974 falls on what is not taken by the deadline).
    One query when none of them has the facts an RMD needs, three otherwise."""
    candidates = list(Account.objects.filter(pk__in=list(account_ids), tax_status=Account.TaxStatus.TRADITIONAL,
                                             owner_birth_date__isnull=False, year_end_year=as_of.year - 1))
    distributed = _distributed(candidates, as_of.year)
    out = []
    for account in candidates:
        due = rmd_due(account=account, year=as_of.year, distributed=distributed[account.pk])
        if (due.required is not None and due.required.due and due.remaining > 0
                and (due.required.deadline - as_of).days <= ALERT_DAYS):
            out.append(due)
    return out


@transaction.atomic
def account_rmd_facts_set(*, user, account: Account, owner_birth_date: date | None, spouse_birth_date: date | None,
                          year_end_value: Decimal | None, year_end_year: int | None, today: date) -> Account:
    """Set what an IRA's RMD is computed from; refused, naming the field, when a fact cannot be right."""
    require(user, Capability.EDIT_PARAMETERS)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.tax_status != Account.TaxStatus.TRADITIONAL:
        raise ValidationFailed(f"{account.custodian_number} is {account.get_tax_status_display()}: RMD facts are "
                               "kept for traditional IRAs.", detail={"field": "account"})
    for field, born in (("owner_birth_date", owner_birth_date), ("spouse_birth_date", spouse_birth_date)):
        if born is not None and not date(1880, 1, 1) <= born <= today:
            raise ValidationFailed(f"The {field.replace('_', ' ')} {born} is not a date of birth (after 1880, "
                                   "not in the future).", detail={"field": field})
    if (year_end_value is None) != (year_end_year is None):
        raise ValidationFailed("Enter the 31 December value and its year together (or neither).",
                               detail={"field": "year_end_value" if year_end_value is None else "year_end_year"})
    if year_end_value is not None:
        if not year_end_value.is_finite() or year_end_value < 0:
            raise ValidationFailed(f"The 31 December value must be 0 or more (it is {year_end_value}).",
                                   detail={"field": "year_end_value"})
        # The size first: quantizing 1e30 to cents overflows Decimal's precision (a traceback, not an answer).
        if year_end_value >= Decimal(10) ** 16 or year_end_value != year_end_value.quantize(Decimal("0.01")):
            raise ValidationFailed(f"The 31 December value is dollars and cents below 10,000,000,000,000,000 "
                                   f"({year_end_value} is not).", detail={"field": "year_end_value"})
        if not 1900 <= year_end_year < today.year:
            raise ValidationFailed(f"The 31 December value must be of a year that has ended ({year_end_year} has not, "
                                   f"or is before 1900).", detail={"field": "year_end_year"})
    before = {f: str(getattr(account, f)) for f in ("owner_birth_date", "spouse_birth_date", "year_end_value",
                                                     "year_end_year")}
    account.owner_birth_date, account.spouse_birth_date = owner_birth_date, spouse_birth_date
    account.year_end_value, account.year_end_year = year_end_value, year_end_year
    account.full_clean()
    account.save(update_fields=["owner_birth_date", "spouse_birth_date", "year_end_value", "year_end_year"])
    audit_record(actor=user, action=Action.ACCOUNT_RMD_FACTS_SET, obj=account, before=before,
                 after={f: str(getattr(account, f)) for f in before})
    return account

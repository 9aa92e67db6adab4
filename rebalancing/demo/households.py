"""Households of the demo managed as one: a couple's joint taxable account, two traditional IRAs and
a Roth held to one Balanced 60/30/10 model, so the household page shows what sits where, a
household proposal that places bonds in the IRAs, and withdrawals to plan.

Deterministic (no random draws): lot sizes are fixed fractions of each account's value at the
latest prices; the joint account holds equity bought years ago (embedded gains, long-term) and a
bond position bought recently at a higher price (a loss to use first in a withdrawal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

__all__ = ["UNIT_HOUSEHOLDS", "unit_households_write"]

MODEL = "balanced-60-30-10"
TEMPLATE = "standard"


@dataclass(frozen=True)
class _Member:
    suffix: str
    name: str
    tax_status: str
    value: float
    holdings: tuple[tuple[str, float, float, int], ...]  # symbol, share of value, cost / value now, days held
    cash_share: float


@dataclass(frozen=True)
class _UnitHousehold:
    surname: str
    first: tuple[str, str]
    scale: float
    tax_budget: float | None
    advisor_slot: int
    born: tuple[date, date]  # each spouse's date of birth: the IRAs' RMDs (each the other's sole beneficiary)
    rollover_owner: int = 1  # whose the rollover IRA is: the first spouse's makes two IRAs of one owner
    missed_last_year: bool = False  # IRA1 also knows the value of the year before last: last year's RMD was missed
    # Married filing separately: each spouse's own Schedule D (the joint account half on each), and
    # the second spouse's own loss carried into this year.
    second_carryover: tuple[float, float] | None = None


UNIT_HOUSEHOLDS = (
    _UnitHousehold("Lindqvist", ("Erik", "Maya"), 1.0, 15000.0, 0, (date(1950, 4, 2), date(1954, 9, 18)),
                   missed_last_year=True),
    _UnitHousehold("Okafor", ("Chidi", "Ngozi"), 1.8, 40000.0, 0, (date(1949, 11, 30), date(1958, 5, 5)), 0),
    _UnitHousehold("Novak", ("Jan", "Petra"), 0.6, None, 1, (date(1961, 7, 21), date(1963, 2, 11)),
                   second_carryover=(4200.0, 1800.0)),
)


def _members(first: tuple[str, str], rollover_owner: int = 1) -> tuple[_Member, ...]:
    a, b = first
    return (
        _Member("JT", f"{a} & {b} Joint", "taxable", 900_000, (
            ("VOO", 0.52, 0.55, 2900), ("VEA", 0.16, 0.80, 1500), ("VB", 0.08, 0.70, 2100),
            ("BND", 0.18, 1.12, 200)), 0.06),
        _Member("IRA1", f"{a} Traditional IRA", "traditional", 420_000, (
            ("VOO", 0.55, 0.60, 3000), ("VWO", 0.15, 0.90, 1200)), 0.30),
        _Member("IRA2", f"{first[rollover_owner]} Rollover IRA", "traditional", 260_000, (
            ("VEA", 0.40, 0.85, 1400), ("SCHP", 0.20, 1.05, 500)), 0.40),
        _Member("ROTH", f"{b} Roth IRA", "roth", 140_000, (("BND", 0.50, 1.08, 400),), 0.50),
    )


def _rmd_facts(m: _Member, spec: _UnitHousehold, value: float, as_of: date) -> dict:
    """A traditional IRA's owner (IRA1 the first spouse's, IRA2 the rollover owner's: with both the
    first spouse's, one owner's RMDs are one total), the spouse as sole beneficiary, and last 31
    December's value (5% below today's: the market has moved since); for a household whose last
    year's RMD was missed, IRA1's value of the year before too (12% below)."""
    if m.tax_status != "traditional":
        return {}
    owner = 0 if m.suffix == "IRA1" else spec.rollover_owner
    values = {str(as_of.year - 1): f"{value * 0.95:.2f}"}
    if spec.missed_last_year and m.suffix == "IRA1":  # nothing was taken last year: its RMD is missed
        values[str(as_of.year - 2)] = f"{value * 0.88:.2f}"
    return {"owner_name": f"{spec.first[owner]} {spec.surname}", "owner_birth_date": spec.born[owner],
            "spouse_birth_date": spec.born[1 - owner], "year_end_values": values}


def _separate_returns(spec: _UnitHousehold, as_of: date) -> dict:
    if spec.second_carryover is None:
        return {}
    short, long = spec.second_carryover
    return {"filing_status": "married_separate", "carryforward_year": as_of.year,
            "carryforward_second_short_term": Decimal(f"{short:.2f}"),
            "carryforward_second_long_term": Decimal(f"{long:.2f}")}


def _spouse(m: _Member, spec: _UnitHousehold) -> str:
    """Whose return an account's sales go on: the joint account's half on each, an IRA its owner's
    (the rollover IRA the rollover owner's), the Roth the second spouse's (its name's)."""
    if m.suffix == "JT":
        return "joint"
    owner = {"IRA1": 0, "IRA2": spec.rollover_owner, "ROTH": 1}[m.suffix]
    return ("first", "second")[owner]


def unit_households_write(*, prefix: str, sid: dict[str, int], closes: dict[str, float], models: dict,
                          templates: dict, advisor_ids: list, as_of: date) -> int:
    """Write the demo's households managed as one in the current schema; returns how many."""
    from rebalancing.models import Account, Household, PastFilingStatus, TaxLot
    from rebalancing.services.people import advisors_grant_bulk

    grants = []
    for n, spec in enumerate(UNIT_HOUSEHOLDS, start=1):
        household = Household.objects.create(
            name=f"{spec.first[0]} & {spec.first[1]} {spec.surname}", external_id=f"{prefix}-UH{n}",
            template=templates[TEMPLATE], managed_as=Household.ManagedAs.HOUSEHOLD, model=models[MODEL],
            household_overrides={} if spec.tax_budget is None else {"tax_budget": spec.tax_budget},
            **_separate_returns(spec, as_of))
        if household.files_separately:  # the couple filed jointly until last year (the page shows the history)
            PastFilingStatus.objects.create(household=household, last_year=as_of.year - 1,
                                            filing_status=Household.FilingStatus.JOINT)
        grants.append((household.pk, advisor_ids[spec.advisor_slot]))
        for m in _members(spec.first, spec.rollover_owner):
            value = m.value * spec.scale
            account = Account.objects.create(
                custodian_number=f"{prefix}-UH{n}-{m.suffix}", name=f"{m.name} ({spec.surname})", household=household,
                spouse=_spouse(m, spec),
                tax_status=m.tax_status, cash=Decimal(f"{value * m.cash_share:.2f}"), discretionary=True,
                short_term_rate=Decimal("0.37"), long_term_rate=Decimal("0.20"), opened_on=as_of - timedelta(days=3650),
                **_rmd_facts(m, spec, value, as_of))
            TaxLot.objects.bulk_create([
                TaxLot(account=account, lot_id=f"{account.custodian_number}-L{i}", security_id=sid[symbol],
                       quantity=Decimal(f"{value * share / closes[symbol]:.0f}"),
                       cost_basis=Decimal(f"{round(value * share / closes[symbol]) * closes[symbol] * cost:.2f}"),
                       acquired=as_of - timedelta(days=days))
                for i, (symbol, share, cost, days) in enumerate(m.holdings, start=1)
            ])
    advisors_grant_bulk(grants)
    return len(UNIT_HOUSEHOLDS)

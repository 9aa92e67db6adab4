"""Capital losses carried from year to year, per return, from the ledger's sales (Schedule D).

A household files one return, or two when married filing separately: then each spouse's
Schedule D holds the sales of their own taxable accounts and half of each joint account's
(``Account.spouse``, ``schedule_d.joint_halves``), with their own limit and their own opening
carryover (IRC §1211(b), §1212(b); Pub. 550 "Capital Losses": a separate return's carryover stays
with that spouse). The status is each year's (``Household.filing_status_in``): a loss carried
across a change follows Treas. Reg. §1.1212-1(c) (``filing_years``). A return is keyed
``(household id, spouse)``, ``spouse`` being ``""`` for the household's one return and
``"first"``/``"second"`` for the spouses' in a year filed separately.

A year's results are all of its sales: the ledger's, and those realised before its records that
the custodian reported only as year-to-date figures (``Account.realised_ytd``, which the ledger then
adds each sale it books to): ``year_to_date_apart`` is the one home of what those figures hold beyond
the ledger's sales, a line of its own on each Schedule D (``ScheduleD.before_ledger_*``). So a
return's year nets exactly what every estimate of the year nets (``engine_inputs._tax_returns``: the
taxable accounts' ``realised_ytd``), and its carryover follows from the whole (IRC §1211(b),
§1212(b); Pub. 550 "Capital Losses").

``loss_carried_into`` is what the engine nets a proposal's gains against; the Schedule D report
shows the same sheets year by year (``reports.schedules_d``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Sum, prefetch_related_objects
from django.db.models.functions import ExtractYear
from django.utils import timezone

from rebalancing.array_filters import any_of
from rebalancing.models import Account, Household, RealisedLot
from tenants.errors import ValidationFailed

from .filing_years import FIRST, SECOND, household_sheets
from .quantities import cents
from .schedule_d import ScheduleD

__all__ = ["YearToDateApart", "before_ledger_results", "household_years", "latest_tax_year", "loss_carried_into",
           "with_filing_history", "year_results", "year_to_date_apart"]

ZERO = Decimal(0)
ReturnKey = tuple[int, str]
HouseholdYears = dict[int, dict[str, ScheduleD]]  # year -> return key -> sheet


def with_filing_history(households: list[Household]) -> list[Household]:
    """The households with their past filing statuses and their returns' taxable incomes loaded, in
    two queries (not again for those already loaded), so ``filing_status_in`` and
    ``taxable_income_by_return`` read no more."""
    prefetch_related_objects(households, "past_filing_statuses", "taxable_incomes")
    return households


def year_results(households: list[Household], through: int) -> dict[int, dict[int, dict[str, tuple[Decimal, Decimal]]]]:
    """household id -> year -> owner (``Account.spouse``: first, second, joint) -> (net short-term,
    net long-term) of its taxable accounts' sales up to ``through``, in one query. Which return
    each owner's results go on is the year's status's to say (``filing_years.household_sheets``)."""
    out: dict[int, dict[int, dict[str, list[Decimal]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [ZERO, ZERO])))
    # The year as an annotation, not values("sold__year"): Django resolves a transform in values()
    # by catching a FieldError and keeping it in a local, a reference cycle through the frames that
    # kept a whole run chunk's data (results, requests) alive until the cycle collector found it.
    rows = (RealisedLot.objects.filter(any_of("account__household_id", [h.pk for h in households]),
                                       account__taxable=True, sold__year__lte=through)
            .annotate(year=ExtractYear("sold"))
            .values("account__household_id", "account__spouse", "year", "term")
            .annotate(total=Sum(F("gain") + F("disallowed_loss"))).order_by()
            .values_list("account__household_id", "account__spouse", "year", "term", "total"))
    for household_id, spouse, year, lot_term, total in rows:
        out[household_id][year][spouse][0 if lot_term == "short" else 1] += total
    return {h: {y: {owner: (v[0], v[1]) for owner, v in owners.items()} for y, owners in years.items()}
            for h, years in out.items()}


@dataclass(frozen=True)
class YearToDateApart:
    """A taxable account whose year-to-date realised figures (``Account.realised_ytd``: set by the
    accounts file, added to by each sale the ledger books) differ from what its realised lots of the
    year add up to: sales before the ledger (or outside it) that no Form 8949 line of the ledger's
    lists lot by lot. The two parts cannot be told apart exactly (the ledger adds onto the imported
    figure), so the difference is what is missing from the lots: realised before the ledger's
    records, and counted on the year's Schedule D as a line of its own."""

    account_number: str
    household: str
    year: int
    ytd_short: Decimal
    ytd_long: Decimal
    lots_short: Decimal
    lots_long: Decimal
    household_id: int | None = None
    spouse: str = ""  # Account.spouse: whose return it goes on filing separately

    @property
    def lots_total(self) -> Decimal:
        return self.lots_short + self.lots_long

    @property
    def short_apart(self) -> Decimal:
        return self.ytd_short - self.lots_short

    @property
    def long_apart(self) -> Decimal:
        return self.ytd_long - self.lots_long


def year_to_date_apart(*, accounts, this_year: int, year: int | None = None,
                       through: int | None = None) -> list[YearToDateApart]:
    """The taxable ones of ``accounts`` whose realised figures of a year differ (to the cent) from the
    reportable gains (after wash-sale adjustments, as the ledger adds them) of their realised lots
    sold that year: each account's figures of its current year (``realised_ytd_year``; figures with
    no year are taken as ``this_year``'s, as ``Account.realised_ytd`` takes them for the estimates of
    the year) and of the earlier years they replaced (``Account.realised_past_years``), compared for
    ``year`` only (or every year up to ``through``). A tax-deferred account's figures never count
    (its sales are on no return). Two queries."""
    taxable = accounts.filter(taxable=True)
    figures: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    held = {}
    for account in (taxable.select_related("household").order_by("custodian_number")
                    .only("custodian_number", "household__external_id", "spouse", "realised_short_term_ytd",
                          "realised_long_term_ytd", "realised_ytd_year", "realised_past_years")):
        for figures_year, pair in sorted(account.realised_by_year(this_year).items()):
            if (year is None or figures_year == year) and (through is None or figures_year <= through):
                figures[account.pk, figures_year] = pair
                held[account.pk] = account
    if not figures:
        return []
    lots: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: {"short": ZERO, "long": ZERO})
    for account_id, sold_year, lot_term, total in (
            RealisedLot.objects.filter(account__in=taxable.values("pk"))
            .annotate(year=ExtractYear("sold")).filter(year__in={y for _, y in figures}).order_by()
            .values("account_id", "year", "term").annotate(total=Sum(F("gain") + F("disallowed_loss")))
            .values_list("account_id", "year", "term", "total")):
        lots[account_id, sold_year][lot_term] += total or ZERO
    out = []
    for (account_id, figures_year), (short, long) in figures.items():
        booked = lots.get((account_id, figures_year), {"short": ZERO, "long": ZERO})
        if cents(short) != cents(booked["short"]) or cents(long) != cents(booked["long"]):
            account = held[account_id]
            out.append(YearToDateApart(account.custodian_number, account.household.external_id, figures_year, short,
                                       long, cents(booked["short"]), cents(booked["long"]), account.household_id,
                                       account.spouse))
    return out


def before_ledger_results(households: list[Household], through: int, *,
                          this_year: int | None = None) -> dict[int, dict[int, dict[str, tuple[Decimal, Decimal]]]]:
    """household id -> year -> owner (``Account.spouse``) -> (short-term, long-term) realised before
    the ledger's records by its taxable accounts (``year_to_date_apart``), up to ``through``, in two
    queries. ``this_year``: the year of figures stated with none (today's by default)."""
    this_year = timezone.localdate().year if this_year is None else this_year
    out: dict[int, dict[int, dict[str, list[Decimal]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [ZERO, ZERO])))
    accounts = Account.objects.filter(any_of("household_id", [h.pk for h in households]))
    for apart in year_to_date_apart(accounts=accounts, this_year=this_year, through=through):
        pair = out[apart.household_id][apart.year][apart.spouse]
        pair[0] += apart.short_apart
        pair[1] += apart.long_apart
    return {h: {y: {owner: (v[0], v[1]) for owner, v in owners.items()} for y, owners in years.items()}
            for h, years in out.items()}


def latest_tax_year() -> int:
    """The current tax year, wherever it has begun (``engine_inputs.latest_book_day``): the latest a
    tax report is drawn for."""
    from rebalancing.engine_inputs import latest_book_day  # engine_inputs imports this module

    return latest_book_day().year


def household_years(households: list[Household], through: int, *,
                    this_year: int | None = None) -> dict[int, HouseholdYears]:
    """household id -> each year's Schedule D of each of its returns, up to ``through``, from its
    opening carryover, its filing statuses, its returns' taxable incomes (the carryover worksheet's
    line 1), the ledger's sales and what was realised before them (``before_ledger_results``), in
    five queries. ``through`` at most the year after the current
    one (the loss carried into it): a sheet is built for every year from the household's first, so
    year 9999 would take minutes and gigabytes for sheets of years with no sales."""
    latest = latest_tax_year() + 1
    if through > latest:
        raise ValidationFailed(f"Schedule D is drawn up to {latest} at the latest (the year after the current one), "
                               f"not for {through}.", detail={"field": "year"})
    with_filing_history(households)
    results = year_results(households, through)
    before = before_ledger_results(households, through, this_year=this_year)
    out = {}
    for h in households:
        opening = None
        if h.carryforward_year and h.carryforward_year <= through:
            opening = (h.carryforward_year, {FIRST: h.opening_carryover(FIRST), SECOND: h.opening_carryover(SECOND)})
        out[h.pk] = household_sheets(results.get(h.pk, {}), status_of=h.filing_status_in, through=through,
                                     opening=opening, filer=h.sole_filer, before_ledger=before.get(h.pk, {}),
                                     taxable_income=h.taxable_income_by_return)
    return out


def loss_carried_into(households: list[Household], year: int) -> dict[ReturnKey, tuple[Decimal, Decimal]]:
    """(household id, spouse) -> (short-term, long-term) capital loss carried into ``year`` by each
    of that year's returns (what the engine nets a proposal's gains against), in five queries."""
    return {(pk, key): (sheet.carried_in_short, sheet.carried_in_long)
            for pk, years in household_years(households, year).items() for key, sheet in years[year].items()}

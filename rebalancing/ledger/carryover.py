"""Capital losses carried from year to year, per return, from the ledger's sales (Schedule D).

A household files one return, or two when married filing separately: then each spouse's
Schedule D holds the sales of their own taxable accounts and half of each joint account's
(``Account.spouse``, ``schedule_d.joint_halves``), with their own limit and their own opening
carryover (IRC §1211(b), §1212(b); Pub. 550 "Capital Losses": a separate return's carryover stays
with that spouse). The status is each year's (``Household.filing_status_in``): a loss carried
across a change follows Treas. Reg. §1.1212-1(c) (``filing_years``). A return is keyed
``(household id, spouse)``, ``spouse`` being ``""`` for the household's one return and
``"first"``/``"second"`` for the spouses' in a year filed separately.

``loss_carried_into`` is what the engine nets a proposal's gains against; the Schedule D report
shows the same sheets year by year (``reports.schedules_d``)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import F, Sum, prefetch_related_objects
from django.db.models.functions import ExtractYear

from rebalancing.array_filters import any_of
from rebalancing.models import Household, RealisedLot

from .filing_years import FIRST, SECOND, household_sheets
from .schedule_d import ScheduleD

__all__ = ["household_years", "loss_carried_into", "with_filing_history", "year_results"]

ZERO = Decimal(0)
ReturnKey = tuple[int, str]
HouseholdYears = dict[int, dict[str, ScheduleD]]  # year -> return key -> sheet


def with_filing_history(households: list[Household]) -> list[Household]:
    """The households with their past filing statuses loaded, in one query (not again for those
    already loaded), so ``filing_status_in`` reads no more."""
    prefetch_related_objects(households, "past_filing_statuses")
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


def household_years(households: list[Household], through: int) -> dict[int, HouseholdYears]:
    """household id -> each year's Schedule D of each of its returns, up to ``through``, from its
    opening carryover, its filing statuses and the ledger's sales, in two queries."""
    with_filing_history(households)
    results = year_results(households, through)
    out = {}
    for h in households:
        opening = None
        if h.carryforward_year and h.carryforward_year <= through:
            opening = (h.carryforward_year, {FIRST: h.opening_carryover(FIRST), SECOND: h.opening_carryover(SECOND)})
        out[h.pk] = household_sheets(results.get(h.pk, {}), status_of=h.filing_status_in, through=through,
                                     opening=opening, filer=h.sole_filer)
    return out


def loss_carried_into(households: list[Household], year: int) -> dict[ReturnKey, tuple[Decimal, Decimal]]:
    """(household id, spouse) -> (short-term, long-term) capital loss carried into ``year`` by each
    of that year's returns (what the engine nets a proposal's gains against), in two queries."""
    return {(pk, key): (sheet.carried_in_short, sheet.carried_in_long)
            for pk, years in household_years(households, year).items() for key, sheet in years[year].items()}

"""Capital losses carried from year to year, per return, from the ledger's sales (Schedule D).

A household files one return, or two when married filing separately: then each spouse's
Schedule D holds the sales of their own taxable accounts and half of each joint account's
(``Account.spouse``, ``schedule_d.joint_halves``), with their own limit and their own opening
carryover (IRC §1211(b), §1212(b); Pub. 550 "Capital Losses": a separate return's carryover stays
with that spouse). A return is keyed ``(household id, spouse)``, ``spouse`` being ``""`` for the
household's one return and ``"first"``/``"second"`` for the spouses' (``Household.returns``).

``loss_carried_into`` is what the engine nets a proposal's gains against; the Schedule D report
shows the same chains year by year (``reports.schedules_d``)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import F, Sum
from django.db.models.functions import ExtractYear

from rebalancing.array_filters import any_of
from rebalancing.models import Account, Household, RealisedLot

from .schedule_d import ScheduleD, joint_halves, schedule_d

__all__ = ["loss_carried_into", "return_chains", "year_results"]

ZERO = Decimal(0)
ReturnKey = tuple[int, str]


def year_results(households: list[Household], through: int) -> dict[ReturnKey, dict[int, tuple[Decimal, Decimal]]]:
    """(household id, spouse) -> year -> (net short-term, net long-term) of the return's taxable
    accounts' sales up to ``through``, in one query."""
    separate = {h.pk for h in households if h.files_separately}
    out: dict[ReturnKey, dict[int, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [ZERO, ZERO]))
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
        column = 0 if lot_term == "short" else 1
        if household_id not in separate:
            out[(household_id, "")][year][column] += total
        elif spouse == Account.Spouse.JOINT:
            # The household's joint accounts' net of the year and term, half on each return.
            first, second = joint_halves(total)
            out[(household_id, Account.Spouse.FIRST)][year][column] += first
            out[(household_id, Account.Spouse.SECOND)][year][column] += second
        else:
            out[(household_id, spouse)][year][column] += total
    return {key: {y: (v[0], v[1]) for y, v in years.items()} for key, years in out.items()}


def return_chains(households: list[Household], through: int) -> dict[ReturnKey, list[ScheduleD]]:
    """Each return's Schedule D of every year up to ``through`` (the last is ``through``'s), from
    its opening carryover and the ledger's sales, in one query."""
    results = year_results(households, through)
    out = {}
    for h in households:
        for spouse in h.returns:
            opening = ((h.carryforward_year, *h.opening_carryover(spouse))
                       if h.carryforward_year and h.carryforward_year <= through else None)
            out[(h.pk, spouse)] = schedule_d(results.get((h.pk, spouse), {}), filing_status=h.filing_status,
                                             through=through, opening=opening)
    return out


def loss_carried_into(households: list[Household], year: int) -> dict[ReturnKey, tuple[Decimal, Decimal]]:
    """(household id, spouse) -> (short-term, long-term) capital loss carried into ``year`` by each
    return (what the engine nets a proposal's gains against), in one query."""
    return {key: (chain[-1].carried_in_short, chain[-1].carried_in_long)
            for key, chain in return_chains(households, year).items()}

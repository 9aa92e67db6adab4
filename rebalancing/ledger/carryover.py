"""Capital losses carried from year to year, per household, from the ledger's sales (Schedule D).

``loss_carried_into`` is what the engine nets a proposal's gains against; the Schedule D report
shows the same chain year by year (``reports.schedules_d``)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import F, Sum
from django.db.models.functions import ExtractYear

from rebalancing.models import Household, RealisedLot

from .schedule_d import schedule_d

__all__ = ["loss_carried_into", "year_results"]

ZERO = Decimal(0)


def year_results(household_ids, through: int) -> dict[int, dict[int, tuple[Decimal, Decimal]]]:
    """household -> year -> (net short-term, net long-term) of its taxable accounts' sales."""
    out: dict[int, dict[int, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [ZERO, ZERO]))
    # The year as an annotation, not values("sold__year"): Django resolves a transform in values()
    # by catching a FieldError and keeping it in a local, a reference cycle through the frames that
    # kept a whole run chunk's data (results, requests) alive until the cycle collector found it.
    rows = (RealisedLot.objects.filter(account__household_id__in=list(household_ids), account__taxable=True,
                                       sold__year__lte=through)
            .annotate(year=ExtractYear("sold"))
            .values("account__household_id", "year", "term")
            .annotate(total=Sum(F("gain") + F("disallowed_loss"))).order_by()
            .values_list("account__household_id", "year", "term", "total"))
    for household_id, year, lot_term, total in rows:
        out[household_id][year][0 if lot_term == "short" else 1] += total
    return {h: {y: (v[0], v[1]) for y, v in years.items()} for h, years in out.items()}


def loss_carried_into(households: list[Household], year: int) -> dict[int, tuple[Decimal, Decimal]]:
    """household id -> (short-term, long-term) capital loss carried into ``year`` (what the
    engine nets a proposal's gains against), in one query."""
    results = year_results([h.pk for h in households], year - 1)
    out = {}
    for h in households:
        opening = ((h.carryforward_year, h.carryforward_short_term, h.carryforward_long_term)
                   if h.carryforward_year and h.carryforward_year <= year else None)
        if opening and opening[0] == year:
            out[h.pk] = (opening[1], opening[2])
            continue
        chain = schedule_d(results.get(h.pk, {}), filing_status=h.filing_status, through=year - 1, opening=opening)
        last = chain[-1]
        out[h.pk] = (last.carried_out_short, last.carried_out_long)
    return out

"""A proposal's sales as the rate they were priced at: each lot sold is short- or long-term on
its run's day (the engine's ``as_of``), and the estimate, the choice of lots and the alerts follow
from that. Released on a later day, a lot may have crossed its line (held more than one year, IRC
§1222; ``engine.tax.long_term_from``): its sale would be taxed at the other rate, and the optimiser
might have sold other lots. Terms only ever move from short to long, so such a proposal can never
be released as it is; the release expires it and says which lots, and a run of the day prices
them as they now are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rebalancing.engine.tax import gift_start, long_term_from, term
from rebalancing.models import Proposal, TaxLot

__all__ = ["LotTurned", "lots_turned", "tax_year_passed"]


@dataclass(frozen=True)
class LotTurned:
    proposal: int
    account: str
    lot_id: str
    symbol: str
    priced_as: str  # "short" or "long": the term the proposal's result gives the sale
    term: str  # the term of a sale on the release day
    long_term_from: date

    def words(self) -> str:
        return (f"lot {self.lot_id} of {self.symbol} ({self.account}) is long-term from {self.long_term_from:%Y-%m-%d}: "
                f"the proposal prices its sale as {self.priced_as}-term")


def tax_year_passed(proposal: Proposal, day: date) -> bool:
    """Whether ``proposal`` sells in a taxable account and was priced in an earlier tax year than
    ``day``'s: its sales, released now, go on ``day``'s year's Schedule D (a sale is realised on its
    trade date, Pub. 550), while its estimate netted them with its run's year and spent that year's
    budget - a December harvest meant to offset the year's gains would offset none of them."""
    if not proposal.account.taxable or day.year <= proposal.run.as_of.year:
        return False
    return any(t.get("side") == "sell" for t in (proposal.result or {}).get("trades") or ())


def lots_turned(proposal: Proposal, day: date) -> list[LotTurned]:
    """The lots ``proposal`` sells whose term on ``day`` is not the one its result priced them at
    (a taxable account's only: an IRA's sales have no term that matters). Sales without a term
    (results stored before terms were, or made by hand) are not judged."""
    if not proposal.account.taxable or day <= proposal.run.as_of:
        return []
    sold: dict[str, tuple[str, str, float, float]] = {}  # lot id -> (symbol, term, proceeds, quantity)
    for trade in (proposal.result or {}).get("trades") or ():
        if trade.get("side") != "sell":
            continue
        for lot in trade.get("lots") or ():
            if lot.get("term") in ("short", "long") and float(lot.get("quantity") or 0) > 0:
                sold[lot["lot_id"]] = (trade["symbol"], lot["term"], float(lot.get("proceeds") or 0),
                                       float(lot["quantity"]))
    if not sold:
        return []
    turned = []
    for lot_id, acquired, quantity, basis, gifted, unit_value in (
            TaxLot.objects.filter(account_id=proposal.account_id, lot_id__in=list(sold)).order_by("lot_id")
            .values_list("lot_id", "acquired", "quantity", "cost_basis", "gift_date", "gift_unit_value")):
        symbol, priced_as, proceeds, sold_quantity = sold[lot_id]
        start = acquired
        if gifted is not None and unit_value is not None:
            # A gift worth less than the donor's basis: its holding period depends on the price, as
            # the run's (``engine_inputs._gifts_priced``) did - the whole lot at the sale's price.
            start = gift_start(proceeds / sold_quantity * float(quantity), float(basis),
                               float(unit_value) * float(quantity), acquired, gifted)
        now = term(start, day)
        if now != priced_as:
            turned.append(LotTurned(proposal.pk, proposal.account.custodian_number, lot_id, symbol, priced_as, now,
                                    long_term_from(start)))
    return turned

"""Recording wash sales: the pure matcher's answer applied to realised lots and tax lots.

For a household and the equivalence groups a day of executions touched, load the loss sales not
yet fully washed and the purchases that may still replace shares, within 30 days of that day;
``wash_sales.wash_sales_match`` pairs them; each pair then

- disallows part of the sale's loss (``RealisedLot.disallowed_loss``; year-to-date gains rise);
- adds it to the replacement shares' basis and moves their holding period's start back by the days
  the sold shares were held (IRC §1091(d), §1223(3); IRS Pub. 550 "Wash Sales"). Replacement
  shares are kept in a lot of their own: a lot whose shares are all replacements is adjusted in
  place, otherwise they are split off as ``{lot}-W{n}``. If they were sold already, the sale of
  them is adjusted instead (its gain falls by the basis added; its term may become long);
- records a ``BasisAdjustment`` with the reason, so a lot's basis can always be explained.

Matches once recorded are kept; a purchase imported weeks later takes only what is still unmatched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import F, Q

from rebalancing.engine.tax import term
from rebalancing.models import Account, BasisAdjustment, Execution, RealisedLot, Security, TaxLot

from .audit import audit_many
from .quantities import cents, prorate
from .wash_sales import WINDOW_DAYS, LossSale, Purchase, WashSale, wash_sales_match

__all__ = ["group_key", "wash_sales_apply"]


def group_key(security: Security) -> str:
    """Securities sharing a key are substantially identical; one without a group only to itself."""
    return security.equivalence_group or f"={security.symbol}"


@dataclass
class _Pool:
    """The shares of one purchase that may still replace shares sold at a loss."""

    purchase: Execution
    held: TaxLot | None = None  # the purchase's lot, while none of its shares are replacements
    sold: list[RealisedLot] = field(default_factory=list)  # sales of its shares, not yet replacements

    @property
    def capacity(self) -> Decimal:
        held = self.held.quantity if self.held is not None else Decimal(0)
        return held + sum((r.quantity for r in self.sold), Decimal(0))


def _members(security_ids) -> list[int]:
    touched = list(Security.objects.filter(pk__in=security_ids))
    groups = {s.equivalence_group for s in touched if s.equivalence_group}
    return list(Security.objects.filter(Q(pk__in=[s.pk for s in touched]) | Q(equivalence_group__in=groups))
                .values_list("pk", flat=True))


def _pools(purchases: list[Execution], sale_ids: set[int]) -> dict[int, _Pool]:
    pools = {p.pk: _Pool(p) for p in purchases}
    if not pools:
        return pools
    account_ids = {p.order.account_id for p in purchases}
    adjusted = set(BasisAdjustment.objects.filter(account_id__in=account_ids, realised_lot__isnull=True)
                   .values_list("account_id", "lot_id"))
    lots = {(lot.account_id, lot.lot_id): lot
            for lot in TaxLot.objects.filter(account_id__in=account_ids, lot_id__in={p.lot_id for p in purchases})}
    for p in purchases:
        key = (p.order.account_id, p.lot_id)
        if key not in adjusted:
            pools[p.pk].held = lots.get(key)
    # Shares already sold can be replacements too (bought within 30 days before a loss sale and sold
    # since). A sale that is itself a loss sale in this matching is left out (see docs/ledger.md).
    for r in (RealisedLot.objects.filter(origin_id__in=list(pools), replacement=False, wash_matched_quantity=0)
              .exclude(pk__in=sale_ids).order_by("sold", "pk")):
        pools[r.origin_id].sold.append(r)
    return pools


def wash_sales_apply(*, household_ids, security_ids, start: date, end: date, year: int,
                     actor=None) -> list[BasisAdjustment]:
    """Match and record the wash sales that executions dated ``start``..``end`` may have made in
    these households, for the equivalence groups of ``security_ids``. ``year``: realised gains of
    that year count in the accounts' year-to-date figures. Call inside the executions'
    transaction."""
    if not household_ids or not security_ids:
        return []
    members = _members(security_ids)
    low, high = start - timedelta(days=WINDOW_DAYS), end + timedelta(days=WINDOW_DAYS)
    sales = list(
        RealisedLot.objects.filter(account__household_id__in=household_ids, account__taxable=True, gain__lt=0,
                                   security_id__in=members, sold__range=(low, high),
                                   wash_matched_quantity__lt=F("quantity"))
        .select_related("account", "security")
    )
    purchases = list(
        Execution.objects.filter(kind=Execution.Kind.FILL, order__side="buy", order__account__household_id__in=household_ids,
                                 order__security_id__in=members, trade_date__range=(low, high))
        .select_related("order__account", "order__security")
    )
    if not sales or not purchases:
        return []
    pools = _pools(purchases, {s.pk for s in sales})
    matches = wash_sales_match(
        [LossSale(key=s.pk, account=s.account.custodian_number, group=group_key(s.security), sold=s.sold,
                  acquired=s.acquired, quantity=s.quantity, loss=-s.gain, matched=s.wash_matched_quantity,
                  disallowed=s.disallowed_loss, origin=s.origin_id) for s in sales],
        [Purchase(key=p.pk, account=p.order.account.custodian_number, group=group_key(p.order.security),
                  bought=p.trade_date, capacity=pools[p.pk].capacity, taxable=p.order.account.taxable)
         for p in purchases],
    )
    if not matches:
        return []
    return _Recorder(year).record(matches, {s.pk: s for s in sales}, pools, actor=actor)


class _Recorder:
    def __init__(self, year: int):
        self.year = year
        self.ytd: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"short": Decimal(0), "long": Decimal(0)})
        self.split_numbers: dict[tuple[int, str], int] = {}
        self.audit: list[tuple] = []

    def _count(self, account_id: int, sold: date, lot_term: str, amount: Decimal) -> None:
        if sold.year == self.year:
            self.ytd[account_id][lot_term] += amount

    def record(self, matches: list[WashSale], sales: dict[int, RealisedLot], pools: dict[int, _Pool],
               *, actor) -> list[BasisAdjustment]:
        made: list[BasisAdjustment] = []
        for match in matches:
            sale = sales[match.sale]
            sale.disallowed_loss += match.disallowed
            sale.wash_matched_quantity += match.quantity
            self._count(sale.account_id, sale.sold, sale.term, match.disallowed)
            made += self._replace(match, sale, pools[match.purchase])
        RealisedLot.objects.bulk_update({s.pk: s for s in (sales[m.sale] for m in matches)}.values(),
                                        ["disallowed_loss", "wash_matched_quantity"])
        for account_id, change in self.ytd.items():
            Account.objects.filter(pk=account_id).update(
                realised_short_term_ytd=F("realised_short_term_ytd") + change["short"],
                realised_long_term_ytd=F("realised_long_term_ytd") + change["long"],
            )
        audit_many(actor=actor, action="lot.wash_sale", changes=self.audit,
                   comment="wash sale (IRC §1091, IRS Pub. 550): basis and holding period adjusted")
        return made

    def _replace(self, match: WashSale, sale: RealisedLot, pool: _Pool) -> list[BasisAdjustment]:
        """Put the basis and holding period on the replacement shares: held ones first, then sold."""
        pieces: list[tuple[TaxLot | RealisedLot, Decimal]] = []
        left = match.quantity
        if pool.held is not None and left > 0:
            taken = min(pool.held.quantity, left)
            pieces.append((pool.held, taken))
            left -= taken
        for realised in list(pool.sold):
            if left == 0:
                break
            taken = min(realised.quantity, left)
            pieces.append((realised, taken))
            left -= taken
        assert left == 0, "the matcher used more shares than the purchase has"
        quantities = [q for _, q in pieces]
        made = []
        for (target, quantity), disallowed, added in zip(
            pieces, prorate(match.disallowed, quantities), prorate(match.basis_added, quantities), strict=True
        ):
            if isinstance(target, TaxLot):
                made.append(self._held(match, sale, pool, target, quantity, disallowed, added))
            else:
                made.append(self._sold(match, sale, pool, target, quantity, disallowed, added))
        return made

    def _split_id(self, account_id: int, lot_id: str) -> str:
        key = (account_id, lot_id)
        if key not in self.split_numbers:
            prefix = f"{lot_id}-W"
            used = [
                *TaxLot.objects.filter(account_id=account_id, lot_id__startswith=prefix).values_list("lot_id", flat=True),
                *BasisAdjustment.objects.filter(account_id=account_id, lot_id__startswith=prefix)
                .values_list("lot_id", flat=True),
            ]
            self.split_numbers[key] = max((int(u[len(prefix):]) for u in used if u[len(prefix):].isdigit()), default=0)
        self.split_numbers[key] += 1
        suffix = f"-W{self.split_numbers[key]}"
        return lot_id[: 64 - len(suffix)] + suffix

    def _adjustment(self, match, sale, pool, *, lot_id, quantity, disallowed, added, before: date, after: date,
                    realised_lot=None) -> BasisAdjustment:
        adjustment = BasisAdjustment.objects.create(
            account_id=pool.purchase.order.account_id, lot_id=lot_id, security_id=pool.purchase.order.security_id,
            source=sale, purchase=pool.purchase, realised_lot=realised_lot, quantity=quantity,
            disallowed_loss=disallowed, basis_added=added, holding_days_added=(before - after).days,
            acquired_before=before, acquired_after=after, reason=match.reason,
        )
        self.audit.append(("basisadjustment", str(adjustment.pk), {"lot_id": lot_id, "acquired": str(before)}, {
            "lot_id": lot_id, "basis_added": str(added), "acquired": str(after), "source": sale.pk,
            "disallowed_loss": str(disallowed),
        }))
        return adjustment

    def _held(self, match, sale, pool, lot: TaxLot, quantity, disallowed, added) -> BasisAdjustment:
        before = lot.acquired
        after = before - timedelta(days=match.holding_days)
        if quantity == lot.quantity:
            # Every share of the lot is a replacement: adjust it in place (its id stays the custodian's).
            lot.cost_basis += added
            lot.acquired = after
            lot.save(update_fields=["cost_basis", "acquired"])
            pool.held = None
            lot_id = lot.lot_id
        else:
            part = cents(lot.cost_basis * quantity / lot.quantity)
            lot.quantity -= quantity
            lot.cost_basis -= part
            lot.save(update_fields=["quantity", "cost_basis"])
            lot_id = self._split_id(lot.account_id, lot.lot_id)
            TaxLot.objects.create(account_id=lot.account_id, lot_id=lot_id, security_id=lot.security_id,
                                  quantity=quantity, cost_basis=part + added, acquired=after)
        return self._adjustment(match, sale, pool, lot_id=lot_id, quantity=quantity, disallowed=disallowed,
                                added=added, before=before, after=after)

    def _sold(self, match, sale, pool, realised: RealisedLot, quantity, disallowed, added) -> BasisAdjustment:
        """The replacement shares were sold before the wash sale was known: their sale carries the
        basis instead (the same tax result as if the basis had been adjusted before it)."""
        before = realised.acquired
        after = before - timedelta(days=match.holding_days)
        self._count(realised.account_id, realised.sold, realised.term, -realised.gain)
        if quantity < realised.quantity:
            proceeds = cents(realised.proceeds * quantity / realised.quantity)
            basis = cents(realised.cost_basis * quantity / realised.quantity)
            realised.quantity -= quantity
            realised.proceeds -= proceeds
            realised.cost_basis -= basis
            realised.gain = realised.proceeds - realised.cost_basis
            realised.save(update_fields=["quantity", "proceeds", "cost_basis", "gain"])
            self._count(realised.account_id, realised.sold, realised.term, realised.gain)
            target = RealisedLot(
                account_id=realised.account_id, execution_id=realised.execution_id, lot_id=realised.lot_id,
                security_id=realised.security_id, quantity=quantity, proceeds=proceeds, cost_basis=basis,
                gain=proceeds - basis, term=realised.term, acquired=realised.acquired, purchased=realised.purchased,
                sold=realised.sold, origin_id=realised.origin_id,
            )
        else:
            pool.sold.remove(realised)
            target = realised
        target.cost_basis += added
        target.gain -= added
        target.acquired = after
        target.term = term(after, target.sold)
        target.replacement = True
        target.save()
        self._count(target.account_id, target.sold, target.term, target.gain)
        return self._adjustment(match, sale, pool, lot_id=target.lot_id, quantity=quantity, disallowed=disallowed,
                                added=added, before=before, after=after, realised_lot=target)

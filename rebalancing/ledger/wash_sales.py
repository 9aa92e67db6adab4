"""Matching loss sales with replacement purchases: which losses a wash sale disallows.

A pure function (no Django): given a household's loss sales and purchases, with dates, shares and
equivalence groups, it says which replacement shares wash which loss shares and by how much.

The rules, from IRC §1091 and IRS Publication 550 ("Wash Sales"):

- A loss on a sale is disallowed when, within 30 days before or after the sale date, the same or a
  substantially identical security (same equivalence group) is bought, in any account of the
  household (the taxpayer, a spouse, a tax-deferred account: Rev. Rul. 2008-5).
- Only a sale in a taxable account has a loss to disallow; the caller passes those only.
- When fewer shares are bought than sold, only the loss of the replaced shares is disallowed:
  disallowed = loss x matched shares / sold shares (Pub. 550: "deduct the part of the loss that
  applies to the shares not replaced").
- Shares are matched first in, first out on both sides: loss sales in the order sold, replacement
  shares in the order bought (Treas. Reg. §1.1091-1(b), (c)); a replacement share absorbs at most
  one loss share, and shares cannot replace themselves (a lot bought and then sold at a loss is
  not its own replacement).
- The disallowed loss is added to the replacement shares' basis (§1091(d)), and their holding
  period includes that of the shares sold (§1223(3)): the replacement's start moves back by the
  days the sold shares were held. A replacement in a tax-deferred account gets neither: that loss
  is lost for good (Rev. Rul. 2008-5).

Matching is incremental: the caller passes what is still unmatched (``matched``/``disallowed`` so
far, purchases' remaining ``capacity``), and a match once recorded is kept.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["WINDOW_DAYS", "LossSale", "Purchase", "WashSale", "wash_sales_match"]

WINDOW_DAYS = 30
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LossSale:
    """Shares sold at a loss from one lot.

    ``loss``: the loss on all ``quantity`` shares, a positive amount; ``acquired``: the start of the
    sold shares' holding period; ``matched``/``disallowed``: shares already washed and the loss
    already disallowed on them; ``origin``: the purchase these shares came from, if known.
    """

    key: Hashable
    account: str
    group: str
    sold: date
    acquired: date
    quantity: Decimal
    loss: Decimal
    matched: Decimal = Decimal(0)
    disallowed: Decimal = Decimal(0)
    origin: Hashable | None = None

    @property
    def holding_days(self) -> int:
        return max((self.sold - self.acquired).days, 0)


@dataclass(frozen=True, slots=True)
class Purchase:
    """Shares bought: ``capacity`` of them may still replace shares sold at a loss."""

    key: Hashable
    account: str
    group: str
    bought: date
    capacity: Decimal
    taxable: bool = True


@dataclass(frozen=True, slots=True)
class WashSale:
    """``quantity`` shares of ``purchase`` replace as many shares of ``sale``.

    ``disallowed``: the part of the sale's loss disallowed; ``basis_added``: what the replacement
    shares' basis grows by (0 in a tax-deferred account); ``holding_days``: days added to their
    holding period.
    """

    sale: Hashable
    purchase: Hashable
    quantity: Decimal
    disallowed: Decimal
    basis_added: Decimal
    holding_days: int
    reason: str


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _within_window(sold: date, bought: date) -> bool:
    return abs((bought - sold).days) <= WINDOW_DAYS


def _reason(sale: LossSale, purchase: Purchase, quantity: Decimal, disallowed: Decimal) -> str:
    when = "after" if purchase.bought >= sale.sold else "before"
    days = abs((purchase.bought - sale.sold).days)
    text = (
        f"wash sale (IRC §1091, IRS Pub. 550): {quantity.normalize():f} shares bought on {purchase.bought} in "
        f"account {purchase.account}, {days} days {when} the loss sale on {sale.sold} in account {sale.account}; "
        f"{disallowed} of the loss disallowed"
    )
    if not purchase.taxable:
        return text + "; the replacement is in a tax-deferred account, so the loss is not added to its basis (Rev. Rul. 2008-5)"
    return text + f" and added to the replacement's basis; holding period extended by {sale.holding_days} days"


def wash_sales_match(sales: Iterable[LossSale], purchases: Iterable[Purchase]) -> list[WashSale]:
    """Every wash sale among ``sales`` and ``purchases``, first in first out on both sides.

    The disallowed amounts are rounded to cents cumulatively per sale, so a sale replaced in full
    has exactly its whole loss disallowed, however many purchases replace it.
    """
    remaining = {p.key: p.capacity for p in purchases}
    by_group: dict[str, list[Purchase]] = {}
    for p in sorted(purchases, key=lambda p: (p.bought, str(p.key))):
        by_group.setdefault(p.group, []).append(p)
    matches: list[WashSale] = []
    for sale in sorted(sales, key=lambda s: (s.sold, str(s.key))):
        matched, disallowed = sale.matched, sale.disallowed
        for purchase in by_group.get(sale.group, ()):
            if matched >= sale.quantity:
                break
            if purchase.key == sale.origin or not _within_window(sale.sold, purchase.bought):
                continue
            take = min(remaining[purchase.key], sale.quantity - matched)
            if take <= 0:
                continue
            # Cumulative rounding: the loss on shares matched so far, to the cent, minus what was
            # already disallowed.
            now = _cents(sale.loss * (matched + take) / sale.quantity) - disallowed
            remaining[purchase.key] -= take
            matched += take
            disallowed += now
            matches.append(WashSale(
                sale=sale.key, purchase=purchase.key, quantity=take, disallowed=now,
                basis_added=now if purchase.taxable else Decimal(0),
                holding_days=sale.holding_days if purchase.taxable else 0,
                reason=_reason(sale, purchase, take, now),
            ))
    return matches

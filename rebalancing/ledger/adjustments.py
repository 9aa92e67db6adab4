"""Wash sales in the ledger: a household's history replayed, and the result written.

For each household and equivalence group whose history changed (a fill, a late purchase or sale,
a lots or trades file, an accepted reconciliation), ``wash_sales_recompute`` reads the history
back from what the ledger stores, replays it with the pure ``wash_sales.household_replay`` and
writes what follows from it, in the caller's transaction:

- the held lots (``TaxLot``): basis and holding period moved by wash sales, replacement shares in
  lots of their own (``{lot}-W{n}``);
- the sales (``RealisedLot``): basis, gain, term, the loss disallowed and the part of it lost for
  good (replaced in an IRA or Roth);
- one ``BasisAdjustment`` per replacement, with the reason in words;
- the accounts' year-to-date realised gains;
- when sales already recorded change, a ``WashSaleRecalculation`` saying what changed, and an
  audit row.

The history is what does not change when wash sales are replayed: each lot as bought (the lot it
was bought as, the purchase date, the held shares' cost per share before wash sales), each sale's
draws from it (shares, net proceeds, the lot the order named, and the cost per share, purchase date,
gift and inheritance the sale was booked with: a later file restates the shares held, never a past
sale, IRC §1012), and each buy fill (a purchase, even once its shares left the ledger). A lot's
cost before wash sales is split over its sales in order, then its shares held, by cumulative
rounding (``quantities.cents_running``), so its pieces add up to what it cost. So replaying twice
writes nothing the second time, and the result is the same whatever order the events arrived in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db.models import Q

from rebalancing.engine.tax import gift_basis, gift_start, inherited_start
from rebalancing.models import (
    Account,
    BasisAdjustment,
    Execution,
    RealisedLot,
    Security,
    TaxLot,
    TradeRecord,
    WashSaleRecalculation,
)
from tenants.audit.services import audit_many, audit_record

from .quantities import cents, cents_running, plain
from .wash_sales import Draw, Lot, Replay, household_replay

__all__ = ["LEDGER_LOCK", "Recomputed", "group_history", "group_key", "group_lots", "unit_cost",
           "wash_sales_recompute"]

# One writer of a firm's lots at a time: executions, lots and trades files, accepted reconciliations
# (``imports.rows.import_begin(LEDGER_LOCK)``, released at commit).
LEDGER_LOCK = "ledger"

_CENT = Decimal("0.01")
_SHARE = Decimal("0.000001")


def group_key(security: Security) -> str:
    """Securities sharing a key are substantially identical; one without a group only to itself."""
    return security.equivalence_group or f"={security.symbol}"


def _money(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _shares(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(_SHARE, rounding=ROUND_HALF_UP)


_UNIT = Decimal("0.000000000001")


def unit_cost(cost: Decimal, quantity: Decimal) -> Decimal:
    """Cost per share as bought, to 12 places (shares x it, to the cent, gives ``cost`` back)."""
    return (cost / quantity).quantize(_UNIT, rounding=ROUND_HALF_UP) if quantity else Decimal(0)


def _allocate(total: Decimal, exact: list[Fraction]) -> list[Decimal]:
    """Cents for each part of ``total`` (whose exact parts are ``exact``), adding up to ``total``:
    rounded cumulatively, so a lot's pieces always add up to what it cost."""
    out, running, given = [], Fraction(0), Decimal(0)
    for part in exact:
        running += part
        upto = _money(running)
        out.append(upto - given)
        given = upto
    if out:
        out[-1] += total - given
    return out


@dataclass
class Recomputed:
    """What a recomputation changed: groups replayed, adjustments now standing, sales changed."""

    groups: int = 0
    changed_groups: int = 0
    adjustments: int = 0
    changed_sales: int = 0
    recalculations: list[WashSaleRecalculation] = field(default_factory=list)


class _Group:
    """One household's history in one equivalence group, as stored."""

    def __init__(self, household_id: int, group: str):
        self.household_id, self.group = household_id, group
        self.held: list[TaxLot] = []
        self.realised: list[RealisedLot] = []
        self.trades: list[TradeRecord] = []
        self.fills: list[Execution] = []  # the buy fills of the household's accounts
        self.adjustments: list[BasisAdjustment] = []


def _members(security_ids) -> dict[int, Security]:
    """The securities substantially identical to these (theirs included), in one query."""
    groups = Security.objects.filter(pk__in=list(security_ids)).exclude(equivalence_group="").values("equivalence_group")
    return {s.pk: s for s in Security.objects.filter(Q(pk__in=list(security_ids)) | Q(equivalence_group__in=groups))}


def _groups_in_scope(household_ids, securities: dict[int, Security]) -> dict[tuple[int, str], _Group]:
    members = list(securities)
    groups: dict[tuple[int, str], _Group] = {}

    def group_of(household_id: int, security_id: int) -> _Group:
        key = (household_id, group_key(securities[security_id]))
        if key not in groups:
            groups[key] = _Group(*key)
        return groups[key]

    in_households = {"account__household_id__in": list(household_ids), "security_id__in": members}
    for lot in TaxLot.objects.filter(**in_households).select_related("account").order_by("pk"):
        group_of(lot.account.household_id, lot.security_id).held.append(lot)
    for row in (RealisedLot.objects.filter(**in_households).select_related("account", "execution__order")
                .order_by("pk")):
        group_of(row.account.household_id, row.security_id).realised.append(row)
    # A fill writes a trade record too (for the engine's window): the fills are read as such below,
    # since the ledger knows the lot each made (``_history``: shares of it no longer in the ledger).
    for trade in (TradeRecord.objects.filter(side="buy", cancelled=False, **in_households).select_related("account")
                  .exclude(external_id__in=Execution.objects.values("external_id")).order_by("pk")):
        group_of(trade.account.household_id, trade.security_id).trades.append(trade)
    for fill in (Execution.objects.filter(kind=Execution.Kind.FILL, order__side="buy",
                                          order__account__household_id__in=list(household_ids),
                                          order__security_id__in=members)
                 .select_related("order__account").order_by("pk")):
        group_of(fill.order.account.household_id, fill.order.security_id).fills.append(fill)
    for adjustment in (BasisAdjustment.objects.filter(**in_households).select_related("source", "account")
                       .order_by("pk")):
        group_of(adjustment.account.household_id, adjustment.security_id).adjustments.append(adjustment)
    return groups


def group_history(household_ids, securities: dict[int, Security]) -> dict[tuple[int, str], _Group]:
    """The stored history of these households in the equivalence groups of ``securities`` (each
    group's members included), by (household id, group key); reads only. A what-if replay adds a
    proposal's fills to it (``proposal_replay``)."""
    return _groups_in_scope(household_ids, securities)


def group_lots(group: _Group, accounts: dict[int, Account]) -> tuple[list[Lot], dict]:
    """``_history``: a group's lots as bought with their sales, for ``household_replay``."""
    return _history(group, accounts)


def _needs_replay(group: _Group, accounts: dict[int, Account]) -> bool:
    """Without a loss sale in a taxable account, nor anything an earlier replay wrote, the lots
    stand as bought and there is nothing to do."""
    return bool(group.adjustments) or any(
        lot.wash_adjustment or lot.purchase_lot_id or (lot.purchased and lot.purchased != lot.acquired)
        for lot in group.held
    ) or any(
        r.disallowed_loss or r.wash_adjustment or r.replacement or (accounts[r.account_id].taxable and r.gain < 0)
        for r in group.realised
    )


def _history(group: _Group, accounts: dict[int, Account]) -> tuple[list[Lot], dict]:
    """The group's lots as bought, each with its sales, for the replay; and, by (account id, lot
    id), what the ledger knows of each lot (security, purchase date, held cost, draws). A lot whose
    shares left the ledger (moved out by a lots file or a reconciliation) stays a purchase: its
    shares are in the history as ``("gone", account id, lot id)``, with no basis here to adjust."""
    lots: dict[tuple[int, str], dict] = {}

    def entry(account_id, lot_id, security_id, purchased, inherited, gift):
        key = (account_id, lot_id)
        if key not in lots:
            lots[key] = {"security_id": security_id, "purchased": purchased, "held": Decimal(0),
                         "unadjusted": Decimal(0), "quantity": Decimal(0), "unit": None, "draws": {},
                         "inherited": False, "gift": None}
        e = lots[key]
        e["inherited"] = e["inherited"] or inherited
        e["gift"] = e["gift"] or gift
        e["purchased"] = min(e["purchased"], purchased)
        return e

    for lot in group.held:
        e = entry(lot.account_id, lot.bought_as, lot.security_id, lot.bought_on, lot.inherited, _gift(lot))
        # The held shares' cost per share: a lots file's or a custodian's basis and quantity apply
        # to the shares held from then on (a split, a return of capital), never to past sales.
        e["unit"] = e["unit"] if e["unit"] is not None else lot.unit_cost
        e["held"] += lot.quantity
        e["quantity"] += lot.quantity
        e["unadjusted"] += lot.cost_basis - lot.wash_adjustment
    for r in group.realised:
        e = entry(r.account_id, r.bought_as, r.security_id, r.purchased, r.inherited, _gift(r))
        d = e["draws"].setdefault((r.execution_id, r.named_as), {
            "sold": r.sold, "quantity": Decimal(0), "proceeds": Decimal(0), "execution": r.execution,
            "named": r.named_as, "unit": None, "unadjusted": Decimal(0), "purchased": r.purchased,
            "inherited": False, "gift": None})
        # A sale keeps what it was booked with - its cost per share (IRC §1012: fixed when sold),
        # its purchase date, gift and inheritance - whatever a later file says of the lot's shares held.
        d["unit"] = d["unit"] if d["unit"] is not None else r.unit_cost
        d["purchased"] = min(d["purchased"], r.purchased)
        d["inherited"] = d["inherited"] or r.inherited
        d["gift"] = d["gift"] or _gift(r)
        d["quantity"] += r.quantity
        d["proceeds"] += r.proceeds
        d["unadjusted"] += r.cost_basis - r.wash_adjustment
        e["quantity"] += r.quantity
        e["unadjusted"] += r.cost_basis - r.wash_adjustment
    # The buy fills that made the lots: the fills of one order on one day are one purchase, whose
    # shares do not replace each other (Rev. Rul. 56-602), however the custodian split them.
    fills = {(f.order.account_id, f.lot_id): f for f in group.fills}
    for key, e in lots.items():
        e["fill"] = fills[key].pk if key in fills else None
    carriers, gone = _fills_placed(group, lots, fills)
    history = []
    for (account_id, lot_id), e in lots.items():
        # A lot holding a fill's shares moved in kind is still that purchase.
        fill = fills.get((account_id, lot_id)) or carriers.get((account_id, lot_id))
        account = accounts[account_id]
        # Lots written before costs per share were kept: their cost spread evenly.
        unit = e["unit"] if e["unit"] is not None else unit_cost(e["unadjusted"], e["quantity"])
        e["unit"] = unit
        for d in e["draws"].values():
            if d["unit"] is None:  # sold before costs per share were kept: what the sale was booked at
                d["unit"] = unit if d["gift"] else unit_cost(d["unadjusted"], d["quantity"])
        # In a fixed order (the custodian's execution ids), not the order they arrived in.
        e["draw_list"] = sorted(e["draws"].values(), key=lambda d: (d["sold"], d["execution"].external_id, d["named"]))
        # The lot's cost over its sales, in their order, then the shares held: each the cents of the
        # running cost less those before it, so they add up to what the lot cost (IRC §1012), as
        # ``executions._Book.take`` books them; a later file's cost of the shares held moves no sale.
        *sold, e["held_cost"] = cents_running(
            [Fraction(d["unit"]) * Fraction(d["quantity"]) for d in e["draw_list"]] + [Fraction(unit) * Fraction(e["held"])])
        for d, cost in zip(e["draw_list"], sold, strict=True):
            d["cost"] = cost
        # The fills of one order on one day are one sale (their shares do not replace each other).
        lot_start = inherited_start(e["purchased"]) if e["inherited"] else e["purchased"]
        draws = tuple(Draw(sale=(d["execution"].order.order_id, d["sold"]), sold=d["sold"], named=d["named"],
                           quantity=d["quantity"], proceeds=d["proceeds"], **_draw_basis(d, lot_start))
                      for d in e["draw_list"])
        history.append(Lot(key=("lot", account_id, lot_id), account=account.custodian_number, taxable=account.taxable,
                           lot_id=lot_id, purchased=e["purchased"], held=e["held"], held_unadjusted=e["held_cost"],
                           draws=draws, inherited=e["inherited"], gifted=e["gift"] is not None,
                           received=e["gift"][0] if e["gift"] else None,
                           purchase=None if fill is None else _purchase(fill, e["purchased"])))
    for fill, quantity in gone:
        # One purchase with its lot's shares in the ledger; the key sorts before theirs, so these
        # shares (held when they left) replace before the lot's shares sold earlier, as held.
        account = accounts[fill.order.account_id]
        history.append(Lot(key=("gone", account.pk, fill.lot_id), account=account.custodian_number,
                           taxable=account.taxable, lot_id=fill.lot_id, purchased=fill.trade_date, held=quantity,
                           held_unadjusted=None, purchase=_purchase(fill, fill.trade_date)))
    # Shares bought per a trade record and in no lot of the ledger (the custodian's lots file may
    # not show them yet) replace too. A lot bought the same day in the same account and security
    # is taken to be the same shares - not an inherited or gifted lot, whose day is the decedent's
    # death or the donor's purchase: those shares were not bought by the account (IRC §1091(a)),
    # so they stand for no trade.
    told = _told(group)
    for (account_id, security_id, day), trades in sorted(told.items()):
        in_lots = sum((_shares_of(e) for (acct, _), e in lots.items()
                       if acct == account_id and e["security_id"] == security_id and e["purchased"] == day
                       and _bought(e)), Decimal(0))
        extra = sum((t.quantity for t in trades), Decimal(0)) - in_lots
        if extra > 0:
            account = accounts[account_id]
            history.append(Lot(key=("trade", trades[0].pk), account=account.custodian_number, taxable=account.taxable,
                               lot_id=trades[0].external_id or f"trade {trades[0].pk}", purchased=day, held=extra,
                               held_unadjusted=None))
    return history, lots


def _purchase(fill: Execution, day: date) -> tuple:
    return ("order", fill.order_id, day)


def _shares_of(e: dict) -> Decimal:
    """The shares a lot of the ledger was bought with: held and sold."""
    return e["held"] + sum((d["quantity"] for d in e["draws"].values()), Decimal(0))


def _bought(e: dict) -> bool:
    return not e["inherited"] and e["gift"] is None


def _told(group: _Group) -> dict[tuple[int, int, date], list[TradeRecord]]:
    """The trade records of purchases (not the fills'), by account, security and day."""
    told: dict[tuple[int, int, date], list[TradeRecord]] = defaultdict(list)
    for trade in group.trades:
        told[(trade.account_id, trade.security_id, trade.trade_date)].append(trade)
    return told


def _fills_placed(group: _Group, lots: dict, fills: dict) -> tuple[dict, list[tuple[Execution, Decimal]]]:
    """Where each buy fill's shares are that its own lot no longer holds.

    A lots file or an accepted reconciliation may have moved them out: a gift, a transfer to another
    custodian. They were still acquired on the fill's day: the loss they replaced stays disallowed
    (IRC §1091(a) "has acquired"; Treas. Reg. §1.1091-1(a)), and the basis added went with them
    (§1015(a): a donee takes the donor's adjusted basis). A lot of the same security and day that
    no fill made and no trade record tells of - in the fill's account under the custodian's id, or in
    another account of the household, moved in kind - is taken to hold them: it is that purchase
    (``carriers``: lot -> fill). What no such lot holds is ``gone``: (fill, shares), in the history
    with no lot here to adjust."""
    told = {key: sum((t.quantity for t in trades), Decimal(0)) for key, trades in _told(group).items()}
    for key, e in lots.items():  # a trade tells of a fill's lot's shares first (both may tell one purchase)
        if e["fill"] is not None and _bought(e):
            day = (key[0], e["security_id"], e["purchased"])
            told[day] = told.get(day, Decimal(0)) - _shares_of(e)
    untold: dict[tuple[int, str], Decimal] = {}
    for key, e in sorted(lots.items()):
        if e["fill"] is not None or not _bought(e):
            continue
        day = (key[0], e["security_id"], e["purchased"])
        taken = min(max(told.get(day, Decimal(0)), Decimal(0)), _shares_of(e))
        if day in told:
            told[day] -= taken
        if _shares_of(e) > taken:
            untold[key] = _shares_of(e) - taken
    carriers: dict[tuple[int, str], Execution] = {}
    gone: list[tuple[Execution, Decimal]] = []
    for (account_id, lot_id), fill in sorted(fills.items(), key=lambda kv: kv[1].pk):
        e = lots.get((account_id, lot_id))
        missing = fill.quantity - (_shares_of(e) if e is not None else Decimal(0))
        if missing <= 0:
            continue
        # Its own account first, then the household's others, in a fixed order.
        for key in sorted((k for k, q in untold.items() if q > 0 and lots[k]["security_id"] == fill.order.security_id
                           and lots[k]["purchased"] == fill.trade_date), key=lambda k: (k[0] != account_id, k)):
            taken = min(missing, untold[key])
            untold[key] -= taken
            missing -= taken
            carriers.setdefault(key, fill)
            if not missing:
                break
        if missing > 0:
            gone.append((fill, missing))
    return carriers, gone


def _gift(lot: TaxLot | RealisedLot) -> tuple[date, Decimal] | None:
    return None if lot.gift_date is None else (lot.gift_date, lot.gift_unit_value)


def _draw_basis(draw: dict, lot_start: date) -> dict:
    """A draw's cost as bought (its cents of the lot's cost, ``_history``) and where its holding period starts before wash sales (``start``
    when not the lot's ``lot_start``): the sale's own, as booked - for gifted shares their basis and
    holding period under IRC §1015(a) at what they sold for (``executions._Ledger._sell``)."""
    donor, gift = draw["cost"], draw["gift"]
    start = inherited_start(draw["purchased"]) if draw["inherited"] else draw["purchased"]
    out = {"unadjusted": donor}
    if gift is not None:
        value = cents(gift[1] * draw["quantity"])
        start = gift_start(draw["proceeds"], donor, value, start, gift[0])
        out["unadjusted"] = gift_basis(draw["proceeds"], donor, value)
    return {**out, "start": start if start != lot_start else None}


def _reason(*, quantity: Decimal, bought: date, after: date, sold: date, account: Account, loss_account: Account,
            disallowed: Decimal, in_ledger: bool) -> str:
    when = "after" if bought >= sold else "before"
    days = abs((bought - sold).days)
    text = (f"wash sale (IRC §1091, IRS Pub. 550): {plain(quantity)} shares bought on {bought} in account "
            f"{account.custodian_number}, {days} days {when} the loss sale on {sold} in account "
            f"{loss_account.custodian_number}; {disallowed} of the loss disallowed")
    if not account.taxable:
        return text + "; the replacement is in a tax-deferred account, so the loss is lost for good (Rev. Rul. 2008-5)"
    where = "the basis of those shares (known from a trade record, in no lot here)" if not in_ledger else \
        "the replacement's basis"
    return text + f" and added to {where}; its holding period includes the sold shares' and starts {after} (IRC §1223(3))"


def _held_value(lot: TaxLot) -> tuple:
    return (lot.account_id, lot.lot_id, lot.security_id, lot.quantity, lot.cost_basis, lot.acquired,
            lot.purchased or lot.acquired, lot.purchase_lot_id, lot.wash_adjustment, lot.unit_cost, lot.inherited,
            lot.gift_date, lot.gift_unit_value)


def _realised_value(r: RealisedLot) -> tuple:
    return (r.account_id, r.execution_id, r.lot_id, r.security_id, r.quantity, r.proceeds, r.cost_basis, r.gain,
            r.term, r.acquired, r.purchased, r.sold, r.disallowed_loss, r.disallowed_permanently,
            r.wash_matched_quantity, r.wash_adjustment, r.named_lot_id, r.purchase_lot_id, r.origin_id, r.replacement,
            r.unit_cost, r.inherited, r.gift_date, r.gift_unit_value)


def _adjustment_value(a: BasisAdjustment, source: tuple, target: tuple | None) -> tuple:
    return (a.account_id, a.lot_id, a.security_id, source, target or (), a.purchase_id or 0, a.trade_id or 0,
            a.quantity,
            a.disallowed_loss, a.basis_added, a.holding_days_added, a.acquired_before, a.acquired_after, a.reason)


def _gift_fields(entry: dict) -> dict:
    gift = entry["gift"]
    return {} if gift is None else {"gift_date": gift[0], "gift_unit_value": gift[1]}


class _Writer:
    """The replay's exact answer rounded to cents and shares (each lot's and each draw's pieces
    add up to what the lot cost and what the sale brought in), compared with what is stored."""

    def __init__(self, group: _Group, accounts: dict[int, Account], replay: Replay, lots: dict):
        self.group, self.accounts, self.replay, self.lots = group, accounts, replay, lots
        self.fills = {key: e["fill"] for key, e in lots.items() if e["fill"] is not None}
        self.bought = {(f.order.account_id, f.lot_id): f for f in group.fills}
        self.trades = {t.pk: t for t in group.trades}
        # Proceeds of each sold piece, in cents: a draw's net proceeds split over its pieces.
        self.proceeds: dict[int, Decimal] = {}
        by_draw = defaultdict(list)
        for i, p in enumerate(replay.pieces):
            if p.sale is not None:
                by_draw[(p.lot, p.draw)].append((i, p))
        for ((_, account_id, lot_id), draw_i), group_ in by_draw.items():
            d = lots[(account_id, lot_id)]["draw_list"][draw_i]
            for (i, _), gross in zip(group_, _allocate(d["proceeds"], [p.proceeds for _, p in group_]), strict=True):
                self.proceeds[i] = gross
        self.sources: dict[int, list[int]] = defaultdict(list)  # source piece -> its adjustments
        self.targets: dict[int, list[int]] = defaultdict(list)  # replacement piece -> its adjustments
        for n, a in enumerate(replay.adjustments):
            self.sources[a.source].append(n)
            if a.target is not None:
                self.targets[a.target].append(n)
        self._share: dict[int, Decimal] = {}
        self._disallowed: dict[int, tuple[Decimal, Decimal | None]] = {}
        self.unadjusted = self._costs()

    def _costs(self) -> dict[int, Decimal]:
        """Each piece's cost before wash sales, in cents: a lot's pieces in the order of its sales,
        then those held, each the cents of the running cost (shares x the cost per share, exact)
        less those before it - so the pieces of a lot add up to what it cost, each within a cent of
        its share, and a sale's to what ``_history`` gave it. A gift's sale keeps its basis under
        IRC §1015(a) (the replay's), split over its pieces the same way."""
        by_lot = defaultdict(list)
        for i, p in enumerate(self.replay.pieces):
            by_lot[p.lot].append((-1 if p.draw is None else p.draw, i, p))
        out: dict[int, Decimal] = {}
        for (_, account_id, lot_id), pieces in by_lot.items():
            e = self.lots[(account_id, lot_id)]
            pieces.sort(key=lambda t: (t[0] < 0, t[0], t[1]))  # sales in order, then the held shares
            units = [e["unit"] if k < 0 else e["draw_list"][k]["unit"] for k, _, _ in pieces]
            for (_, i, _), cost in zip(pieces, cents_running(Fraction(u) * p.quantity for u, (_, _, p) in zip(
                    units, pieces, strict=True)), strict=True):
                out[i] = cost
            gifts = defaultdict(list)
            for k, i, p in pieces:
                if k >= 0 and e["draw_list"][k]["gift"] is not None:
                    gifts[k].append((i, p))
            for group in gifts.values():
                exact = [p.unadjusted for _, p in group]
                for (i, _), cost in zip(group, _allocate(_money(sum(exact, Fraction(0))), exact), strict=True):
                    out[i] = cost
        return out

    # A sale's disallowed loss is split over its replacements to the cent by cumulative rounding,
    # so what one sale defers is exactly what its replacements' basis gains (IRC §1091(d)) and what
    # it loses to IRAs (Rev. Rul. 2008-5), however many lots share it.

    def _taxable(self, n: int) -> bool:
        kind, *rest = self.replay.adjustments[n].target_lot
        account_id = self.trades[rest[0]].account_id if kind == "trade" else rest[0]
        return self.accounts[account_id].taxable

    def wash(self, i: int) -> Decimal:
        """Basis wash sales added to piece ``i``, in cents."""
        return sum((self.added(n) for n in self.targets[i]), Decimal(0))

    def share(self, n: int) -> Decimal:
        """Cents of its sale's disallowed loss adjustment ``n`` accounts for."""
        if n not in self._share:
            source = self.replay.adjustments[n].source
            ns = self.sources[source]
            total = self.disallowed(source)[0]
            for m, part in zip(ns, _allocate(total, [self.replay.adjustments[m].disallowed for m in ns]), strict=True):
                self._share[m] = part
        return self._share[n]

    def added(self, n: int) -> Decimal:
        """Cents adjustment ``n`` adds to its replacement's basis (none in an IRA or Roth)."""
        return self.share(n) if self._taxable(n) else Decimal(0)

    def disallowed(self, i: int) -> tuple[Decimal, Decimal]:
        """(loss disallowed, of it lost for good) of sold piece ``i``, in cents."""
        if i not in self._disallowed:
            p = self.replay.pieces[i]
            basis = self.unadjusted[i] + self.wash(i)
            loss = max(basis - self.proceeds[i], Decimal(0))
            # A sale replaced in full has exactly its whole loss disallowed.
            disallowed = loss if p.matched == p.quantity and p.disallowed else min(_money(p.disallowed), loss)
            self._disallowed[i] = (disallowed, None)
            lost = sum((self.share(n) for n in self.sources[i] if not self._taxable(n)), Decimal(0))
            self._disallowed[i] = (disallowed, lost)
        return self._disallowed[i]

    def held(self) -> list[TaxLot]:
        out = []
        pieces = defaultdict(list)
        for i, p in enumerate(self.replay.pieces):
            if p.sale is None:
                pieces[p.lot].append((i, p))
        for (_, account_id, lot_id), group in pieces.items():
            e = self.lots[(account_id, lot_id)]
            for i, p in group:
                wash = self.wash(i)
                out.append(TaxLot(account_id=account_id, lot_id=p.lot_id, security_id=e["security_id"],
                                  quantity=_shares(p.quantity), cost_basis=self.unadjusted[i] + wash,
                                  acquired=p.acquired, purchased=p.purchased,
                                  purchase_lot_id="" if p.lot_id == lot_id else lot_id, wash_adjustment=wash,
                                  unit_cost=e["unit"], inherited=e["inherited"], **_gift_fields(e)))
        return out

    def realised(self) -> dict[int, RealisedLot]:
        """Rows of the sales, by the index of their piece in the replay."""
        out: dict[int, RealisedLot] = {}
        pieces = defaultdict(list)
        for i, p in enumerate(self.replay.pieces):
            if p.sale is not None:
                pieces[(p.lot, p.draw)].append((i, p))
        for ((_, account_id, lot_id), draw_i), group in pieces.items():
            e = self.lots[(account_id, lot_id)]
            d = e["draw_list"][draw_i]
            for i, p in group:
                gross, wash = self.proceeds[i], self.wash(i)
                basis = self.unadjusted[i] + wash
                disallowed, lost = self.disallowed(i)
                out[i] = RealisedLot(
                    account_id=account_id, execution=d["execution"], lot_id=p.lot_id, security_id=e["security_id"],
                    quantity=_shares(p.quantity), proceeds=gross, cost_basis=basis, gain=gross - basis, term=p.term,
                    acquired=p.acquired, purchased=d["purchased"], sold=p.sold, disallowed_loss=disallowed,
                    disallowed_permanently=lost, wash_matched_quantity=_shares(p.matched), wash_adjustment=wash,
                    named_lot_id="" if d["named"] == p.lot_id else d["named"],
                    purchase_lot_id="" if p.lot_id == lot_id else lot_id,
                    origin_id=self.fills.get((account_id, lot_id)), replacement=p.replacement, unit_cost=d["unit"],
                    inherited=d["inherited"], **_gift_fields(d),
                )
        return out

    def adjustments(self, realised: dict[int, RealisedLot]) -> list[tuple[BasisAdjustment, int, int | None]]:
        """(adjustment, source piece, target piece) for every replacement; the rows are linked to
        the sales once those are saved."""
        out = []
        for n, a in enumerate(self.replay.adjustments):
            source = realised[a.source]
            kind, *rest = a.target_lot
            if kind == "trade":
                trade = self.trades[rest[0]]
                account, lot_id, security_id = self.accounts[trade.account_id], "", trade.security_id
            elif kind == "gone":
                # The fill's shares have left the ledger: the record stays, naming the lot as bought.
                fill = self.bought[tuple(rest)]
                account, lot_id, security_id = self.accounts[rest[0]], rest[1], fill.order.security_id
            else:
                account_id, bought_as = rest
                account = self.accounts[account_id]
                target = self.replay.pieces[a.target]
                lot_id, security_id = target.lot_id, self.lots[(account_id, bought_as)]["security_id"]
            quantity = _shares(a.quantity)
            disallowed = self.share(n)
            target_row = realised.get(a.target) if a.target is not None else None
            adjustment = BasisAdjustment(
                account_id=account.pk, lot_id=lot_id, security_id=security_id, quantity=quantity,
                disallowed_loss=disallowed, basis_added=self.added(n),
                holding_days_added=(a.before - a.after).days, acquired_before=a.before, acquired_after=a.after,
                purchase_id=(self.bought[tuple(rest)].pk if kind == "gone"
                             else self.fills.get((account.pk, rest[1])) if kind == "lot" else None),
                trade_id=rest[0] if kind == "trade" else None,
                reason=_reason(quantity=quantity, bought=a.before, after=a.after, sold=source.sold, account=account,
                               loss_account=self.accounts[source.account_id], disallowed=disallowed,
                               in_ledger=kind != "trade"),
            )
            out.append((adjustment, a.source, a.target if target_row is not None else None))
        return out


def _reportable_ytd(rows: Iterable[RealisedLot]) -> dict[tuple[int, int], dict[str, Decimal]]:
    """(account, tax year of the sale) -> reportable gains by term."""
    out: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: {"short": Decimal(0), "long": Decimal(0)})
    for r in rows:
        out[r.account_id, r.sold.year][r.term] += r.gain + r.disallowed_loss
    return out


def _trades_restate(rows: Iterable[RealisedLot]) -> None:
    """Each sale's trade record says what its lots now say, as ``executions._sell`` first booked it:
    the net gain, and the losing lots' losses. The engine's wash-sale window reads these: a sale the
    replay turned into a loss is a loss sale that a purchase within 30 days washes (IRC §1091(a))."""
    figures: dict[tuple[int, str], tuple[Decimal, Decimal]] = {}
    for r in rows:
        gain, loss = figures.get((r.account_id, r.execution.external_id), (Decimal(0), Decimal(0)))
        figures[r.account_id, r.execution.external_id] = (gain + r.gain, loss + min(r.gain, Decimal(0)))
    if not figures:
        return
    trades = TradeRecord.objects.filter(side="sell", account_id__in={a for a, _ in figures},
                                        external_id__in={e for _, e in figures})
    changed = []
    for trade in trades:
        restated = figures.get((trade.account_id, trade.external_id))
        if restated is not None and (trade.realised_gain, trade.realised_loss) != restated:
            trade.realised_gain, trade.realised_loss = restated
            changed.append(trade)
    TradeRecord.objects.bulk_update(changed, ["realised_gain", "realised_loss"])


def _sale_label(r: RealisedLot) -> tuple:
    return (r.execution_id, r.bought_as)


def _sale_figures(rows: Iterable[RealisedLot]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for r in rows:
        f = out.setdefault(_sale_label(r), {"account": r.account_id, "lot_id": r.bought_as, "sold": r.sold,
                                            "cost_basis": Decimal(0), "gain": Decimal(0), "disallowed_loss": Decimal(0),
                                            "disallowed_permanently": Decimal(0), "terms": set()})
        f["cost_basis"] += r.cost_basis
        f["gain"] += r.gain
        f["disallowed_loss"] += r.disallowed_loss
        f["disallowed_permanently"] += r.disallowed_permanently
        f["terms"].add(r.term)
    return out


def wash_sales_recompute(*, security_ids: Iterable[int], year: int, trigger: str, actor=None,
                         household_ids: Iterable[int] = (), account_ids: Iterable[int] = (),
                         new_sales: Iterable[int] = ()) -> Recomputed:
    """Replay the wash sales of these households (or those of these accounts) in the equivalence
    groups of ``security_ids`` and write what changed. Call inside the transaction that changed
    the history, holding the ledger's lock. ``year``: realised gains of that year count in the
    accounts' year-to-date figures. ``trigger`` says what changed, for the trail; ``new_sales``:
    executions the caller has just recorded (their figures are news, not changes)."""
    household_ids, account_ids, security_ids = set(household_ids), set(account_ids), set(security_ids)
    new_sales = set(new_sales)
    outcome = Recomputed()
    if not (household_ids or account_ids) or not security_ids:
        return outcome
    in_scope = Account.objects.filter(Q(pk__in=account_ids) | Q(household_id__in=household_ids)).values("household_id")
    groups = Security.objects.filter(pk__in=security_ids).exclude(equivalence_group="").values("equivalence_group")
    # No sale in these groups: nothing can have been washed (the common case of a lots file).
    if not RealisedLot.objects.filter(
        Q(security_id__in=security_ids) | Q(security__equivalence_group__in=groups), account__household_id__in=in_scope,
    ).exists():
        return outcome
    household_ids |= set(Account.objects.filter(pk__in=account_ids).values_list("household_id", flat=True))
    securities = _members(security_ids)
    groups = _groups_in_scope(household_ids, securities)
    accounts = {a.pk: a for a in Account.objects.filter(household_id__in=household_ids)}
    for key in sorted(groups):
        group = groups[key]
        outcome.groups += 1
        if not _needs_replay(group, accounts):
            continue
        history, lots = _history(group, accounts)
        writer = _Writer(group, accounts, household_replay(history), lots)
        held, realised = writer.held(), writer.realised()
        planned = writer.adjustments(realised)
        old_sources = {a.pk: a.source for a in group.adjustments}

        def source_key(r: RealisedLot) -> tuple:
            return (r.execution_id, r.lot_id, r.acquired, r.quantity)

        realised_by_pk = {r.pk: r for r in group.realised}
        old_adjustments = sorted(
            _adjustment_value(a, source_key(old_sources[a.pk]),
                              source_key(realised_by_pk[a.realised_lot_id]) if a.realised_lot_id else None)
            for a in group.adjustments)
        new_adjustments = sorted(
            _adjustment_value(a, source_key(realised[s]), source_key(realised[t]) if t is not None else None)
            for a, s, t in planned)
        same_held = sorted(map(_held_value, group.held)) == sorted(map(_held_value, held))
        same_realised = sorted(map(_realised_value, group.realised)) == sorted(map(_realised_value, realised.values()))
        outcome.adjustments += len(planned)
        if same_held and same_realised and old_adjustments == new_adjustments:
            continue
        outcome.changed_groups += 1
        _write(group, held, realised, planned, accounts, year=year, actor=actor, trigger=trigger, outcome=outcome,
               new_sales=new_sales)
    return outcome


def _keep_ids(old: list, new: list, *, key, model, order=None) -> None:
    """Store ``new`` in place of ``old``: rows of the same key keep their ids (a report or a page
    that holds one sees it change, not vanish); the rest are deleted or created."""
    fields = [f.name for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    old_by, new_by = defaultdict(list), defaultdict(list)
    for row in old:
        old_by[key(row)].append(row)
    for row in new:
        new_by[key(row)].append(row)
    changed, created, deleted = [], [], []
    for k in set(old_by) | set(new_by):
        before, after = old_by.get(k, []), new_by.get(k, [])
        if order is not None:
            before, after = sorted(before, key=order), sorted(after, key=order)
        for was, row in zip(before, after, strict=False):
            row.pk = was.pk
            if any(getattr(was, f) != getattr(row, f) for f in fields if not f.endswith("_ptr")):
                changed.append(row)
        created += after[len(before):]
        deleted += [row.pk for row in before[len(after):]]
    model.objects.filter(pk__in=deleted).delete()
    if changed:
        model.objects.bulk_update(changed, [f for f in fields if f not in ("created_at",)], batch_size=500)
    model.objects.bulk_create(created)


def _write(group: _Group, held: list[TaxLot], realised: dict[int, RealisedLot], planned, accounts, *, year: int,
           actor, trigger: str, outcome: Recomputed, new_sales: set[int]) -> None:
    before_ytd = _reportable_ytd(group.realised)
    before = _sale_figures(r for r in group.realised if r.execution_id not in new_sales)
    BasisAdjustment.objects.filter(pk__in=[a.pk for a in group.adjustments]).delete()
    _keep_ids(group.held, held, key=lambda lot: (lot.account_id, lot.lot_id), model=TaxLot)
    _keep_ids(group.realised, list(realised.values()),
              key=lambda r: (r.execution_id, r.bought_as, r.named_as), model=RealisedLot,
              order=lambda r: (r.lot_id, r.replacement, r.acquired, r.pk or 0))
    made = []
    for adjustment, source, target in planned:
        adjustment.source = realised[source]
        adjustment.realised_lot = realised[target] if target is not None else None
        made.append(adjustment)
    BasisAdjustment.objects.bulk_create(made)
    _trades_restate(realised.values())
    after_ytd = _reportable_ytd(realised.values())
    Account.objects.realised_add({key: {term: after_ytd[key][term] - before_ytd[key][term] for term in ("short", "long")}
                                  for key in set(before_ytd) | set(after_ytd)}, year=year)
    old_ids = {(a.source.execution_id, a.lot_id, a.quantity, a.disallowed_loss) for a in group.adjustments}
    audit_many(actor=actor, action="lot.wash_sale", changes=[
        ("basisadjustment", str(a.pk), {}, {"lot_id": a.lot_id, "source": a.source_id, "quantity": str(a.quantity),
                                            "disallowed_loss": str(a.disallowed_loss),
                                            "basis_added": str(a.basis_added), "acquired": str(a.acquired_after)})
        for a in made if (a.source.execution_id, a.lot_id, a.quantity, a.disallowed_loss) not in old_ids
    ], comment="wash sale (IRC §1091, IRS Pub. 550): basis and holding period adjusted")
    after = _sale_figures(realised.values())
    changes = []
    for label, old in sorted(before.items(), key=lambda kv: (kv[1]["sold"], str(kv[0]))):
        new = after.get(label)
        if new is None:
            continue
        for name in ("cost_basis", "gain", "disallowed_loss", "disallowed_permanently", "terms"):
            if old[name] != new[name]:
                render = (lambda v: "/".join(sorted(v))) if name == "terms" else str
                changes.append({"account": accounts[old["account"]].custodian_number, "lot_id": old["lot_id"],
                                "sold": str(old["sold"]), "field": "term" if name == "terms" else name,
                                "before": render(old[name]), "after": render(new[name])})
    if not changes:
        return
    days = [date.fromisoformat(c["sold"]) for c in changes]
    recalculation = WashSaleRecalculation.objects.create(
        household_id=group.household_id, group=group.group, trigger=trigger[:200],
        actor=actor if isinstance(actor, str) else (actor.get_username() if actor is not None else "system"),
        first_sold=min(days), last_sold=max(days), changes=changes,
    )
    audit_record(actor=actor, action="ledger.wash_sales_recompute", obj=recalculation,
                 before={"sales": len({(c["account"], c["lot_id"], c["sold"]) for c in changes})},
                 after={"changes": changes[:50]}, comment=trigger)
    outcome.changed_sales += len({(c["account"], c["lot_id"], c["sold"]) for c in changes})
    outcome.recalculations.append(recalculation)

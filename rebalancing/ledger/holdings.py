"""Held lots as they were bought: what a custodian's position file says, and what replaces them.

The ledger keeps held lots after the household's wash sales (basis added, holding period moved,
replacement shares split off as ``{lot}-W{n}``). A custodian knows the lots as bought. So a
position file is compared with the lots put back together (``held_lots_as_bought``), and it
replaces them as bought (``held_lots_replace``); the caller then replays the household's wash
sales (``adjustments.wash_sales_recompute``), which splits and adjusts them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection
from django.db.models import F, FloatField, Sum
from django.db.models.functions import Cast, Coalesce

from rebalancing.array_filters import any_of
from rebalancing.engine.tax import inherited_start
from rebalancing.models import RealisedLot, TaxLot, TradeRecord

__all__ = ["AS_BOUGHT_FIELDS", "held_lots_as_bought", "held_lots_replace", "purchases_known_from_lots"]

AS_BOUGHT_FIELDS = ("lot_id", "security_id", "quantity", "cost_basis", "acquired", "inherited", "gift_date",
                    "gift_unit_value")


def held_lots_as_bought(account_ids: Iterable[int]) -> list[dict]:
    """``{"id", "account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired",
    "inherited", "gift_date", "gift_unit_value", "adjusted"}`` per lot as bought: its pieces summed, the basis wash sales added taken
    off, the purchase date (an inherited lot's: the day it passed); ``adjusted`` when the ledger split or adjusted it (``id`` is then one of its
    pieces; its cost is its shares at the cost per share it was bought at). One query, grouped in
    the database (a firm's whole position file)."""
    table = TaxLot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MIN(id), account_id, COALESCE(NULLIF(purchase_lot_id, ''), lot_id), MIN(security_id), "
            f"SUM(quantity), COALESCE(ROUND(MAX(unit_cost) * SUM(quantity), 2), SUM(cost_basis - wash_adjustment)), "
            f"MIN(COALESCE(purchased, acquired)), BOOL_OR(inherited), MIN(gift_date), MIN(gift_unit_value), "
            f"COUNT(*) > 1 OR BOOL_OR(wash_adjustment <> 0 OR purchase_lot_id <> '' "
            f"OR (purchased IS NOT NULL AND NOT inherited)) "
            f"FROM {table} WHERE account_id = ANY(%s) GROUP BY account_id, 3",
            [list(account_ids)],
        )
        names = ("id", "account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired", "inherited",
                 "gift_date", "gift_unit_value", "adjusted")
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def purchases_known_from_lots(household_ids: Iterable[int], start: date, end: date, *,
                              told_buys: set[tuple[str, int, date]] | None = None) -> list[tuple]:
    """Purchases from ``start`` to ``end`` that no trade record tells: shares of the households'
    lots bought on those days (held, or sold since), by account, security and purchase day, where
    the account has no buy trade of that security that day (a trade and a lot of the same account,
    security and day are the same shares, as for the wash-sale replay). A lot from a lots file or a
    custodian's positions is an acquisition (IRC §1091(a) "has acquired"): the replay washes a loss
    with it, so the engine must see it too. Rows ``(household id, account number, security id,
    "buy", shares, day, None)``, the shape of the engine's recorded trades.

    ``told_buys``: the (account number, security id, day) of the households' buy trades from
    ``start`` to ``end`` that are not cancelled, when the caller has read them already (a run's
    loading reads the window's trades anyway); else they are read here, and only when a lot was
    bought in the window. One query for the lots held and sold (a run's chunk usually has none
    in the window), a second for the trades if needed."""
    household_ids = list(household_ids)
    # Inherited and gifted shares were not bought (IRC §1091(a)): they replace nothing.
    held = (TaxLot.objects.filter(any_of("account__household_id", household_ids), inherited=False,
                                  gift_date__isnull=True)
            .annotate(day=Coalesce("purchased", "acquired")).filter(day__gte=start, day__lte=end))
    sold = RealisedLot.objects.filter(any_of("account__household_id", household_ids), purchased__gte=start,
                                      purchased__lte=end, inherited=False, gift_date__isnull=True
                                      ).annotate(day=F("purchased"))
    # Each (account, security, day) comes at most once held and once sold, so the two sums below
    # add in either order to the same float.
    grouped = [rows.values_list("account__household_id", "account__custodian_number", "security_id", "day")
               .annotate(q=Sum(Cast("quantity", FloatField()))).order_by() for rows in (held, sold)]
    bought = list(grouped[0].union(grouped[1], all=True))
    if not bought:
        return []
    if told_buys is None:
        told_buys = set(TradeRecord.objects.filter(
            any_of("account__household_id", household_ids), side="buy", cancelled=False, trade_date__gte=start,
            trade_date__lte=end).values_list("account__custodian_number", "security_id", "trade_date"))
    shares: dict[tuple, float] = {}
    for household, number, security, day, q in bought:
        if (number, security, day) in told_buys:
            continue
        key = (household, number, security, day)
        shares[key] = shares.get(key, 0.0) + q
    return [(household, number, security, "buy", q, day, None)
            for (household, number, security, day), q in sorted(shares.items())]


def held_lots_replace(*, rows: list[dict], existing: list[dict], copy: bool = False):
    """Make the held lots of the accounts in ``existing`` (``held_lots_as_bought``) be ``rows``
    (``{"account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired"}``), matched by
    account and lot id; a lot equal to its row is not written. A lot the ledger had split or
    adjusted is written back as bought (its pieces replaced by one lot). Returns the ``Changes``
    applied and the (account id, security id) pairs whose lots changed."""
    from rebalancing.imports.rows import changes_apply, changes_plan

    from .adjustments import unit_cost

    changes = changes_plan(rows=rows, existing=[{k: v for k, v in e.items() if k != "adjusted"} for e in existing],
                           key=("account_id", "lot_id"), replace=True)
    adjusted = {(e["account_id"], e["lot_id"]): e for e in existing if e["adjusted"]}
    by_id = {e["id"]: e for e in existing}
    rewrite = [row for row in changes.update if (row["account_id"], row["lot_id"]) in adjusted]
    changes.update = [row for row in changes.update if (row["account_id"], row["lot_id"]) not in adjusted]
    gone = [by_id[pk] for pk in changes.delete_ids]
    changes.delete_ids = [e["id"] for e in gone if (e["account_id"], e["lot_id"]) not in adjusted]
    for row in (*changes.create, *changes.update, *rewrite):
        row["unit_cost"] = unit_cost(row["cost_basis"], row["quantity"])
        _holding_period(row)
    if changes.update:
        changes.update_fields |= {"unit_cost", "acquired", "purchased"}
    touched = {(row["account_id"], row["security_id"]) for row in (*changes.create, *changes.update, *rewrite)}
    touched |= {(e["account_id"], e["security_id"]) for e in (*gone, *(adjusted[(r["account_id"], r["lot_id"])]
                                                                      for r in rewrite))}
    # A lot the ledger split or adjusted: its pieces go, but one (the lot's own id kept on it).
    gone_adjusted = [e for e in gone if (e["account_id"], e["lot_id"]) in adjusted]
    rewritten = [adjusted[(r["account_id"], r["lot_id"])]["id"] for r in rewrite]
    _pieces_delete({(e["account_id"], e["lot_id"]) for e in gone_adjusted} | {(r["account_id"], r["lot_id"]) for r in rewrite},
                   keep=rewritten)
    changes_apply(TaxLot, changes, copy=copy)
    if rewrite:
        TaxLot.objects.bulk_update(
            [TaxLot(id=adjusted[(r["account_id"], r["lot_id"])]["id"], purchased=r["purchased"], purchase_lot_id="",
                    wash_adjustment=0, unit_cost=r["unit_cost"], **{name: r[name] for name in AS_BOUGHT_FIELDS})
             for r in rewrite],
            [*AS_BOUGHT_FIELDS, "purchased", "purchase_lot_id", "wash_adjustment", "unit_cost"])
    changes.update += rewrite
    changes.delete_ids += [e["id"] for e in gone_adjusted]
    return changes, touched


def _holding_period(row: dict) -> None:
    """A row as bought (``acquired``: the day bought, or the day it passed when ``inherited``) as
    the ledger stores it: an inherited lot's holding period starts more than a year before it
    passed (IRC §1223(9)), its own day kept as ``purchased``."""
    if row.get("inherited"):
        row["purchased"], row["acquired"] = row["acquired"], inherited_start(row["acquired"])
    else:
        row["inherited"], row["purchased"] = False, None


def _pieces_delete(keys: set[tuple[int, str]], *, keep: list[int]) -> None:
    """Delete every piece of these lots (account id, lot id as bought) but those in ``keep``."""
    if not keys:
        return
    table = TaxLot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} t USING unnest(%s::bigint[], %s::text[]) AS k(account_id, lot_id) "
            f"WHERE t.account_id = k.account_id AND COALESCE(NULLIF(t.purchase_lot_id, ''), t.lot_id) = k.lot_id "
            f"AND NOT t.id = ANY(%s)",
            [[a for a, _ in keys], [lot for _, lot in keys], keep],
        )

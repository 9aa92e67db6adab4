"""Reconciliation: a custodian's position file compared with the ledger, changed only on a decision.

The file has the lots layout (docs/csv-formats.md "lots"): one line per lot, or a line with only
the account number for an account the custodian shows empty. Importing it changes no lot: it
stores, per account in the file, the custodian's lots, the securities whose quantity or cost basis
differ, and the lots that differ. A person with the import capability then accepts an account
(the custodian's lots replace the ledger's, audited) or rejects it (the ledger stays). An account
whose lots changed since the comparison (a fill applied since) cannot be accepted: import the
file again. Nor can an account where accepting would change or remove a lot that a released sale
still open names (``open_orders_on_changed_lots``): import the custodian's fills or cancels first.
A lots file is refused on the same rule (``open_orders_on_replaced_lots``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from rebalancing.access import require
from rebalancing.array_filters import any_of
from rebalancing.exports import csv_text
from rebalancing.imports.cells import (
    MAX_AMOUNT,
    MAX_SHARES,
    boolean_cells,
    date_cells,
    decimal_cells,
    distinct,
    duplicates_report,
    references_map,
    text_cells,
)
from rebalancing.imports.lots import _worth_report
from rebalancing.imports.rows import ids_by, import_begin, records
from rebalancing.imports.sheet import Source, sheet_read
from rebalancing.models import (
    Account,
    Order,
    Reconciliation,
    ReconciliationAccount,
    ReconciliationRow,
    Security,
    TaxLot,
)
from rebalancing.webhooks import events as webhook_events
from tenants.audit.services import audit_many, audit_record
from tenants.errors import Conflict
from tenants.permissions import Capability

from .adjustments import LEDGER_LOCK, wash_sales_recompute
from .holdings import AS_BOUGHT_FIELDS, held_lots_as_bought, held_lots_replace
from .orders import orders_open
from .quantities import plain

__all__ = [
    "KIND", "REPORT_COLUMNS", "OpenSale", "open_orders_on_changed_lots", "open_orders_on_replaced_lots",
    "reconciliation_accept", "reconciliation_csv", "reconciliation_import", "reconciliation_reject",
]

KIND = "positions"
REQUIRED = ("account_number", "lot_id", "symbol", "quantity", "cost_basis", "acquired")
REPORT_COLUMNS = (
    "account_number", "symbol", "ledger_quantity", "custodian_quantity", "quantity_difference",
    "ledger_cost_basis", "custodian_cost_basis", "cost_basis_difference", "decision",
)
_field = TaxLot._meta.get_field
# A custodian's position file says nothing of gifts: the ledger's marks stay (``held_lots_replace``
# compares and writes only the fields a row has).
_LOT_FIELDS = tuple(name for name in AS_BOUGHT_FIELDS if not name.startswith("gift_"))


def _fingerprint(lots: list[dict]) -> str:
    text = "\n".join(sorted("|".join(str(lot[name]) for name in _LOT_FIELDS) for lot in lots))
    return hashlib.sha256(text.encode()).hexdigest()


def _ledger_lots(account_ids) -> dict[int, list[dict]]:
    """The ledger's held lots as bought (a custodian does not know the household's wash sales)."""
    out: dict[int, list[dict]] = defaultdict(list)
    for lot in held_lots_as_bought(account_ids):
        out[lot["account_id"]].append(lot)
    return out


@transaction.atomic
def reconciliation_import(*, source: Source, actor=None, as_of: date | None = None,
                          file_name: str = "") -> Reconciliation:
    """Compare a position file with the ledger and store the differences; no lot changes.

    Raises ``ImportRejected`` (row, column, problem) for a malformed file; nothing is then stored.
    ``as_of``: acquisition dates may not be later (default today; from 1900 to today, ``book_day_check``).
    """
    from rebalancing.engine_inputs import book_day_check  # (engine_inputs reads the ledger: imported late)

    as_of = timezone.localdate() if as_of is None else book_day_check(as_of, what="day the file is read on (as_of)")
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=("inherited",))
    numbers = text_cells(sheet, "account_number", field=Account._meta.get_field("custodian_number"), required=True)
    account_ids = references_map(sheet, "account_number", numbers,
                                 ids_by(Account, "custodian_number", distinct(numbers)), "account")
    emptied = sheet.frame.index[(sheet.frame[list(REQUIRED[1:])] == "").all(axis=1)]
    lots = sheet.without(emptied)
    symbols = text_cells(lots, "symbol", field=Security._meta.get_field("symbol"), required=True, upper=True)
    columns = {
        "account_id": account_ids[lots.frame.index],
        "lot_id": text_cells(lots, "lot_id", field=_field("lot_id"), required=True),
        "security_id": references_map(lots, "symbol", symbols, ids_by(Security, "symbol", distinct(symbols)), "symbol"),
        # The lots file's bounds: accepting the comparison writes these lots as a lots file would.
        "quantity": decimal_cells(lots, "quantity", field=_field("quantity"), positive=True,
                                  plausible=(MAX_SHARES, "shares in one lot")),
        "cost_basis": decimal_cells(lots, "cost_basis", field=_field("cost_basis"), minimum=Decimal(0),
                                    plausible=(MAX_AMOUNT, "dollars of cost in one lot")),
        "acquired": date_cells(lots, "acquired", not_after=as_of),
    }
    _worth_report(lots, columns["quantity"], columns["security_id"], symbols, as_of)
    if lots.has("inherited"):
        columns["inherited"] = boolean_cells(lots, "inherited").map(lambda v: v is True)
    duplicates_report(lots, {"account_number": numbers[lots.frame.index], "lot_id": columns["lot_id"]},
                      "account and lot id")
    sheet.problems.reject_if_any()

    custodian: dict[int, list[dict]] = {account_id: [] for account_id in distinct(account_ids)}
    for row in records(columns) if lots.rows else []:
        custodian[row["account_id"]].append(row)
    ledger = _ledger_lots(list(custodian))
    if "inherited" not in columns:  # a custodian's file without the mark keeps the ledger's
        marked = {(lot["account_id"], lot["lot_id"]) for lots_ in ledger.values() for lot in lots_ if lot["inherited"]}
        for account_id, theirs in custodian.items():
            for lot in theirs:
                lot["inherited"] = (account_id, lot["lot_id"]) in marked
    reconciliation = Reconciliation.objects.create(
        as_of=as_of, file_name=file_name[:200],
        created_by=actor if isinstance(actor, str) else (actor.get_username() if actor is not None else "system"),
    )
    rows = []
    for account_id, theirs in custodian.items():
        ours = ledger.get(account_id, [])
        differences = _lot_differences(ours, theirs)
        entry = ReconciliationAccount.objects.create(
            reconciliation=reconciliation, account_id=account_id,
            custodian_lots=[{**lot, "quantity": str(lot["quantity"]), "cost_basis": str(lot["cost_basis"]),
                             "acquired": lot["acquired"].isoformat()} for lot in theirs],
            ledger_fingerprint=_fingerprint(ours), lot_differences=differences,
            decision=ReconciliationAccount.Decision.PENDING if differences else ReconciliationAccount.Decision.MATCHED,
        )
        rows += _security_rows(entry, ours, theirs)
    ReconciliationRow.objects.bulk_create(rows)
    audit_record(actor=actor, action="reconciliation.create", obj=reconciliation, after={
        "accounts": len(custodian), "differing": sum(1 for a in reconciliation.accounts.all()
                                                     if a.decision == ReconciliationAccount.Decision.PENDING),
    }, comment=file_name)
    if not reconciliation.accounts.filter(decision=ReconciliationAccount.Decision.PENDING).exists():
        reconciliation.status = Reconciliation.Status.CLOSED
        reconciliation.save(update_fields=["status"])
    else:
        webhook_events.reconciliation_break(reconciliation.pk)
    return reconciliation


def _lot_differences(ours: list[dict], theirs: list[dict]) -> list[dict]:
    """The lots ``theirs`` would change if they replaced ``ours`` (``held_lots_replace``: a field a
    lot of ``theirs`` does not have keeps the ledger's)."""
    mine = {lot["lot_id"]: lot for lot in ours}
    custodians = {lot["lot_id"]: lot for lot in theirs}
    out = []
    for lot_id in sorted(set(mine) | set(custodians)):
        a, b = mine.get(lot_id), custodians.get(lot_id)
        if a is None:
            out.append({"lot_id": lot_id, "problem": "only at the custodian"})
        elif b is None:
            out.append({"lot_id": lot_id, "problem": "only in the ledger"})
        else:
            fields = [name for name in AS_BOUGHT_FIELDS[1:] if name in b and a[name] != b[name]]
            if fields:
                out.append({"lot_id": lot_id, "problem": "differs", "fields": fields,
                            "ledger": {n: str(a[n]) for n in fields}, "custodian": {n: str(b[n]) for n in fields}})
    return out


def _security_rows(entry: ReconciliationAccount, ours: list[dict], theirs: list[dict]) -> list[ReconciliationRow]:
    totals: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for index, lots in ((0, ours), (1, theirs)):
        for lot in lots:
            totals[lot["security_id"]][index] += lot["quantity"]
            totals[lot["security_id"]][index + 2] += lot["cost_basis"]
    return [
        ReconciliationRow(reconciliation_account=entry, security_id=security_id, ledger_quantity=q_ours,
                          custodian_quantity=q_theirs, ledger_cost_basis=b_ours, custodian_cost_basis=b_theirs)
        for security_id, (q_ours, q_theirs, b_ours, b_theirs) in sorted(totals.items())
        if q_ours != q_theirs or b_ours != b_theirs
    ]


def _pending(reconciliation: Reconciliation, account_ids) -> list[ReconciliationAccount]:
    qs = (ReconciliationAccount.objects.select_for_update().select_related("account")
          .filter(reconciliation=reconciliation, decision=ReconciliationAccount.Decision.PENDING))
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    entries = list(qs)
    if not entries:
        raise Conflict("No account of this reconciliation is waiting for a decision.",
                       code="nothing_to_decide", detail={"reconciliation": reconciliation.pk})
    return entries


def _close_if_done(reconciliation: Reconciliation) -> None:
    if not reconciliation.accounts.filter(decision=ReconciliationAccount.Decision.PENDING).exists():
        Reconciliation.objects.filter(pk=reconciliation.pk).update(status=Reconciliation.Status.CLOSED)


def _summary(lots: list[dict]) -> dict:
    return {"lots": len(lots), "quantity": plain(sum((Decimal(str(lot["quantity"])) for lot in lots), Decimal(0))),
            "cost_basis": plain(sum((Decimal(str(lot["cost_basis"])) for lot in lots), Decimal(0)))}


_FIELD_WORDS = {"security_id": "security", "quantity": "quantity", "cost_basis": "cost basis",
                "acquired": "date acquired", "inherited": "inherited mark", "gift_date": "gift date",
                "gift_unit_value": "gift value"}


@dataclass(frozen=True)
class OpenSale:
    """A released sale still open that names shares of a lot accepting the custodian's would change."""

    account: str
    order_id: str
    lot_id: str  # as the order names it (a wash-sale piece ``{lot}-W{n}`` is part of ``bought_as``)
    bought_as: str
    named: Decimal  # the shares the order names of the lot
    sold: Decimal  # of them, sold by its fills already
    sells: Decimal  # of them, still to sell
    problem: str  # the lot's difference: "differs", "only in the ledger" or "only at the custodian"
    fields: tuple[str, ...]
    custodian_quantity: Decimal | None  # None: not in the custodian's file

    @property
    def text(self) -> str:
        return self.words()

    def words(self, whose: str = "the custodian's") -> str:
        """The sale and the lot's difference; ``whose``: the file's owner ("the custodian's", or "this"
        for a lots file)."""
        lot = self.lot_id if self.lot_id == self.bought_as else f"{self.lot_id} (part of lot {self.bought_as})"
        sold = f" ({plain(self.sold)} of the {plain(self.named)} it names already sold)" if self.sold else ""
        their_lot = "the custodian's lot" if whose == "the custodian's" else "the file's lot"
        if self.custodian_quantity is None:
            theirs = f"{whose} file does not have the lot"
        elif self.problem == "only at the custodian":
            theirs = f"the ledger does not hold it; {their_lot} holds {plain(self.custodian_quantity)}"
        else:
            theirs = f"{their_lot} holds {plain(self.custodian_quantity)}"
            others = [_FIELD_WORDS.get(name, name) for name in self.fields if name != "quantity"]
            if others:
                theirs += f"{'' if 'quantity' in self.fields else ' too'} and its {', '.join(others)} differ" + \
                    ("s" if len(others) == 1 else "")
        return f"order {self.order_id} still sells {plain(self.sells)} shares of lot {lot}{sold}; {theirs}"

    def as_detail(self) -> dict:
        return {"account": self.account, "order_id": self.order_id, "lot_id": self.lot_id, "bought_as": self.bought_as,
                "named": plain(self.named), "sold": plain(self.sold), "sells": plain(self.sells),
                "problem": self.problem, "fields": list(self.fields),
                "custodian_quantity": None if self.custodian_quantity is None else plain(self.custodian_quantity)}


def open_shares(lots: list[dict], filled: Decimal, open_quantity: Decimal) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """Per lot a sale order names, in its order: (lot id, shares named, sold already, still to sell).
    Fills take the named lots in order after the shares earlier fills took (``executions._Book.relieve``),
    so the ``filled`` shares are the first named and the ``open_quantity`` the next; what a cancel
    took off the order is its last shares."""
    out = []
    for lot in lots:
        named = Decimal(lot["quantity"])
        sold = min(named, filled)
        sells = min(named - sold, open_quantity)
        filled -= sold
        open_quantity -= sells
        out.append((lot["lot_id"], named, sold, sells))
    return out


def _bought_as(lot_id: str, held: dict[str, str]) -> str:
    """The lot as bought (as the custodian knows it) of a lot an order names: a held piece's purchase;
    a piece ``{lot}-W{n}`` no longer held was part of ``{lot}`` (``executions._purchase_of``)."""
    if lot_id in held:
        return held[lot_id]
    head, _, number = lot_id.rpartition("-W")
    return head if head and number.isdigit() else lot_id


def _released_sales(account_ids) -> list[Order]:
    """The released sales still open (open or partly filled) of these accounts (ids, or a subquery)."""
    accounts = (Q(account_id__in=account_ids) if isinstance(account_ids, QuerySet)
                else any_of("account_id", account_ids))  # a lots file's accounts: up to a firm's all
    return list(orders_open(Order.objects.filter(accounts, side="sell")))


def _open_sales_on(sales: list[Order], changes: dict[int, tuple[list[dict], dict[str, Decimal]]]
                   ) -> dict[int, list[OpenSale]]:
    """Per account of ``changes`` (its lot differences as ``_lot_differences`` gives them, and the
    new lots' quantities by lot id): the ``sales`` naming shares, not yet sold, of a changed lot.
    One query (which purchase each lot the sales name is a piece of)."""
    named = {lot["lot_id"] for o in sales if o.account_id in changes for lot in o.lots}
    held: dict[int, dict[str, str]] = defaultdict(dict)
    for account_id, lot_id, purchase in (TaxLot.objects.filter(any_of("account_id", changes), lot_id__in=named)
                                         .values_list("account_id", "lot_id", "purchase_lot_id")):
        held[account_id][lot_id] = purchase or lot_id
    out: dict[int, list[OpenSale]] = {}
    for account_id, (differences, theirs) in changes.items():
        changed = {d["lot_id"]: d for d in differences}
        found = []
        for order in (o for o in sales if o.account_id == account_id):
            for lot_id, shares_named, sold, sells in open_shares(order.lots, order.filled_quantity,
                                                                 order.open_quantity):
                bought_as = _bought_as(lot_id, held[account_id])
                difference = changed.get(bought_as)
                if sells > 0 and difference is not None:
                    found.append(OpenSale(
                        account=order.account.custodian_number, order_id=order.order_id, lot_id=lot_id,
                        bought_as=bought_as, named=shares_named, sold=sold, sells=sells,
                        problem=difference["problem"], fields=tuple(difference.get("fields", ())),
                        custodian_quantity=theirs.get(bought_as)))
        if found:
            out[account_id] = found
    return out


def open_orders_on_changed_lots(entries) -> dict[int, list[OpenSale]]:
    """Per account of ``entries`` (a queryset of ``ReconciliationAccount``): the released sales still
    open (open or partly filled) that name shares, not yet sold, of a lot accepting the custodian's
    lots would change or remove. Such a sale is at the custodian naming those lots (specific
    identification, IRS Pub. 550 "Adequate identification"): once they are replaced it no longer sells
    what it was released to sell (its fills refused, or taking another basis or date). Most often the custodian has already filled it and the fill is not imported
    yet; accepting first would count those shares gone twice. Three queries."""
    sales = _released_sales(entries.values("account_id"))
    if not sales:
        return {}
    changes = {
        entry.account_id: (entry.lot_differences,
                           {lot["lot_id"]: Decimal(lot["quantity"]) for lot in entry.custodian_lots})
        for entry in (entries.filter(account_id__in={o.account_id for o in sales}).select_related(None)
                      .prefetch_related(None).only("account_id", "lot_differences", "custodian_lots"))
    }
    return _open_sales_on(sales, changes)


def open_orders_on_replaced_lots(*, rows: list[dict], existing: list[dict], account_ids) -> dict[int, list[OpenSale]]:
    """The same rule for a lots file: per account of ``account_ids`` (the accounts in the file), the
    released sales still open naming shares, not yet sold, of a lot that ``rows`` (the file's lots,
    as ``held_lots_replace`` takes them) replacing ``existing`` (``held_lots_as_bought``) would
    change or remove. Two queries (none more when the accounts have no open sale)."""
    sales = _released_sales(account_ids)
    if not sales:
        return {}
    accounts = {o.account_id for o in sales}
    ours: dict[int, list[dict]] = defaultdict(list)
    theirs: dict[int, list[dict]] = defaultdict(list)
    for lots, by_account in ((existing, ours), (rows, theirs)):
        for lot in lots:
            if lot["account_id"] in accounts:
                by_account[lot["account_id"]].append(lot)
    return _open_sales_on(sales, {
        account_id: (_lot_differences(ours[account_id], theirs[account_id]),
                     {lot["lot_id"]: lot["quantity"] for lot in theirs[account_id]})
        for account_id in accounts})


def _refuse_open_orders(entries: list[ReconciliationAccount]) -> None:
    """Refuse the whole decision (nothing accepted) if accepting would change lots open sales name."""
    found = open_orders_on_changed_lots(ReconciliationAccount.objects.filter(pk__in=[e.pk for e in entries]))
    if not found:
        return
    numbers = {e.account_id: e.account.custodian_number for e in entries}
    ordered = sorted(found, key=numbers.__getitem__)
    names = [numbers[a] for a in ordered]
    listing = "; ".join(f"{numbers[a]}: {', '.join(s.text for s in found[a])}" for a in ordered)
    raise Conflict(
        f"Accepting the custodian's lots of {', '.join(names)} would change lots that released orders still sell, "
        f"so those orders would no longer sell what they were released to sell: {listing}. The custodian may have "
        "filled or cancelled them already: import those executions first, then accept again (after a fill, "
        "compare the position file again); or reject to keep the ledger. Nothing was accepted.",
        code="reconciliation_open_orders",
        detail={"accounts": names, "orders": [s.as_detail() for a in ordered for s in found[a]]})


@transaction.atomic
def reconciliation_accept(*, reconciliation: Reconciliation, user, account_ids=None, comment: str = "") -> int:
    """The custodian's lots replace the ledger's for these accounts (all pending ones by default).
    Returns how many accounts were changed. Refused whole (``Conflict``) when an account's ledger
    changed since the comparison, or when accepting would change a lot that a released sale still
    open names (``open_orders_on_changed_lots``)."""
    require(user, Capability.IMPORT_DATA)
    import_begin(LEDGER_LOCK)
    entries = _pending(reconciliation, account_ids)
    ledger = _ledger_lots([e.account_id for e in entries])
    stale = [e.account.custodian_number for e in entries if _fingerprint(ledger.get(e.account_id, [])) != e.ledger_fingerprint]
    if stale:
        raise Conflict(f"The ledger of {', '.join(stale)} changed since the comparison; import the position file again.",
                       code="reconciliation_stale", detail={"accounts": stale})
    _refuse_open_orders(entries)
    now, audits, touched = timezone.now(), [], set()
    for entry in entries:
        theirs = [{"account_id": entry.account_id, "lot_id": lot["lot_id"], "security_id": lot["security_id"],
                   "quantity": Decimal(lot["quantity"]), "cost_basis": Decimal(lot["cost_basis"]),
                   "acquired": date.fromisoformat(lot["acquired"]), "inherited": lot.get("inherited", False)}
                  for lot in entry.custodian_lots]
        ours = ledger.get(entry.account_id, [])
        _, changed = held_lots_replace(rows=theirs, existing=ours)
        touched |= changed
        entry.decision, entry.decided_by, entry.decided_at = ReconciliationAccount.Decision.ACCEPTED, user, now
        audits.append(("account", str(entry.account_id), _summary(ours), _summary(theirs)))
    ReconciliationAccount.objects.bulk_update(entries, ["decision", "decided_by", "decided_at"])
    wash_sales_recompute(account_ids={a for a, _ in touched}, security_ids={s for _, s in touched},
                         year=timezone.localdate().year, actor=user,
                         trigger=f"custodian's lots accepted (reconciliation {reconciliation.pk})")
    from rebalancing.services.proposals import proposals_supersede_lots_changed

    proposals_supersede_lots_changed(account_ids={a for a, _ in touched},
                                     because=f"the account's lots changed (reconciliation {reconciliation.pk})")
    audit_many(actor=user, action="reconciliation.accept", changes=audits,
               comment=comment or f"custodian's lots of reconciliation {reconciliation.pk} accepted")
    _close_if_done(reconciliation)
    return len(entries)


@transaction.atomic
def reconciliation_reject(*, reconciliation: Reconciliation, user, account_ids=None, comment: str = "") -> int:
    """Keep the ledger's lots for these accounts (all pending ones by default)."""
    require(user, Capability.IMPORT_DATA)
    entries = _pending(reconciliation, account_ids)
    now = timezone.now()
    for entry in entries:
        entry.decision, entry.decided_by, entry.decided_at = ReconciliationAccount.Decision.REJECTED, user, now
    ReconciliationAccount.objects.bulk_update(entries, ["decision", "decided_by", "decided_at"])
    audit_many(actor=user, action="reconciliation.reject", changes=[
        ("account", str(e.account_id), {"decision": "pending"}, {"decision": "rejected"}) for e in entries
    ], comment=comment)
    _close_if_done(reconciliation)
    return len(entries)


def reconciliation_csv(reconciliation: Reconciliation) -> str:
    """The differences, one line per account and security (columns ``REPORT_COLUMNS``)."""
    rows = (ReconciliationRow.objects.filter(reconciliation_account__reconciliation=reconciliation)
            .select_related("reconciliation_account__account", "security")
            .order_by("reconciliation_account__account__custodian_number", "security__symbol"))
    return csv_text(REPORT_COLUMNS, (
        (row.reconciliation_account.account.custodian_number, row.security.symbol, plain(row.ledger_quantity),
         plain(row.custodian_quantity), plain(row.quantity_difference), plain(row.ledger_cost_basis),
         plain(row.custodian_cost_basis), plain(row.cost_basis_difference), row.reconciliation_account.decision)
        for row in rows
    ))

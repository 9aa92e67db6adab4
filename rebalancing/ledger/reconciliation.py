"""Reconciliation: a custodian's position file compared with the ledger, changed only on a decision.

The file has the lots layout (docs/csv-formats.md "lots"): one line per lot, or a line with only
the account number for an account the custodian shows empty. Importing it changes no lot: it
stores, per account in the file, the custodian's lots, the securities whose quantity or cost basis
differ, and the lots that differ. A person with the import capability then accepts an account
(the custodian's lots replace the ledger's, audited) or rejects it (the ledger stays). An account
whose lots changed since the comparison (a fill applied since) cannot be accepted: import the
file again.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from rebalancing.access import require
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
from .quantities import plain

__all__ = [
    "KIND", "REPORT_COLUMNS", "reconciliation_accept", "reconciliation_csv", "reconciliation_import",
    "reconciliation_reject",
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
            fields = [name for name in _LOT_FIELDS[1:] if a[name] != b[name]]
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


@transaction.atomic
def reconciliation_accept(*, reconciliation: Reconciliation, user, account_ids=None, comment: str = "") -> int:
    """The custodian's lots replace the ledger's for these accounts (all pending ones by default).
    Returns how many accounts were changed."""
    require(user, Capability.IMPORT_DATA)
    import_begin(LEDGER_LOCK)
    entries = _pending(reconciliation, account_ids)
    ledger = _ledger_lots([e.account_id for e in entries])
    stale = [e.account.custodian_number for e in entries if _fingerprint(ledger.get(e.account_id, [])) != e.ledger_fingerprint]
    if stale:
        raise Conflict(f"The ledger of {', '.join(stale)} changed since the comparison; import the position file again.",
                       code="reconciliation_stale", detail={"accounts": stale})
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

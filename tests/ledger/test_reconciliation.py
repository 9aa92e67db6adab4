"""Reconciliation: differences reported per account, nothing changed until a person accepts."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.imports import ImportRejected
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reconciliation import (
    reconciliation_accept,
    reconciliation_csv,
    reconciliation_import,
    reconciliation_reject,
)
from rebalancing.models import Reconciliation, ReconciliationAccount, TaxLot
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied
from tenants.roles import FirmRole

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
HEADER = "account_number,lot_id,symbol,quantity,cost_basis,acquired\n"


def lots_of(number: str) -> dict:
    return {lot.lot_id: (lot.security.symbol, lot.quantity, lot.cost_basis, lot.acquired)
            for lot in TaxLot.objects.filter(account__custodian_number=number).select_related("security")}


@pytest.fixture
def positions(book):
    make_account("A-9", model=book["model"], holdings=[("BND", 10, 800, date(2024, 3, 1))])
    return (HEADER +
            "A-1,A-1-L1,VTI,100,8000,2020-01-02\n"
            "A-1,A-1-L2,VTI,50,6100,2026-06-01\n"  # the custodian's basis is 100 higher
            "A-1,C-9,BND,10,800,2026-11-02\n"  # a lot the ledger does not know
            "A-9,A-9-L1,BND,10,800,2024-03-01\n").encode()  # A-9 agrees


def test_differences_are_reported_per_account_and_nothing_changes(book, positions):
    before = {n: lots_of(n) for n in ("A-1", "A-9")}

    reconciliation = reconciliation_import(source=positions, actor="custodian feed", as_of=AS_OF)

    assert {n: lots_of(n) for n in ("A-1", "A-9")} == before
    decisions = {a.account.custodian_number: a.decision for a in reconciliation.accounts.select_related("account")}
    assert decisions == {"A-1": "pending", "A-9": "matched"}
    assert reconciliation_csv(reconciliation).splitlines() == [
        "account_number,symbol,ledger_quantity,custodian_quantity,quantity_difference,ledger_cost_basis,"
        "custodian_cost_basis,cost_basis_difference,decision",
        "A-1,BND,0,10,10,0,800,800,pending",
        "A-1,VTI,150,150,0,14000,14100,100,pending",
    ]
    entry = reconciliation.accounts.get(account__custodian_number="A-1")
    assert entry.lot_differences == [
        {"lot_id": "A-1-L2", "problem": "differs", "fields": ["cost_basis"], "ledger": {"cost_basis": "6000.00"},
         "custodian": {"cost_basis": "6100.00"}},
        {"lot_id": "C-9", "problem": "only at the custodian"},
    ]


def test_accepting_replaces_the_ledgers_lots_with_an_audit_row(book, positions, pm):
    reconciliation = reconciliation_import(source=positions, actor="custodian feed", as_of=AS_OF)

    assert reconciliation_accept(reconciliation=reconciliation, user=pm, comment="custodian is right") == 1

    assert lots_of("A-1") == {
        "A-1-L1": ("VTI", D(100), D("8000.00"), date(2020, 1, 2)),
        "A-1-L2": ("VTI", D(50), D("6100.00"), date(2026, 6, 1)),
        "C-9": ("BND", D(10), D("800.00"), date(2026, 11, 2)),
    }
    event = AuditEvent.objects.get(action="reconciliation.accept")
    assert (event.actor, event.comment) == ("pm@ledger.example", "custodian is right")
    assert (event.before, event.after) == ({"lots": 2, "quantity": "150", "cost_basis": "14000"},
                                           {"lots": 3, "quantity": "160", "cost_basis": "14900"})
    reconciliation.refresh_from_db()
    assert reconciliation.status == Reconciliation.Status.CLOSED


def test_rejecting_keeps_the_ledger(book, positions, pm):
    reconciliation = reconciliation_import(source=positions, actor="custodian feed", as_of=AS_OF)
    before = lots_of("A-1")

    reconciliation_reject(reconciliation=reconciliation, user=pm, comment="the custodian is a day late")

    assert lots_of("A-1") == before
    assert reconciliation.accounts.get(account__custodian_number="A-1").decision == "rejected"


def test_a_ledger_changed_since_the_comparison_cannot_be_overwritten(book, positions, pm):
    reconciliation = reconciliation_import(source=positions, actor="custodian feed", as_of=AS_OF)
    [order] = release(book["account"], [sell("VTI", 10, 100.0, [("A-1-L1", 10)])], pm=pm, as_of=date(2026, 11, 19))
    executions_import(source=execution_csv(fill("X-1", order, 10, "100", date(2026, 11, 19))), actor="t", as_of=AS_OF)

    with pytest.raises(Conflict) as refused:
        reconciliation_accept(reconciliation=reconciliation, user=pm)

    assert refused.value.code == "reconciliation_stale" and lots_of("A-1")["A-1-L1"][1] == D(90)
    assert ReconciliationAccount.objects.get(account__custodian_number="A-1").decision == "pending"


def test_only_a_person_allowed_to_import_decides(book, positions, firm_a, firm_user):
    advisor = firm_user(firm_a, "advisor@ledger.example", FirmRole.ADVISOR)
    reconciliation = reconciliation_import(source=positions, actor="custodian feed", as_of=AS_OF)

    with pytest.raises(PermissionDenied):
        reconciliation_accept(reconciliation=reconciliation, user=advisor)


def test_a_malformed_position_file_is_refused_whole(book):
    with pytest.raises(ImportRejected) as refused:
        reconciliation_import(source=(HEADER + "A-1,A-1-L1,VTI,-5,8000,2020-01-02\nNOPE,X,VTI,1,1,2020-01-02\n").encode(),
                              actor="t", as_of=AS_OF)

    assert [(p["row"], p["column"]) for p in refused.value.detail["problems"]] == [(2, "quantity"), (3, "account_number")]
    assert not Reconciliation.objects.exists()

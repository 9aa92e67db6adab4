"""Accepting a custodian's lots is refused, whole and naming each order, while a released sale still
open names shares of a lot the acceptance would change or remove: the order is at the custodian
naming those lots (specific identification, IRS Pub. 550 "Adequate identification"), and once they
are replaced its fills could not take what it names. Found in the browser: an accepted file cut
ACM-000181-L0036 from 32 to 30 shares while P189-4 still sold 32 of it, and nothing warned."""

import random
from collections import Counter
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reconciliation import (
    open_orders_on_changed_lots,
    open_shares,
    reconciliation_accept,
    reconciliation_import,
)
from rebalancing.models import Order, ReconciliationAccount, Security, TaxLot
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict

from ..rebalancing.book import make_account
from . import open_orders
from .helpers import cancel, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
HEADER = open_orders.LOTS_HEADER


def lots_of(number: str) -> dict:
    return {lot.lot_id: (lot.quantity, lot.cost_basis) for lot in TaxLot.objects.filter(account__custodian_number=number)}


@pytest.fixture
def partly_sold(book, pm):
    return open_orders.partly_sold(book["model"], pm=pm, as_of=AS_OF)


def test_accepting_a_lot_an_open_sale_still_sells_is_refused_naming_it_and_nothing_changes(partly_sold, pm):
    reconciliation = reconciliation_import(source=(HEADER + "D-1,D-1-L2,VTI,30,3000,2024-02-01\n"
                                                   "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), actor="feed",
                                           as_of=AS_OF)
    before = lots_of("D-1")

    with pytest.raises(Conflict) as refused:
        reconciliation_accept(reconciliation=reconciliation, user=pm)

    order = partly_sold.order_id
    assert refused.value.code == "reconciliation_open_orders"
    assert (f"D-1: order {order} still sells 32 shares of lot D-1-L2 (4 of the 36 it names already sold); "
            "the custodian's lot holds 30 and its cost basis differs") in refused.value.message
    assert "import those executions first" in refused.value.message and "Nothing was accepted" in refused.value.message
    assert refused.value.detail == {"accounts": ["D-1"], "orders": [{
        "account": "D-1", "order_id": order, "lot_id": "D-1-L2", "bought_as": "D-1-L2", "named": "36", "sold": "4",
        "sells": "32", "problem": "differs", "fields": ["quantity", "cost_basis"], "custodian_quantity": "30"}]}
    assert lots_of("D-1") == before == {"D-1-L2": (D(32), D("3200.00")), "D-1-L3": (D(10), D("1000.00"))}
    assert ReconciliationAccount.objects.get(reconciliation=reconciliation).decision == "pending"
    assert not AuditEvent.objects.filter(action="reconciliation.accept").exists()


def test_a_lot_missing_from_the_file_or_only_its_basis_changed_is_named_too(partly_sold, pm):
    reconciliation = reconciliation_import(source=(HEADER + "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(),
                                           actor="feed", as_of=AS_OF)
    with pytest.raises(Conflict) as removed:
        reconciliation_accept(reconciliation=reconciliation, user=pm)
    assert ("still sells 32 shares of lot D-1-L2 (4 of the 36 it names already sold); the custodian's file does "
            "not have the lot") in removed.value.message

    reconciliation = reconciliation_import(source=(HEADER + "D-1,D-1-L2,VTI,32,3300,2024-02-01\n"
                                                   "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), actor="feed",
                                           as_of=AS_OF)
    with pytest.raises(Conflict) as basis:
        reconciliation_accept(reconciliation=reconciliation, user=pm)
    assert "the custodian's lot holds 32 too and its cost basis differs" in basis.value.message
    assert lots_of("D-1")["D-1-L2"] == (D(32), D("3200.00"))


def test_accepting_several_accounts_is_refused_whole_when_one_is_blocked(partly_sold, pm):
    reconciliation = reconciliation_import(source=(
        HEADER + "A-1,A-1-L1,VTI,100,8000,2020-01-02\n"
                 "A-1,A-1-L2,VTI,50,6100,2026-06-01\n"  # A-1 has no open order: acceptable alone
                 "D-1,D-1-L2,VTI,30,3000,2024-02-01\n"
                 "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), actor="feed", as_of=AS_OF)

    with pytest.raises(Conflict) as refused:
        reconciliation_accept(reconciliation=reconciliation, user=pm)

    assert refused.value.detail["accounts"] == ["D-1"]
    assert lots_of("A-1")["A-1-L2"] == (D(50), D("6000.00"))
    assert set(reconciliation.accounts.values_list("decision", flat=True)) == {"pending"}
    a1 = reconciliation.accounts.get(account__custodian_number="A-1").account_id
    assert reconciliation_accept(reconciliation=reconciliation, user=pm, account_ids=[a1]) == 1
    assert lots_of("A-1")["A-1-L2"] == (D(50), D("6100.00"))


def test_once_the_custodians_cancel_is_imported_the_same_comparison_is_accepted(partly_sold, pm):
    reconciliation = reconciliation_import(source=(HEADER + "D-1,D-1-L2,VTI,30,3000,2024-02-01\n"
                                                   "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(), actor="feed",
                                           as_of=AS_OF)
    with pytest.raises(Conflict):
        reconciliation_accept(reconciliation=reconciliation, user=pm)

    executions_import(source=execution_csv(cancel("C-1", partly_sold, date(2026, 11, 19))), actor="feed", as_of=AS_OF)

    assert reconciliation_accept(reconciliation=reconciliation, user=pm) == 1
    assert lots_of("D-1") == {"D-1-L2": (D(30), D("3000.00")), "D-1-L3": (D(10), D("1000.00"))}


def test_lots_the_open_part_no_longer_names_may_change(book, pm):
    """Fills take the named lots first to last and a cancel takes off the last shares: an order
    naming L1 (10) then L2 (20), with 20 cancelled, sells only L1's 10; one whose fills took all of
    L1 sells only from L2."""
    account = make_account("E-1", model=book["model"], holdings=[
        ("VTI", 10, 1000, date(2024, 1, 2)), ("VTI", 20, 2000, date(2024, 2, 1)), ("VTI", 5, 500, date(2024, 3, 1))])
    [order] = release(account, [sell("VTI", 30, 100.0, [("E-1-L1", 10), ("E-1-L2", 20)])], pm=pm,
                      as_of=date(2026, 11, 18))
    executions_import(source=execution_csv(cancel("C-1", order, date(2026, 11, 18), quantity=20)), actor="feed",
                      as_of=AS_OF)
    reconciliation = reconciliation_import(source=(HEADER + "E-1,E-1-L1,VTI,10,1000,2024-01-02\n"
                                                   "E-1,E-1-L2,VTI,18,1800,2024-02-01\n").encode(), actor="feed",
                                           as_of=AS_OF)  # L2 cut, L3 gone: neither is sold by the open part
    assert Order.objects.get(pk=order.pk).status == Order.Status.OPEN

    assert reconciliation_accept(reconciliation=reconciliation, user=pm) == 1
    assert lots_of("E-1") == {"E-1-L1": (D(10), D("1000.00")), "E-1-L2": (D(18), D("1800.00"))}

    [second] = release(account, [sell("VTI", 15, 100.0, [("E-1-L1", 10), ("E-1-L2", 5)])], pm=pm, as_of=AS_OF)
    executions_import(source=execution_csv(fill("F-2", second, 10, "100", AS_OF)), actor="feed", as_of=AS_OF)
    changed = reconciliation_import(source=(HEADER + "E-1,E-1-L2,VTI,18,1900,2024-02-01\n").encode(), actor="feed",
                                    as_of=AS_OF)  # L1 sold out by the fill: only L2's change matters
    with pytest.raises(Conflict) as refused:
        reconciliation_accept(reconciliation=changed, user=pm)
    assert [(o["lot_id"], o["sells"]) for o in refused.value.detail["orders"]] == [("E-1-L2", "5")]


def test_a_wash_sale_piece_the_order_names_is_matched_to_its_lot_as_bought(book, pm):
    account = make_account("W-1", model=book["model"], holdings=[("VTI", 30, 3000, date(2024, 1, 2))])
    TaxLot.objects.filter(lot_id="W-1-L1").update(quantity=20, cost_basis=2000)
    TaxLot.objects.create(account=account, lot_id="W-1-L1-W1", purchase_lot_id="W-1-L1",
                          security=Security.objects.get(symbol="VTI"), quantity=10, cost_basis=1100,
                          wash_adjustment=100, acquired=date(2023, 12, 1), purchased=date(2024, 1, 2))
    [order] = release(account, [sell("VTI", 10, 100.0, [("W-1-L1-W1", 10)])], pm=pm, as_of=AS_OF)
    reconciliation = reconciliation_import(source=(HEADER + "W-1,W-1-L1,VTI,25,2500,2024-01-02\n").encode(),
                                           actor="feed", as_of=AS_OF)

    with pytest.raises(Conflict) as refused:
        reconciliation_accept(reconciliation=reconciliation, user=pm)

    assert (f"order {order.order_id} still sells 10 shares of lot W-1-L1-W1 (part of lot W-1-L1); the custodian's "
            "lot holds 25") in refused.value.message


def test_open_shares_agree_with_counting_share_by_share():
    rng = random.Random(20261207)
    for _ in range(2000):
        named = [(f"L{i}", rng.randint(1, 9)) for i in range(rng.randint(1, 5))]
        total = sum(q for _, q in named)
        filled = rng.randint(0, total)
        cancelled = rng.randint(0, total - filled)
        walked = open_shares([{"lot_id": lot, "quantity": str(q)} for lot, q in named], D(filled),
                             D(total - filled - cancelled))
        still = open_orders.by_shares(named, filled, cancelled)
        assert {lot: int(sells) for lot, _, _, sells in walked if sells} == dict(still)
        sold = Counter([lot for lot, q in named for _ in range(q)][:filled])
        assert [(lot, int(n), int(s)) for lot, n, s, _ in walked] == [(lot, q, sold[lot]) for lot, q in named]


def test_which_accounts_are_blocked_agrees_with_a_share_by_share_reading(book, pm):
    """Random accounts, open orders and custodian files: an account is refused exactly when a lot the
    file changes (quantity, basis, date, or missing) still has shares to sell under an open order."""
    rng = random.Random(1091)
    outcomes = Counter()
    for n in range(25):
        savepoint = transaction.savepoint()
        try:
            case = open_orders.random_open_orders(rng, f"R-{n}", book["model"], AS_OF)
            account, expected, changed = case.account, case.expected, case.changed
            reconciliation = reconciliation_import(source=case.source, actor="feed", as_of=AS_OF)

            found = open_orders_on_changed_lots(reconciliation.accounts.all())
            assert sorted((s.order_id, s.lot_id, int(s.sells)) for s in found.get(account.pk, [])) == expected
            if expected:
                with pytest.raises(Conflict):
                    reconciliation_accept(reconciliation=reconciliation, user=pm)
                assert reconciliation.accounts.get().decision == "pending"
                outcomes["refused"] += 1
            elif changed:
                assert reconciliation_accept(reconciliation=reconciliation, user=pm) == 1
                outcomes["accepted"] += 1
        finally:
            transaction.savepoint_rollback(savepoint)
    assert outcomes["refused"] >= 5 and outcomes["accepted"] >= 5, outcomes  # both sides were tried


def test_the_api_answers_409_naming_the_order_and_accepts_nothing(firm_a, client_for, pm, partly_sold):
    client = client_for(firm_a, pm)
    upload = SimpleUploadedFile("positions.csv", (HEADER + "D-1,D-1-L2,VTI,30,3000,2024-02-01\n"
                                                  "D-1,D-1-L3,VTI,10,1000,2024-03-01\n").encode(),
                                content_type="text/csv")
    pk = client.post("/api/v1/reconciliations/", {"file": upload, "as_of": "2026-11-20"}).json()["id"]

    answer = client.post(f"/api/v1/reconciliations/{pk}/accept/", {"accounts": ["D-1"]},
                         content_type="application/json")

    assert answer.status_code == 409 and answer.json()["code"] == "reconciliation_open_orders"
    assert answer.json()["detail"]["orders"][0] == {
        "account": "D-1", "order_id": partly_sold.order_id, "lot_id": "D-1-L2", "bought_as": "D-1-L2", "named": "36",
        "sold": "4", "sells": "32", "problem": "differs", "fields": ["quantity", "cost_basis"],
        "custodian_quantity": "30"}
    with tenant_context(firm_a):
        assert lots_of("D-1")["D-1-L2"] == (D(32), D("3200.00"))
        assert ReconciliationAccount.objects.get(reconciliation_id=pk).decision == "pending"

"""The ledger's commands: export orders, import executions, reconcile positions, tax reports."""

import csv
import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from rebalancing.models import TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


RELEASED = date(2026, 11, 17)  # the orders' day; the fills below are of that day


@pytest.fixture
def orders(book, pm):
    other = make_account("A-2", model=book["model"], holdings=[("VTI", 10, 900, date(2020, 1, 2))])
    first = release(book["account"], [sell("VTI", 120, 100.0, [("A-1-L2", 50), ("A-1-L1", 70)]), buy("BND", 10, 80.0)],
                    pm=pm, as_of=RELEASED)
    second = release(other, [sell("VTI", 5, 100.0, [("A-2-L1", 5)])], pm=pm, as_of=RELEASED)
    return first + second


def test_open_orders_are_exported_per_account_and_per_block(firm_a, orders):
    sale, bonds, other = orders

    per_order, _ = run("export_orders", "--firm", firm_a.slug)
    blocks, _ = run("export_orders", "--firm", firm_a.slug, "--blocks")

    assert per_order.splitlines() == [
        "order_id,block_id,account_number,symbol,side,quantity,open_quantity,order_type,limit_price,"
        "reference_price,time_in_force,lot_method,lots",
        f"{sale.order_id},B20261117-SELL-VTI,A-1,VTI,sell,120,120,MKT,,100,DAY,SPECIFIC_LOTS,A-1-L2:50|A-1-L1:70",
        f"{bonds.order_id},B20261117-BUY-BND,A-1,BND,buy,10,10,MKT,,80,DAY,,",
        f"{other.order_id},B20261117-SELL-VTI,A-2,VTI,sell,5,5,MKT,,100,DAY,SPECIFIC_LOTS,A-2-L1:5",
    ]
    assert blocks.splitlines() == [
        "block_id,symbol,side,block_quantity,reference_price,order_id,account_number,quantity,lots",
        f"B20261117-BUY-BND,BND,buy,10,80,{bonds.order_id},A-1,10,",
        f"B20261117-SELL-VTI,VTI,sell,125,100,{sale.order_id},A-1,120,A-1-L2:50|A-1-L1:70",
        f"B20261117-SELL-VTI,VTI,sell,125,100,{other.order_id},A-2,5,A-2-L1:5",
    ]


def test_a_partly_filled_order_is_exported_with_what_is_left(firm_a, orders, tmp_path):
    sale = orders[0]
    path = tmp_path / "fills.csv"
    path.write_bytes(execution_csv(fill("X-1", sale, 60, "100", date(2026, 11, 17))))

    summary, _ = run("import_executions", str(path), "--firm", firm_a.slug, "--as-of", "2026-11-20")
    exported, _ = run("export_orders", "--firm", firm_a.slug)

    assert "executions: 1 rows, 1 created" in summary
    assert f"{sale.order_id},B20261117-SELL-VTI,A-1,VTI,sell,120,60,MKT,,100,DAY,SPECIFIC_LOTS,A-1-L1:60" in exported


def test_a_refused_executions_file_prints_the_report_and_fails(firm_a, orders, tmp_path):
    path = tmp_path / "fills.csv"
    path.write_bytes(execution_csv(fill("X-1", orders[0], 60, "100", date(2026, 11, 17)) | {"order_id": "P0-1"}))

    with pytest.raises(CommandError, match="refused with 1 problem"):
        run("import_executions", str(path), "--firm", firm_a.slug, "--as-of", "2026-11-20")


def test_positions_are_compared_then_accepted_by_a_person(firm_a, book, pm, tmp_path):
    path = tmp_path / "positions.csv"
    path.write_text("account_number,lot_id,symbol,quantity,cost_basis,acquired\nA-1,A-1-L1,VTI,100,8000,2020-01-02\n")

    compared, _ = run("reconcile_positions", str(path), "--firm", firm_a.slug)
    assert "A-1,VTI,150,100,-50,14000,8000,-6000,pending" in compared
    assert TaxLot.objects.filter(account=book["account"]).count() == 2
    pk = compared.split("reconciliation ")[1].split(",")[0]

    with pytest.raises(CommandError, match="--by"):
        run("reconcile_positions", "--firm", firm_a.slug, "--accept", pk)
    decided, _ = run("reconcile_positions", "--firm", firm_a.slug, "--accept", pk, "--by", pm.username)

    assert "1 account(s) accepted" in decided
    assert list(TaxLot.objects.filter(account=book["account"]).values_list("lot_id", flat=True)) == ["A-1-L1"]


def test_tax_report_writes_the_realised_lots(firm_a, orders, tmp_path):
    path = tmp_path / "fills.csv"
    path.write_bytes(execution_csv(fill("X-1", orders[0], 120, "100", date(2026, 11, 17))))
    run("import_executions", str(path), "--firm", firm_a.slug, "--as-of", "2026-11-20")

    report, _ = run("tax_report", "realised", "--firm", firm_a.slug, "--from", "2026-01-01", "--to", "2026-12-31",
                    "--account", "A-1")
    totals, _ = run("tax_report", "realised-totals", "--firm", firm_a.slug, "--to", "2026-12-31")

    line = next(csv.DictReader(io.StringIO(report)))  # the first sale
    assert ",".join(v for k, v in line.items() if k != "box_reason") == (
        "A-1,HH-A-1,short,50 sh VTI,VTI,B,2,unknown,A-1-L2,50,2026-06-01,2026-06-01,2026-11-17,5000,6000,,0,-1000,0,0,")  # one return: no spouse
    assert "account,A-1,Account A-1,5000,6000,0,-1000,7000,5600,0,1400,400,0,0" in totals

"""A cash-flow file runs inside the request: one larger than it can enter well inside a proxy's
30 seconds is refused by name before anything is written (a 504 while the import committed behind
it, before), and its deposits start one run per household, not one run per row."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.imports.cash_flows import MAX_PLANNED, MAX_ROWS, cash_flows_import
from rebalancing.imports.report import ImportRejected
from rebalancing.models import Account, CashFlow, RebalanceRun
from tenants.roles import FirmRole

from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db
HEADER = "household_id,kind,amount,account_number,reference\n"


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@cfl.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        made["other"] = make_unit_household(advisor=advisor, external_id="HH-OKA", prefix="OKA")
        yield {**made, "advisor": advisor}


def _written() -> tuple:
    return (CashFlow.objects.count(), RebalanceRun.objects.count(),
            dict(Account.objects.values_list("custodian_number", "cash")))


def test_a_file_of_more_rows_than_one_request_enters_is_refused_by_name_and_nothing_is_written(lees):
    before = _written()
    rows = "".join(f"HH-LEE,deposit,1,LEE-IRA,D-{i}\n" for i in range(MAX_ROWS + 1))

    with pytest.raises(ImportRejected) as refused:
        cash_flows_import(source=(HEADER + rows).encode(), user=lees["advisor"])

    assert [(p["row"], p["column"], p["problem"]) for p in refused.value.detail["problems"]] == [
        (1, None, f"the file has {MAX_ROWS + 1} rows: at most {MAX_ROWS} rows per file; split it and import the "
                  "parts one after the other")]
    assert _written() == before


def test_more_withdrawals_than_one_request_plans_are_refused_by_name_and_nothing_is_written(lees):
    before = _written()
    rows = "".join(f"HH-LEE,withdrawal,10,,W-{i}\n" for i in range(MAX_PLANNED + 1))

    with pytest.raises(ImportRejected) as refused:
        cash_flows_import(source=(HEADER + rows).encode(), user=lees["advisor"])

    assert [(p["row"], p["column"], p["problem"]) for p in refused.value.detail["problems"]] == [
        (1, None, f"the file has {MAX_PLANNED + 1} withdrawals and RMDs to plan: at most {MAX_PLANNED} per file "
                  "(the engine plans each); split it and import the parts one after the other")]
    assert _written() == before


def test_a_file_at_the_limits_is_entered(lees):
    rows = "".join(f"HH-LEE,deposit,1,LEE-IRA,D-{i}\n" for i in range(MAX_ROWS - MAX_PLANNED))
    rows += "".join(f"HH-LEE,withdrawal,1,,W-{i}\n" for i in range(MAX_PLANNED))

    assert cash_flows_import(source=(HEADER + rows).encode(), user=lees["advisor"]).created == MAX_ROWS


def test_a_households_deposits_start_one_run_and_a_withdrawal_is_planned_after_them(lees):
    source = (HEADER + "HH-LEE,deposit,100,LEE-IRA,D-1\nHH-OKA,deposit,5,OKA-IRA,D-2\nHH-LEE,deposit,200,LEE-ROTH,D-3\n"
              "HH-LEE,withdrawal,50,,W-1\nHH-LEE,deposit,7,LEE-IRA,D-4\n").encode()

    cash_flows_import(source=source, user=lees["advisor"])

    runs = dict(CashFlow.objects.filter(kind="deposit").values_list("reference", "run_id"))
    assert runs["D-1"] == runs["D-3"] and len({runs["D-1"], runs["D-2"], runs["D-4"]}) == 3
    withdrawal = CashFlow.objects.get(reference="W-1")
    # the deposits before it were handed to their run first; the one after it has its own
    assert runs["D-1"] < withdrawal.run_id < runs["D-4"]
    assert RebalanceRun.objects.get(pk=runs["D-1"]).started_by_label == "2 deposits of 300.00 in all by adv@cfl.example"
    assert RebalanceRun.objects.count() == 4

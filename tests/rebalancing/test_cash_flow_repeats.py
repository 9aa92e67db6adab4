"""The same cash-flow file imported twice without references: each row repeating a cash flow entered
today is refused by name and nothing is written, unless the row says it is a new one (repeat=yes).
Before, every deposit was credited twice without a word."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.imports.report import ImportRejected
from rebalancing.models import Account, CashFlow
from tenants.roles import FirmRole

from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db
FILE = (b"household_id,kind,amount,account_number,reference\n"
        b"HH-LEE,deposit,1,LEE-IRA,\n"
        b"HH-LEE,deposit,2.50,LEE-ROTH,R-1\n")


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@cfr.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        yield {**made, "advisor": advisor}


def _state() -> tuple:
    return (sorted(CashFlow.objects.values_list("kind", "amount", "account__custodian_number", "reference")),
            dict(Account.objects.values_list("custodian_number", "cash")))


def test_a_file_imported_twice_is_refused_naming_the_repeated_row_and_nothing_is_written(lees):
    first = cash_flows_import(source=FILE, user=lees["advisor"])
    assert (first.created, first.unchanged) == (2, 0)
    after_first = _state()

    with pytest.raises(ImportRejected) as refused:
        cash_flows_import(source=FILE, user=lees["advisor"])

    [problem] = refused.value.detail["problems"]
    flow = CashFlow.objects.get(reference="")
    assert (problem["row"], problem["column"]) == (2, "reference")
    assert problem["problem"] == (f"repeats the deposit of $1.00 to LEE-IRA entered today (cash flow {flow.pk}): is "
                                  "this file imported twice? Give each cash flow a reference (one entered before is "
                                  "then skipped), or write yes in a repeat column to enter it again")
    assert _state() == after_first


def test_a_row_saying_repeat_yes_is_entered_again(lees):
    cash_flows_import(source=FILE, user=lees["advisor"])
    ira = Account.objects.get(custodian_number="LEE-IRA").cash

    again = cash_flows_import(source=b"household_id,kind,amount,account_number,repeat\n"
                                     b"HH-LEE,deposit,1,LEE-IRA,yes\n", user=lees["advisor"])

    assert again.created == 1
    assert CashFlow.objects.filter(account__custodian_number="LEE-IRA", amount=1).count() == 2
    assert Account.objects.get(custodian_number="LEE-IRA").cash == ira + 1


def test_another_amount_or_account_is_not_a_repeat(lees):
    cash_flows_import(source=FILE, user=lees["advisor"])

    other = cash_flows_import(source=b"household_id,kind,amount,account_number\n"
                                     b"HH-LEE,deposit,1.01,LEE-IRA\nHH-LEE,deposit,1,LEE-ROTH\n", user=lees["advisor"])

    assert other.created == 2

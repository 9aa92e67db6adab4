"""A bad cash-flow file is refused once, naming every row's problem: cells that cannot be read and
rows the household cannot fund alike (until 2026-12-06 the second kind showed only once the first
was fixed, a second round trip), and nothing is written."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.imports.report import ImportRejected
from rebalancing.models import CashFlow, Proposal, RebalanceRun
from tenants.roles import FirmRole

from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@cfi.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        yield {**made, "advisor": advisor}


def test_every_rows_problem_is_in_one_refusal_and_nothing_is_written(lees):
    source = (b"household_id,kind,amount,account_number\n"
              b"HH-NOPE,deposit,100,\n"  # 2: unknown household
              b"HH-LEE,withdrawal,-4,\n"  # 3: a bad amount
              b"HH-LEE,withdrawal,5000000,\n"  # 4: more than the household holds
              b"HH-LEE,rmd,100,LEE-ROTH\n"  # 5: an RMD from a Roth
              b"HH-LEE,deposit,50,LEE-IRA\n")  # 6: fine
    with pytest.raises(ImportRejected) as refused:
        cash_flows_import(source=source, user=lees["advisor"])
    problems = {(p["row"], p["column"]): p["problem"] for p in refused.value.detail["problems"]}
    assert set(problems) == {(2, "household_id"), (3, "amount"), (4, "amount"), (5, "account_number")}, problems
    assert "can raise only" in problems[4, "amount"]
    assert "traditional IRA" in problems[5, "account_number"]
    assert not CashFlow.objects.exists() and not Proposal.objects.exists() and not RebalanceRun.objects.exists()

"""A proposal's estimated tax meets the Capital Loss Carryover Worksheet's taxable-income test as the
ledger's Schedule D does (IRC §1211(b), §1212(b)(2); the worksheet's lines 1-4): a retiree whose
taxable income is entered as (1,000) and whose proposal sells at a 10,000 short-term loss saves the
rate on line 4 (2,000), not on the whole 3,000 deduction - once filled, the ledger's Schedule D of
the return says the same. Without an entered income, the whole deduction, as before."""

from datetime import date
from decimal import Decimal as D

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.carryover import household_years
from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, Household, Proposal, ReturnTaxableIncome
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.roles import FirmRole

from ..ledger.helpers import execution_csv, fill, release
from .book import AS_OF, make_account, make_model, make_securities, make_template

pytestmark = pytest.mark.django_db
RATE = 0.37


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@taxable-income.example", FirmRole.PORTFOLIO_MANAGER)


def _proposal_and_sheet(firm_a, pm, *, status: str, spouse: str, income: D | None):
    """A household whose one taxable account holds VTI bought this year at 20,000, worth 10,000, under
    a model of bonds only: its proposal sells it all at a 10,000 short-term loss. Returns the
    proposal and, once its sale is filled, the ledger's Schedule D of the return of ``spouse``."""
    with tenant_context(firm_a):
        make_securities()
        model = make_model("bonds", sleeves=(("bonds", "1", {"BND": "1"}),))
        household = Household.objects.create(name="Reyes", external_id="HH-REYES", filing_status=status,
                                             template=make_template())
        if income is not None:
            ReturnTaxableIncome.objects.create(household=household, year=AS_OF.year, spouse=spouse, amount=income)
        account = make_account("REYES-1", model=model, household=household,
                               holdings=[("VTI", 100, 20000, date(2026, 2, 2))])
        Account.objects.filter(pk=account.pk).update(short_term_rate=D(RATE), long_term_rate=D("0.2"),
                                                     spouse=spouse or "first")
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        proposal = Proposal.objects.get(run=run, account=account)
        summary = proposal.result["summary"]
        assert (summary["realised_short_term_loss"], summary["realised_short_term_gain"]) == (10_000, 0)

        sales = [t for t in proposal.result["trades"] if t["side"] == "sell"]
        orders = release(account, sales, pm=pm, as_of=AS_OF)
        executions_import(source=execution_csv(*(fill(f"X-{i}", order, t["quantity"], str(t["price"]), AS_OF)
                                                 for i, (order, t) in enumerate(zip(orders, sales, strict=True)))),
                          actor="custodian feed", as_of=AS_OF)
        sheet = household_years([household], AS_OF.year)[household.pk][AS_OF.year][spouse]
        return proposal, sheet


@pytest.mark.parametrize(("status", "spouse", "income", "used"), [
    ("married_joint", "", D(-1000), 2_000),     # line 3: -1,000 + 3,000
    ("married_joint", "", None, 3_000),         # not entered: the whole deduction, as before
    ("married_joint", "", D(-4000), 0),         # line 3 below 0: nothing saved this year
    ("married_separate", "first", D(-1000), 500),  # 1,500 limit less the 1,000
])
def test_a_proposals_estimated_tax_is_the_rate_on_the_ledgers_deduction_used(firm_a, pm, status, spouse, income, used):
    proposal, sheet = _proposal_and_sheet(firm_a, pm, status=status, spouse=spouse, income=income)
    # the ledger's Schedule D of the filled sale: the year's only result, 10,000 short-term loss
    assert sheet.net == D(-10_000) and sheet.taxable_income == income
    assert sheet.deduction_used == used
    # the estimate the proposal showed: what that sheet says the return saves
    assert float(proposal.estimated_tax) == pytest.approx(-RATE * float(sheet.deduction_used), abs=0.01)

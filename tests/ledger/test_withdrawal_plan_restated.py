"""A withdrawal's plan - its sales and the words on their tax, as the household page shows them -
says what the ledger will book when the household allows wash sales, as its proposals and its tax
cost do (``tax_estimates.withdrawal_plan_restate``).

IRC §1091(a); Rev. Rul. 2008-5: the taxable account's BND lot sold at a 400 long-term loss is
replaced by the BND the household's IRA bought 10 days ago, so the loss is disallowed for good.
Before 2026-12-07 the proposal and the cash flow's tax cost said so, while the plan kept the
engine's words: "sales in W-1 realise ... -$400.00 long-term (tax -$148.00)" and the sale as a
plain $400 loss."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from frontend.views.households import funding_steps
from rebalancing.models import CashFlow, HouseholdProposal, Proposal, RebalanceRun
from rebalancing.services.cash_flows import cash_flow_enter

from ..rebalancing.book import AS_OF
from .test_proposal_against_ledger import _fill, _lot_sales, _recorded
from .test_proposal_wash_sales_allowed import _account, _household

pytestmark = pytest.mark.django_db


def test_the_plan_of_a_withdrawal_says_what_the_ledger_books(book, pm):
    household = _household("plan-words")
    taxable = _account("P-1", book["model"], household, [("BND", 20, 2_000, date(2020, 1, 2))])
    _account("P-IRA", book["model"], household, [("BND", 20, 1_600, AS_OF - timedelta(days=10))],
             tax_status="traditional")
    cash_flow_enter(user=pm, household=household, kind="withdrawal", amount=D(1_600), as_of=AS_OF)
    flow = CashFlow.objects.get(household=household)
    proposals = list(Proposal.objects.filter(run__kind=RebalanceRun.Kind.CASH_FLOW, account__household=household)
                     .select_related("account"))
    [mine] = [p for p in proposals if p.account_id == taxable.pk]
    shown = _lot_sales(mine)
    assert shown[("P-1-L1", "long")][2] == 400, shown  # the loss the IRA's purchase disallows

    [sale] = [s for s in flow.plan["sales"] if s["account_id"] == "P-1"]
    assert (sale["lot_id"], sale["gain"], sale["disallowed_loss"]) == ("P-1-L1", -400.0, 400.0)
    words = [line for line in flow.plan["explanation"] if line.startswith("sales in P-1 ")]
    assert words == ["sales in P-1 realise $0.00 short-term and $0.00 long-term (tax $0.00), as the ledger will "
                     "book them: $400.00 of their losses disallowed by wash sales"], flow.plan["explanation"]
    steps = funding_steps(flow.plan)
    assert any("from lot P-1-L1 in P-1 (long-term, a $400.00 loss, all of it disallowed by a wash sale)" in step
               for step in steps), steps
    # The household proposal's copy of the plan is the same, and so are the figures beside it.
    together = HouseholdProposal.objects.get(run=mine.run)
    assert together.result["plan"] == flow.plan
    assert flow.tax_cost == together.estimated_tax == sum((p.estimated_tax for p in proposals), D(0))
    _fill(proposals, pm)
    assert _recorded(taxable) == shown

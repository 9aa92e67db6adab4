"""Two instructions doing the same thing are refused by row, writing nothing (services.revisions).

Found in the browser (audit of 2026-12-08): on an account's page, "sell ARKK, buy QQQ" and "sell
ARKK, buy VOO" made a proposal selling $6,940 of ARKK and buying $7,150 of QQQ and $28,807 of VOO -
each sale sized from the whole holding, its value spent twice; two "raise cash" rows in an
advisor's edit were added up unsaid. Now a second sale of a security, a second amount of cash to
raise, or any repeated row is refused naming the row (and the security), as is a sale the edited
proposal's own instruction already makes.
"""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.revisions import InstructionAdded as I
from rebalancing.services.revisions import proposal_resolve
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@dup.example", FirmRole.PORTFOLIO_MANAGER)


@pytest.fixture
def account(firm_a, pm):
    """T-000: 300 VTI at 100, 100 BND at 80, 1,000 cash; model VTI 60 / BND 30 / cash 10."""
    with tenant_context(firm_a):
        policy(auto_approve=False)
        return make_book(1)["accounts"][0]


def _written() -> tuple[int, int, int]:
    return Proposal.objects.count(), RebalanceRun.objects.count(), AuditEvent.objects.count()


def _refused(call, *instructions) -> ValidationFailed:
    written = _written()
    with pytest.raises(ValidationFailed) as refused:
        call(list(instructions))
    assert _written() == written
    return refused.value


REPEATS = [
    ((I("sell", "VTI", buy="ITOT"), I("sell", "VTI", buy="SCHB")),
     "Instruction 2 sells VTI again (instruction 1: sell all of VTI and buy ITOT): give one sale of VTI",
     {"field": "instructions", "row": 2, "symbol": "VTI"}),
    ((I("sell", "VTI", buy="ITOT", amount=Decimal("1000")), I("sell", "BND"),
      I("sell", "VTI", buy="ITOT", amount=Decimal("1000"))),
     "Instruction 3 sells VTI again (instruction 1: sell $1,000.00 of VTI and buy ITOT)",
     {"field": "instructions", "row": 3, "symbol": "VTI"}),
    ((I("raise_cash", amount=Decimal("500")), I("raise_cash", amount=Decimal("700"))),
     "Instruction 2 raises cash again (instruction 1: raise $500.00 cash): give the whole amount",
     {"field": "instructions", "row": 2}),
]


@pytest.mark.parametrize(("instructions", "message", "detail"), REPEATS)
def test_an_accounts_repeated_instruction_is_refused_by_row(firm_a, account, pm, instructions, message, detail):
    with tenant_context(firm_a):
        refused = _refused(lambda rows: account_instruct(account=account, instructions=rows, by=pm, as_of=AS_OF),
                           *instructions)
        assert message in refused.message and refused.detail == detail


def _pending(account) -> Proposal:
    run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return Proposal.objects.get(run=run, account=account)


@pytest.mark.parametrize(("instructions", "message", "detail"), REPEATS)
def test_an_edits_repeated_instruction_is_refused_by_row(firm_a, account, pm, instructions, message, detail):
    with tenant_context(firm_a):
        pending = _pending(account)
        refused = _refused(lambda rows: proposal_resolve(proposal=pending, instructions=rows, by=pm), *instructions)
        assert message in refused.message and refused.detail == detail


def test_an_edit_selling_again_what_its_proposals_instruction_sells_is_refused(firm_a, account, pm):
    with tenant_context(firm_a):
        # given the proposal of "sell $2,000 of VTI and buy ITOT"
        made = account_instruct(account=account, by=pm, as_of=AS_OF,
                                instructions=[I("sell", "VTI", buy="ITOT", amount=Decimal("2000"))])
        # when the advisor's edit adds a sale of VTI for SCHB (it sold VTI twice, from the whole holding)
        refused = _refused(lambda rows: proposal_resolve(proposal=made, instructions=rows, by=pm),
                           I("sell", "VTI", buy="SCHB"))
        # then it is refused, naming the row and the sale the solve already makes
        assert ("Instruction 1: VTI is already sold by an instruction this solve carries (sell $2,000.00 of VTI and "
                "buy ITOT)") in refused.message
        assert refused.detail == {"field": "instructions", "row": 1, "symbol": "VTI"}
        # and so is more cash to raise beside an instruction's
        cash = account_instruct(account=made.account, by=pm, as_of=AS_OF,
                                instructions=[I("raise_cash", amount=Decimal("3000"))])
        refused = _refused(lambda rows: proposal_resolve(proposal=cash, instructions=rows, by=pm),
                           I("raise_cash", amount=Decimal("1000")))
        assert "Instruction 1: cash is already raised by an instruction this solve carries (raise $3,000.00 cash)" \
            in refused.message


def test_one_sale_and_one_amount_of_cash_still_go_through(firm_a, account, pm):
    with tenant_context(firm_a):
        made = account_instruct(account=account, by=pm, as_of=AS_OF,
                                instructions=[I("sell", "VTI", buy="ITOT", amount=Decimal("2000")),
                                              I("sell", "BND"), I("raise_cash", amount=Decimal("500"))])
        trades = {t["symbol"]: t["side"] for t in made.result["trades"]}
        assert trades["VTI"] == "sell" and trades["ITOT"] == "buy" and trades["BND"] == "sell"

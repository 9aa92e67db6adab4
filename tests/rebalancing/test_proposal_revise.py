"""An advisor's edit before approving: drop a trade or add an instruction, solve again, and the
edit is in the proposal's history."""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import IllegalTransition, proposal_approve
from rebalancing.services.revisions import InstructionAdded, proposal_resolve
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status


@pytest.fixture
def people(firm_a, firm_user):
    return {
        "admin": firm_user(firm_a, "admin@rv.example", FirmRole.FIRM_ADMIN),
        "advisor": firm_user(firm_a, "advisor@rv.example", FirmRole.ADVISOR),
        "colleague": firm_user(firm_a, "colleague@rv.example", FirmRole.ADVISOR),
    }


@pytest.fixture
def pending(firm_a, people):
    """A real run's proposal for a drifted account, waiting for its advisor's approval."""
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        advisor_assign(household=account.household, advisor=people["advisor"], by=people["admin"])
        policy(auto_approve=False)
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        proposal = Proposal.objects.get(run=run)
        assert proposal.status == S.PENDING
        return proposal


def _symbols(proposal: Proposal) -> dict[str, str]:
    return {t["symbol"]: t["side"] for t in proposal.result["trades"]}


def _written() -> tuple[int, int, int]:
    return Proposal.objects.count(), RebalanceRun.objects.count(), AuditEvent.objects.count()


def test_dropping_a_trade_solves_again_without_it_and_supersedes_the_old(firm_a, pending, people):
    with tenant_context(firm_a):
        before = _symbols(pending)
        assert {"VTI", "VNQ"} <= set(before), before  # sells the overweight equity, buys the missing REIT
        new = proposal_resolve(proposal=pending, drop_symbols=["vnq"], by=people["advisor"])

        assert "VNQ" not in _symbols(new)
        assert new.status == S.PENDING and new.trade_count == len(new.result["trades"])
        assert new.revised_from_id == pending.pk and new.revised_by == people["advisor"]
        assert new.revision["dropped"] == [{"symbol": "VNQ", "side": "buy"}]
        assert "VNQ" in new.parameters["restrictions"]["hold"]
        assert new.run.kind == RebalanceRun.Kind.REVISION and new.run.as_of == pending.run.as_of
        pending.refresh_from_db()
        assert pending.status == S.SUPERSEDED and pending.revised_into == new
        revise = AuditEvent.objects.get(action="proposal.revise", object_id=str(new.pk))
        assert revise.before["proposal"] == pending.pk and revise.after["dropped"] == ["VNQ"]
        assert "dropped the buy of VNQ" in revise.comment
        assert AuditEvent.objects.filter(action="proposal.supersede", object_id=str(pending.pk),
                                         comment__startswith=f"revised into #{new.pk}").exists()
        # The new proposal is decided as any other (compliance too, where the policy asks for it).
        decided = proposal_approve(proposal=new, user=people["advisor"])
        assert decided.status == (S.PENDING if new.requires_compliance else S.APPROVED)
        assert decided.approvals.get().user == people["advisor"]


def test_an_added_instruction_is_honoured(firm_a, pending, people):
    with tenant_context(firm_a):
        assert _symbols(pending).get("BND") != "sell"
        new = proposal_resolve(proposal=pending, instructions=[InstructionAdded("sell", "bnd", buy="agg")],
                               by=people["advisor"])
        trades = {t["symbol"]: t for t in new.result["trades"]}
        assert trades["BND"]["side"] == "sell" and trades["BND"]["quantity"] == pytest.approx(100)
        assert trades["AGG"]["side"] == "buy"
        assert new.parameters["instructions"] == [{"kind": "sell_buy", "sell": "BND", "buy": "AGG"}]
        assert new.revision["instructions"] == ["sell all of BND and buy AGG"]


def test_do_not_trade_keeps_a_security_untouched(firm_a, pending, people):
    with tenant_context(firm_a):
        new = proposal_resolve(proposal=pending, instructions=[InstructionAdded("hold", "VTI")], by=people["advisor"])
        assert "VTI" not in _symbols(new)


def test_a_user_who_may_not_decide_is_refused(firm_a, pending, people):
    with tenant_context(firm_a):
        written = _written()
        with pytest.raises(PermissionDenied):
            proposal_resolve(proposal=pending, drop_symbols=["VNQ"], by=people["colleague"])
        assert _written() == written
        pending.refresh_from_db()
        assert pending.status == S.PENDING


def test_a_proposal_no_longer_pending_is_refused(firm_a, pending, people):
    with tenant_context(firm_a):
        proposal_approve(proposal=pending, user=people["advisor"])
        with pytest.raises(IllegalTransition, match="Only a proposal pending approval can be edited"):
            proposal_resolve(proposal=pending, drop_symbols=["VNQ"], by=people["advisor"])


def test_a_proposal_already_revised_names_its_revision(firm_a, pending, people):
    with tenant_context(firm_a):
        new = proposal_resolve(proposal=pending, drop_symbols=["VNQ"], by=people["advisor"])
        with pytest.raises(IllegalTransition, match=rf"superseded \(revised into #{new.pk}\)\.") as refused:
            proposal_resolve(proposal=pending, drop_symbols=["VNQ"], by=people["advisor"])
        assert refused.value.detail == {"status": S.SUPERSEDED, "revised_into": new.pk}


@pytest.mark.parametrize("edit, message", [
    ({"instructions": [InstructionAdded("raise_cash", amount=Decimal("10000000"))]}, r"cannot raise \$10,000,000.00"),
    ({"drop_symbols": ["AGG"]}, "does not trade AGG"),
    ({"instructions": [InstructionAdded("sell", "VNQ")]}, "holds no VNQ"),
    ({"instructions": [InstructionAdded("sell", "XYZ")]}, "Instruction 1: XYZ is not in the security master"),
    ({"drop_symbols": ["VTI"], "instructions": [InstructionAdded("sell", "VTI")]}, "both sold and left untraded"),
    ({"instructions": [InstructionAdded("raise_cash", amount=Decimal("NaN"))]}, "amount of cash to raise"),
    ({"instructions": [InstructionAdded("sell", "BND", buy="VNQ")], "drop_symbols": ["VNQ"]},
     "both bought and left unbought"),
    ({"instructions": [InstructionAdded("hold", "VTI", buy="AGG")]}, "only a sale buys another security"),
    ({}, "Drop a trade or add an instruction"),
])
def test_a_refused_or_infeasible_edit_names_the_problem_and_writes_nothing(firm_a, pending, people, edit, message):
    with tenant_context(firm_a):
        written = _written()
        with pytest.raises(ValidationFailed, match=message):
            proposal_resolve(proposal=pending, by=people["advisor"], **edit)
        assert _written() == written
        pending.refresh_from_db()
        assert pending.status == S.PENDING


def test_dropping_every_trade_leaves_nothing_to_decide(firm_a, pending, people):
    with tenant_context(firm_a):
        written = _written()
        with pytest.raises(Conflict, match="nothing is left to trade"):
            proposal_resolve(proposal=pending, drop_symbols=list(_symbols(pending)), by=people["advisor"])
        assert _written() == written

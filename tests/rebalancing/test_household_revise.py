"""An advisor's edit of a household proposal: drop trades or add instructions in any of its accounts,
solve the household again as one, and the edit is in every account's history."""

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import HouseholdProposal, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.household_revisions import AccountEdit, household_proposal_resolve
from rebalancing.services.proposals import IllegalTransition, household_proposal_decide
from rebalancing.services.revisions import InstructionAdded
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF
from .household_book import make_unit_household
from .test_household_runs import washes_across
from .test_household_unit import _run
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@hr.example", FirmRole.ADVISOR)
    colleague = firm_user(firm_a, "col@hr.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        run = _run(RunScope(household_id=made["household"].pk))
        together = HouseholdProposal.objects.get(run=run)
        yield {**made, "advisor": advisor, "colleague": colleague, "together": together}


def _trades(together: HouseholdProposal) -> dict[str, dict[str, str]]:
    """Account number -> symbol -> side."""
    return {p.account.custodian_number: {t["symbol"]: t["side"] for t in p.result["trades"]}
            for p in together.proposals.select_related("account")}


def _written() -> tuple[int, int, int, int]:
    return (Proposal.objects.count(), HouseholdProposal.objects.count(), RebalanceRun.objects.count(),
            AuditEvent.objects.count())


def test_dropping_a_trade_in_one_account_solves_the_household_again_without_it(lees):
    old = lees["together"]
    before = _trades(old)
    dropped = next(iter(before["LEE-IRA"]))  # the IRA invests its cash (bonds first: location)
    members_before = list(old.proposals.all())

    new = household_proposal_resolve(household_proposal=old, by=lees["advisor"],
                                     edits={lees["ira"].pk: AccountEdit(drop_symbols=[dropped.lower()])})

    after = _trades(new)
    assert dropped not in after["LEE-IRA"]
    assert set(after) == {"LEE-JT", "LEE-IRA", "LEE-ROTH"}
    assert washes_across(new.proposals.all()) == []
    assert new.revised_from == old and new.revised_by == lees["advisor"]
    assert new.revision["accounts"] == {"LEE-IRA": [f"dropped the {before['LEE-IRA'][dropped]} of {dropped}"]}
    assert new.run.kind == RebalanceRun.Kind.REVISION and new.run.as_of == old.run.as_of == AS_OF
    assert RunOutcome.objects.filter(run=new.run, outcome=RunOutcome.Outcome.PROPOSED).count() == 3
    # Every account's proposal is replaced, points back to the one it replaced, and waits for a person.
    for previous in members_before:
        previous.refresh_from_db()
        assert previous.status == S.SUPERSEDED
        assert previous.revised_into.household_proposal == new and previous.revised_into.status == S.PENDING
        assert AuditEvent.objects.filter(action="proposal.supersede", object_id=str(previous.pk),
                                         comment__contains=f"household proposal #{new.pk}").exists()
    ira = new.proposals.get(account=lees["ira"])
    assert dropped in ira.parameters["restrictions"]["hold"]
    assert ira.revision["dropped"] == [{"symbol": dropped, "side": before["LEE-IRA"][dropped]}]
    roth = new.proposals.get(account=lees["roth"])
    assert roth.revision["changes"][0].startswith("solved again with its household (LEE-IRA: dropped the")
    event = AuditEvent.objects.get(action="household_proposal.revise", object_id=str(new.pk))
    assert event.before["household_proposal"] == old.pk and event.after["changes"] == new.revision["accounts"]
    # One decision approves the revised household as any other.
    decided = household_proposal_decide(household_proposal=new, user=lees["advisor"], approve=True)
    assert {p.status for p in decided} == {S.APPROVED}


def test_a_sale_ordered_in_one_account_is_made_and_no_other_account_washes_its_loss(lees):
    old = lees["together"]
    assert _trades(old)["LEE-JT"].get("BND") != "sell"
    assert "BND" in _trades(old)["LEE-IRA"]  # the household shelters its bonds in the IRA
    new = household_proposal_resolve(household_proposal=old, by=lees["advisor"], edits={
        lees["joint"].pk: AccountEdit(instructions=[InstructionAdded("sell", "bnd")])})
    joint = {t["symbol"]: t for t in new.proposals.get(account=lees["joint"]).result["trades"]}
    assert joint["BND"]["side"] == "sell" and joint["BND"]["quantity"] == pytest.approx(100)
    assert joint["BND"]["realised_gain"] < 0  # bought at $82
    # The IRA would have bought BND the same day: a wash of the joint account's loss (Rev. Rul. 2008-5).
    assert all(t["symbol"] != "BND" for p in new.proposals.all() for t in p.result["trades"] if t["side"] == "buy")
    assert washes_across(new.proposals.all()) == []
    assert new.revision["changes"] == ["LEE-JT: sell all of BND"]


def test_editing_twice_names_the_revision_and_writes_nothing(lees):
    old = lees["together"]
    symbol = next(iter(_trades(old)["LEE-IRA"]))
    new = household_proposal_resolve(household_proposal=old, by=lees["advisor"],
                                     edits={lees["ira"].pk: AccountEdit(drop_symbols=[symbol])})
    written = _written()
    with pytest.raises(IllegalTransition, match=rf"superseded.*revised into household proposal #{new.pk}") as refused:
        household_proposal_resolve(household_proposal=old, by=lees["advisor"],
                                   edits={lees["ira"].pk: AccountEdit(drop_symbols=[symbol])})
    assert refused.value.detail["revised_into"] == new.pk
    assert _written() == written


def test_a_decided_household_cannot_be_edited(lees):
    old = lees["together"]
    household_proposal_decide(household_proposal=old, user=lees["advisor"], approve=True)
    symbol = next(iter(_trades(old)["LEE-IRA"]))
    with pytest.raises(IllegalTransition, match="None of this household's proposals waits for approval"):
        household_proposal_resolve(household_proposal=old, by=lees["advisor"],
                                   edits={lees["ira"].pk: AccountEdit(drop_symbols=[symbol])})


def test_a_user_who_may_not_decide_is_refused_and_nothing_moves(lees):
    old = lees["together"]
    symbol = next(iter(_trades(old)["LEE-IRA"]))
    written = _written()
    with pytest.raises(PermissionDenied, match="may not edit it"):
        household_proposal_resolve(household_proposal=old, by=lees["colleague"],
                                   edits={lees["ira"].pk: AccountEdit(drop_symbols=[symbol])})
    assert _written() == written
    assert set(old.proposals.values_list("status", flat=True)) == {S.PENDING}


@pytest.mark.parametrize("edit, message", [
    ("stranger", "Not an account of this household proposal"),
    ({"drop_symbols": ["AGG"]}, "LEE-IRA: the proposal does not trade AGG"),
    ({"instructions": [InstructionAdded("sell", "VTI")]}, "LEE-IRA: The account holds no VTI to sell"),
    ({"instructions": [InstructionAdded("sell", "XYZ")]}, "LEE-IRA: Instruction 1: XYZ is not in the security master"),
    ({"instructions": [InstructionAdded("raise_cash", amount=Decimal("-5"))]}, "amount of cash to raise"),
    ({"instructions": [InstructionAdded("raise_cash", amount=Decimal("10000000"))]}, "cannot be solved"),
    ({}, "Drop a trade or add an instruction in one of the accounts"),
])
def test_a_refused_or_infeasible_edit_names_the_problem_and_writes_nothing(lees, edit, message):
    old = lees["together"]
    edits = {10**9: AccountEdit(drop_symbols=["VTI"])} if edit == "stranger" else {lees["ira"].pk: AccountEdit(**edit)}
    written = _written()
    with pytest.raises(ValidationFailed, match=message):
        household_proposal_resolve(household_proposal=old, by=lees["advisor"], edits=edits)
    assert _written() == written
    assert set(old.proposals.values_list("status", flat=True)) == {S.PENDING}


def test_dropping_every_trade_leaves_nothing_to_decide(lees):
    old = lees["together"]
    held = [InstructionAdded("hold", s) for s in ("BND", "VNQ", "VTI")]  # every security of the model
    edits = {p.account_id: AccountEdit(instructions=held) for p in old.proposals.all()}
    written = _written()
    with pytest.raises(Conflict, match="nothing is left to trade in any account"):
        household_proposal_resolve(household_proposal=old, by=lees["advisor"], edits=edits)
    assert _written() == written


def test_a_withdrawals_household_proposal_is_not_solved_again(lees):
    from rebalancing.services.cash_flows import cash_flow_enter

    flow = cash_flow_enter(household=lees["household"], kind="withdrawal", amount=Decimal("4000"),
                           user=lees["advisor"], as_of=AS_OF).cash_flow
    together = flow.run.household_proposals.get()
    member = together.proposals.first()
    written = _written()
    with pytest.raises(Conflict, match="funds a withdrawal: it is not edited") as refused:
        household_proposal_resolve(household_proposal=together, by=lees["advisor"],
                                   edits={member.account_id: AccountEdit(instructions=[InstructionAdded("hold", "VTI")])})
    assert refused.value.code == "cash_flow_proposal"
    assert _written() == written


def test_a_household_changed_since_its_proposal_is_rebalanced_again_not_edited(lees):
    from rebalancing.models import Account, Household

    old = lees["together"]
    symbol = next(iter(_trades(old)["LEE-IRA"]))
    elsewhere = Household.objects.create(name="Roth on its own", external_id="HH-ROTH")
    Account.objects.filter(pk=lees["roth"].pk).update(household=elsewhere)  # the Roth moved out meanwhile
    written = _written()
    with pytest.raises(Conflict, match="The household has changed since this proposal was made") as refused:
        household_proposal_resolve(household_proposal=old, by=lees["advisor"],
                                   edits={lees["ira"].pk: AccountEdit(drop_symbols=[symbol])})
    assert refused.value.code == "household_changed"
    assert _written() == written


def test_a_second_edit_selling_again_what_the_first_sells_names_its_account(lees):
    # Given a revision that sells BND in the joint account (its instruction carried into every later edit)
    first = household_proposal_resolve(household_proposal=lees["together"], by=lees["advisor"], edits={
        lees["joint"].pk: AccountEdit(instructions=[InstructionAdded("sell", "BND")])})
    written = _written()
    # When the next edit sells BND there again, then it is refused naming the account (the household's
    # edit spans several) and nothing is written
    with pytest.raises(ValidationFailed, match=r"^LEE-JT: .*BND") as refused:
        household_proposal_resolve(household_proposal=first, by=lees["advisor"], edits={
            lees["joint"].pk: AccountEdit(instructions=[InstructionAdded("sell", "BND", buy="AGG")])})
    assert refused.value.detail["account"] == lees["joint"].pk
    assert _written() == written

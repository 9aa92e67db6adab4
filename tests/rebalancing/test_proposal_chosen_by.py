"""Whoever chose some of a proposal's trades (a one-off instruction, an edit) never gives its compliance
approval, however many edits later: an edit carries the instructions and trades it was made from into
the revision (``Proposal.chosen_by``, not only the last editor in ``revised_by``)."""

import importlib
import random
from datetime import date

import pytest
from django.apps import apps
from django_tenants.utils import schema_context, tenant_context

from rebalancing.access import decision_capacity, proposals_decidable_by
from rebalancing.models import Account, Household, Proposal, ProposalApproval, RebalanceRun
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.household_revisions import AccountEdit, household_proposal_resolve
from rebalancing.services.people import advisor_assign
from rebalancing.services.proposals import proposal_approve
from rebalancing.services.revisions import InstructionAdded, proposal_resolve
from tenants.errors import PermissionDenied
from tenants.roles import FirmRole
from tenants.services import user_ensure

from .book import AS_OF, make_account, make_book
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
C = ProposalApproval.Capacity


@pytest.fixture
def people(firm_a, firm_user):
    with schema_context(firm_a.schema_name):
        # A small firm's principal: portfolio manager (gives instructions) and compliance.
        principal = user_ensure(username="principal@chosen.example", email="principal@chosen.example",
                                roles=[FirmRole.PORTFOLIO_MANAGER, FirmRole.COMPLIANCE], password="x-Chosen-2026-pass")
    return {
        "principal": principal,
        "pm": firm_user(firm_a, "pm@chosen.example", FirmRole.PORTFOLIO_MANAGER),
        # A portfolio manager who chose none of the trades: for a household without an advisor, the
        # one who gives its advisor's approval (test_own_choice_approval.py)
        "colleague": firm_user(firm_a, "colleague@chosen.example", FirmRole.PORTFOLIO_MANAGER),
        "advisor": firm_user(firm_a, "advisor@chosen.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "compliance@chosen.example", FirmRole.COMPLIANCE),
    }


def _refused_compliance(user, proposal: Proposal) -> None:
    """``user`` is neither offered nor given ``proposal``'s compliance decision, and nothing is written."""
    assert decision_capacity(user, proposal) is None
    assert not proposals_decidable_by(user).filter(pk=proposal.pk).exists()
    with pytest.raises(PermissionDenied, match="its compliance approval must come from someone else"):
        proposal_approve(proposal=proposal, user=user)
    proposal.refresh_from_db()
    assert proposal.status == S.PENDING
    assert not proposal.approvals.filter(user=user).exists()


def _other_trade(proposal: Proposal) -> str:
    """A trade of ``proposal`` that its instruction (sell BND for AGG) did not ask for."""
    return next(t["symbol"] for t in proposal.result["trades"] if t["symbol"] not in ("BND", "AGG"))


def test_an_instruction_edited_by_someone_else_is_still_not_approved_by_its_author(firm_a, people):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]  # a household without an advisor: portfolio managers decide
        policy(auto_approve=False, compliance_min_turnover=0)
        # Given the principal's one-off instruction (sell BND for AGG)...
        mine = account_instruct(account=account, instructions=[InstructionAdded("sell", "BND", buy="AGG")],
                                by=people["principal"], as_of=AS_OF)
        assert mine.status == S.PENDING and mine.requires_compliance
        assert mine.chosen_by == [people["principal"].pk]
        # ...edited by another portfolio manager (one trade dropped), the instruction carried forward
        edited = proposal_resolve(proposal=mine, drop_symbols=[_other_trade(mine)], by=people["pm"])
        assert any(i.get("sell") == "BND" for i in edited.parameters.get("instructions") or ())
        assert {t["symbol"] for t in edited.result["trades"]} >= {"BND", "AGG"}
        assert edited.revised_by == people["pm"]
        assert edited.chosen_by == [people["principal"].pk, people["pm"].pk]
        with pytest.raises(PermissionDenied, match="another portfolio manager approves it"):
            proposal_approve(proposal=edited, user=people["pm"])  # an editor: not its approver either
        proposal_approve(proposal=edited, user=people["colleague"])  # the advisor's capacity, given

        # When the principal gives the compliance approval, then it is refused: they chose its trades
        _refused_compliance(people["principal"], edited)
        # ...while compliance (another person) gives it
        assert proposal_approve(proposal=edited, user=people["compliance"]).status == S.APPROVED


def test_an_editor_earlier_in_the_chain_is_not_its_compliance_approver_and_is_named_once(firm_a, people):
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        policy(auto_approve=False, compliance_min_turnover=0)
        first = account_instruct(account=account, instructions=[InstructionAdded("sell", "BND", buy="AGG")],
                                 by=people["pm"], as_of=AS_OF)
        # Given edits by the principal, then a colleague, then the principal again, then the colleague
        second = proposal_resolve(proposal=first, instructions=[InstructionAdded("do_not_buy", "ITOT")],
                                  by=people["principal"])
        third = proposal_resolve(proposal=second, instructions=[InstructionAdded("do_not_buy", "SCHB")],
                                 by=people["pm"])
        fourth = proposal_resolve(proposal=third, drop_symbols=[_other_trade(third)], by=people["principal"])
        fifth = proposal_resolve(proposal=fourth, instructions=[InstructionAdded("hold", "VTI")], by=people["pm"])
        # each once, in the order they first chose
        assert [p.chosen_by for p in (second, third, fourth, fifth)] == [
            [people["pm"].pk, people["principal"].pk]] * 4
        assert fifth.revised_by == people["pm"] and fifth.requires_compliance

        # Then the principal, who chose some of its trades before the colleague's last edit, is not its
        # compliance approver
        proposal_approve(proposal=fifth, user=people["colleague"])
        _refused_compliance(people["principal"], fifth)


@pytest.fixture
def unit(firm_a, people):
    """A household managed as one (advised by the advisor): a taxable account holding VTI at a gain and
    BND at a loss, and a traditional IRA holding BND and VTI."""
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=0)
        book = make_book(1)
        household = Household.objects.create(name="Unit", external_id="HH-U", model=book["model"],
                                             template=book["template"], managed_as=Household.ManagedAs.HOUSEHOLD)
        advisor_assign(household=household, advisor=people["advisor"], by=None)
        taxable = make_account("U-TAX", model=book["model"], household=household, cash="500",
                               holdings=[("VTI", 300, 24000, date(2020, 1, 2)), ("BND", 100, 9000, date(2026, 6, 1))])
        ira = make_account("U-IRA", model=book["model"], household=household, cash="500",
                           holdings=[("BND", 100, 8100, date(2025, 3, 3)), ("VTI", 50, 4000, date(2021, 5, 5))])
        Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
        return {"household": household, "taxable": taxable, "ira": Account.objects.get(pk=ira.pk)}


def test_a_household_instruction_edited_by_the_advisor_is_not_approved_by_its_author(firm_a, people, unit):
    with tenant_context(firm_a):
        # Given the principal's instruction on the taxable account of a household managed as one...
        mine = account_instruct(account=unit["taxable"], instructions=[InstructionAdded("sell", "BND", buy="AGG")],
                                by=people["principal"], as_of=AS_OF)
        together = mine.household_proposal
        assert {tuple(p.chosen_by) for p in together.proposals.all()} == {(people["principal"].pk,)}
        # ...and the advisor's edit of the household (one of the IRA's trades dropped)
        ira_trades = [t["symbol"] for t in together.proposals.get(account=unit["ira"]).result["trades"]]
        edit = (AccountEdit(drop_symbols=ira_trades[:1]) if ira_trades
                else AccountEdit(instructions=[InstructionAdded("hold", "VNQ")]))
        edited = household_proposal_resolve(household_proposal=together, edits={unit["ira"].pk: edit},
                                            by=people["advisor"])
        legs = list(edited.proposals.order_by("pk"))
        assert legs and all(p.chosen_by == [people["principal"].pk, people["advisor"].pk] for p in legs)
        assert all(p.revised_by == people["advisor"] for p in legs)

        # Then on every leg that asks compliance's approval, the principal is refused it
        checked = [p for p in legs if p.requires_compliance]
        assert checked
        for leg in checked:
            _refused_compliance(people["principal"], leg)
            assert decision_capacity(people["compliance"], leg) == C.COMPLIANCE


def _migration_fill():
    return importlib.import_module("rebalancing.migrations.0048_proposal_chosen_by").chosen_by_fill


def _chosen_by_simply(proposal: Proposal) -> list[int]:
    """Who chose ``proposal``'s trades, walked back link by link: each revised_by from the first
    proposal of its chain to it, the missing (a run's proposal, a user since removed) left out, each once."""
    chain = []
    while proposal is not None:
        chain.append(proposal.revised_by_id)
        proposal = proposal.revised_from
    out = []
    for user_id in reversed(chain):
        if user_id is not None and user_id not in out:
            out.append(user_id)
    return out


def test_the_migration_fills_who_chose_each_proposal_from_its_revision_chain(firm_a, people):
    users = [people["principal"].pk, people["pm"].pk, people["advisor"].pk, None]
    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        rng = random.Random(20261207)
        for _ in range(40):
            # Given chains of revisions of random length, each link by a random person (or nobody)
            Proposal.objects.all().delete()
            RebalanceRun.objects.all().delete()
            made = []
            for _ in range(rng.randint(1, 25)):
                older = [p for p in made if not hasattr(p, "_revised_into")]
                revised_from = rng.choice(older) if older and rng.random() < 0.6 else None
                run = RebalanceRun.objects.create(scope={"account_ids": [account.pk]}, as_of=AS_OF, total=1)
                proposal = Proposal.objects.create(
                    run=run, account=account, parameters={}, inputs_fingerprint="f" * 64, result={"trades": []},
                    revised_from=revised_from, revised_by_id=rng.choice(users), chosen_by=[])
                if revised_from is not None:
                    revised_from._revised_into = proposal
                made.append(proposal)

            # When the migration fills chosen_by
            _migration_fill()(apps, None)

            # Then each proposal names whoever chose it along its chain, as the plain walk does
            for proposal in Proposal.objects.select_related("revised_from"):
                assert proposal.chosen_by == _chosen_by_simply(proposal), proposal.pk

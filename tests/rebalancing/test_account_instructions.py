"""A one-off instruction on an account (services.account_instructions): solved once as a proposal,
the account's parameters untouched, refusals by name that write nothing."""

from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, Proposal, RebalanceRun, Security
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.revisions import InstructionAdded as I
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_account, make_book
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status


@pytest.fixture
def people(firm_a, firm_user):
    return {
        "pm": firm_user(firm_a, "pm@ins.example", FirmRole.PORTFOLIO_MANAGER),
        "advisor": firm_user(firm_a, "advisor@ins.example", FirmRole.ADVISOR),
    }


@pytest.fixture
def book(firm_a, people):
    """T-000: 300 VTI at 100 (long-term gain), 100 BND at 80 (short-term loss), 1,000 cash; model 60/30/10."""
    with tenant_context(firm_a):
        policy(auto_approve=False)
        return make_book(1)


def _instruct(account, *instructions, by, as_of=AS_OF):
    return account_instruct(account=account, instructions=list(instructions), by=by, as_of=as_of)


def _trades(proposal) -> dict[str, dict]:
    return {t["symbol"]: t for t in proposal.result["trades"]}


def _written() -> tuple[int, int, int, int]:
    return (Proposal.objects.count(), RebalanceRun.objects.count(), AuditEvent.objects.count(),
            sum(1 for a in Account.objects.all() if a.overrides))


def _run(as_of=AS_OF) -> Proposal | None:
    """A run over the firm; T-000's proposal."""
    run = run_start(scope=RunScope(firm=True), as_of=as_of)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    return Proposal.objects.filter(run=run, account__custodian_number="T-000").first()


def test_sell_and_buy_once_is_a_proposal_and_the_next_run_does_not_repeat_it(firm_a, book, people):
    with tenant_context(firm_a):
        account = book["accounts"][0]
        new = _instruct(account, I("sell", "bnd", buy="agg"), by=people["pm"])

        trades = _trades(new)
        assert trades["BND"]["side"] == "sell" and trades["BND"]["quantity"] == pytest.approx(100)
        assert trades["AGG"]["side"] == "buy"
        assert new.status == S.PENDING and new.run.kind == RebalanceRun.Kind.INSTRUCTION
        assert new.run.as_of == AS_OF and new.run.started_by == people["pm"]
        assert new.revision["instructions"] == ["sell all of BND and buy AGG"]
        assert new.parameters["instructions"] == [{"kind": "sell_buy", "sell": "BND", "buy": "AGG"}]
        event = AuditEvent.objects.get(action="account.instruct", object_id=str(new.pk))
        assert event.comment == "sell all of BND and buy AGG" and event.after["account"] == "T-000"
        account.refresh_from_db()
        assert account.overrides == {}  # nothing saved: the next run is an ordinary one

        nightly = _run()
        assert nightly.parameters.get("instructions") in (None, [])
        assert _trades(nightly).get("BND", {}).get("side") != "sell" and "AGG" not in _trades(nightly)
        new.refresh_from_db()
        assert new.status == S.SUPERSEDED  # a later run replaces a pending proposal, as any other


def test_it_supersedes_the_proposal_pending_approval(firm_a, book, people):
    with tenant_context(firm_a):
        pending = _run()
        assert pending.status == S.PENDING
        new = _instruct(book["accounts"][0], I("raise_cash", amount=Decimal("5000")), by=people["pm"])
        pending.refresh_from_db()
        assert pending.status == S.SUPERSEDED
        assert AuditEvent.objects.filter(action="proposal.supersede", object_id=str(pending.pk),
                                         comment__startswith=f"superseded by #{new.pk}").exists()
        assert new.revision["instructions"] == ["raise $5,000.00 cash"]
        cash_after = new.result["summary"]["cash_after"]
        assert cash_after >= 5000 + 0.01 * (39000 - 5000) - 100  # the cash target on what stays invested


def test_a_sale_of_an_amount_sells_that_much(firm_a, book, people):
    with tenant_context(firm_a):
        new = _instruct(book["accounts"][0], I("sell", "BND", buy="AGG", amount=Decimal("4000")), by=people["pm"])
        assert new.parameters["instructions"] == [{"kind": "sell_buy", "sell": "BND", "buy": "AGG", "amount": 4000.0}]
        assert new.revision["instructions"] == ["sell $4,000.00 of BND and buy AGG"]
        trades = _trades(new)
        # 50 of the 100 BND shares at 80; the $4,000 goes to AGG's target, and the bonds the account
        # lacks besides (they are under their 30%) are bought as AGG too, not as the BND just sold.
        assert trades["BND"]["side"] == "sell" and trades["BND"]["quantity"] == pytest.approx(50)
        assert new.result["targets"]["AGG"] == pytest.approx(4000 / 39000)
        assert trades["AGG"]["side"] == "buy" and trades["AGG"]["value"] >= 4000


def test_liquidate_sells_everything_and_bring_to_model_sets_the_tax_budget_aside(firm_a, book, people):
    with tenant_context(firm_a):
        account = book["accounts"][0]
        sold = _instruct(account, I("liquidate"), by=people["pm"])
        assert {s: t["side"] for s, t in _trades(sold).items()} == {"VTI": "sell", "BND": "sell"}
        assert sold.revision["instructions"] == ["sell everything"]

        # A budget of no net gain a run: the ordinary solve sells no VTI (its lot is at a gain).
        template = book["template"]
        template.parameters = {**template.parameters, "transition": {"enabled": True, "max_net_gain_per_run": 0}}
        template.save()
        ordinary = _run()
        assert _trades(ordinary).get("VTI", {}).get("side") != "sell"
        back = _instruct(account, I("bring_to_model"), by=people["pm"])
        assert _trades(back)["VTI"]["side"] == "sell" and back.estimated_tax > 0
        assert back.revision["instructions"] == ["bring back to the model (drift bands and the tax budget set aside)"]


@pytest.mark.parametrize(("instruction", "message"), [
    (I("sell", "ZZZZ"), "Instruction 1: ZZZZ is not in the security master."),  # prefixed, as the others are
    (I("sell", "ITOT"), "The account holds no ITOT to sell."),
    (I("sell", "BND", amount=Decimal("9000")), "the account holds $8,000.00 of BND; it cannot sell $9,000.00"),
    (I("sell", "BND", buy="BND"), "BND cannot be sold to buy itself"),
    (I("sell", ""), "name the security"),
    (I("liquidate", "VTI"), "sell everything names no security"),
    (I("liquidate", amount=Decimal("10")), "an amount is for a sale or for raising cash only"),
    (I("raise_cash"), "give the amount of cash to raise"),
    (I("raise_cash", amount=Decimal("100000")), "cannot raise $100,000.00: the account is worth $39,000.00"),
    (I("hold", "VTI"), "choose one of"),
    (I("sell", "BND", amount=Decimal("-5")), "the amount to sell must be a positive number of dollars"),
    # the same words for a negative amount of cash to raise (was "give the amount of cash to raise ($)")
    (I("raise_cash", amount=Decimal("-5")), "Instruction 1: the amount of cash to raise must be a positive number of dollars."),
])
def test_bad_instructions_are_refused_by_name_and_write_nothing(firm_a, book, people, instruction, message):
    with tenant_context(firm_a):
        written = _written()
        with pytest.raises(ValidationFailed) as refused:
            _instruct(book["accounts"][0], instruction, by=people["pm"])
        assert message in refused.value.message
        assert _written() == written


def test_what_stands_in_the_way_is_named(firm_a, book, people):
    with tenant_context(firm_a):
        account = book["accounts"][0]
        with pytest.raises(PermissionDenied):
            _instruct(account, I("liquidate"), by=people["advisor"])  # advisors approve; they do not run
        with pytest.raises(ValidationFailed, match="Give at least one instruction"):
            _instruct(account, by=people["pm"])

        empty = make_account("C-001", model=book["model"], template=book["template"], cash="5000")
        written = _written()
        with pytest.raises(Conflict, match="nothing is to trade"):
            _instruct(empty, I("liquidate"), by=people["pm"])
        assert _written() == written

        pending = _run()
        Proposal.objects.filter(pk=pending.pk).update(status=S.APPROVED)
        with pytest.raises(Conflict, match=f"T-000.s proposal #{pending.pk} is approved and not yet released"):
            _instruct(account, I("liquidate"), by=people["pm"])
        Proposal.objects.filter(pk=pending.pk).update(status=S.RELEASED)
        with pytest.raises(Conflict, match=f"T-000.s proposal #{pending.pk}: its orders are still open"):
            _instruct(account, I("liquidate"), by=people["pm"])


@pytest.fixture
def unit(firm_a, book):
    """A household managed as one to the 60/30/10 model: a taxable account holding VTI at a gain and
    BND at a loss, and a traditional IRA holding BND."""
    with tenant_context(firm_a):
        household = Household.objects.create(name="Unit", external_id="HH-U", model=book["model"],
                                             template=book["template"], managed_as=Household.ManagedAs.HOUSEHOLD)
        taxable = make_account("U-TAX", model=book["model"], household=household, cash="500",
                               holdings=[("VTI", 300, 24000, date(2020, 1, 2)), ("BND", 100, 9000, date(2026, 6, 1))])
        ira = make_account("U-IRA", model=book["model"], household=household, cash="500",
                           holdings=[("BND", 100, 8100, date(2025, 3, 3)), ("VTI", 50, 4000, date(2021, 5, 5))])
        Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
        return {"household": household, "taxable": taxable, "ira": Account.objects.get(pk=ira.pk)}


def test_in_a_household_managed_as_one_the_household_is_solved_with_the_instruction(firm_a, book, unit, people):
    with tenant_context(firm_a):
        taxable, ira = unit["taxable"], unit["ira"]
        mine = _instruct(taxable, I("sell", "BND", buy="AGG"), by=people["pm"])

        together = mine.household_proposal
        assert together is not None and together.run.kind == RebalanceRun.Kind.INSTRUCTION
        assert together.revision == {"changes": ["U-TAX: sell all of BND and buy AGG"],
                                     "accounts": {"U-TAX": ["sell all of BND and buy AGG"]}}
        members = {p.account_id: p for p in Proposal.objects.filter(household_proposal=together)}
        assert set(members) == {taxable.pk, ira.pk}
        assert _trades(mine)["BND"]["side"] == "sell" and _trades(mine)["BND"]["quantity"] == pytest.approx(100)
        # The loss BND sells in the taxable account is not washed by a purchase of BND in the IRA
        # (Rev. Rul. 2008-5), and the IRA's proposal says why it was solved.
        assert _trades(members[ira.pk]).get("BND", {}).get("side") != "buy"
        assert members[ira.pk].revision["changes"] == ["solved with its household (U-TAX: sell all of BND and buy AGG)"]
        assert {p.status for p in members.values()} == {S.PENDING}
        for account in (taxable, ira):
            account.refresh_from_db()
            assert account.overrides == {}


def test_a_household_managed_as_one_takes_commands_not_restrictions_and_names_what_blocks(firm_a, book, unit,
                                                                                         people):
    with tenant_context(firm_a):
        written = _written()
        with pytest.raises(ValidationFailed, match="choose one of"):
            _instruct(unit["taxable"], I("hold", "VTI"), by=people["pm"])
        with pytest.raises(ValidationFailed, match="The account holds no AGG to sell"):
            _instruct(unit["ira"], I("sell", "AGG"), by=people["pm"])
        assert _written() == written

        first = _instruct(unit["taxable"], I("raise_cash", amount=Decimal("2000")), by=people["pm"])
        other = Proposal.objects.get(household_proposal=first.household_proposal, account=unit["ira"])
        Proposal.objects.filter(pk=other.pk).update(status=S.APPROVED)
        written = _written()
        with pytest.raises(Conflict, match=f"U-IRA's proposal #{other.pk} is approved and not yet released"):
            _instruct(unit["taxable"], I("sell", "BND"), by=people["pm"])
        assert _written() == written


def test_an_account_of_a_household_managed_as_one_is_liquidated_and_the_ira_buys_back_no_loss(firm_a, book, unit,
                                                                                            people):
    # U-TAX sells everything: VTI at a gain, BND at a 1,000 short-term loss - so the IRA, which the
    # household's placement would otherwise have buy bonds, buys no BND this time (Rev. Rul. 2008-5).
    with tenant_context(firm_a):
        mine = _instruct(unit["taxable"], I("liquidate"), by=people["pm"])
        assert {s: (t["side"], t["quantity"]) for s, t in _trades(mine).items()} == {
            "VTI": ("sell", pytest.approx(300)), "BND": ("sell", pytest.approx(100))}
        assert mine.revision["instructions"] == ["sell everything"]
        ira = Proposal.objects.get(household_proposal=mine.household_proposal, account=unit["ira"])
        assert not any(t["symbol"] == "BND" and t["side"] == "buy" for t in ira.result["trades"])


def test_a_sale_nets_after_what_the_other_accounts_open_proposals_realise_on_their_shared_return(
        firm_a, book, people):
    """Two taxable accounts of one household on its one return: A's proposal waiting for approval
    sells VTI for a 5,000 long-term gain; B's loss of 1,000 short-term then saves the long-term rate
    on A's gain (Schedule D nets them), not the short-term rate of a deduction from ordinary income."""
    with tenant_context(firm_a):
        household = Household.objects.create(name="Pair", external_id="HH-P", template=book["template"])
        a = make_account("P-A", model=book["model"], household=household, cash="0",
                         holdings=[("VTI", 100, 5000, date(2020, 1, 2))])
        b = make_account("P-B", model=book["model"], household=household, cash="0",
                         holdings=[("BND", 100, 9000, date(2026, 6, 1))])
        Account.objects.filter(pk__in=[a.pk, b.pk]).update(short_term_rate=Decimal("0.37"),
                                                            long_term_rate=Decimal("0.20"))
        alone = _instruct(b, I("sell", "BND", buy="AGG"), by=people["pm"])
        assert float(alone.estimated_tax) == pytest.approx(-370, abs=0.01)  # a deduction at 37%
        # While it waits, A's sale nets after it: 5,000 long-term less 1,000 short-term, at 20%, against
        # the -370 the return owes with B's alone.
        first = _instruct(a, I("liquidate"), by=people["pm"])
        assert float(first.estimated_tax) == pytest.approx(800 + 370, abs=0.01)
        Proposal.objects.filter(pk__in=[alone.pk, first.pk]).update(status=S.REJECTED)

        planned = _instruct(a, I("liquidate"), by=people["pm"])
        assert planned.status == S.PENDING and float(planned.estimated_tax) == pytest.approx(1000, abs=0.01)
        beside = _instruct(b, I("sell", "BND", buy="AGG"), by=people["pm"])
        assert float(beside.estimated_tax) == pytest.approx(-200, abs=0.01)  # 1,000 off A's gain at 20%
        # The two proposals' tax adds up to what the return would pay: 4,000 long-term at 20%.
        assert float(planned.estimated_tax + beside.estimated_tax) == pytest.approx(0.20 * 4000, abs=0.01)


def test_a_suspended_firm_solves_no_instruction_and_releases_nothing(firm_a, book, people):
    from rebalancing.services.proposals import proposal_release, proposals_release_bulk
    from tenants.services import firm_status_set

    from .workflow import make_proposal

    firm_status_set(firm=firm_a, status="suspended", reason="Invoice unpaid since October")
    with tenant_context(firm_a):
        before = _written()
        with pytest.raises(Conflict, match="Invoice unpaid since October. No proposal is made or edited until it is"):
            _instruct(book["accounts"][0], I("raise_cash", amount=Decimal("5000")), by=people["pm"])
        assert _written() == before
        approved = make_proposal(book["accounts"][0], status=S.APPROVED)
        before = _written()
        with pytest.raises(Conflict, match="Invoice unpaid since October. No trade is released until it is"):
            proposal_release(proposal=approved, user=people["pm"], today=AS_OF)
        with pytest.raises(Conflict, match="No trade is released until it is"):  # the bulk is refused once
            proposals_release_bulk(proposal_ids=[approved.pk], user=people["pm"], today=AS_OF)
        assert _written() == before and Proposal.objects.get(pk=approved.pk).status == S.APPROVED
    firm_status_set(firm=firm_a, status="active")
    with tenant_context(firm_a):
        approved.delete()
        assert _instruct(book["accounts"][0], I("raise_cash", amount=Decimal("5000")), by=people["pm"]).pk


def test_harvest_now_harvests_once_with_harvesting_switched_off(firm_a, book, people):
    """T-000 holds BND at an 11% short-term loss of $1,000 and its template leaves harvesting off:
    "harvest losses now" sells it for the loss this once (into AGG, its firm-wide substitute), and
    the account's parameters stay as they were."""
    with tenant_context(firm_a):
        Security.objects.filter(symbol="BND").update(harvest_substitute=Security.objects.get(symbol="AGG"))
        account = book["accounts"][0]
        new = _instruct(account, I("harvest"), by=people["pm"])

        trades = _trades(new)
        assert trades["BND"]["side"] == "sell" and "harvest" in trades["BND"]["reasons"]
        assert trades["BND"]["realised_gain"] == pytest.approx(-1000)
        assert trades.get("BND", {}).get("side") != "buy" and trades["AGG"]["side"] == "buy"
        assert new.revision["instructions"] == ["harvest the losses past the harvest thresholds"]
        assert new.parameters["harvest"]["enabled"] is True and "harvest" not in str(new.parameters["instructions"])
        account.refresh_from_db()
        assert account.overrides == {}
        assert book["template"].parameters.get("harvest") is None
        nightly = _run()  # harvesting is still off: the next run harvests nothing
        assert not any("harvest" in t["reasons"] for t in (nightly.result["trades"] if nightly else []))


def test_harvest_now_is_refused_by_name_where_there_is_nothing_to_harvest(firm_a, book, people):
    with tenant_context(firm_a):
        account = book["accounts"][0]
        Account.objects.filter(pk=account.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
        ira = Account.objects.get(pk=account.pk)
        written = _written()
        with pytest.raises(ValidationFailed, match="T-000 is a traditional IRA: a loss realised in it saves no tax"):
            _instruct(ira, I("harvest"), by=people["pm"])
        with pytest.raises(ValidationFailed, match="harvest losses now .* names no security"):
            _instruct(ira, I("harvest", "BND"), by=people["pm"])
        assert _written() == written

        # A loss too small for the thresholds (a $500 floor per position): BND down $1,000 passes,
        # VTI at a gain does not; with BND bought back 10 days ago the purchase blocks the harvest.
        gains = make_account("G-001", model=book["model"], template=book["template"], cash="100",
                             holdings=[("VTI", 100, 5000, date(2020, 1, 2))])
        with pytest.raises(Conflict, match="G-001 has no loss to harvest now: no position is past its harvest"
                                           " thresholds.*Nothing was proposed") as refused:
            _instruct(gains, I("harvest"), by=people["pm"])
        assert refused.value.code == "nothing_to_harvest"
        blocked = make_account("B-001", model=book["model"], template=book["template"], cash="100",
                               holdings=[("BND", 100, 9000, date(2026, 6, 1)), ("BND", 5, 400, date(2026, 11, 10)),
                                         ("VTI", 100, 5000, date(2020, 1, 2))])
        with pytest.raises(Conflict, match=r"B-001 has no loss to harvest now: BND has \$1,000.00 of harvestable "
                                           r"losses, not harvested: it was bought on 2026-11-10 .* harvestable from "
                                           r"2026-12-11\. Nothing was proposed\."):
            _instruct(blocked, I("harvest"), by=people["pm"])
        assert _written() == written


def test_harvest_now_in_a_household_managed_as_one_buys_the_loss_back_nowhere(firm_a, book, unit, people):
    """U-TAX's BND is $1,000 down: harvested with the household solved as one, and the IRA, which
    holds BND, buys none back (Rev. Rul. 2008-5); the IRA itself may not be told to harvest."""
    with tenant_context(firm_a):
        Security.objects.filter(symbol="BND").update(harvest_substitute=Security.objects.get(symbol="AGG"))
        with pytest.raises(ValidationFailed, match="U-IRA is a traditional IRA"):
            _instruct(unit["ira"], I("harvest"), by=people["pm"])
        mine = _instruct(unit["taxable"], I("harvest"), by=people["pm"])
        assert "harvest" in _trades(mine)["BND"]["reasons"]
        assert _trades(mine)["BND"]["quantity"] == pytest.approx(100)
        ira = Proposal.objects.get(household_proposal=mine.household_proposal, account=unit["ira"])
        assert not any(t["symbol"] == "BND" and t["side"] == "buy" for t in ira.result["trades"])
        assert mine.household_proposal.revision["accounts"] == {
            "U-TAX": ["harvest the losses past the harvest thresholds"]}

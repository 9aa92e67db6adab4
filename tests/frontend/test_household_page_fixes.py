"""The household page as a second browser QA round found it: the compliance badge of an account's
proposal stayed after compliance approved it, a withdrawal's funding named its sales without their
amounts and after the totals they make up, and the hint beside "Replace the approved proposals"
said every new proposal waits for approval where the firm's policy approves small ones at once.
(The page scrolling sideways on a narrow screen is a browser test: tests/e2e/test_household_narrow.py.)"""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, ProposalApproval, RebalanceRun
from rebalancing.services.runs import run_chunks, run_process_chunk
from tests.rebalancing.book import AS_OF
from tests.rebalancing.workflow import policy

from . import test_household_pages as household_pages

pytestmark = pytest.mark.django_db

_url = household_pages._url
lees = household_pages.lees  # the Lee household with its pending household proposal, and its members


def _states(page: str) -> dict[str, str]:
    """Each account's row of the household proposal's table: its state cell, by account number."""
    table = re.search(r"<caption class=\"sr-only\">The accounts' proposals</caption>(.*?)</table>", page, re.S).group(1)
    return {number: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", state)).strip()
            for number, state in re.findall(r"<tr><td>(\S+) [^<]*</td>.*?<td>(Pending approval.*?|Approved.*?)</td>",
                                            table, re.S)}


def test_the_compliance_badge_says_needed_while_it_is_and_approved_after(lees, as_user, firm_a):
    # Given the household's proposals above the firm's compliance thresholds
    with tenant_context(firm_a):
        Proposal.objects.filter(household_proposal=lees["proposal"]).update(requires_compliance=True)
    numbers = sorted(lees["members"])
    advisor, decide = as_user("advisor"), _url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/")
    assert _states(advisor.get(_url(lees["household"])).content.decode()) == {
        n: "Pending approval needs compliance" for n in numbers}

    # When compliance approves them (the advisor has not yet)
    as_user("compliance").post(decide, {"decision": "approve", "comment": "checked"})

    # Then the accounts still wait, for their advisor only: compliance is no longer said to be needed
    assert _states(advisor.get(_url(lees["household"])).content.decode()) == {
        n: "Pending approval compliance approved" for n in numbers}

    # And once the advisor approves, the proposals are approved, compliance's approval still named
    advisor.post(decide, {"decision": "approve"})
    page = advisor.get(_url(lees["household"])).content.decode()
    assert _states(page) == {n: "Approved compliance approved" for n in numbers}
    assert "needs compliance" not in page


def test_a_withdrawals_funding_lists_each_sale_with_its_shares_and_value_before_the_totals(lees, as_user):
    page = as_user("advisor").post(_url(lees["household"], "cash-flows/"), {"kind": "withdrawal", "amount": "20000"},
                                   follow=True).content.decode()
    steps = re.findall(r"<li>(.*?)</li>",
                       re.search(r'<ul class="steps" data-testid="funding-steps">(.*?)</ul>', page, re.S).group(1))
    # Cash first, then each sale with its shares and proceeds, then what the sales come to (their tax)
    assert steps == [
        "$2,000.00 from the cash of LEE-JT (taxable)",
        "Sell 100 BND for $8,000.00 from lot LEE-JT-L2 in LEE-JT (long-term, a $200.00 loss)",
        "Sell 100 VTI for $10,000.00 from lot LEE-JT-L1 in LEE-JT (long-term, a $3,000.00 gain)",
        "Sales in LEE-JT realise $0.00 short-term and $2,800.00 long-term (tax $560.00)",
    ]


def _approved_then_replaced(lees, as_user, firm_a):
    """The household's proposal approved (its approval keeps the accounts out of a run), then a run
    replacing it, worked through; the new proposals by account number."""
    as_user("advisor").post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"), {"decision": "approve"})
    pm = as_user("pm")
    hint = pm.get(_url(lees["household"])).content.decode()
    assert pm.post(_url(lees["household"], "rebalance/"), {"replace_approved": "1"}).status_code == 302
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("pk")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        made = {p.account.custodian_number: p for p in Proposal.objects.filter(run=run).select_related("account")}
        by_policy = set(ProposalApproval.objects.filter(proposal__run=run, capacity=ProposalApproval.Capacity.POLICY)
                        .values_list("proposal__account__custodian_number", flat=True))
    said = re.search(r'data-testid="approved-waiting">(.*?)</p>', hint, re.S).group(1)
    return said, made, by_policy


def test_replacing_approved_proposals_says_the_policy_approves_small_ones_at_once_when_it_does(
        lees, as_user, firm_a):
    with tenant_context(firm_a):
        policy(auto_approve=True, auto_max_trades=20, auto_max_turnover=0.05, auto_max_estimated_tax=1000)

    said, made, by_policy = _approved_then_replaced(lees, as_user, firm_a)

    # The joint account's small proposal is approved by the policy, as the hint said it could be
    assert made["LEE-JT"].status == Proposal.Status.APPROVED and by_policy == {"LEE-JT"}
    assert {n: p.status for n, p in made.items() if n != "LEE-JT"} == {
        n: Proposal.Status.PENDING for n in made if n != "LEE-JT"}
    assert "the new proposals wait for approval again" not in said
    assert ("the new proposals <span data-testid=\"new-proposals\">wait for approval, except those the firm&#x27;s "
            "policy approves by itself: a discretionary account&#x27;s proposal of at most 20 trades, 5.0% turnover "
            "and $1,000 estimated tax, and under every compliance threshold, is approved at once</span>.") in said


def test_replacing_approved_proposals_says_they_wait_for_approval_when_the_policy_approves_none(
        lees, as_user, firm_a):
    said, made, by_policy = _approved_then_replaced(lees, as_user, firm_a)  # the fixture's policy: no auto-approval

    assert made and {p.status for p in made.values()} == {Proposal.Status.PENDING} and not by_policy
    assert 'the new proposals <span data-testid="new-proposals">wait for approval</span>.' in said


def test_the_refusal_pointing_at_replace_says_what_the_policy_does_with_the_new_proposals(lees, as_user, firm_a):
    with tenant_context(firm_a):
        policy(auto_approve=True)
    as_user("advisor").post(_url(lees["household"], f"proposals/{lees['proposal'].pk}/decide/"), {"decision": "approve"})
    refused = as_user("pm").post(_url(lees["household"], "rebalance/"), follow=True).content.decode()
    assert "Nothing to rebalance" in refused
    assert "the new proposals wait for approval, except those the firm&#x27;s policy approves by itself" in refused


def test_the_withdrawal_form_warns_that_approved_proposals_give_way_to_it(lees, as_user, firm_a):
    joint = lees["members"]["LEE-JT"]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=joint).update(status=Proposal.Status.APPROVED)

    advisor = re.sub(r"\s+", " ", as_user("advisor").get(_url(lees["household"])).content.decode())
    pm = re.sub(r"\s+", " ", as_user("pm").get(_url(lees["household"])).content.decode())

    for page in (advisor, pm):
        assert ('data-testid="withdrawal-replaces-approved">A withdrawal or RMD entered now is planned on the book as '
                "it is, and the household's open proposals give way to it - the approved ones not yet released "
                f'too: <a href="/proposals/{joint}/">#{joint}</a> of LEE-JT.') in page
    assert 'id="replace-approved-hint"' not in advisor  # the advisor starts no run: no checkbox to tick
    assert 'id="replace-approved-hint"' in pm


def test_an_earlier_withdrawals_approved_proposal_is_not_named_as_giving_way_to_the_next(lees, as_user, firm_a):
    # Found in the browser (2026-12-07): the warning named a withdrawal's own approved proposal and said
    # to release it first, though a withdrawal's proposals stand beside a later one (cash_flows
    # ``_GIVING_WAY_KINDS``) and a household proposal's leg is never released alone.
    joint, ira = lees["members"]["LEE-JT"], lees["members"]["LEE-IRA"]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk__in=[joint, ira]).update(status=Proposal.Status.APPROVED)
        withdrawal = RebalanceRun.objects.create(kind=RebalanceRun.Kind.CASH_FLOW, as_of=AS_OF, scope={})
        Proposal.objects.filter(pk=joint).update(run=withdrawal)

    page = re.sub(r"\s+", " ", as_user("pm").get(_url(lees["household"])).content.decode())

    warning = re.search(r'data-testid="withdrawal-replaces-approved">(.*?)</p>', page).group(1)
    assert f'<a href="/proposals/{ira}/">#{ira}</a> of LEE-IRA.' in warning  # a run's approved proposal gives way
    assert f"#{joint}<" not in warning

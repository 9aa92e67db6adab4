"""The proposal page after QA: compliance's state as it stands (not "needs compliance approval" once
given, nor on a proposal no longer open), the history in words, what an executed proposal's orders
filled and booked beside the estimate, and the approvals queue naming the restricted security."""

import html
import re
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_apply
from rebalancing.models import Order, Proposal, ProposalApproval
from rebalancing.services.proposals import proposal_submit
from tests.ledger.helpers import buy, cancel, fill, release, sell
from tests.rebalancing.book import make_book
from tests.rebalancing.test_qa_workflow_policy_reasons import restricted_proposal
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db

S = Proposal.Status


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_needs_compliance_approval_only_while_a_pending_proposal_lacks_it(firm_a, as_user, people):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        waiting = make_proposal(accounts[0], status=S.PENDING, requires_compliance=True)
        approved = make_proposal(accounts[1], status=S.APPROVED, requires_compliance=True)
        ProposalApproval.objects.create(proposal=approved, user=people["compliance"],
                                        capacity=ProposalApproval.Capacity.COMPLIANCE,
                                        decision=ProposalApproval.Decision.APPROVE)
        superseded = make_proposal(accounts[2], status=S.SUPERSEDED, requires_compliance=True)
    pm = as_user("pm")

    assert "needs compliance approval" in text(pm.get(f"/proposals/{waiting.pk}/"))
    page = text(pm.get(f"/proposals/{approved.pk}/"))
    assert "needs compliance approval" not in page and "compliance approved" in page
    page = text(pm.get(f"/proposals/{superseded.pk}/"))
    assert "needs compliance approval" not in page and "compliance approved" not in page


def test_the_history_reads_in_words_not_codes(firm_a, as_user):
    with tenant_context(firm_a):
        policy(auto_approve=False)
        proposal = make_proposal(make_book(1)["accounts"][0])
        proposal_submit(proposal=proposal)
    page = text(as_user("pm").get(f"/proposals/{proposal.pk}/"))

    assert "Sent a proposal for approval" in page and "proposal.submit" not in page


def test_the_approvals_queue_names_the_restricted_security(firm_a, as_user):
    with tenant_context(firm_a):
        restricted_proposal(make_book(1)["accounts"][0], restrictions={"do_not_sell": ["VTI"]},
                            listed={"VTI": "do_not_trade"})
    page = text(as_user("compliance").get("/approvals/?view=all"))

    assert "a restricted security is traded: VTI (do not trade)" in page


def test_an_executed_proposal_shows_what_was_filled_cancelled_and_booked_beside_the_estimate(firm_a, as_user, people):
    day = date(2026, 11, 20)
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        account = make_book(1)["accounts"][0]  # VTI: 300 shares at $80 (lot T-000-L1)
        vti = {**sell("VTI", 87, 100.0, [("T-000-L1", 87)]), "realised_gain": 1740.0}
        sale, purchase = release(account, [vti, buy("BND", 20, 80.0)], pm=people["pm"], as_of=day)
        executions_apply(records=[fill("X-1", sale, "50", "101", day), cancel("X-2", sale, day),
                                  fill("X-3", purchase, "20", "80", day)], actor="test", as_of=day)
        proposal = Proposal.objects.get(orders=sale)
        assert proposal.status == S.EXECUTED and Order.objects.get(pk=sale.pk).cancelled_quantity == 37
    page = text(as_user("pm").get(f"/proposals/{proposal.pk}/"))

    executed = page.split('data-testid="executed-VTI">')[1].split("</td>")[0]
    assert sale.order_id in executed and "50 filled at $101.00, 37 cancelled" in executed
    assert "booked" in executed and "+$1,050.00" in executed  # 50 × ($101 − $80)
    assert "+$1,740.00" in page  # the estimate stays beside it
    words = re.sub(r"<[^>]+>", "", page)
    assert "+$1,050.00 booked in all, against +$1,740.00 estimated" in words
    assert "Created the orders of a released proposal" in page and "orders.create" not in page


def test_a_restriction_reason_names_what_is_restricted(firm_a, as_user):
    # "Do not trade LLY" on the account: the trades made around it said only "A restriction on the
    # account (do not buy, do not sell, hold)", never which holding.
    with tenant_context(firm_a):
        proposal = restricted_proposal(make_book(1)["accounts"][0], restrictions={"hold": ["LLY"], "do_not_buy": ["BND"]})
    page = html.unescape(text(as_user("pm").get(f"/proposals/{proposal.pk}/")))

    assert ("The account's restrictions - BND (do not buy), LLY (hold) - keep those holdings from trading as the "
            "model would; this sell makes up for them in the rest of the account.") in page
    assert "BND is restricted on the account (do not buy)." in page


def test_a_move_to_the_model_under_bring_back_says_the_budget_was_set_aside(firm_a, as_user):
    # "Bring back to the model" sets the tax budget aside: its sales said "within its tax budget".
    with tenant_context(firm_a):
        proposal = restricted_proposal(make_book(1)["accounts"][0], restrictions={})
        proposal.parameters = {"instructions": [{"kind": "bring_to_model"}]}
        proposal.result = {"trades": [{"symbol": "VTI", "side": "sell", "quantity": 10, "reasons": ["transition"]}]}
        proposal.save()
    page = html.unescape(text(as_user("pm").get(f"/proposals/{proposal.pk}/")))

    assert ("Moves the account towards its model; the instruction to bring it back to the model set the tax budget "
            "and drift bands aside this once.") in page
    assert "within its tax budget" not in page

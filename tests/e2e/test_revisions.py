"""An advisor edits a proposal before approving it: drops a trade and solves again, in Chromium."""

import re

from playwright.sync_api import expect

from rebalancing.models import Proposal


def test_an_advisor_drops_a_trade_and_solves_again(e2e_firm, signed_in, in_firm, firm_url, shot):
    with in_firm():
        mine = [a.pk for a in e2e_firm["book"]["mine"]]
        # The last of the advisor's pending proposals: other journeys approve the first ones.
        proposal = (Proposal.objects.filter(account_id__in=mine, status=Proposal.Status.PENDING,
                                            household_proposal__isnull=True).order_by("-account_id").first())
        assert proposal is not None, "the e2e book should leave the advisor a pending proposal"
        buys = [t["symbol"] for t in proposal.result["trades"] if t["side"] == "buy"]
        kept = [t["symbol"] for t in proposal.result["trades"] if t["side"] == "sell"]
    assert buys and kept
    dropped = buys[0]

    page = signed_in("advisor")
    page.goto(firm_url(f"/proposals/{proposal.pk}/"))
    expect(page.get_by_role("heading", name="Edit and solve again")).to_be_visible()
    page.get_by_label(f"Drop the buy of {dropped}").check()
    expect(page.get_by_label("Instruction", exact=True)).to_have_value("")
    shot(page, "advisor-edit-resolve")
    page.get_by_role("button", name="Re-solve").click()

    expect(page.locator(".messages")).to_contain_text(f"dropped the buy of {dropped}")
    new_id = int(re.search(r"/proposals/(\d+)/", page.url).group(1))
    assert new_id != proposal.pk
    expect(page.locator("h1 .badge")).to_have_text("Pending approval")
    expect(page.get_by_test_id("revisions")).to_contain_text(f"Revised from proposal #{proposal.pk} by Avery Advisor")
    trades = page.get_by_role("table").filter(has_text="Reasons").first
    # No row trades it (the reasons may name it: the new proposal holds it this once).
    expect(trades.locator("tbody td strong", has_text=re.compile(f"^{re.escape(dropped)}$"))).to_have_count(0)
    for symbol in kept:
        expect(trades).to_contain_text(symbol)
    page.get_by_role("link", name=f"proposal #{proposal.pk}").click()
    expect(page.locator("h1 .badge")).to_have_text("Superseded")
    expect(page.get_by_test_id("revisions")).to_contain_text(f"Revised into proposal #{new_id}")
    with in_firm():
        new = Proposal.objects.get(pk=new_id)
        assert new.revised_from_id == proposal.pk and new.status == Proposal.Status.PENDING
        assert dropped not in {t["symbol"] for t in new.result["trades"]}
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.SUPERSEDED

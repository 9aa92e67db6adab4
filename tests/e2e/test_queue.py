"""The proposal queue in a real browser: a portfolio manager releases approved proposals together,
and a provider operator starts a run in every firm from the console."""

import re

from playwright.sync_api import expect

from rebalancing.models import ApprovalPolicy, Order, Proposal

from .conftest import OPERATOR, sign_in


def test_a_portfolio_manager_releases_approved_proposals_together(e2e_firm, signed_in, in_firm, shot):
    with in_firm():
        ApprovalPolicy.objects.update(max_price_age_days=3650)  # the test book is priced on a fixed day
        theirs = [a.pk for a in e2e_firm["book"]["theirs"]]
        approved = list(Proposal.objects.filter(account_id__in=theirs, status=Proposal.Status.PENDING)
                        .values_list("pk", flat=True))
        Proposal.objects.filter(pk__in=approved).update(status=Proposal.Status.APPROVED)
        # Browser tests that ran before in this process may have left approvals of their own.
        waiting = Proposal.objects.filter(status=Proposal.Status.APPROVED).count()
    assert len(approved) == 3
    page = signed_in("pm")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Release").click()
    expect(page.get_by_role("link", name=re.compile(rf"Approved, to release \({waiting}\)"))).to_be_visible()
    page.get_by_label("Select every approved proposal on this page").check()
    page.get_by_label("Comment for the released proposals").fill("Morning batch")
    shot(page, "operator-bulk-release", full_page=False)
    page.get_by_role("button", name="Release the selected proposals").click()
    expect(page.locator(".messages")).to_contain_text(f"{waiting} proposals released")
    expect(page.get_by_test_id("release-outcomes")).to_contain_text("released: its orders may go out")
    page.get_by_role("link", name=re.compile(r"Released \(\d+\)")).click()
    for pk in approved:
        expect(page.locator("table.data")).to_contain_text(f"#{pk}")
    with in_firm():
        assert set(Proposal.objects.filter(pk__in=approved).values_list("status", flat=True)) == {"released"}
        assert Order.objects.filter(proposal_id__in=approved).exists()


def test_a_portfolio_manager_releases_every_approved_proposal_in_one_decision(e2e_firm, e2e_worker, signed_in,
                                                                                in_firm, firm_url, shot):
    with in_firm():
        ApprovalPolicy.objects.update(max_price_age_days=3650)
        mine = [a.pk for a in e2e_firm["book"]["mine"]]
        # One of the advisor's: the journeys after this one (in the same process when the files run
        # one after another) read and edit the advisor's other pending proposals.
        approved = list(Proposal.objects.filter(account_id__in=mine, status=Proposal.Status.PENDING)
                        .order_by("account_id").values_list("pk", flat=True)[:1])
        Proposal.objects.filter(pk__in=approved).update(status=Proposal.Status.APPROVED)
        waiting = Proposal.objects.filter(status=Proposal.Status.APPROVED).count()
    assert approved
    page = signed_in("pm")
    page.goto(firm_url("/proposals/?status=approved"))
    page.get_by_label("Comment recorded on every proposal it releases").fill("Month end")
    shot(page, "release-all", full_page=False)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))  # it asks first
    page.get_by_role("button", name=f"Release all {waiting} approved proposal{'s' if waiting != 1 else ''}").click()
    expect(page.locator(".messages")).to_contain_text(f"Releasing all {waiting} approved proposal")
    assert asked and asked[0].startswith(f"Release all {waiting} approved proposal")
    # The page follows the worker, then reloads with the outcome.
    expect(page.locator("#release-batch")).to_have_attribute("data-status", "completed", timeout=90_000)
    expect(page.locator("#release-batch")).to_contain_text(f"{waiting} of {waiting} released")
    expect(page.get_by_role("link", name=re.compile(r"Approved, to release \(0\)"))).to_be_visible()
    with in_firm():
        assert set(Proposal.objects.filter(pk__in=approved).values_list("status", flat=True)) == {"released"}
        assert Order.objects.filter(proposal_id__in=approved).exists()


def test_an_operator_starts_a_run_in_every_firm_from_the_console(e2e_firm, e2e_worker, e2e_server, page, shot):
    sign_in(page, e2e_server, OPERATOR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs across firms").click()
    page.once("dialog", lambda dialog: dialog.accept())  # it asks first, naming the firms and accounts
    page.get_by_role("button", name="Run every active firm").click()
    # (firms with no account are named apart: their runs are empty)
    expect(page.locator(".messages")).to_contain_text(re.compile(r"Runs started in \d+ firms[,:] .*Evergreen Wealth"))
    row = page.locator("table.data tbody tr", has_text="Evergreen Wealth").first
    expect(row).to_be_visible()
    shot(page, "operator-all-firms-run", full_page=False)
    row.get_by_role("link", name=re.compile(r"Run \d+")).click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "completed", timeout=90_000)

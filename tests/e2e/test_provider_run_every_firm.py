"""In a real browser, the provider's "Run every active firm" asks first, naming how many firms and
accounts it runs; cancelled, it starts nothing."""

import re

from playwright.sync_api import expect

from rebalancing.models import RebalanceRun

from .conftest import OPERATOR, sign_in


def test_run_every_firm_asks_first_and_cancelled_starts_nothing(e2e_firm, e2e_server, page, in_firm):
    with in_firm():
        runs_before = RebalanceRun.objects.count()
    sign_in(page, e2e_server, OPERATOR)
    page.goto(e2e_server + "/runs/")
    asked = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    page.get_by_role("button", name="Run every active firm").click()

    expect(page.get_by_role("heading", name="Runs across firms")).to_be_visible()
    assert len(asked) == 1
    assert re.match(r"Start a run in every active firm: \d+ firms?, \d+ accounts? in all\?", asked[0])
    assert page.url.endswith("/runs/") and not page.locator(".messages").count()
    with in_firm():
        assert RebalanceRun.objects.count() == runs_before

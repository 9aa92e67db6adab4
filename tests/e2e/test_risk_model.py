"""The Risk model page in a real browser against a real worker: Refresh now, the estimate shown under
way, and the page following it by itself (htmx polling, then a reload) to its outcome."""

import re

import pytest
from playwright.sync_api import expect

from rebalancing.models import RiskModelEstimate


@pytest.fixture
def no_estimates(in_firm):
    yield
    with in_firm():
        RiskModelEstimate.objects.all().delete()


def test_a_portfolio_manager_refreshes_the_risk_model_and_the_page_follows_the_worker(
        e2e_firm, e2e_worker, signed_in, in_firm, no_estimates):
    page = signed_in("pm")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Risk model").click()
    expect(page.get_by_role("heading", name="Risk model", exact=True)).to_be_visible()

    page.get_by_role("button", name="Refresh now").click()
    # The answer comes at once, before the worker has estimated anything ...
    status = page.locator("#risk-model-estimate")
    expect(status).to_be_visible()
    # ... and the page follows the worker by itself: the book's two days of prices are too few.
    expect(status).to_have_attribute("data-status", "failed", timeout=60_000)
    expect(status).to_contain_text(re.compile(
        r"Latest estimate \(Priya Manager, .*\) failed: a risk model needs prices on at least 61 days up to "
        r"\d{4}-\d\d-\d\d; the firm has 2"))
    expect(page.locator("#risk-model-estimates tbody tr").first).to_contain_text("Priya Manager")
    with in_firm():
        estimate = RiskModelEstimate.objects.get()
    assert (estimate.status, estimate.error_code, estimate.origin) == ("failed", "insufficient_price_history", "request")
    assert estimate.started_at is not None  # the worker ran it, not the web request

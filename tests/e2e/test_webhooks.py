"""A firm admin registers a webhook endpoint in the browser, a run started from an account's page is
delivered to a real receiver started by the test (through the real worker), and the admin reads the
delivery log and sends the delivery again. Also the screenshot of the log (docs/screenshots/)."""

import re

from playwright.sync_api import expect

from rebalancing.webhooks.signing import signature_verify

from ..webhooks.receiver import Receiver
from .conftest import PEOPLE, sign_in


def test_a_firm_admin_registers_an_endpoint_and_reads_its_delivery_log(e2e_firm, e2e_worker, firm_url, page, shot):
    receiver = Receiver(answers=[200])
    try:
        sign_in(page, firm_url("").rstrip("/"), PEOPLE["admin"][0])
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Description").fill("Order management system")
        page.get_by_label(re.compile("A run finished")).check()
        page.get_by_label(re.compile("A proposal's orders were released")).check()
        page.get_by_role("button", name="Register the endpoint").click()

        # Post/redirect/get: the endpoint's own page shows the secret once; a reload shows it no more.
        expect(page.get_by_role("heading", name=receiver.url)).to_be_visible()
        secret = page.get_by_test_id("webhook-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        page.reload()
        expect(page.get_by_test_id("webhook-secret")).to_have_count(0)

        account = e2e_firm["book"]["theirs"][-1]
        page.goto(firm_url(f"/accounts/{account.pk}/"))
        page.get_by_role("button", name="Rebalance now").click()
        expect(page.locator("[data-status]")).to_have_attribute("data-status", "completed", timeout=90_000)

        page.goto(firm_url("/webhooks/"))
        page.get_by_role("link", name=receiver.url).click()
        log = page.locator("#deliveries")
        for _ in range(60):  # the worker sends it after the run's last chunk commits
            if log.count() and "Delivered" in log.inner_text():
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(log).to_contain_text("run.finished")
        expect(log).to_contain_text("Delivered")
        expect(log.locator("tbody tr").first).to_contain_text("200")
        shot(page, "webhooks")

        [got] = receiver.received
        assert signature_verify(secret=secret, timestamp=got.headers["Webhook-Timestamp"], body=got.body,
                                header=got.headers["Webhook-Signature"])

        log.get_by_role("button", name="Send again").first.click()
        expect(page.locator("ul.messages")).to_contain_text("queued again")
        for _ in range(60):
            if len(receiver.received) == 2:
                break
            page.wait_for_timeout(500)
        assert len(receiver.received) == 2
        assert receiver.received[0].headers["Webhook-Id"] == receiver.received[1].headers["Webhook-Id"]
        page.reload()
        expect(page.locator("#deliveries tbody tr")).to_have_count(2)
        expect(page.locator("#deliveries")).to_contain_text("re-sent by admin@e2e.example")
    finally:
        receiver.close()

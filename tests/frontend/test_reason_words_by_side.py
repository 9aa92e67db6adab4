"""A trade's reasons in words for its side: a harvest's substitute is bought, not "sold at a loss";
what a screen or a removed asset class frees is reinvested, not excluded."""

import re

import pytest
from django_tenants.utils import tenant_context

from frontend.templatetags.formatting import REASON_HELP, reason_help
from rebalancing.models import Proposal
from tests.rebalancing.book import make_account, make_model, make_securities
from tests.rebalancing.workflow import make_proposal


def test_every_reason_reads_for_a_sale_and_those_that_differ_for_a_purchase():
    assert reason_help("harvest", "sell").startswith("Sells a lot at a loss")
    assert reason_help("harvest", "buy").startswith("Buys a close substitute")
    assert reason_help("screen", "buy").startswith("Reinvests the weight the account's ESG")
    assert reason_help("removed_asset_class", "buy").startswith("Reinvests the weight of an asset class")
    for code, words in REASON_HELP.items():
        assert reason_help(code) == words and reason_help(code, "sell") == words
        assert "sell" not in reason_help(code, "buy").lower().split()[0]


@pytest.mark.django_db
def test_the_proposal_page_explains_a_harvests_purchase_as_a_purchase(firm_a, people, as_user):
    with tenant_context(firm_a):
        make_securities()
        account = make_account("RSN-1", model=make_model())
        proposal = make_proposal(account, status=Proposal.Status.PENDING)
        Proposal.objects.filter(pk=proposal.pk).update(result={"trades": [
            {"symbol": "VTI", "side": "sell", "quantity": 10, "price": 100.0, "value": 1000.0, "reasons": ["harvest"],
             "lots": [{"lot_id": "RSN-1-L1", "quantity": 10}], "realised_gain": -200.0},
            {"symbol": "ITOT", "side": "buy", "quantity": 10, "price": 100.0, "value": 1000.0, "reasons": ["harvest"],
             "lots": []}]})

    page = re.sub(r"\s+", " ", as_user("pm").get(f"/proposals/{proposal.pk}/").content.decode())

    assert page.count("Sells a lot at a loss to realise it for tax") == 2  # the sale's badge title and hint
    assert page.count("Buys a close substitute with a loss harvest&#x27;s proceeds") == 2

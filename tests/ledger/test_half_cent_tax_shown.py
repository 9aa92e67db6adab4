"""A proposal's estimated tax as its page and the API show it, to the cent (found by an audit,
2026-12-07: the page and the API's ``summary`` said $1,349.89 beside a stored $1,349.90).

A long-term gain of 8,999.30 at 15% is exactly 1,349.895: half up, $1,349.90 (one rule for the
engine's results and the ledger's figures, ``engine.money.cents``; the IRS rounds half up). The engine's float is
1349.8949999999998."""

import re
from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest

from rebalancing.models import Account, Household, Proposal

from ..rebalancing.book import AS_OF, make_account, make_model

pytestmark = pytest.mark.django_db


def test_the_proposal_page_shows_the_stored_estimated_tax(book, pm, firm_a, client_for):
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    model = make_model("bonds-only", sleeves=(("bonds", "1", {"BND": "1"}),))
    household = Household.objects.create(name="Round", external_id="HH-ROUND", template=book["template"])
    account = make_account("R-1", model=model, household=household, cash="0",
                           holdings=[("VTI", 100, D("1000.70"), date(2020, 1, 2))])
    Account.objects.filter(pk=account.pk).update(short_term_rate=D("0.37"), long_term_rate=D("0.15"))
    run = run_start(scope=RunScope(household_id=household.pk), as_of=AS_OF, label="round")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    [proposal] = Proposal.objects.filter(run=run)
    exact = ((D(10_000) - D("1000.70")) * D("0.15")).quantize(D("0.01"), ROUND_HALF_UP)
    assert proposal.estimated_tax == exact == D("1349.90")
    client = client_for(firm_a, pm)
    api = client.get(f"/api/v1/proposals/{proposal.pk}/").json()
    page = client.get(f"/proposals/{proposal.pk}/").content.decode()
    shown = re.findall(r'data-testid="estimated-tax">([^<]*)<', page)
    row = re.findall(r'data-testid="tax-row">([^<]*)<', page)
    assert D(str(api["estimated_tax"])) == exact
    assert D(str(api["summary"]["estimated_tax"])) == exact, api["summary"]["estimated_tax"]
    assert shown and all("$1,349.90" in s for s in shown), shown
    assert row and all("$1,349.90" in s for s in row), row

"""Dates and figures a portfolio manager decides by: the Release list's "Priced" is the proposal's
oldest close (what its expiry counts), not its run's day; an account whose latest proposal raises a
withdrawal's cash shows no drift it never measured."""

import html
import re
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun
from tests.rebalancing.book import make_account, make_model, make_securities
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_release_list_dates_a_proposal_by_its_prices(firm_a, people, as_user):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        make_securities()
        account = make_account("PRC-1", model=make_model())
        proposal = make_proposal(account, status=Proposal.Status.APPROVED, as_of=date(2026, 11, 20))
        Proposal.objects.filter(pk=proposal.pk).update(priced_on=date(2026, 11, 13))

    page = text(as_user("pm").get("/proposals/?status=approved"))

    assert "Nov 13, 2026" in page and "Nov 20, 2026" not in page


def test_an_account_whose_latest_proposal_pays_a_withdrawal_shows_no_drift(firm_a, people, as_user):
    with tenant_context(firm_a):
        make_securities()
        account = make_account("WDR-1", model=make_model())
        proposal = make_proposal(account, status=Proposal.Status.PENDING)
        RebalanceRun.objects.filter(pk=proposal.run_id).update(kind=RebalanceRun.Kind.CASH_FLOW)
        Proposal.objects.filter(pk=proposal.pk).update(drift_before=0)

    page = text(as_user("pm").get(f"/accounts/{account.pk}/"))

    assert ("<dt>Drift (latest proposal)</dt><dd><span class=\"muted\">not measured: the latest proposal raises the "
            "cash of a withdrawal or RMD") in page


def test_releasing_a_withdrawal_paid_from_cash_says_it_is_executed_and_paid(firm_a, people, as_user):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        make_securities()
        model = make_model()
        account = make_account("WDR-2", model=model)
        proposal = make_proposal(account, status=Proposal.Status.APPROVED)
        RebalanceRun.objects.filter(pk=proposal.run_id).update(kind=RebalanceRun.Kind.CASH_FLOW)
        ordinary = make_proposal(make_account("ORD-1", model=model), status=Proposal.Status.APPROVED)
        Proposal.objects.filter(pk=ordinary.pk).update(result={"trades": [
            {"symbol": "VTI", "side": "buy", "quantity": 3, "price": 100.0, "reasons": ["drift"]}]})
    pm = as_user("pm")

    paid = html.unescape(text(pm.post(f"/proposals/{proposal.pk}/decide/", {"action": "release"}, follow=True)))
    sent = html.unescape(text(pm.post(f"/proposals/{ordinary.pk}/decide/", {"action": "release"}, follow=True)))

    assert (f"Proposal #{proposal.pk} released; it had no order to send, so it is executed: the withdrawal's cash "
            "is paid out.") in paid
    assert "its orders may go out" not in paid
    assert f"Proposal #{ordinary.pk} released: its orders may go out." in sent


def test_the_proposal_history_names_people_by_name_with_their_address_on_hover(firm_a, people, as_user):
    from rebalancing.services.proposals import proposal_approve

    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        make_securities()
        account = make_account("HIS-1", model=make_model())
        proposal = make_proposal(account, status=Proposal.Status.PENDING)
        proposal_approve(proposal=proposal, user=people["pm"], comment="fine")

    page = text(as_user("pm").get(f"/proposals/{proposal.pk}/"))

    assert '<td title="pm@pages.example">Pm</td>' in page

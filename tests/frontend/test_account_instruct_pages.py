"""The account page's one-off instruction: a portfolio manager sells one fund for another once, the
proposal replaces the pending one, the parameters stay; a refusal keeps what was typed."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, Proposal, RebalanceRun

pytestmark = pytest.mark.django_db
S = Proposal.Status


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _rows(*rows) -> dict[str, list[str]]:
    """POST columns of instruction rows given as (action, symbol, buy, amount)."""
    return {name: [r[i] for r in rows] for i, name in enumerate(("ins_action", "ins_symbol", "ins_buy", "ins_amount"))}


def test_a_portfolio_manager_sells_one_fund_for_another_once(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        pending = Proposal.objects.get(account=account, status=S.PENDING)
    client = as_user("pm")
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert "One-off instruction" in page and f'action="/accounts/{account.pk}/instruct/"' in page
    assert "Bring back to the model (drift bands and the tax budget set aside this once)" in page
    assert "Sell everything" in page and '<a class="button" href="#instruct">Instruct</a>' in page

    response = client.post(f"/accounts/{account.pk}/instruct/",
                           _rows(("sell", "xle", "vti", ""), ("", "", "", "")), follow=True)
    with tenant_context(firm_a):
        new = Proposal.objects.get(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account)
        trades = {t["symbol"]: t for t in new.result["trades"]}
        assert trades["XLE"]["side"] == "sell" and trades["XLE"]["quantity"] == pytest.approx(120)
        assert Proposal.objects.get(pk=pending.pk).status == S.SUPERSEDED
        assert Account.objects.get(pk=account.pk).overrides == {}
    assert response.redirect_chain[-1][0] == f"/proposals/{new.pk}/"
    page = text(response)
    assert (f"Proposal #{new.pk}: sell all of XLE and buy VTI ({new.trade_count} trades, it waits for approval); "
            f"it replaces proposal #{pending.pk} (pending approval), which is superseded. "
            "The account's parameters are unchanged.") in page
    assert "A one-off instruction by Pm: sell all of XLE and buy VTI. The account's parameters were not changed." in page


def test_a_refused_instruction_names_the_problem_and_keeps_the_rows(book, as_user, firm_a):
    account = book["mine"][0]
    client = as_user("pm")
    with tenant_context(firm_a):
        written = Proposal.objects.count(), RebalanceRun.objects.count()
    response = client.post(f"/accounts/{account.pk}/instruct/", _rows(("sell", "BND", "AGG", "1,000,000")))
    assert response.status_code == 302 and response["Location"] == f"/accounts/{account.pk}/#instruct"
    page = text(client.get(response["Location"]))
    # inside the form the page opens at, not only at the top of a long page, out of sight
    assert re.search(r'<form [^>]*id="instruct-form">\s*<input[^>]*>\s*<div class="error" role="alert" '
                     r'id="instruct-refusal">Instruction 1: the account holds \$12,000.00 of BND; it cannot sell '
                     r'\$1,000,000.00. Leave the amount empty to sell all of it.</div>', page)
    assert 'value="BND"' in page and 'value="AGG"' in page and 'value="1,000,000"' in page
    with tenant_context(firm_a):
        assert (Proposal.objects.count(), RebalanceRun.objects.count()) == written

    response = client.post(f"/accounts/{account.pk}/instruct/", _rows(("sell", "", "", "")), follow=True)
    assert "Instruction 1: name the security." in text(response)
    response = client.post(f"/accounts/{account.pk}/instruct/", _rows(("raise_cash", "", "", "lots")), follow=True)
    assert "The amount of instruction 1 must be a number, not “lots”." in text(response)


def test_advisors_do_not_instruct_and_a_household_unit_is_solved_whole(book, as_user, firm_a):
    account = book["mine"][0]
    advisor = as_user("advisor")
    assert "One-off instruction" not in text(advisor.get(f"/accounts/{account.pk}/"))
    assert advisor.post(f"/accounts/{account.pk}/instruct/", _rows(("liquidate", "", "", ""))).status_code == 403

    with tenant_context(firm_a):
        Household.objects.filter(pk=account.household_id).update(managed_as=Household.ManagedAs.HOUSEHOLD,
                                                                   model=book["model"])
    client = as_user("pm")
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert "This account is managed with its household as one" in page and 'id="instruct-form"' in page
    assert "Raise cash" in page and "Sell everything in this account (the household's other accounts stay" in page
    assert "Bring the household back to its model (its drift bands and tax budgets set aside this once)" in page
    response = client.post(f"/accounts/{account.pk}/instruct/", _rows(("sell", "XLE", "", "")), follow=True)
    with tenant_context(firm_a):
        mine = Proposal.objects.get(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account)
        assert mine.household_proposal_id is not None
    assert response.redirect_chain[-1][0] == f"/proposals/{mine.pk}/"
    assert "Solved with the other accounts of the household as one" in text(response)


def test_a_household_units_account_is_liquidated_and_the_household_brought_back_to_its_model(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        Household.objects.filter(pk=account.household_id).update(managed_as=Household.ManagedAs.HOUSEHOLD,
                                                                   model=book["model"])
        held = {lot.security.symbol for lot in account.lots.select_related("security")}
    client = as_user("pm")
    response = client.post(f"/accounts/{account.pk}/instruct/", _rows(("liquidate", "", "", "")), follow=True)
    with tenant_context(firm_a):
        mine = Proposal.objects.get(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account)
        trades = mine.result["trades"]
        # Every holding sold, in full; nothing bought; the household's proposal is the one to decide.
        assert {t["symbol"] for t in trades} == held and all(t["side"] == "sell" for t in trades)
        assert sum(lot["quantity"] for t in trades for lot in t["lots"]) == pytest.approx(
            float(sum(lot.quantity for lot in account.lots.all())))
        assert mine.household_proposal_id is not None
        assert mine.revision["instructions"] == ["sell everything"]
    assert response.redirect_chain[-1][0] == f"/proposals/{mine.pk}/"

    response = client.post(f"/accounts/{account.pk}/instruct/", _rows(("bring_to_model", "", "", "")), follow=True)
    with tenant_context(firm_a):
        again = Proposal.objects.filter(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account).latest("pk")
        assert again.pk != mine.pk and again.household_proposal_id != mine.household_proposal_id
        assert Proposal.objects.get(pk=mine.pk).status == S.SUPERSEDED
        assert again.revision["instructions"] == ["bring back to the model (drift bands and the tax budget set aside)"]
    assert response.redirect_chain[-1][0] == f"/proposals/{again.pk}/"


def test_a_harvest_alert_opens_its_proposal_and_harvests_now(book, as_user, firm_a):
    """F-000 holds BND at a $1,500 short-term loss and its template leaves harvesting off: the run's
    alert says so, links the run's proposal, and "Harvest now" solves the account once with
    harvesting on (into AGG, BND's firm-wide substitute). Advisors approve, they do not run: no button."""
    from rebalancing.models import Alert, Security

    account = book["mine"][0]
    with tenant_context(firm_a):
        Security.objects.filter(symbol="BND").update(harvest_substitute=Security.objects.get(symbol="AGG"))
        alert = Alert.objects.get(account=account, kind=Alert.Kind.HARVEST, resolved_at=None)
        pending = Proposal.objects.get(account=account, run=alert.run)
    pm = as_user("pm")
    page = text(pm.get(f"/accounts/{account.pk}/"))
    opened = page[page.index('data-testid="open-alerts"'):]
    assert "Harvest opportunity: BND has $1,500.00 of harvestable losses, not harvested: harvesting is switched off" \
        in opened
    assert f'<a href="/proposals/{pending.pk}/">proposal #{pending.pk}</a> (pending approval)' in opened
    assert 'data-testid="harvest-now"' in opened and "Harvest losses now (the account's harvest thresholds" in page
    assert 'data-testid="harvest-now"' not in text(as_user("advisor").get(f"/accounts/{account.pk}/"))

    response = pm.post(f"/accounts/{account.pk}/instruct/", _rows(("harvest", "", "", "")), follow=True)
    with tenant_context(firm_a):
        new = Proposal.objects.get(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account)
        trades = {t["symbol"]: t for t in new.result["trades"]}
        assert "harvest" in trades["BND"]["reasons"] and trades["BND"]["realised_gain"] == pytest.approx(-1500)
        assert Proposal.objects.get(pk=pending.pk).status == S.SUPERSEDED
        assert Account.objects.get(pk=account.pk).overrides == {}
    assert response.redirect_chain[-1][0] == f"/proposals/{new.pk}/"
    assert f"Proposal #{new.pk}: harvest the losses past the harvest thresholds" in text(response)

    with tenant_context(firm_a):
        Account.objects.filter(pk=account.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    page = text(pm.get(f"/accounts/{account.pk}/"))
    assert 'value="harvest"' not in page  # neither the alert's button nor the instruction's choice

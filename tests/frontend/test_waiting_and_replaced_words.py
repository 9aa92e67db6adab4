"""What a role's day found unsaid: a household managed account by account shows its accounts'
proposals on their way (and a proposal links its household); a one-off instruction says which
pending proposal it replaced, and its form says so before; a refused change of the last admin's
roles is said once; "losses harvested" says what it counts beside the losses realised; a preview
says its tax as the proposal pages do ("adds $x" / "saves $x")."""

import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Proposal, RebalanceRun
from tenants.roles import FirmRole

pytestmark = pytest.mark.django_db
S = Proposal.Status


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _testid(page: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>(.*?)</(?:td|p|dd|span|a|tr)>', page, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


def _tax_words(amount: Decimal) -> str:
    """The product's wording of a tax estimate to the dollar, written again here: a saving "saves",
    a cost "adds", nothing "none"."""
    dollars = round(abs(amount))
    if dollars == 0:
        return "none"
    return f"{'saves' if amount < 0 else 'adds'} ${dollars:,}"


# --- A: the household page lists its accounts' proposals on their way ------------------------------

def test_a_household_managed_account_by_account_shows_each_accounts_waiting_proposal(book, as_user, firm_a):
    # Given a household managed account by account whose accounts have their run's proposals: one
    # pending and needing compliance, saving $1,224; one approved, adding $300; one executed
    first, second = book["mine"]
    with tenant_context(firm_a):
        household = first.household
        assert not household.is_unit
        Account.objects.filter(pk=second.pk).update(household=household)
        pending = Proposal.objects.get(account=first, status=S.PENDING)
        approved = Proposal.objects.get(account=second, status=S.PENDING)
        Proposal.objects.filter(pk=pending.pk).update(estimated_tax=Decimal("-1224"), requires_compliance=True)
        Proposal.objects.filter(pk=approved.pk).update(estimated_tax=Decimal("300"), status=S.APPROVED)
        # a third account, whose proposal is executed: done, not listed
        Account.objects.filter(pk=book["theirs"][0].pk).update(household=household)
        done = Proposal.objects.get(account=book["theirs"][0])
        Proposal.objects.filter(pk=done.pk).update(status=S.EXECUTED)

    # When its advisor opens the household
    page = as_user("advisor").get(f"/households/{household.pk}/").content.decode()

    # Then each account's proposal on its way is listed with its state, who it waits for and its tax
    assert "Waiting proposals" in page
    row = re.search(rf'<tr data-testid="waiting-{pending.pk}">(.*?)</tr>', page, re.S).group(1)
    assert f'href="/proposals/{pending.pk}/"' in row and first.custodian_number in row
    assert "Pending approval" in row and "saves $1,224" in row
    assert "Its advisor&#x27;s approval (Advisor) and compliance&#x27;s approval" in row
    row = re.search(rf'<tr data-testid="waiting-{approved.pk}">(.*?)</tr>', page, re.S).group(1)
    assert "Approved" in row and "Its release by a portfolio manager" in row and "adds $300" in row
    assert f"waiting-{done.pk}" not in page
    # ...with the household's total
    total = _tax_words(Decimal("-1224") + Decimal("300"))
    assert _testid(page, "waiting-total") == f"2 proposals on their way · estimated tax together: {total}"


def test_a_proposal_links_its_household_by_name(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=account, status=S.PENDING)
        name = account.household.name
    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()
    assert (f'household <a href="/households/{account.household_id}/" data-testid="household-link">{name}</a>'
            in page)


# --- B: an instruction says which proposal it replaced ----------------------------------------------

def test_an_instruction_says_beforehand_and_after_which_pending_proposal_it_replaces(book, as_user, firm_a):
    # Given an account whose run's proposal is pending approval
    account = book["mine"][0]
    with tenant_context(firm_a):
        pending = Proposal.objects.get(account=account, status=S.PENDING)
    client = as_user("pm")

    # The form says so before the instruction is given
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert (f'<p class="callout warn" data-testid="instruct-replaces">Proposal #{pending.pk} is pending approval; '
            "a new instruction replaces it.</p>") in page

    # When the portfolio manager asks to bring it back to the model
    response = client.post(f"/accounts/{account.pk}/instruct/",
                           {"ins_action": ["bring_to_model"], "ins_symbol": [""], "ins_buy": [""], "ins_amount": [""]},
                           follow=True)

    # Then the message names the proposal it replaced, now superseded
    with tenant_context(firm_a):
        new = Proposal.objects.get(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account)
        assert Proposal.objects.get(pk=pending.pk).status == S.SUPERSEDED
    page = text(response)
    assert (f"Proposal #{new.pk}: {new.revision['changes'][0]} ({new.trade_count} trades, it waits for approval); "
            f"it replaces proposal #{pending.pk} (pending approval), which is superseded. "
            "The account's parameters are unchanged.") in page
    # ...and the form now names the new one as the proposal a further instruction would replace
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert f"Proposal #{new.pk} is pending approval; a new instruction replaces it." in page
    assert f"Proposal #{pending.pk} is pending" not in page


def test_an_instruction_with_nothing_pending_says_nothing_of_replacing(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        Proposal.objects.filter(account=account, status=S.PENDING).update(status=S.REJECTED)
    client = as_user("pm")
    assert 'data-testid="instruct-replaces"' not in client.get(f"/accounts/{account.pk}/").content.decode()
    page = text(client.post(f"/accounts/{account.pk}/instruct/", {"ins_action": ["bring_to_model"], "ins_symbol": [""],
                                                                  "ins_buy": [""], "ins_amount": [""]}, follow=True))
    said = re.search(r'<ul class="messages" role="status">(.*?)</ul>', page).group(1)
    assert "The account's parameters are unchanged." in said and "replaces" not in said


# --- C: messages ------------------------------------------------------------------------------------

def test_removing_the_last_admin_is_refused_once_on_their_row(people, as_user, firm_a):
    admin = people["admin"]
    with tenant_context(firm_a):
        get_user_model().objects.filter(groups__name=FirmRole.FIRM_ADMIN).exclude(pk=admin.pk).update(is_active=False)
    page = as_user("admin").post("/people/", {"action": "roles", "user": admin.pk, "role": [FirmRole.PORTFOLIO_MANAGER]})
    assert page.status_code == 400
    html_ = page.content.decode()
    assert html_.count("last active admin") == 1
    row = re.search(rf'<input type="hidden" name="user" value="{admin.pk}">.*?</form>', html_, re.S).group(0)
    assert "last active admin" in row  # said beside the ticks, where the change was made


def test_an_invitation_refused_is_still_said_at_the_top(people, as_user):
    page = text(as_user("admin").post("/people/", {"action": "invite", "email": "x@pages.example", "first_name": "X",
                                                   "last_name": "Y"}))
    assert re.search(r'<ul class="messages" role="status"><li class="error">[^<]+</li>', page)


def test_losses_harvested_says_what_it_counts_beside_the_losses_realised(book, as_user, firm_a):
    # Given a proposal harvesting nothing whose sales realise losses for other reasons (its drift)
    account = book["mine"][0]
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=account, status=S.PENDING)
        result = proposal.result
        result["summary"]["harvested_losses"] = 0
        result["trades"] = [t for t in result["trades"] if t["side"] == "buy"] + [
            {"symbol": "XLE", "side": "sell", "quantity": 120, "price": 90.0, "value": 10800.0,
             "realised_gain": -16400.0, "reasons": ["drift"],
             "lots": [{"lot_id": "F-000-L2", "quantity": 100, "gain": -14000.25, "term": "long"},
                      {"lot_id": "F-000-L9", "quantity": 20, "gain": -2400.5, "term": "short", "disallowed_loss": 0}]}]
        Proposal.objects.filter(pk=proposal.pk).update(result=result)
    # The losses realised, written again: each lot's loss (a wash sale's disallowed part is not realised)
    realised = sum(-(lot["gain"] + lot.get("disallowed_loss", 0)) for t in result["trades"] if t["side"] == "sell"
                   for lot in t["lots"] if lot["gain"] + lot.get("disallowed_loss", 0) < 0)

    page = as_user("advisor").get(f"/proposals/{proposal.pk}/").content.decode()

    assert "<dt>Losses harvested (sales made to harvest)</dt>" in page
    assert _testid(page, "harvested").startswith("$0")
    said = re.search(r'data-testid="losses-realised">(.*?)</span>', page).group(1)
    assert re.sub(r"<[^>]+>", "", said) == f"${round(realised):,} of losses realised by all its sales (realised gains and tax)"


def test_the_what_if_preview_says_its_tax_as_the_proposal_pages_do(book, as_user):
    account = book["mine"][0]
    response = as_user("advisor").post(f"/accounts/{account.pk}/preview/", {"p__cash__target": "5"},
                                       HTTP_HX_REQUEST="true")
    preview = response.context["preview"]
    page = response.content.decode()
    for name, side in (("tax-now", preview.current), ("tax-new", preview.candidate)):
        assert side.summary.get("estimated_tax") is not None
        amount = Decimal(str(side.summary["estimated_tax"])).quantize(Decimal("0.01"))
        words = "none" if amount == 0 else f"{'saves' if amount < 0 else 'adds'} ${abs(amount):,.2f}"
        assert _testid(page, name) == words
    assert "<th scope=\"row\">Losses harvested (sales made to harvest)</th>" in page

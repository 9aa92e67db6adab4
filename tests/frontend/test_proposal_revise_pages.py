"""The proposal page's edit: drop trades, add an instruction, solve again; the history shows it."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _pending(firm_a, account) -> tuple[Proposal, dict[str, str]]:
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=account)
        return proposal, {t["symbol"]: t["side"] for t in proposal.result["trades"]}


def _written() -> tuple[int, int, int]:
    # Signing in is audited too; only the book's rows matter here.
    return (Proposal.objects.count(), RebalanceRun.objects.count(),
            AuditEvent.objects.exclude(action__startswith="auth.").count())


def test_an_advisor_drops_a_trade_and_solves_again(book, as_user, firm_a):
    proposal, trades = _pending(firm_a, book["mine"][0])
    dropped = next(s for s, side in trades.items() if side == "buy")
    client = as_user("advisor")
    page = text(client.get(f"/proposals/{proposal.pk}/"))
    assert "Edit and solve again" in page and "Re-solve" in page
    assert f'name="drop" value="{dropped}" form="resolve-form"' in page
    assert "Sell it (all, or the amount given)" in page and "Do not trade it" in page

    response = client.post(f"/proposals/{proposal.pk}/resolve/", {"drop": [dropped], "ins_action": [""],
                                                                   "ins_symbol": [""], "ins_buy": [""],
                                                                   "ins_amount": [""]}, follow=True)
    page = text(response)
    with tenant_context(firm_a):
        new = Proposal.objects.get(revised_from=proposal)
        assert dropped not in {t["symbol"] for t in new.result["trades"]}
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.SUPERSEDED
    assert response.redirect_chain[-1][0] == f"/proposals/{new.pk}/"
    assert f"Solved again as proposal #{new.pk} (dropped the buy of {dropped})" in page
    assert f"Revised from <a href=\"/proposals/{proposal.pk}/\">proposal #{proposal.pk}</a> by Advisor" in page
    old_page = text(client.get(f"/proposals/{proposal.pk}/"))
    assert f"Revised into <a href=\"/proposals/{new.pk}/\">proposal #{new.pk}</a>" in old_page
    assert f"Replaced by <a href=\"/proposals/{new.pk}/\">proposal #{new.pk}</a>, solved again after an edit: " \
           f"dropped the buy of {dropped}." in old_page
    assert "Edit and solve again" not in old_page  # superseded: nothing left to edit


def test_several_instruction_rows_are_all_applied(book, as_user, firm_a):
    proposal, trades = _pending(firm_a, book["mine"][0])
    buys = sorted(s for s, side in trades.items() if side == "buy")[:2]
    assert len(buys) == 2
    client = as_user("advisor")
    page = text(client.get(f"/proposals/{proposal.pk}/"))
    assert 'data-add-row="instructions" data-max="20" hidden' in page and 'id="ins-action-1"' in page
    client.post(f"/proposals/{proposal.pk}/resolve/", {
        "ins_action": ["do_not_buy", "", "hold"], "ins_symbol": [buys[0], "", buys[1]], "ins_buy": ["", "", ""],
        "ins_amount": ["", "", ""]})
    with tenant_context(firm_a):
        new = Proposal.objects.get(revised_from=proposal)
    assert not set(buys) & {t["symbol"] for t in new.result["trades"]}
    assert len(new.revision["changes"]) == 2


def test_a_refused_edit_says_why_and_changes_nothing(book, as_user, firm_a):
    proposal, _ = _pending(firm_a, book["mine"][0])
    with tenant_context(firm_a):
        written = _written()
    client = as_user("advisor")
    page = text(client.post(f"/proposals/{proposal.pk}/resolve/",
                            {"ins_action": ["sell"], "ins_symbol": ["XYZ"], "ins_buy": [""], "ins_amount": [""]},
                            follow=True))
    assert "Instruction 1: XYZ is not in the security master." in page
    page = text(client.post(f"/proposals/{proposal.pk}/resolve/",
                            {"ins_action": ["raise_cash"], "ins_symbol": [""], "ins_buy": [""],
                             "ins_amount": ["lots"]}, follow=True))
    assert "The amount of instruction 1 must be a number, not “lots”." in page
    page = text(client.post(f"/proposals/{proposal.pk}/resolve/",  # columns that do not line up
                            {"ins_action": ["hold", "hold"], "ins_symbol": ["XYZ"], "ins_buy": [""],
                             "ins_amount": [""]}, follow=True))
    assert "The instruction rows arrived incomplete; reload the page and enter them again." in page
    with tenant_context(firm_a):
        assert _written() == written
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


def test_a_refused_edit_keeps_its_rows_and_drops(book, as_user, firm_a):
    # Given an advisor who ticks a drop and types three instructions, one naming a security not held
    proposal, trades = _pending(firm_a, book["mine"][0])
    dropped = next(s for s, side in trades.items() if side == "buy")
    client = as_user("advisor")

    # When the edit is refused
    page = text(client.post(f"/proposals/{proposal.pk}/resolve/", {
        "drop": [dropped], "ins_action": ["hold", "sell", "raise_cash"], "ins_symbol": ["BND", "XYZ", ""],
        "ins_buy": ["", "VTI", ""], "ins_amount": ["", "", "2,500"]}, follow=True))

    # Then the page says why and the form holds every row and the drop as entered (before: emptied)
    assert "Instruction 2: XYZ is not in the security master." in page
    assert f'name="drop" value="{dropped}" form="resolve-form" checked' in page
    assert '<option value="hold" selected>' in page and '<option value="sell" selected>' in page
    assert '<option value="raise_cash" selected>' in page
    assert 'id="ins-symbol-2" name="ins_symbol" placeholder="e.g. BND" autocapitalize="characters" value="XYZ"' in page
    assert 'id="ins-buy-2" name="ins_buy" placeholder="e.g. AGG" autocapitalize="characters" value="VTI"' in page
    assert 'id="ins-amount-3" name="ins_amount" inputmode="decimal" placeholder="e.g. 5,000" value="2,500"' in page
    # ...once: opened again, the form is empty
    again = text(client.get(f"/proposals/{proposal.pk}/"))
    assert 'value="XYZ"' not in again and 'id="ins-action-2"' not in again


def test_a_colleague_may_not_edit_another_advisors_proposal(book, as_user, firm_a):
    proposal, trades = _pending(firm_a, book["theirs"][0])
    client = as_user("advisor")
    page = text(client.get(f"/proposals/{proposal.pk}/"))
    assert "Re-solve" not in page
    client.post(f"/proposals/{proposal.pk}/resolve/", {"drop": list(trades)[:1]})
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING
        assert not Proposal.objects.filter(revised_from=proposal).exists()

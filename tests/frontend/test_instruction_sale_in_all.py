"""An instruction to sell part of a fund, beside what the proposal sells of it in all and why the rest.

Found in a browser audit of the demo: "sell $1,000 of VEA" produced a $5,716.20 sale (the rest for
drift); the page's header still said "sell $1,000.00 of VEA", with only a small "Drift" reason tag
hinting why."""

import html
import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from frontend.views.proposals import instruction_sales_words
from rebalancing.models import Proposal, RebalanceRun

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_the_page_says_what_an_instructed_sale_sells_in_all_and_why_the_rest(book, as_user, firm_a):
    # Given an account holding XLE above its 12% target: 120 shares at $90, $10,800 of $58,400
    account = book["mine"][0]
    client = as_user("pm")

    # When a portfolio manager instructs "sell $900 of XLE" (10 shares)
    response = client.post(f"/accounts/{account.pk}/instruct/",
                           {"ins_action": ["sell"], "ins_symbol": ["XLE"], "ins_buy": [""], "ins_amount": ["900"]},
                           follow=True)

    # Then the proposal sells more - the rest brings XLE back to its target - and the page says so
    with tenant_context(firm_a):
        new = Proposal.objects.get(run__kind=RebalanceRun.Kind.INSTRUCTION, account=account)
    sale = next(t for t in new.result["trades"] if t["symbol"] == "XLE")
    total = Decimal(str(sale["value"])).quantize(Decimal("0.01"))
    assert sale["side"] == "sell" and total > 900 and "drift" in sale["reasons"]
    page = re.sub(r"<[^>]+>", "", text(response))  # the words, without the span that marks them
    assert ("A one-off instruction by Pm: sell $900.00 of XLE. The account's parameters were not changed. "
            f"The proposal sells ${total:,.2f} of XLE: $900.00 as instructed and ${total - 900:,.2f} to bring "
            "XLE back to its target.") in page


def test_the_words_of_the_audits_sale():
    # "sell $1,000 of VEA" that sold $5,716.20, the rest for drift (the audit's proposal)
    instructions = [{"kind": "sell_buy", "sell": "VEA", "buy": None, "amount": 1000.0}]
    trades = [{"symbol": "VEA", "side": "sell", "value": 5716.2, "price": 49.0, "reasons": ["instruction", "drift"]},
              {"symbol": "BND", "side": "buy", "value": 5716.2, "reasons": ["drift"]}]

    assert instruction_sales_words(instructions, trades) == [
        "sells $5,716.20 of VEA: $1,000.00 as instructed and $4,716.20 to bring VEA back to its target"]


@pytest.mark.parametrize("instruction", [
    {"kind": "sell_buy", "sell": "VEA", "buy": "VXUS"},  # all of it: nothing more to sell
    {"kind": "sell_buy", "sell": "VEA", "buy": None, "amount": 6000.0},  # sold less (whole shares, the holding)
    {"kind": "raise_cash", "amount": 1000.0},
])
def test_nothing_is_said_when_the_sale_is_what_was_instructed(instruction):
    trades = [{"symbol": "VEA", "side": "sell", "value": 5716.2, "reasons": ["instruction"]}]

    assert instruction_sales_words([instruction], trades) == []


def test_a_sale_of_shares_beyond_them_for_a_harvest():
    instructions = [{"kind": "sell_buy", "sell": "VEA", "quantity": 10.0}]
    trades = [{"symbol": "VEA", "side": "sell", "value": 2500.0, "price": 50.0, "reasons": ["instruction", "harvest"]}]

    assert instruction_sales_words(instructions, trades) == [
        "sells $2,500.00 of VEA: $500.00 as instructed and $2,000.00 to harvest its loss"]


def test_a_sale_less_than_a_share_beyond_the_amount_is_said_to_be_whole_share_rounding():
    # "sell $1,000 of BND" sold 14 whole shares at $71.70, $1,003.80: the $3.80 is rounding, not
    # the rebalance (which would buy BND, below its target)
    instructions = [{"kind": "sell_buy", "sell": "BND", "buy": None, "amount": 1000.0}]
    trades = [{"symbol": "BND", "side": "sell", "value": 1003.8, "price": 71.7, "reasons": ["instruction"]}]

    assert instruction_sales_words(instructions, trades) == [
        "sells $1,003.80 of BND: $1,000.00 as instructed and $3.80 from rounding up to a whole number of shares"]

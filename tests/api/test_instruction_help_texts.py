"""The published help of an instruction's fields says which actions take each field, as the service that
reads them decides it (``services.revisions.instructions_clean``): an `amount` is a sale's dollars or the
cash to raise, not "raise_cash only"."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.api.serializers.revisions import InstructionInSerializer, OneOffInstructionSerializer
from rebalancing.services.revisions import (
    INSTRUCTION_ACTIONS,
    ONE_OFF_ACTIONS,
    InstructionAdded,
    instructions_clean,
)
from tenants.errors import ValidationFailed

pytestmark = pytest.mark.django_db
SERIALIZERS = [pytest.param(InstructionInSerializer, INSTRUCTION_ACTIONS, id="proposal edit"),
               pytest.param(OneOffInstructionSerializer, ONE_OFF_ACTIONS, id="one-off instruction")]


def _refusal(actions: dict, instruction: InstructionAdded) -> str:
    """What the service says of the instruction ("" if it takes it as far as its shape goes)."""
    try:
        instructions_clean([instruction], [], 0, actions=actions)
    except ValidationFailed as refused:
        return str(refused)
    return ""


def _named(help_text: str) -> tuple[set[str], set[str]]:
    """(actions the help says use the field, actions it says refuse it): "sell, hold: ...; raise_cash:
    none (leave it out)" or "...; refused with liquidate and bring_to_model"."""
    used, refused = set(), set()
    for part in help_text.split(";"):
        part = part.strip()
        if part.startswith("refused with "):
            refused |= set(re.split(r", | and ", part.removeprefix("refused with ").rstrip(".")))
        elif ":" in part:
            names, what = part.split(":", 1)
            (refused if what.strip().startswith("none") else used).update(n.strip() for n in names.split(","))
    return used, refused


@pytest.mark.parametrize(("serializer", "actions"), SERIALIZERS)
def test_amount_help_names_the_actions_that_take_a_dollar_amount(firm_a, serializer, actions):
    help_text = serializer().fields["amount"].help_text
    with tenant_context(firm_a):
        takes = {a for a in actions if "an amount is for" not in _refusal(
            actions, InstructionAdded(a, symbol="VTI" if a in ("sell", "hold", "do_not_buy", "do_not_sell") else "",
                                      amount=Decimal("100")))}

    used, refused = _named(help_text)
    assert takes == {"sell", "raise_cash"}
    assert (used, refused) == (takes, set(actions) - takes), help_text
    assert "dollars" in help_text and "US dollars" in help_text


@pytest.mark.parametrize(("serializer", "actions"), SERIALIZERS)
def test_symbol_help_names_the_actions_that_need_a_security(firm_a, serializer, actions):
    help_text = serializer().fields["symbol"].help_text
    with tenant_context(firm_a):
        needs = {a for a in actions if "name the security" in _refusal(
            actions, InstructionAdded(a, amount=Decimal("100") if a == "raise_cash" else None))}
        refuses = {a for a in actions if "names no security" in _refusal(
            actions, InstructionAdded(a, symbol="VTI", amount=Decimal("100") if a == "raise_cash" else None))}

    assert _named(help_text) == (needs, refuses), help_text
    assert needs | refuses == set(actions)


@pytest.mark.parametrize(("serializer", "actions"), SERIALIZERS)
def test_buy_help_says_only_a_sale_buys(firm_a, serializer, actions):
    help_text = serializer().fields["buy"].help_text
    with tenant_context(firm_a):
        said = {a: _refusal(actions, InstructionAdded(
            a, symbol="" if a in ("raise_cash", "liquidate", "bring_to_model") else "VTI", buy="BND",
            amount=Decimal("100") if a == "raise_cash" else None)) for a in actions}
    refuses = {a for a, refusal in said.items() if "only a sale buys" in refusal or "names no security" in refusal}

    assert refuses == set(actions) - {"sell"}
    assert help_text.startswith("sell only") and "refused with any other action" in help_text

"""A proposal's alerts say their dollars with the sign, as alerts/ says them (services.runs writes the
Alert rows through the same rule); the engine states them bare, and ``amount`` stays the number."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

from .conftest import API

pytestmark = pytest.mark.django_db


def test_a_proposal_s_money_alerts_show_dollars_and_keep_their_amount(firm_a, people, book, client_for):
    # Given a proposal whose engine result carries alerts as the engine words them
    proposal = book["own_proposal"]
    engine_alerts = [
        {"code": "wash_sale_disallowed", "symbol": None, "amount": 2000.0,
         "message": "2,000.00 of losses are disallowed by wash sales (allowed by wash_sale.allow)"},
        {"code": "tax_limit_exceeded", "symbol": None, "amount": 5596.15,
         "message": "the proposal realises 6,596.15 of net gains, above the per run limit of 1,000.00"},
        {"code": "max_names_exceeded", "symbol": None, "amount": 12.0,
         "message": "sleeve us_equity holds 12 names, above its maximum of 10 (selling the rest would break the "
                    "limit on net realised gain or a restriction)"},
    ]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=proposal.pk).update(result={**proposal.result, "alerts": engine_alerts})

    # When the API shows it
    shown = client_for(firm_a, people["advisor"]).get(f"{API}/proposals/{proposal.pk}/").json()["alerts"]

    # Then the dollar figures carry their sign; counts and the structured amount are as the engine gave them
    assert [(a["code"], a["message"], a["amount"]) for a in shown] == [
        ("wash_sale_disallowed", "$2,000.00 of losses are disallowed by wash sales (allowed by wash_sale.allow)",
         2000.0),
        ("tax_limit_exceeded", "the proposal realises $6,596.15 of net gains, above the per run limit of $1,000.00",
         5596.15),
        ("max_names_exceeded", engine_alerts[2]["message"], 12.0),
    ]

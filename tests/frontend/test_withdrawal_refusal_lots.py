"""A withdrawal the household cannot fund names the lots it could not sell (a loss bought again
within 30 days): the first five, then how many more - not dozens in one paragraph."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Security, TaxLot
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

pytestmark = pytest.mark.django_db


def test_a_refused_withdrawal_names_five_unsold_lots_and_counts_the_rest(firm_a, people, as_user):
    # Given the Lees' joint account holding 12 BND lots bought on 12 days of the last 30, each at a
    # loss (each the others' replacement: one day's lots of an account would be one purchase, whose
    # shares do not replace each other, Rev. Rul. 56-602)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        lees = make_unit_household(advisor=people["advisor"])
        bnd = Security.objects.get(symbol="BND")
        for n in range(12):
            TaxLot.objects.create(account=lees["joint"], lot_id=f"BND-NEW-{n:02d}", security=bnd,
                                  quantity=Decimal(10), cost_basis=Decimal(2000),
                                  acquired=timezone.localdate() - timedelta(days=3 + n))

    # When the advisor asks for far more than the household holds
    answer = as_user("advisor").post(f"/households/{lees['household'].pk}/cash-flows/",
                                     {"kind": "withdrawal", "amount": "1000000000"}, follow=True)

    # Then the refusal says what it can raise, names five of the 13 lots not sold (the book's own BND lot
    # is at a loss too) and counts the other 8
    page = html.unescape(re.sub(r"\s+", " ", answer.content.decode()))
    assert "the household can raise only" in page
    named = re.findall(r"lot [\w-]+ of BND in LEE-JT", page)
    assert len(named) == 5, named
    assert "; and 8 more lots not sold for the same reason" in page

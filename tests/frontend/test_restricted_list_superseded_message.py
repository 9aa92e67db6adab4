"""The restricted list page says how many open proposals an entry binding today superseded."""

import html
import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal

pytestmark = pytest.mark.django_db


def test_adding_an_entry_says_how_many_open_proposals_gave_way(firm_a, book, as_user):
    with tenant_context(firm_a):
        Proposal.objects.update(result={"trades": []})
        buying = Proposal.objects.order_by("pk").first()
        Proposal.objects.filter(pk=buying.pk).update(status=Proposal.Status.PENDING, result={"trades": [
            {"symbol": "VTI", "side": "buy", "quantity": 55, "price": 100, "value": 5500, "reasons": ["drift"]}]})
    answer = as_user("compliance").post("/restricted/", {
        "action": "add", "symbol": "VTI", "restriction": "do_not_buy", "reason": "Deal team on the issuer",
        "starts_on": timezone.localdate().isoformat(), "until": ""}, follow=True)
    page = re.sub(r"\s+", " ", html.unescape(answer.content.decode()))
    assert ("VTI is on the restricted list (do not buy). 1 open proposal trading it against the entry was "
            "superseded: the next run proposes again.") in page
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=buying.pk).status == Proposal.Status.SUPERSEDED

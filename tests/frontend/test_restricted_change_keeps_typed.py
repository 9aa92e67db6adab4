"""A refused change of a restricted-list entry must come back with what was typed
(frontend.md "A refused form keeps what was typed"); it came back with the stored values."""

import html
import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import RestrictedSecurity

pytestmark = pytest.mark.django_db

PAGE = "/restricted/"


def test_a_refused_change_keeps_the_typed_reason_and_until(firm_a, book, as_user):
    client = as_user("compliance")
    today = timezone.localdate().isoformat()
    assert client.post(PAGE, {"action": "add", "symbol": "VTI", "restriction": "do_not_buy",
                              "reason": "Deal team on the issuer", "starts_on": today, "until": ""}).status_code == 302
    with tenant_context(firm_a):
        entry = RestrictedSecurity.objects.get()
    response = client.post(PAGE, {"action": "change", "entry": entry.pk, "restriction": "do_not_trade",
                                  "reason": "Extended review of the deal", "starts_on": "2026-12-10",
                                  "until": "2026-12-01"})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    form = re.search(rf'id="c-reason-{entry.pk}"[^>]*>([^<]*)</textarea>', page)
    assert form is not None and form.group(1) == "Extended review of the deal"
    assert re.search(rf'id="c-until-{entry.pk}"[^>]*value="2026-12-01"', page)


def test_a_refused_lift_keeps_the_typed_reason_and_stays_open(firm_a, book, as_user):
    client = as_user("compliance")
    today = timezone.localdate().isoformat()
    assert client.post(PAGE, {"action": "add", "symbol": "VTI", "restriction": "do_not_buy",
                              "reason": "Deal team on the issuer", "starts_on": today, "until": ""}).status_code == 302
    with tenant_context(firm_a):
        entry = RestrictedSecurity.objects.get()
    typed = "The deal closed\u200b"  # a hidden character: refused, naming it
    response = client.post(PAGE, {"action": "lift", "entry": entry.pk, "lift_reason": typed})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    lift = re.search(rf'<details open><summary>Lift</summary>.*?id="l-reason-{entry.pk}"[^>]*>([^<]*)</textarea>', page,
                     re.S)
    assert lift is not None and lift.group(1) == typed

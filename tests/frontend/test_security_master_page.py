"""The security master is read in the browser (it was only in the API): search, asset class,
pages of 50, the latest price."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Price, Security

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_security_master_is_linked_searched_filtered_and_shows_the_latest_price(book, as_user, firm_a):
    with tenant_context(firm_a):
        zzz = Security.objects.create(symbol="ZZZQ", name="Quiet Bond Fund", asset_class="zz_bonds", is_fund=True)
        Price.objects.create(security=zzz, date=dt.date(2026, 1, 2), close=Decimal("10.50"))
        Price.objects.create(security=zzz, date=dt.date(2026, 1, 5), close=Decimal("11.25"))
        others = list(Security.objects.exclude(pk=zzz.pk).values_list("symbol", flat=True))
    client = as_user("advisor")

    assert 'href="/securities/"' in text(client.get("/templates/"))
    page = text(client.get("/securities/"))
    assert "ZZZQ" in page and all(symbol in page for symbol in others[:5])

    found = text(client.get("/securities/", {"q": "quiet bond"}))
    assert "ZZZQ" in found and "11.25" in found and "2026-01-05" in found and "10.50" not in found
    assert not any(f"<strong>{symbol}</strong>" in found for symbol in others)
    by_class = text(client.get("/securities/", {"asset_class": "zz_bonds"}))
    assert "<strong>ZZZQ</strong>" in by_class and not any(f"<strong>{s}</strong>" in by_class for s in others)
    assert "No security matches." in text(client.get("/securities/", {"q": "nothing-like-this"}))


def test_a_large_security_master_comes_in_pages_of_50(book, as_user, firm_a):
    with tenant_context(firm_a):
        Security.objects.bulk_create(Security(symbol=f"ZP{i:03d}", name=f"Paged {i}", asset_class="zz_paged")
                                     for i in range(120))
    client = as_user("admin")

    first = text(client.get("/securities/", {"asset_class": "zz_paged"}))
    third = text(client.get("/securities/", {"asset_class": "zz_paged", "page": 3}))

    assert first.count("<strong>ZP") == 50 and "Page 1 of 3 · 120 in all" in first
    assert third.count("<strong>ZP") == 20 and "ZP119" in third and "ZP000" not in third

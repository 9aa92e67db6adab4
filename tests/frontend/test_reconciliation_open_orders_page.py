"""The reconciliation page names, on each account, the released sales still open whose lots the
custodian's would change, and disables accepting it (and accepting all); a posted accept is refused
with the same words and changes nothing."""

import html
import re
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.models import ReconciliationAccount, TaxLot
from tests.ledger.helpers import release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_an_account_whose_lots_an_open_sale_names_cannot_be_accepted_on_the_page(firm_a, book, people, as_user):
    blocked, free = book["mine"]
    with tenant_context(firm_a):
        [order] = release(blocked, [sell("VTI", 50, 100.0, [("F-000-L1", 50)])], pm=people["pm"], as_of=AS_OF)
        reconciliation = reconciliation_import(source=(
            b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
            b"F-000,F-000-L1,VTI,280,16800,2019-03-04\n"
            b"F-001,F-001-L1,VTI,320,18000,2019-03-04\n"), actor="test", as_of=AS_OF, file_name="positions.csv")
        entry = ReconciliationAccount.objects.get(reconciliation=reconciliation, account=blocked)
    admin = as_user("admin")
    url = f"/ledger/reconciliations/{reconciliation.pk}/"

    page = admin.get(url).content.decode()
    flat = text(admin.get(url))
    assert (f"Order {order.order_id} still sells 50 shares of lot F-000-L1; the custodian's lot holds 280 and "
            "its cost basis differs.") in flat
    assert re.search(rf'value="accept" class="primary" disabled aria-describedby="open-sales-{entry.pk}"', page)
    assert re.search(r'class="primary" disabled aria-describedby="blocked-all">Accept all 2', page)
    assert "1 account waiting cannot be accepted yet" in flat
    assert page.count('aria-describedby="open-sales-') == 1  # F-001 has no open sale: its button stays

    refused = admin.post(f"{url}decide/", {"decision": "accept", "account": blocked.pk}, follow=True)
    accepted = admin.post(f"{url}decide/", {"decision": "accept", "account": free.pk}, follow=True)

    assert "would change lots that released orders still sell" in text(refused)
    assert f"order {order.order_id} still sells 50 shares of lot F-000-L1" in text(refused)
    assert "1 account accepted" in text(accepted)
    with tenant_context(firm_a):
        assert TaxLot.objects.get(account=blocked, lot_id="F-000-L1").quantity == 300
        assert ReconciliationAccount.objects.get(pk=entry.pk).decision == "pending"
        assert TaxLot.objects.get(account=free, lot_id="F-001-L1").quantity == 320

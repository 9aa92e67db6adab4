"""Compliance reviews trades: it reads the risk model (the version a proposal names) and the position
files compared with the ledger, on the pages and through the API, and changes neither: estimating a
version needs the run capability, comparing or deciding a file the import capability. Every role that
may read the restricted list finds it in the navigation."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.models import ReconciliationAccount, RiskModelEstimate, RiskModelVersion
from rebalancing.services.risk_models import risk_model_estimate
from tenants.permissions import ROLE_CAPABILITIES, Capability
from tenants.roles import FirmRole

from ..rebalancing.test_risk_models import _prices
from .test_ledger_pages import text

pytestmark = pytest.mark.django_db
API = "/api/v1"
AS_OF = date(2026, 11, 20)


@pytest.fixture
def version(firm_a):
    with tenant_context(firm_a):
        _prices(11, 130, end=date.today())
        return risk_model_estimate(as_of=date.today()).version


@pytest.fixture
def reconciliation(firm_a, book):
    positions = (b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                 b"F-000,F-000-L1,VTI,999,18000,2019-03-04\n")
    with tenant_context(firm_a):
        return reconciliation_import(source=positions, actor="test", as_of=AS_OF, file_name="positions.csv")


def test_the_reading_capabilities_belong_to_compliance_and_to_those_who_change_what_they_read():
    holders = {cap: {role for role, caps in ROLE_CAPABILITIES.items() if cap in caps}
               for cap in (Capability.VIEW_RISK_MODEL, Capability.VIEW_RECONCILIATIONS)}
    firm_wide = {FirmRole.FIRM_ADMIN, FirmRole.PORTFOLIO_MANAGER, FirmRole.COMPLIANCE}
    assert holders == {Capability.VIEW_RISK_MODEL: firm_wide, Capability.VIEW_RECONCILIATIONS: firm_wide}


def test_compliance_reads_the_risk_model_on_its_page_and_through_the_api_but_estimates_nothing(
        firm_a, version, as_user):
    client = as_user("compliance")

    page = client.get("/risk-model/")
    assert page.status_code == 200
    assert f"#{version.pk}" in text(page) and "Refresh now" not in text(page)
    assert 'href="/risk-model/"' in text(page)  # in its navigation
    assert client.get(f"{API}/risk-models/").json()["count"] == 1
    assert client.get(f"{API}/risk-models/{version.pk}/").json()["id"] == version.pk
    assert client.get(f"{API}/risk-model-estimates/").status_code == 200

    assert client.post("/risk-model/").status_code == 403
    refused = client.post(f"{API}/risk-models/estimate/", content_type="application/json")
    assert refused.status_code == 403
    with tenant_context(firm_a):
        assert RiskModelVersion.objects.count() == 1 and not RiskModelEstimate.objects.exists()


def test_compliance_reads_reconciliations_on_their_pages_and_through_the_api_but_decides_nothing(
        firm_a, reconciliation, as_user):
    client = as_user("compliance")
    pk = reconciliation.pk

    listed = client.get("/ledger/reconciliations/")
    assert listed.status_code == 200
    assert f"Reconciliation {pk}" in text(listed) and "Compare a position file" not in text(listed)
    assert 'href="/ledger/reconciliations/"' in text(client.get("/ledger/orders/"))  # in the ledger's tabs
    detail = client.get(f"/ledger/reconciliations/{pk}/")
    assert detail.status_code == 200 and "F-000" in text(detail)
    assert "Accept the custodian" not in text(detail)
    assert client.get(f"{API}/reconciliations/").json()["count"] == 1
    assert client.get(f"{API}/reconciliations/{pk}/").status_code == 200

    with tenant_context(firm_a):
        account = ReconciliationAccount.objects.get(reconciliation=reconciliation, decision="pending").account_id
    writes = [
        client.post("/ledger/reconciliations/", {}),
        client.post(f"/ledger/reconciliations/{pk}/decide/", {"decision": "accept", "account": account}),
        client.post(f"{API}/reconciliations/{pk}/accept/", {"accounts": [account]}, content_type="application/json"),
        client.post(f"{API}/reconciliations/{pk}/reject/", {"accounts": [account]}, content_type="application/json"),
    ]
    assert [w.status_code for w in writes] == [403] * 4
    with tenant_context(firm_a):
        assert ReconciliationAccount.objects.get(reconciliation=reconciliation, account_id=account).decision == "pending"


@pytest.mark.parametrize("who", ["advisor", "pm", "compliance", "admin"])
def test_every_role_that_reads_the_restricted_list_finds_it_in_the_navigation(who, as_user):
    client = as_user(who)
    assert client.get("/restricted/").status_code == 200
    assert 'href="/restricted/"' in text(client.get("/"))


@pytest.mark.parametrize("who", ["advisor"])
def test_who_reads_neither_finds_no_link_and_is_refused(firm_a, who, version, reconciliation, as_user):
    client = as_user(who)
    home = text(client.get("/"))
    assert 'href="/risk-model/"' not in home
    assert client.get("/risk-model/").status_code == 403
    assert client.get(f"{API}/risk-models/").status_code == 403
    assert client.get("/ledger/reconciliations/").status_code == 403
    assert client.get(f"{API}/reconciliations/{reconciliation.pk}/").status_code == 403

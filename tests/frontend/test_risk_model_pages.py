"""The risk model page (versions, refresh now) and where proposals and accounts say which was used."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RiskModelVersion
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from ..rebalancing.test_risk_models import _prices, direct_indexed_proposal

pytestmark = pytest.mark.django_db


def test_a_portfolio_manager_refreshes_the_risk_model_and_sees_its_versions(firm_a, firm_user, client_for):
    pm = firm_user(firm_a, "pm-page@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    client = client_for(firm_a, pm)

    empty = client.get("/risk-model/")
    refused = client.post("/risk-model/", follow=True)
    with tenant_context(firm_a):
        _prices(11, 130, end=date.today())
    refreshed = client.post("/risk-model/", follow=True)
    unchanged = client.post("/risk-model/", follow=True)

    assert empty.status_code == 200 and b"No version yet" in empty.content
    assert b"none has been estimated" in empty.content
    assert b"needs prices on at least 61 days" in refused.content
    with tenant_context(firm_a):
        version = RiskModelVersion.objects.get()
        audited = AuditEvent.objects.filter(action="risk_model.estimate", object_id=str(version.pk)).count()
    assert refreshed.status_code == 200 and f"Risk model #{version.pk} as of".encode() in refreshed.content
    assert b"in use" in refreshed.content and b"Annual volatility" in refreshed.content
    assert f"The prices have not changed since risk model #{version.pk}".encode() in unchanged.content
    assert audited == 1


@pytest.mark.parametrize("role", [FirmRole.ADVISOR, FirmRole.COMPLIANCE])
def test_other_roles_cannot_see_or_refresh_it(firm_a, firm_user, client_for, role):
    user = firm_user(firm_a, f"{role}-page@firm-a.example", role)
    client = client_for(firm_a, user)
    assert client.get("/risk-model/").status_code == 403
    assert client.post("/risk-model/").status_code == 403
    with tenant_context(firm_a):
        assert not RiskModelVersion.objects.exists()


@pytest.mark.parametrize("estimate", [True, False])
def test_proposal_and_account_pages_show_tracking_error_with_cash_drag_and_the_model_used(
        firm_a, firm_user, client_for, django_capture_on_commit_callbacks, estimate):
    pm = firm_user(firm_a, "pm-te@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a), django_capture_on_commit_callbacks(execute=False):
        proposal = direct_indexed_proposal(pm, estimate=estimate)
    client = client_for(firm_a, pm)

    page = client.get(f"/proposals/{proposal.pk}/").content.decode()
    account = client.get(f"/accounts/{proposal.account_id}/").content.decode()

    for html in (page, account):
        assert "Tracking error with cash drag, us equity" in html
        if estimate:
            assert f"the firm's risk model #{proposal.risk_model_version_id} as of 2026-11-20" in html
        else:
            assert "the engine&#x27;s default risk model: none has been estimated" in html

"""The risk model page (versions, refresh now in a worker, the estimate under way then its outcome) and where proposals and accounts say which was used."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RiskModelEstimate, RiskModelVersion
from rebalancing.services.risk_models import risk_model_estimate_execute
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from ..rebalancing.test_risk_models import _prices, direct_indexed_proposal

pytestmark = pytest.mark.django_db


def _worker(firm) -> None:
    """What the worker does with the estimate under way."""
    with tenant_context(firm):
        risk_model_estimate_execute(estimate_id=RiskModelEstimate.objects.get(status="queued").pk)


def test_a_portfolio_manager_refreshes_the_risk_model_watches_it_and_sees_its_outcome(
        firm_a, firm_user, client_for, django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm-page@firm-a.example", FirmRole.PORTFOLIO_MANAGER)
    client = client_for(firm_a, pm)

    empty = client.get("/risk-model/")
    assert empty.status_code == 200 and b"No version yet" in empty.content
    assert b"none has been estimated" in empty.content and b'id="risk-model-estimate"' not in empty.content

    # Refresh now with too few prices: under way at once, then the error naming what is missing
    with django_capture_on_commit_callbacks() as queued:
        started = client.post("/risk-model/", follow=True)
    html = started.content.decode()
    assert len(queued) == 1 and 'data-status="queued"' in html and "Estimate under way" in html
    assert 'hx-trigger="every 2s"' in html and "This updates by itself" in html
    polled = client.get("/risk-model/", HTTP_HX_REQUEST="true")
    assert polled.status_code == 200 and b'hx-trigger="every 2s"' in polled.content and "HX-Refresh" not in polled
    _worker(firm_a)
    finished = client.get("/risk-model/", HTTP_HX_REQUEST="true")
    assert finished["HX-Refresh"] == "true"  # the poll reloads the page with the outcome
    failed = client.get("/risk-model/").content.decode()
    assert 'data-status="failed"' in failed and "hx-trigger" not in failed
    assert "failed: a risk model needs prices on at least 61 days" in failed

    with tenant_context(firm_a):
        _prices(11, 130, end=date.today())
    with django_capture_on_commit_callbacks() as queued:
        client.post("/risk-model/")
        again = client.post("/risk-model/", follow=True)  # while the first is under way
    assert len(queued) == 1 and b"An estimate is already under way" in again.content
    _worker(firm_a)
    refreshed = client.get("/risk-model/")
    with django_capture_on_commit_callbacks():
        client.post("/risk-model/")
    _worker(firm_a)
    unchanged = client.get("/risk-model/")

    with tenant_context(firm_a):
        version = RiskModelVersion.objects.get()
        audited = AuditEvent.objects.filter(action="risk_model.estimate", object_id=str(version.pk)).count()
        assert RiskModelEstimate.objects.count() == 3
    html = refreshed.content.decode()
    assert refreshed.status_code == 200 and 'data-status="completed"' in html and "New version" in html
    assert f"risk model #{version.pk} as of" in html and "runs from now on track with it" in html
    assert "in use" in html and "Annual volatility" in html
    assert f"unchanged: the same prices give the same version, risk model #{version.pk}" in unchanged.content.decode()
    assert audited == 1


def test_the_page_shows_how_last_nights_refresh_went_beside_the_estimates_people_asked_for(
        firm_a, firm_user, client_for):
    from rebalancing.services.risk_models import risk_model_refresh_nightly

    admin = firm_user(firm_a, "admin-nightly@firm-a.example", FirmRole.FIRM_ADMIN, first_name="Ada", last_name="Hale")
    client = client_for(firm_a, admin)
    with tenant_context(firm_a):
        night = risk_model_refresh_nightly(as_of=date.today())  # no prices at all
    html = client.get("/risk-model/").content.decode()
    # the latest estimate says who and why, and the recent estimates list it
    assert "Latest estimate (the nightly refresh," in html
    assert f"failed: a risk model needs prices on at least 61 days up to {date.today():%Y-%m-%d}; the firm has 0" in html
    assert 'id="risk-model-estimates"' in html and 'data-origin="nightly" data-status="failed"' in html

    with tenant_context(firm_a):
        _prices(11, 130, end=date.today())
        asked = RiskModelEstimate.objects.create(as_of=date.today(), window_days=126, created_by=admin)
        risk_model_estimate_execute(estimate_id=asked.pk)
        version = RiskModelVersion.objects.get()
        risk_model_refresh_nightly(as_of=date.today())
    html = client.get("/risk-model/").content.decode()
    rows = html[html.index('id="risk-model-estimates"'):].split("</tbody>")[0].split("<tr ")[1:]
    assert len(rows) == 3  # newest first: the night unchanged, Ada's new version, the failed night
    assert 'data-origin="nightly"' in rows[0] and f"unchanged (#{version.pk})" in rows[0]
    assert 'data-origin="request"' in rows[1] and "Ada Hale" in rows[1] and f"new version #{version.pk}" in rows[1]
    assert night.error in rows[2]


# Compliance reads the page but does not refresh it (tests/frontend/test_newcomer_compliance_reads.py).
@pytest.mark.parametrize("role", [FirmRole.ADVISOR])
def test_other_roles_cannot_see_or_refresh_it(firm_a, firm_user, client_for, role):
    user = firm_user(firm_a, f"{role}-page@firm-a.example", role)
    client = client_for(firm_a, user)
    assert client.get("/risk-model/").status_code == 403
    assert client.post("/risk-model/").status_code == 403
    assert client.get("/risk-model/", HTTP_HX_REQUEST="true").status_code == 403
    with tenant_context(firm_a):
        assert not RiskModelVersion.objects.exists() and not RiskModelEstimate.objects.exists()


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

"""Backtests through the API: start one, follow it, read its report, download its CSV."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Backtest
from rebalancing.services.backtests import backtest_execute
from tenants.audit.models import AuditEvent

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db

BODY = {"name": "Prospect", "start": "2008-06-30", "years": 1, "amount": "250000"}


def test_a_backtest_started_with_a_read_key_is_queued_replayed_and_downloadable(
        firm_a, people, api_key, django_capture_on_commit_callbacks):
    client = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    with django_capture_on_commit_callbacks() as queued:
        started = client.post(f"{API}/backtests/", BODY, content_type="application/json")
    assert started.status_code == 201, started.content
    body = started.json()
    assert (body["status"], body["basket"], body["prices"], body["years"]) == ("queued", "sample", "sample", 1)
    assert len(queued) == 1 and len(body["weights"]) == 20
    # the CSV waits for the figures
    early = client.get(f"{API}/backtests/{body['id']}/csv/")
    assert early.status_code == 409 and error_of(early)["detail"]["status"] == "queued"

    with tenant_context(firm_a):
        backtest_execute(backtest_id=body["id"])
    detail = client.get(f"{API}/backtests/{body['id']}/").json()
    assert detail["status"] == "completed" and detail["progress"] == 1.0
    assert detail["report"]["groups"]["all"]["engine"]["wash_sales"] == 0
    assert "report" not in client.get(f"{API}/backtests/").json()["results"][0]

    download = client.get(f"{API}/backtests/{body['id']}/csv/")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    lines = download.content.decode().splitlines()
    assert lines[0].startswith("level,cohort_start,period_start,period_end,strategy") and len(lines) > 3
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="export.download", object_id="backtest").exists()


def test_bad_requests_name_the_problem(firm_a, people, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))
    cases = [
        ({**BODY, "years": 0}, "years"),
        ({**BODY, "basket": "model"}, "model"),
        ({**BODY, "template": "no-such"}, "template"),
        ({**BODY, "short_term_rate": "1.5"}, "short_term_rate"),
    ]
    for body, field in cases:
        response = client.post(f"{API}/backtests/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert field in str(error_of(response)["detail"])
    beyond = client.post(f"{API}/backtests/", {**BODY, "start": "2020-06-30", "years": 5},
                         content_type="application/json")
    assert beyond.status_code == 400 and "Prices cover" in error_of(beyond)["message"]
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()


def test_an_advisor_cannot_read_a_colleagues_backtest(firm_a, people, api_key, django_capture_on_commit_callbacks):
    mine = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    theirs = key_client(firm_a, api_key(firm_a, people["colleague"], scopes=["read"]))
    with django_capture_on_commit_callbacks():
        created = mine.post(f"{API}/backtests/", BODY, content_type="application/json").json()
    assert theirs.get(f"{API}/backtests/{created['id']}/").status_code == 404
    assert theirs.get(f"{API}/backtests/{created['id']}/csv/").status_code == 404
    assert theirs.get(f"{API}/backtests/").json()["results"] == []
    nobody = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["import"]))
    assert nobody.post(f"{API}/backtests/", BODY, content_type="application/json").status_code == 403


def test_another_firms_backtest_is_not_found(firm_a, firm_b, people, firm_user, api_key,
                                             django_capture_on_commit_callbacks):
    from tenants.roles import FirmRole

    with django_capture_on_commit_callbacks():
        created = key_client(firm_a, api_key(firm_a, people["pm"])).post(
            f"{API}/backtests/", BODY, content_type="application/json").json()
    other = firm_user(firm_b, "pm@b.example", FirmRole.PORTFOLIO_MANAGER)
    client_b = key_client(firm_b, api_key(firm_b, other))
    assert client_b.get(f"{API}/backtests/{created['id']}/").status_code == 404


def test_an_amount_too_large_to_replay_is_refused_with_400_not_queued_to_fail(firm_a, people, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))
    response = client.post(f"{API}/backtests/", {**BODY, "amount": "50000000000000"}, content_type="application/json")
    # before: 201, then the worker failed it ("the amount must be positive (and below 10^12)")
    assert response.status_code == 400, response.content
    assert "amount" in str(error_of(response)["detail"]) and "100000000000" in error_of(response)["message"]
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()


def test_another_firms_template_code_is_unknown_here(firm_a, firm_b, people, api_key):
    from rebalancing.models import ParameterTemplate

    with tenant_context(firm_b):
        ParameterTemplate.objects.create(code="b-only", name="Firm B's harvesting", parameters={})
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))
    response = client.post(f"{API}/backtests/", {**BODY, "template": "b-only"}, content_type="application/json")
    assert response.status_code == 400 and "template" in str(error_of(response)["detail"])
    with tenant_context(firm_a):
        assert not Backtest.objects.exists()

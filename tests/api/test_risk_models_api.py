"""The firm's risk model through the API: its versions (what the nightly refresh or a person
recorded, which one is in use) and estimating one now - started at once, followed until its outcome -
with the Risk model page's rule."""

import math
from datetime import date, timedelta

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RiskModelEstimate, RiskModelVersion
from rebalancing.services.risk_models import (
    risk_model_estimate,
    risk_model_estimate_execute,
    risk_model_refresh_nightly,
)
from tenants.audit.models import AuditEvent

from ..rebalancing.test_risk_models import STOCKS, _prices, direct_indexed_proposal
from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def _estimate(client, **headers):
    return client.post(f"{API}/risk-models/estimate/", content_type="application/json", headers=headers)


def _worker(firm, answer) -> None:
    """What the worker does with the estimate an answer names."""
    with tenant_context(firm):
        risk_model_estimate_execute(estimate_id=answer.json()["id"])


def test_a_portfolio_manager_estimates_one_now_follows_it_and_sees_which_version_is_in_use(
        firm_a, people, client_for, django_capture_on_commit_callbacks):
    client = client_for(firm_a, people["pm"])
    today = date.today()
    with django_capture_on_commit_callbacks() as queued:
        too_early = _estimate(client)
    _worker(firm_a, too_early)
    with tenant_context(firm_a):
        last_day = _prices(11, 200, end=today)["dates"][-1]
        night = risk_model_refresh_nightly(as_of=today - timedelta(days=50))  # as the nightly job did then
        nightly = night.version

    with django_capture_on_commit_callbacks() as queued_too:
        started = _estimate(client)
    waiting = client.get(started["Location"]).json()
    _worker(firm_a, started)
    done = client.get(started["Location"]).json()
    with django_capture_on_commit_callbacks():
        again = _estimate(client)
    _worker(firm_a, again)
    unchanged = client.get(again["Location"]).json()
    listed = client.get(f"{API}/risk-models/").json()
    detail = client.get(f"{API}/risk-models/{nightly.pk}/").json()
    estimates = client.get(f"{API}/risk-model-estimates/").json()

    # too little history: the estimate starts, then fails naming what is missing
    assert too_early.status_code == 202 and len(queued) == 1
    failed = client.get(too_early["Location"]).json()
    assert (failed["status"], failed["error_code"], failed["version"]) == (
        "failed", "insufficient_price_history", None)
    assert failed["error"].startswith("a risk model needs prices on at least 61 days")
    # started: 202 at once, to follow at the Location
    assert started.status_code == 202 and len(queued_too) == 1, started.content
    assert started["Location"] == f"{API}/risk-model-estimates/{started.json()['id']}/"
    assert (waiting["status"], waiting["outcome"], waiting["version"]) == ("queued", "", None)
    assert waiting["started_by"] == people["pm"].username and waiting["window_days"] == 126
    assert (done["status"], done["outcome"], done["error"]) == ("completed", "new", "")
    version = client.get(f"{API}/risk-models/{done['version']}/").json()
    assert version["in_use"] is True and version["estimated_by"] == people["pm"].username
    assert (version["observations"], version["window_days"], version["securities"], version["method"]) == (
        126, 126, len(STOCKS), "ledoit_wolf")
    assert version["as_of"] == str(last_day)
    # the same prices: no second version
    assert (unchanged["status"], unchanged["outcome"], unchanged["version"]) == ("completed", "unchanged", version["id"])
    assert [e["id"] for e in estimates["results"]] == [again.json()["id"], started.json()["id"], night.pk,
                                                       too_early.json()["id"]]
    assert [(e["origin"], e["started_by"]) for e in estimates["results"]][1:3] == [
        ("request", people["pm"].username), ("nightly", None)]
    with tenant_context(firm_a):
        assert RiskModelVersion.objects.count() == 2
        assert AuditEvent.objects.filter(action="risk_model.estimate", object_id=str(version["id"]),
                                         actor=people["pm"].username).count() == 1
    # Newest first; the nightly version, over 31 days old, is no longer the one runs use.
    assert [(v["id"], v["in_use"], v["estimated_by"]) for v in listed["results"]] == [
        (version["id"], True, people["pm"].username), (nightly.pk, False, None)]
    assert listed["count"] == 2 and "risks" not in listed["results"][0]
    assert detail["as_of"] == str(nightly.as_of) and detail["factor_count"] == nightly.factor_count
    volatilities = [r["volatility"] for r in detail["risks"]]
    assert {r["symbol"] for r in detail["risks"]} == set(STOCKS) and volatilities == sorted(volatilities)[::-1]
    assert all(0 < v < 1 for v in volatilities)


# Compliance reads the versions but does not estimate (tests/frontend/test_newcomer_compliance_reads.py).
@pytest.mark.parametrize("role", ["advisor", "nobody"])
def test_those_who_do_not_run_rebalances_neither_see_nor_estimate_it(firm_a, people, client_for, role):
    with tenant_context(firm_a):
        _prices(11, 130, end=date.today())
        version = risk_model_estimate(as_of=date.today()).version
        estimate = RiskModelEstimate.objects.create(as_of=date.today(), window_days=126, created_by=people["pm"])
    client = client_for(firm_a, people[role])

    answers = [client.get(f"{API}/risk-models/"), client.get(f"{API}/risk-models/{version.pk}/"), _estimate(client),
               client.get(f"{API}/risk-model-estimates/"), client.get(f"{API}/risk-model-estimates/{estimate.pk}/")]

    assert [a.status_code for a in answers] == [403] * 5
    assert {error_of(a)["code"] for a in answers} == {"permission_denied"}
    with tenant_context(firm_a):
        assert RiskModelVersion.objects.count() == 1 and RiskModelEstimate.objects.count() == 1


def test_a_key_needs_the_run_scope_to_estimate_and_a_firm_admin_asking_meanwhile_gets_the_same_one(
        firm_a, people, client_for, api_key, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        _prices(11, 130, end=date.today())
    reader = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))
    runner = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"], name="runner"))

    with django_capture_on_commit_callbacks() as queued:
        listed = reader.get(f"{API}/risk-models/")
        refused = _estimate(reader)
        first = _estimate(runner, **{"Idempotency-Key": "risk-2026-12-02"})
        replayed = _estimate(runner, **{"Idempotency-Key": "risk-2026-12-02"})
        by_admin = _estimate(client_for(firm_a, people["admin"]))
    followed = reader.get(first["Location"])

    assert listed.status_code == 200 and listed.json()["count"] == 0
    assert refused.status_code == 403 and error_of(refused)["detail"] == {"scope": "run"}
    assert first.status_code == 202 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()
    # one under way: the admin is answered with it, nothing new is queued
    assert by_admin.status_code == 202 and by_admin.json() == first.json() and len(queued) == 1
    assert by_admin["Location"] == first["Location"]
    assert followed.status_code == 200 and followed.json()["status"] == "queued"  # reading needs only "read"
    with tenant_context(firm_a):
        assert RiskModelEstimate.objects.count() == 1


def test_another_firms_version_and_estimate_are_not_found(firm_a, firm_b, people, client_for):
    with tenant_context(firm_b):
        _prices(11, 130, end=date.today())
        theirs = risk_model_estimate(as_of=date.today()).version
        their_estimate = RiskModelEstimate.objects.create(as_of=date.today(), window_days=126)
    client = client_for(firm_a, people["pm"])

    answers = [client.get(f"{API}/risk-models/{theirs.pk}/"),
               client.get(f"{API}/risk-model-estimates/{their_estimate.pk}/")]

    assert [(a.status_code, error_of(a)["code"]) for a in answers] == [(404, "not_found")] * 2
    assert client.get(f"{API}/risk-models/").json()["count"] == 0
    assert client.get(f"{API}/risk-model-estimates/").json()["count"] == 0


def test_a_proposal_names_the_version_it_was_tracked_with(firm_a, people, client_for,
                                                          django_capture_on_commit_callbacks):
    with tenant_context(firm_a), django_capture_on_commit_callbacks(execute=False):
        proposal = direct_indexed_proposal(people["pm"])
    client = client_for(firm_a, people["pm"])

    answer = client.get(f"{API}/proposals/{proposal.pk}/").json()
    version = client.get(f"{API}/risk-models/{answer['risk_model_version']}/")

    assert answer["risk_model_version"] == proposal.risk_model_version_id is not None
    assert answer["risk_model_note"] == ""
    assert version.status_code == 200 and version.json()["as_of"] == "2026-11-20"


@pytest.mark.parametrize("through", ["api", "page"])
def test_prices_at_the_columns_extremes_give_a_version_with_finite_numbers_not_a_server_error(
        firm_a, people, client_for, through, django_capture_on_commit_callbacks):
    # Nothing a caller sends reaches the version's columns (the window, factors and observations are
    # bounded by the service), so the only input to push is the prices: the smallest and largest
    # closes the Price column keeps, alternating, beside a name that never moves.
    from decimal import Decimal

    from rebalancing.models import Price, Security

    from ..rebalancing.test_risk_models import _business_days

    with tenant_context(firm_a):
        days = _business_days(date.today(), 130)
        wild = Security.objects.create(symbol="WILD", name="Wild", asset_class="us_equity")
        flat = Security.objects.create(symbol="FLAT", name="Flat", asset_class="us_equity")
        Price.objects.bulk_create(
            [Price(security=wild, date=d, close=Decimal("0.000001") if i % 2 else Decimal("999999999999.999999"))
             for i, d in enumerate(days)] + [Price(security=flat, date=d, close=Decimal("1")) for d in days])

    client = client_for(firm_a, people["pm"])
    with django_capture_on_commit_callbacks():
        started = _estimate(client) if through == "api" else client.post("/risk-model/")
    with tenant_context(firm_a):
        risk_model_estimate_execute(estimate_id=RiskModelEstimate.objects.get().pk)
    answer = client.get(started["Location"]) if through == "api" else client.get("/risk-model/")

    with tenant_context(firm_a):
        version = RiskModelVersion.objects.get()
    if through == "api":
        assert answer.status_code == 200 and answer.json()["version"] == version.pk, answer.content
    else:
        assert answer.status_code == 200 and f"risk model #{version.pk} as of".encode() in answer.content
    numbers = [x for row in version.estimate["loadings"] for x in row] + version.estimate["specific"]
    assert version.symbols == ["FLAT", "WILD"] and all(math.isfinite(x) for x in numbers)
    assert [symbol for symbol, _ in version.volatilities()] == ["WILD", "FLAT"]

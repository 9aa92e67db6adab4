"""docs/api.md, "Retries: Idempotency-Key": of two concurrent twins (one user, one key, one body) the second
waits for the first and is replayed - not refused for what the first did (a limit it filled, a proposal it
superseded, a pause it lifted). Each twin on its own database connection (committed rows), the first held
after its action wrote, before it commits, until the second is waiting."""

import json
import threading
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing import dispatch
from rebalancing.api.views import backtests as backtest_views
from rebalancing.api.views import runs as run_views
from rebalancing.api.views import webhooks as webhook_views
from rebalancing.models import (
    ApprovalPolicy,
    Backtest,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    RebalanceRun,
    Security,
    WebhookEndpoint,
)
from rebalancing.selectors import RunScope
from rebalancing.services.backtests import OPEN_PER_USER
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from rebalancing.webhooks.endpoints import webhook_endpoint_create
from tenants.api_keys.models import IdempotencyRecord
from tenants.api_keys.services import api_key_create
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..conftest import host_of
from ..rebalancing.book import AS_OF, make_book
from .conftest import in_thread, wait_for

pytestmark = pytest.mark.integration


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def _twins(firm, token: str, path: str, body: str, key: str, monkeypatch, module, name: str) -> tuple:
    """POST ``path`` twice with one key: the first held inside ``module.name`` (its action done, not committed)
    until the second waits for a lock - or has answered. Returns both answers."""
    written, release = threading.Event(), threading.Event()
    original = getattr(module, name)

    def held_first(**kwargs):
        made = original(**kwargs)
        if not written.is_set():
            written.set()
            release.wait(30)
        return made

    monkeypatch.setattr(module, name, held_first)

    def post():
        client = Client(HTTP_HOST=host_of(firm), HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post(path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)

    outcomes: dict = {}
    first = in_thread(firm, post, outcomes, "first")
    assert written.wait(30), outcomes
    second = in_thread(firm, post, outcomes, "second")
    wait_for(lambda: _someone_waits_for_a_lock() or "second" in outcomes, timeout=30)
    release.set()
    first.join(30)
    second.join(30)
    return outcomes["first"], outcomes["second"]


def _replayed(one, two) -> None:
    assert not isinstance(one, Exception) and not isinstance(two, Exception), (one, two)
    assert 200 <= one.status_code < 300, one.content
    assert two.status_code == one.status_code, two.content  # the twin replayed, not refused
    assert two["Idempotent-Replayed"] == "true" and two.json() == one.json()


def _user(firm, name: str, role, scopes: list[str]):
    with tenant_context(firm):
        IdempotencyRecord.objects.filter(user__username=name).delete()
        user = user_ensure(username=name, email=name, roles=[role])
        return user, api_key_create(user=user, name="twins", scopes=scopes, expires_at=None, by=None).token


@pytest.fixture
def firm(django_db_setup, django_db_blocker, monkeypatch):
    monkeypatch.setattr(dispatch, "send", lambda task, *args: None)
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        yield firm
        with tenant_context(firm):
            IdempotencyRecord.objects.filter(user__username__endswith="@idem-twins.example").delete()


def test_backtest_twins_the_second_is_replayed_not_refused_for_the_limit_its_twin_filled(
        firm, django_db_blocker, monkeypatch):
    # A user one backtest short of the limit of open backtests.
    with django_db_blocker.unblock():
        pm, token = _user(firm, "pm@idem-twins.example", FirmRole.PORTFOLIO_MANAGER, ["read"])
        try:
            with tenant_context(firm):
                for _ in range(OPEN_PER_USER - 1):
                    backtest_views.backtest_start(
                        user=pm, name="", template=None, basket="sample", prices="sample", amount=250000,
                        start=date(2008, 6, 30), years=1, cohorts=1, short_term_rate="0.408",
                        long_term_rate="0.238", losses="offset")
            one, two = _twins(firm, token, "/api/v1/backtests/",
                              '{"name": "twin", "start": "2008-06-30", "years": 1, "amount": "250000"}',
                              "backtest-twin-1", monkeypatch, backtest_views, "backtest_start")
            _replayed(one, two)
            with tenant_context(firm):
                assert Backtest.objects.filter(created_by=pm).count() == OPEN_PER_USER
        finally:
            with tenant_context(firm):
                Backtest.objects.filter(created_by=pm).delete()
                pm.api_keys.all().delete()


def test_revise_twins_the_second_is_replayed_not_refused_for_the_proposal_its_twin_superseded(
        firm, django_db_blocker, monkeypatch):
    with django_db_blocker.unblock():
        advisor, token = _user(firm, "adv@idem-twins.example", FirmRole.ADVISOR, ["read", "approve"])
        book: dict = {"accounts": []}
        try:
            with tenant_context(firm):
                ApprovalPolicy.current()
                ApprovalPolicy.objects.update(auto_approve=False, max_price_age_days=3650)
                book = make_book(1, advisor=advisor)
                run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="twins")
                for chunk in run_chunks(run):
                    run_process_chunk(run_id=run.pk, account_ids=chunk)
                old = Proposal.objects.get(run=run, account=book["accounts"][0])
                assert old.status == Proposal.Status.PENDING
            body = json.dumps({"drop": [old.result["trades"][0]["symbol"]]})
            one, two = _twins(firm, token, f"/api/v1/proposals/{old.pk}/revise/", body, "revise-twin-1",
                              monkeypatch, run_views, "proposal_resolve")
            _replayed(one, two)
            with tenant_context(firm):
                assert Proposal.objects.filter(revised_from=old).count() == 1
        finally:
            with tenant_context(firm):
                RebalanceRun.objects.all().delete()
                for account in book["accounts"]:
                    account.delete()
                Household.objects.all().delete()
                ModelPortfolio.objects.all().delete()
                ParameterTemplate.objects.all().delete()
                Security.objects.all().delete()
                advisor.api_keys.all().delete()


def test_resume_twins_the_second_is_replayed_not_refused_for_the_pause_its_twin_lifted(
        firm, django_db_blocker, monkeypatch):
    with django_db_blocker.unblock():
        admin, token = _user(firm, "admin@idem-twins.example", FirmRole.FIRM_ADMIN, ["read", "admin"])
        try:
            with tenant_context(firm):
                endpoint = webhook_endpoint_create(url="https://example.com/twins", event_types=["run.finished"],
                                                   user=admin)
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                    paused_at=timezone.now(), paused_reason="failing", failures_in_a_row=12)
            one, two = _twins(firm, token, f"/api/v1/webhook-endpoints/{endpoint.pk}/resume/", "{}",
                              "resume-twin-1", monkeypatch, webhook_views, "webhook_endpoint_resume")
            _replayed(one, two)
            with tenant_context(firm):
                assert WebhookEndpoint.objects.get(pk=endpoint.pk).paused_at is None
        finally:
            with tenant_context(firm):
                WebhookEndpoint.objects.filter(created_by=admin).delete()
                admin.api_keys.all().delete()

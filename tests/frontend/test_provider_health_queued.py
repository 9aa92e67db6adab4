"""A run stuck in "queued" - its dispatch never picked up by a worker (a busy queue, no worker) - is
flagged on the console, in words, once it has waited longer than ``QUEUED_TOO_LONG``. The firm's
health left queued runs out and said nothing until the stall watch, half an hour later."""

import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from rebalancing.firm_health import QUEUED_TOO_LONG, firm_health
from rebalancing.models import RebalanceRun
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _queued(minutes_ago: int) -> RebalanceRun:
    run = RebalanceRun.objects.create(scope={"firm": True}, as_of=date(2026, 1, 5), total=3)
    RebalanceRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return run


def _operator() -> Client:
    with schema_context("public"):
        user = user_ensure(username="op@queued.test", email="op@queued.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def test_a_run_queued_for_a_few_minutes_is_no_alarm(firm_a):
    with tenant_context(firm_a):
        _queued(minutes_ago=3)
    assert "queue" not in firm_health(firm_a).problem


def test_a_run_queued_past_the_threshold_is_flagged_in_words_on_the_console_and_the_firm_page(firm_a):
    assert timedelta(minutes=10) == QUEUED_TOO_LONG
    with tenant_context(firm_a):
        run = _queued(minutes_ago=25)

    health = firm_health(firm_a)

    assert health.status == "warn"
    assert re.match(rf"run {run.pk} has waited in the queue for 25 minutes \(since .* UTC\) without a worker "
                    r"starting it: the queue is busy, or no worker takes this firm's runs - check the workers",
                    health.problem)
    operator = _operator()
    console = re.sub(r"\s+", " ", operator.get("/").content.decode())
    assert f"run {run.pk} has waited in the queue for 25 minutes" in console and "look at it" in console
    page = re.sub(r"\s+", " ", operator.get(f"/firms/{firm_a.slug}/").content.decode())
    assert 'data-testid="queued-long"' in page and f"run {run.pk}</a> (queued 25" in page
    assert 'data-testid="run-queued-long">no worker has picked it up for 25' in page
    runs = re.sub(r"\s+", " ", operator.get("/runs/").content.decode())
    assert 'data-testid="run-queued-long">no worker has picked it up for 25' in runs


def test_several_queued_runs_are_counted_naming_the_oldest(firm_a):
    with tenant_context(firm_a):
        oldest = _queued(minutes_ago=28)
        _queued(minutes_ago=15)
        _queued(minutes_ago=2)

    problem = firm_health(firm_a).problem

    assert problem.startswith(f"2 runs have waited in the queue for more than 10 minutes without a worker starting "
                              f"them (the oldest, run {oldest.pk}, for 28 minutes")

"""Runs across firms can be narrowed to the runs with failed accounts (or that failed as a whole)."""

import re
from datetime import date

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import RebalanceRun
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _console():
    with schema_context("public"):
        operator = user_ensure(username="op@failed-filter.test", email="op@failed-filter.test",
                               roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        console = Client(HTTP_HOST="localhost")
        console.force_login(operator)
    return console


def _run(**fields):
    return RebalanceRun.objects.create(scope={"firm": True}, as_of=date.today(), **fields)


def test_only_runs_with_failed_accounts(firm_a):
    with tenant_context(firm_a):
        clean = _run(total=3, done=3, status=RebalanceRun.Status.COMPLETED)
        failed = _run(total=3, done=1, failed=2, status=RebalanceRun.Status.COMPLETED)
        crashed = _run(total=3, status=RebalanceRun.Status.FAILED)
    console = _console()
    slug = firm_a.slug

    every = console.get("/runs/").content.decode()
    assert all(f"/runs/{slug}/{r.pk}/" in every for r in (clean, failed, crashed))
    assert 'name="failed" value="yes"' in every

    only = re.sub(r"\s+", " ", console.get("/runs/?failed=yes").content.decode())
    assert f"/runs/{slug}/{failed.pk}/" in only and f"/runs/{slug}/{crashed.pk}/" in only
    assert f"/runs/{slug}/{clean.pk}/" not in only
    assert 'value="yes" checked' in only


def test_no_failed_run_says_so(firm_a):
    with tenant_context(firm_a):
        _run(total=3, done=3, status=RebalanceRun.Status.COMPLETED)
    page = _console().get("/runs/?failed=yes").content.decode()
    assert "No run of any firm has failed accounts." in page

"""The provider's runs pages name who started each run as the firm's pages do: a person's name, the
email only where the person has no name (a provider operator's run and a firm user's alike)."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import RebalanceRun
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _operator(username: str, first_name: str = "", last_name: str = "") -> Client:
    with schema_context("public"):
        user = user_ensure(username=username, email=username, roles=[ProviderRole.PROVIDER_OPERATOR],
                           password=PASSWORD, first_name=first_name, last_name=last_name)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)  # the user lives in the public schema
    return client


def _by_column(page: str, firm_name: str, run_pk: int) -> str:
    """The "By" cell of the row of run ``run_pk`` of ``firm_name`` on the runs list."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        if f"<td>{firm_name}</td>" in row and f">Run {run_pk}</a>" in row:
            return re.sub(r"\s+", " ", re.findall(r"<td>(.*?)</td>", row, re.S)[2]).strip()
    raise AssertionError(f"no row for run {run_pk} of {firm_name}")


def test_an_operators_run_shows_the_operators_name_not_the_email(firm_a, book, django_capture_on_commit_callbacks):
    # Given an operator with a name, who starts a run in the firm
    operator = _operator("olive@provider.test", "Olive", "Ops")
    with django_capture_on_commit_callbacks():
        operator.post("/runs/start/", {"firm": firm_a.slug})
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("pk")

    # When the runs list and the run's page are read
    runs = operator.get("/runs/").content.decode()
    detail = operator.get(f"/runs/{firm_a.slug}/{run.pk}/").content.decode()

    # Then both name the operator, not by email
    assert _by_column(runs, firm_a.name, run.pk) == "Olive Ops (provider)"
    assert "by Olive Ops (provider)" in detail
    assert "olive@provider.test" not in runs + detail


def test_a_firm_users_run_shows_the_name_and_a_nameless_operator_the_email(firm_a, book, people,
                                                                           django_capture_on_commit_callbacks):
    # Given a run a firm user with a name started, and one a provider operator without a name started
    with tenant_context(firm_a):
        pm = people["pm"]
        pm.first_name, pm.last_name = "Petra", "Manager"
        pm.save(update_fields=["first_name", "last_name"])
        by_pm = RebalanceRun.objects.create(scope={"firm": True}, started_by=pm, started_by_label=pm.get_username(),
                                            as_of="2026-01-05")
    nameless = _operator("nameless@provider.test")
    with django_capture_on_commit_callbacks():
        nameless.post("/runs/start/", {"firm": firm_a.slug})
    with tenant_context(firm_a):
        by_operator = RebalanceRun.objects.latest("pk")

    runs = nameless.get("/runs/").content.decode()

    assert _by_column(runs, firm_a.name, by_pm.pk) == "Petra Manager"
    assert _by_column(runs, firm_a.name, by_operator.pk) == "nameless@provider.test (provider)"


def test_the_firms_own_runs_pages_name_the_operator_too(firm_a, book, as_user, django_capture_on_commit_callbacks):
    # Given a run an operator with a name started in the firm (the operator is not the firm's user)
    operator = _operator("olive@provider.test", "Olive", "Ops")
    with django_capture_on_commit_callbacks():
        operator.post("/runs/start/", {"firm": firm_a.slug})
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("pk")

    # When the firm's own runs list and run page are read
    client = as_user("admin")
    runs = re.sub(r"\s+", " ", client.get("/runs/").content.decode())
    detail = re.sub(r"\s+", " ", client.get(f"/runs/{run.pk}/").content.decode())

    # Then they name the operator as the provider's console does
    assert "Olive Ops (provider)" in runs and "by Olive Ops (provider)" in detail
    assert "olive@provider.test" not in runs + detail

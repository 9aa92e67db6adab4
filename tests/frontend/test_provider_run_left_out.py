"""A provider operator's run over a firm says which of the firm's accounts it did not run, and why,
with a count per reason: accounts with no model (a run rebalances none), accounts whose approved
proposal not yet released keeps them out. It said "0 accounts" and nothing more."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import Account, Proposal, RebalanceRun
from rebalancing.services.runs import run_chunks, run_process_chunk
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@left-out.test", email="op@left-out.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)  # the user lives in the public schema
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_run_over_a_firm_whose_accounts_have_no_model_says_so_on_its_page(firm_a, book, operator,
                                                                              django_capture_on_commit_callbacks):
    # Given a firm none of whose accounts has a model
    with tenant_context(firm_a):
        Account.objects.update(model=None)

    # When the operator runs it
    with django_capture_on_commit_callbacks():
        response = operator.post("/runs/start/", {"firm": firm_a.slug}, follow=True)

    # Then the message and the run's page say why no account was run, with the count
    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("pk")
    assert run.total == 0
    page = _text(response)
    assert response.redirect_chain[-1][0] == f"/runs/{firm_a.slug}/{run.pk}/"
    no_model = ("4 accounts have no model (a run rebalances an account to its own model or, in a household managed "
                "as one, to the household&#x27;s): the firm assigns one on its Accounts page (“Assign a template or "
                "model”)")
    assert f"Run {run.pk} started in {firm_a.name} over 0 accounts. Not run: {no_model}" in page
    shown = _text(operator.get(f"/runs/{firm_a.slug}/{run.pk}/"))
    assert "0 of the firm's 4 accounts were in this run" in shown and f"<li>{no_model}" in shown


def test_a_run_over_part_of_a_firm_names_each_reason_with_its_count(firm_a, book, operator,
                                                                     django_capture_on_commit_callbacks):
    # Given two accounts without a model and one whose approved proposal is not released
    accounts = book["accounts"]
    with tenant_context(firm_a):
        Account.objects.filter(pk__in=[accounts[0].pk, accounts[1].pk]).update(model=None)
        Proposal.objects.filter(account=accounts[2]).update(status=Proposal.Status.APPROVED)

    with django_capture_on_commit_callbacks():
        started = _text(operator.post("/runs/start/", {"firm": firm_a.slug}, follow=True))

    with tenant_context(firm_a):
        run = RebalanceRun.objects.latest("pk")
        assert run.total == 1
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
    assert "over 1 account. Not run: 2 accounts have no model" in started
    approved = ("1 account has an approved proposal not yet released (or is in a household managed as one that "
                "has), whose approval stands until the firm releases it or a run replaces it")
    assert approved in started
    shown = _text(operator.get(f"/runs/{firm_a.slug}/{run.pk}/"))
    assert "1 of the firm's 4 accounts was in this run" in shown
    assert "<li>2 accounts have no model" in shown and f"<li>{approved}.</li>" in shown


def test_runs_in_every_firm_say_per_firm_what_was_not_run(firm_a, book, operator, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        Account.objects.filter(pk=book["accounts"][0].pk).update(model=None)
        Proposal.objects.update(status=Proposal.Status.REJECTED)
    with django_capture_on_commit_callbacks():
        page = _text(operator.post("/runs/start/", {"firm": "*"}, follow=True))
    message = page.split("Runs started in")[1].split("</")[0]
    assert re.search(rf"{firm_a.name} \(run \d+, 3 accounts; not run: 1 without a model\)", message)
    assert re.search(r"\)\. An account without a model is not run \(a run rebalances an account to its own model", message)
    assert "approved proposal" not in message


def test_runs_in_every_firm_name_each_reason_once_after_the_firms(firm_a, firm_b, book, operator,
                                                                   django_capture_on_commit_callbacks):
    # Given one firm with an approved proposal not yet released and an account without a model
    with tenant_context(firm_a):
        Account.objects.filter(pk=book["accounts"][0].pk).update(model=None)
        Proposal.objects.update(status=Proposal.Status.REJECTED)
        Proposal.objects.filter(account=book["accounts"][1]).update(status=Proposal.Status.APPROVED)

    # The console says beforehand how many sit out
    console = _text(operator.get("/runs/"))
    assert re.search(r"\d+ accounts? in all, as the firms stand now; 2 more sit out \(no model, or an approved "
                     r"proposal not yet released\)", console)

    with django_capture_on_commit_callbacks():
        page = _text(operator.post("/runs/start/", {"firm": "*"}, follow=True))
    message = page.split("Runs started in")[1].split("</")[0]
    assert re.search(rf"{firm_a.name} \(run \d+, 2 accounts; not run: 1 without a model, 1 with an approved "
                     r"proposal not yet released\)", message)
    # each reason's explanation once, however many firms have it
    assert message.count("is not run") == 2
    assert message.endswith("is not run: its approval stands until the firm releases it or a run replaces it.")


def test_a_failed_accounts_error_is_shown_in_words_with_its_code_on_hover(firm_a, book, operator):
    from datetime import date

    from rebalancing.models import RunOutcome

    with tenant_context(firm_a):
        account = Account.objects.order_by("pk").first()
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=date.today(), total=1, failed=1,
                                          status=RebalanceRun.Status.COMPLETED)
        RunOutcome.objects.create(run=run, account=account, outcome=RunOutcome.Outcome.FAILED,
                                  code="infeasible_parameters", message="the screen excludes every holding of sleeve bonds")

    shown = _text(operator.get(f"/runs/{firm_a.slug}/{run.pk}/"))

    assert '<td title="Error code: infeasible_parameters">Infeasible parameters</td>' in shown
    assert "<code>infeasible_parameters</code>" not in shown

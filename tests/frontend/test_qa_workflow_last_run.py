"""A one-account run after a whole-firm run does not hide the firm run's failures: the dashboard's
"Failed in the last run", the Accounts filter of that name and the provider console's health read
the last run over the firm's book (an account failed until a later run of it gets through)."""

import re
from datetime import date

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from frontend.selectors import accounts_failed_last, dashboard_counts
from rebalancing.firm_health import firm_health
from rebalancing.models import Account, RebalanceRun, RunOutcome
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import make_book

pytestmark = pytest.mark.django_db

OUT = RunOutcome.Outcome


def finished_run(scope: dict, outcomes: dict) -> RebalanceRun:
    run = RebalanceRun.objects.create(scope=scope, as_of=date.today(), total=len(outcomes),
                                      done=sum(o != OUT.FAILED for o in outcomes.values()),
                                      failed=sum(o == OUT.FAILED for o in outcomes.values()),
                                      status=RebalanceRun.Status.COMPLETED)
    for account, outcome in outcomes.items():
        RunOutcome.objects.create(run=run, account=account, outcome=outcome)
    return run


def firm_run_then_one_account(accounts) -> tuple[RebalanceRun, RebalanceRun]:
    """A whole-firm run in which the first account failed, then a re-solve of the second alone."""
    firm = finished_run({"firm": True}, {a: (OUT.FAILED if n == 0 else OUT.PROPOSED) for n, a in enumerate(accounts)})
    one = finished_run({"account_ids": [accounts[1].pk]}, {accounts[1]: OUT.PROPOSED})
    return firm, one


def test_the_failed_accounts_are_those_whose_latest_run_failed(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@last-run.example", "portfolio_manager")
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        firm, _ = firm_run_then_one_account(accounts)

        counts = dashboard_counts(pm)
        failed = list(accounts_failed_last(Account.objects.all()))
        health = firm_health(firm_a)

        assert (counts.failed, counts.last_run.pk) == (1, firm.pk)  # it said 0 in the one-account run
        assert failed == [accounts[0]]
        assert health.last_run.pk == firm.pk and health.problem == "1 of 3 accounts failed in the last run"

        finished_run({"account_ids": [accounts[0].pk]}, {accounts[0]: OUT.PROPOSED})  # run again, through
        assert dashboard_counts(pm).failed == 0 and not accounts_failed_last(Account.objects.all()).exists()


def test_the_dashboard_the_accounts_filter_and_the_provider_console_agree(firm_a, as_user):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        firm, one = firm_run_then_one_account(accounts)
    pm = as_user("pm")
    with schema_context("public"):
        operator = user_ensure(username="op@last-run.test", email="op@last-run.test",
                               roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        console = Client(HTTP_HOST="localhost")
        console.force_login(operator)

    home = re.sub(r"\s+", " ", pm.get("/").content.decode())
    listed = re.sub(r"\s+", " ", pm.get("/accounts/?attention=failed").content.decode())
    provider = re.sub(r"\s+", " ", console.get("/").content.decode())

    # The tile counts accounts whose own latest run failed and opens the list of them (not a run's
    # failures: a one-account run's failure is not in the last run over the book).
    assert re.search(r'<a class="tile bad" href="/accounts/\?attention=failed"> <span class="n">1</span><span '
                     r'class="what">Failed in their last run</span> <span class="hint">accounts whose latest run, of '
                     rf'any kind, failed; the last run over the book: run {firm.pk},', home)
    assert accounts[0].custodian_number in listed and accounts[1].custodian_number not in listed
    # "Last run" is the latest of any scope (the one-account run), and the last run over the book,
    # which health reads, is named beside it as such.
    assert f"Run {one.pk}</a>" in provider and "1 account · 1 done, 0 failed" in provider
    assert re.search(rf'Last over the whole book \(what health reads\): <a href="[^"]+">Run {firm.pk}</a>, [^·]+· '
                     r"2 done, 1 failed", provider)


def test_health_names_an_account_that_failed_in_a_later_run_of_its_own(firm_a):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        finished_run({"firm": True}, {a: OUT.PROPOSED for a in accounts})
        assert firm_health(firm_a).status == "good"

        finished_run({"account_ids": [accounts[2].pk]}, {accounts[2]: OUT.FAILED})  # a template that cannot solve
        health = firm_health(firm_a)

        assert (health.status, health.failed_since) == ("warn", 1)
        assert health.problem == "1 account failed in its latest run, after the last run over the book"


def test_health_says_a_run_that_found_no_account_to_rebalance(firm_a):
    with tenant_context(firm_a):
        make_book(2)
        finished_run({"firm": True}, {})

        health = firm_health(firm_a)

        assert health.status == "warn"
        assert health.problem == ("the last run found no account to rebalance, of 2 (an account is rebalanced once it "
                                  "has a model)")


def test_the_accounts_list_says_what_the_latest_run_made_of_an_account_without_a_proposal(firm_a, as_user):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        run = finished_run({"firm": True}, {accounts[0]: OUT.NO_TRADES, accounts[1]: OUT.FAILED})

    page = re.sub(r"\s+", " ", as_user("pm").get("/accounts/").content.decode())

    assert f'href="/runs/{run.pk}/" data-testid="nothing-to-do">nothing to trade in run {run.pk}</a>' in page
    assert f'<a href="/runs/{run.pk}/#failures"><span class="badge failed">failed in run {run.pk}</span></a>' in page
    assert page.count("none yet: not run") == 1  # the third account

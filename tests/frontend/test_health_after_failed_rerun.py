"""h2 audit: the provider console keeps a firm "problem: N of N accounts failed in the last run"
after the operator ran the failed accounts again ("Run the N failed accounts again") and every one
got through: health reads only the last whole-book run, while the firm's own dashboard (accounts
whose latest run failed) says 0. The rerun is the console's own remedy; its success should clear it."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.firm_health import firm_health
from rebalancing.models import RebalanceRun, RunOutcome
from tests.rebalancing.book import make_book

pytestmark = pytest.mark.django_db

OUT = RunOutcome.Outcome


def _finished(scope, outcomes):
    run = RebalanceRun.objects.create(scope=scope, as_of=date.today(), total=len(outcomes),
                                      done=sum(o != OUT.FAILED for o in outcomes.values()),
                                      failed=sum(o == OUT.FAILED for o in outcomes.values()),
                                      status=RebalanceRun.Status.COMPLETED)
    for account, outcome in outcomes.items():
        RunOutcome.objects.create(run=run, account=account, outcome=outcome)
    return run


def test_health_clears_once_the_failed_accounts_are_run_again_and_get_through(firm_a):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        _finished({"firm": True}, {a: OUT.FAILED for a in accounts})
        assert firm_health(firm_a).status == "bad"
        _finished({"account_ids": [a.pk for a in accounts]}, {a: OUT.PROPOSED for a in accounts})
        health = firm_health(firm_a)
    assert health.status == "good", health.problem


def test_health_counts_only_the_failed_accounts_no_later_run_got_through(firm_a):
    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        _finished({"firm": True}, {a: OUT.FAILED for a in accounts})
        _finished({"account_ids": [a.pk for a in accounts]},
                  {accounts[0]: OUT.PROPOSED, accounts[1]: OUT.NO_TRADES, accounts[2]: OUT.FAILED})
        health = firm_health(firm_a)
    assert health.status == "bad" and health.failed_last == 1
    assert health.problem == ("1 of the 3 accounts that failed in the last run (of 3) still fail; "
                              "2 got through in a later run")


def test_the_console_shows_the_latest_run_of_any_scope_and_the_last_over_the_book(firm_a):
    import re

    from django.test import Client
    from django_tenants.utils import schema_context

    from tenants.roles import ProviderRole
    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    with tenant_context(firm_a):
        accounts = make_book(3)["accounts"]
        book_run = _finished({"firm": True}, {a: OUT.FAILED for a in accounts})
        retry = _finished({"account_ids": [a.pk for a in accounts]}, {a: OUT.PROPOSED for a in accounts})
        health = firm_health(firm_a)
    assert (health.last_run.pk, health.latest_run.pk) == (book_run.pk, retry.pk)
    with schema_context("public"):
        operator = user_ensure(username="op@health.test", email="op@health.test",
                               roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        console = Client(HTTP_HOST="localhost")
        console.force_login(operator)
    page = re.sub(r"\s+", " ", console.get("/").content.decode())
    assert f"Run {retry.pk}</a>" in page and "3 accounts · 3 done, 0 failed" in page
    assert re.search(rf"Last over the whole book \(what health reads\): <a [^>]+>Run {book_run.pk}</a>", page)
    assert "accounts failed in the last run" not in page

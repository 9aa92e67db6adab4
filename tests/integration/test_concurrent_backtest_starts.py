"""Two starts of a backtest by one user at the same moment, each on its own database connection
(committed rows: other connections cannot see a test's transaction)."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing import dispatch
from rebalancing.models import Backtest
from rebalancing.services.backtests import OPEN_PER_USER, backtest_start
from tenants.errors import Conflict
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from .conftest import in_thread, wait_for, waiting_for_an_advisory_lock

pytestmark = pytest.mark.integration

START = dict(name="", template=None, basket=Backtest.Basket.SAMPLE, prices=Backtest.Prices.SAMPLE,
             amount=Decimal("1000000"), start=date(2008, 6, 30), years=1, cohorts=1,
             short_term_rate=Decimal("0.408"), long_term_rate=Decimal("0.238"))


@pytest.fixture
def committed(django_db_setup, django_db_blocker, monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: sent.append((task, args)))
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            pm = user_ensure(username="pm@backtest-race.example", email="pm@backtest-race.example",
                             roles=[FirmRole.PORTFOLIO_MANAGER])
        yield firm, pm, sent
        with tenant_context(firm):
            Backtest.objects.filter(created_by=pm).delete()


def test_a_second_start_waits_for_the_first_and_counts_it(committed, django_db_blocker):
    # given: a user with one backtest short of the limit, and a start of the last one not yet committed
    firm, pm, sent = committed
    written, release = threading.Event(), threading.Event()
    outcomes: dict = {}

    def first():
        with transaction.atomic():
            backtest = backtest_start(user=pm, **START)
            written.set()
            release.wait(30)
        return backtest

    with django_db_blocker.unblock():
        with tenant_context(firm):
            for _ in range(OPEN_PER_USER - 1):
                backtest_start(user=pm, **START)
        writer = in_thread(firm, first, outcomes, "first")
        assert written.wait(30), outcomes
        # when: the same user starts another while the first is in flight
        second = in_thread(firm, lambda: backtest_start(user=pm, **START), outcomes, "second")
        wait_for(waiting_for_an_advisory_lock, timeout=30)
        assert "second" not in outcomes  # it waits (before: it counted 2 under way and started a 4th)
        release.set()
        writer.join(30)
        second.join(30)

        # then: the first started, the second refused: never more than OPEN_PER_USER under way
        assert isinstance(outcomes["first"], Backtest), outcomes
        assert isinstance(outcomes["second"], Conflict), outcomes
        with tenant_context(firm):
            assert Backtest.objects.filter(created_by=pm).count() == OPEN_PER_USER
        assert len(sent) == OPEN_PER_USER

"""Estimates of one firm's risk model at the same moment, each on its own database connection, and one
estimated by a real worker process (committed rows: other connections cannot see a test's transaction)."""

import threading
import time

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from rebalancing import dispatch
from rebalancing.models import Price, RiskModelEstimate, RiskModelVersion, Security
from rebalancing.services.risk_models import risk_model_estimate, risk_model_estimate_start
from tenants.models import Firm
from tenants.roles import FirmRole
from tenants.services import user_ensure

from ..rebalancing.test_risk_models import AS_OF, _prices
from .conftest import at_once, in_thread, wait_for, waiting_for_an_advisory_lock

pytestmark = pytest.mark.integration


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        firm = Firm.objects.get(slug="firm-a")
        with tenant_context(firm):
            pm = user_ensure(username="pm@risk-race.example", email="pm@risk-race.example",
                             roles=[FirmRole.PORTFOLIO_MANAGER])
            _prices(21, 150)
        yield firm, pm
        with tenant_context(firm):
            RiskModelEstimate.objects.all().delete()
            RiskModelVersion.objects.all().delete()
            Price.objects.all().delete()
            Security.objects.all().delete()


def test_a_second_writer_waits_for_the_first_and_gets_its_version_not_a_twin(committed, django_db_blocker):
    firm, pm = committed
    written, release = threading.Event(), threading.Event()
    outcomes: dict = {}

    def first():
        # A writer caught between writing its version and committing it.
        with transaction.atomic():
            refresh = risk_model_estimate(as_of=AS_OF, user=pm)
            written.set()
            release.wait(30)
        return refresh

    with django_db_blocker.unblock():
        writer = in_thread(firm, first, outcomes, "first")
        assert written.wait(30), outcomes
        second = in_thread(firm, lambda: risk_model_estimate(as_of=AS_OF), outcomes, "second")
        # when: the second reaches the write while the first holds it
        wait_for(waiting_for_an_advisory_lock, timeout=30)
        assert "second" not in outcomes  # it waits, it does not write a twin
        release.set()
        writer.join(30)
        second.join(30)

        # then: one version, given back to the second as unchanged (no IntegrityError)
        first_refresh, second_refresh = outcomes["first"], outcomes["second"]
        assert first_refresh.created and not second_refresh.created, outcomes
        assert second_refresh.version.pk == first_refresh.version.pk
        with tenant_context(firm):
            assert RiskModelVersion.objects.count() == 1


def test_two_people_refreshing_at_once_start_one_estimate(committed, django_db_blocker, monkeypatch):
    firm, pm = committed
    sent = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: sent.append((task, args)))
    with django_db_blocker.unblock():
        starts = at_once(firm, [lambda: risk_model_estimate_start(user=pm, as_of=AS_OF)] * 4)
        assert not [s for s in starts if isinstance(s, Exception)], starts
        assert sorted(s.started for s in starts) == [False, False, False, True]
        assert len({s.estimate.pk for s in starts}) == 1
        assert sent == [(dispatch.RISK_MODEL_ESTIMATE, (starts[0].estimate.pk,))]
        with tenant_context(firm):
            assert RiskModelEstimate.objects.count() == 1


def test_a_worker_process_estimates_it_in_the_firms_schema(committed, celery_worker_process, django_db_blocker):
    firm, pm = committed
    with django_db_blocker.unblock():
        with tenant_context(firm), transaction.atomic():
            estimate = risk_model_estimate_start(user=pm, as_of=AS_OF).estimate
        started = time.monotonic()

        def finished():
            with tenant_context(firm):
                found = RiskModelEstimate.objects.get(pk=estimate.pk)
            return None if found.under_way else found

        done = wait_for(finished, timeout=90, worker=celery_worker_process)
        with tenant_context(firm):
            version = RiskModelVersion.objects.get()
        assert (done.status, done.outcome, done.version_id) == ("completed", "new", version.pk), done.error
        assert version.created_by_id == pm.pk and time.monotonic() - started < 90

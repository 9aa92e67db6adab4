"""Estimating the firm's risk model now: started (checked, stored, audited, queued), one at a time,
estimated by the worker's service with its outcome recorded (a new version, the same version, or the
error naming the problem), ended as failed when the worker gives up. The race of two writers is in
tests/integration/test_concurrent_risk_model_estimates.py (it needs committed rows)."""

from datetime import date, timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing import dispatch
from rebalancing.models import RiskModelEstimate, RiskModelVersion
from rebalancing.services.risk_models import (
    ABANDONED_AFTER,
    risk_model_estimate_execute,
    risk_model_estimate_start,
)
from tenants.audit.models import AuditEvent
from tenants.errors import PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .test_risk_models import AS_OF, STOCKS, _prices

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm-estimate@firm-a.example", FirmRole.PORTFOLIO_MANAGER)


def test_an_estimate_is_stored_audited_and_queued_then_estimated_by_the_worker(
        firm_a, pm, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        _prices(3, 150)
        # when
        with django_capture_on_commit_callbacks() as queued:
            start = risk_model_estimate_start(user=pm, as_of=AS_OF)
        # then: nothing estimated yet, the worker gets it once committed
        estimate = start.estimate
        assert start.started and len(queued) == 1
        assert (estimate.status, estimate.as_of, estimate.window_days, estimate.created_by) == (
            "queued", AS_OF, 126, pm)
        assert not RiskModelVersion.objects.exists()
        event = AuditEvent.objects.get(action="risk_model.estimate_start")
        assert (event.actor_id, event.object_id, event.after) == (
            pm.pk, str(estimate.pk), {"as_of": "2026-11-20", "window_days": 126})

        done = risk_model_estimate_execute(estimate_id=estimate.pk)

        version = RiskModelVersion.objects.get()
        assert (done.status, done.outcome, done.version, done.error) == ("completed", "new", version, "")
        assert done.started_at is not None and done.finished_at >= done.started_at
        assert version.created_by == pm and version.symbols == STOCKS
        assert AuditEvent.objects.get(action="risk_model.estimate").actor_id == pm.pk
        # a second delivery of the task leaves a finished estimate alone
        assert risk_model_estimate_execute(estimate_id=estimate.pk) is None
        assert RiskModelVersion.objects.count() == 1


def test_asking_again_while_one_is_under_way_answers_with_it_and_the_same_prices_give_the_same_version(
        firm_a, pm, firm_user, django_capture_on_commit_callbacks):
    admin = firm_user(firm_a, "admin-estimate@firm-a.example", FirmRole.FIRM_ADMIN)
    with tenant_context(firm_a):
        _prices(3, 150)
        with django_capture_on_commit_callbacks() as queued:
            first = risk_model_estimate_start(user=pm, as_of=AS_OF)
            again = risk_model_estimate_start(user=admin, as_of=AS_OF)
        assert first.started and not again.started and again.estimate.pk == first.estimate.pk
        assert len(queued) == 1 and RiskModelEstimate.objects.count() == 1
        assert AuditEvent.objects.filter(action="risk_model.estimate_start").count() == 1

        # running counts as under way too
        RiskModelEstimate.objects.filter(pk=first.estimate.pk).update(status="running")
        assert risk_model_estimate_start(user=admin, as_of=AS_OF).estimate.pk == first.estimate.pk

        first_done = risk_model_estimate_execute(estimate_id=first.estimate.pk)
        with django_capture_on_commit_callbacks() as queued:
            later = risk_model_estimate_start(user=admin, as_of=AS_OF)
        later_done = risk_model_estimate_execute(estimate_id=later.estimate.pk)

    assert later.started and later.estimate.pk != first.estimate.pk and len(queued) == 1
    assert (later_done.status, later_done.outcome) == ("completed", "unchanged")
    assert later_done.version == first_done.version and first_done.outcome == "new"


def test_the_database_allows_only_one_estimate_under_way(firm_a, pm):
    from django.db import IntegrityError, transaction

    with tenant_context(firm_a):
        RiskModelEstimate.objects.create(as_of=AS_OF, window_days=126, created_by=pm)
        RiskModelEstimate.objects.create(as_of=AS_OF, window_days=126, status="failed", error="x")
        with pytest.raises(IntegrityError, match="risk_model_estimate_one_under_way"), transaction.atomic():
            RiskModelEstimate.objects.create(as_of=AS_OF, window_days=126, status="running")


def test_an_estimate_lost_by_its_worker_does_not_block_the_next_for_ever(firm_a, pm,
                                                                         django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        lost = RiskModelEstimate.objects.create(as_of=AS_OF, window_days=126, created_by=pm, status="running")
        RiskModelEstimate.objects.filter(pk=lost.pk).update(created_at=timezone.now() - ABANDONED_AFTER
                                                            - timedelta(seconds=1))
        with django_capture_on_commit_callbacks() as queued:
            start = risk_model_estimate_start(user=pm, as_of=AS_OF)
        lost.refresh_from_db()

    assert start.started and start.estimate.pk != lost.pk and len(queued) == 1
    assert (lost.status, lost.error_code) == ("failed", "abandoned")
    assert "no worker finished it within 15 minutes" in lost.error


def test_a_failure_is_recorded_with_the_message_naming_the_problem_and_no_version(
        firm_a, pm, django_capture_on_commit_callbacks):
    with tenant_context(firm_a):
        _prices(3, 40)  # 40 days: a risk model needs 61
        with django_capture_on_commit_callbacks():
            estimate = risk_model_estimate_start(user=pm, as_of=AS_OF).estimate

        failed = risk_model_estimate_execute(estimate_id=estimate.pk)

        assert (failed.status, failed.error_code, failed.outcome, failed.version) == (
            "failed", "insufficient_price_history", "", None)
        assert failed.error == "a risk model needs prices on at least 61 days up to 2026-11-20; the firm has 40"
        assert failed.finished_at is not None
        assert not RiskModelVersion.objects.exists()
        assert not AuditEvent.objects.filter(action="risk_model.estimate").exists()
        # no longer under way: another may start
        with django_capture_on_commit_callbacks():
            assert risk_model_estimate_start(user=pm, as_of=AS_OF).started


def test_refusals_name_the_problem_and_write_nothing(firm_a, firm_user, pm):
    compliance = firm_user(firm_a, "co-estimate@firm-a.example", FirmRole.COMPLIANCE)
    advisor = firm_user(firm_a, "adv-estimate@firm-a.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        for user in (compliance, advisor):
            with pytest.raises(PermissionDenied):
                risk_model_estimate_start(user=user, as_of=AS_OF)
        with pytest.raises(ValidationFailed, match="the window must be 60 to 2520 trading days, not 5") as refused:
            risk_model_estimate_start(user=pm, as_of=AS_OF, window_days=5)
        assert refused.value.code == "invalid_window"
        assert not RiskModelEstimate.objects.exists()
        assert not AuditEvent.objects.filter(action="risk_model.estimate_start").exists()


def test_the_task_estimates_and_gives_up_after_its_retries_saying_so(firm_a, pm, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    from rebalancing import tasks

    with tenant_context(firm_a):
        _prices(3, 150)
        with django_capture_on_commit_callbacks():
            ok = risk_model_estimate_start(user=pm, as_of=AS_OF).estimate
        assert tasks.risk_model_estimate_run(ok.pk) == "completed"

        with django_capture_on_commit_callbacks():
            doomed = risk_model_estimate_start(user=pm, as_of=date(2026, 11, 19)).estimate
        calls = []

        def database_gone(*, estimate_id):
            calls.append(estimate_id)
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(tasks, "risk_model_estimate_execute", database_gone)
        result = tasks.risk_model_estimate_run.apply(args=[doomed.pk])  # eager: retries run at once
        doomed.refresh_from_db()

    assert result.failed() and len(calls) == 4  # the first try and 3 retries
    assert (doomed.status, doomed.error_code) == ("failed", "failed")
    assert doomed.error == "the estimate stopped unexpectedly, 3 times; try again"  # not the database's words


def test_every_task_name_services_send_is_a_registered_task():
    from config.celery_app import app

    app.loader.import_default_modules()  # every app's tasks module, as a worker's start-up imports them
    names = [getattr(dispatch, n) for n in dispatch.__all__ if n != "send"]
    assert dispatch.RISK_MODEL_ESTIMATE in names
    assert [n for n in names if n not in app.tasks] == []


# --- The nightly refresh, recorded as an estimate --------------------------------------------------


def test_a_night_without_enough_prices_is_a_failed_nightly_estimate_naming_what_is_missing(firm_a):
    from rebalancing.services.risk_models import risk_model_refresh_nightly

    with tenant_context(firm_a):
        _prices(3, 40)
        night = risk_model_refresh_nightly(as_of=AS_OF)
        assert (night.origin, night.created_by, night.status, night.error_code, night.version) == (
            "nightly", None, "failed", "insufficient_price_history", None)
        assert night.error == "a risk model needs prices on at least 61 days up to 2026-11-20; the firm has 40"
        assert night.started_by_label == "the nightly refresh"
        assert not RiskModelVersion.objects.exists()


def test_nightly_estimates_make_a_version_once_and_record_every_night(firm_a):
    from rebalancing.services.risk_models import risk_model_refresh_nightly

    with tenant_context(firm_a):
        _prices(3, 150)
        first = risk_model_refresh_nightly(as_of=AS_OF)
        second = risk_model_refresh_nightly(as_of=AS_OF)
        version = RiskModelVersion.objects.get()
        assert (first.status, first.outcome, first.version) == ("completed", "new", version)
        assert (second.status, second.outcome, second.version) == ("completed", "unchanged", version)
        assert RiskModelEstimate.objects.filter(origin="nightly").count() == 2
        assert version.created_by is None
        assert AuditEvent.objects.get(action="risk_model.estimate").actor == "nightly risk model refresh"


def test_a_night_that_finds_a_persons_estimate_under_way_answers_with_it(
        firm_a, pm, django_capture_on_commit_callbacks):
    from rebalancing.services.risk_models import risk_model_refresh_nightly

    with tenant_context(firm_a):
        _prices(3, 150)
        with django_capture_on_commit_callbacks():
            asked = risk_model_estimate_start(user=pm, as_of=AS_OF).estimate
        night = risk_model_refresh_nightly(as_of=AS_OF)
        assert night.pk == asked.pk and night.status == "queued" and night.origin == "request"
        assert RiskModelEstimate.objects.count() == 1 and not RiskModelVersion.objects.exists()
        assert night.started_by_label == pm.username or night.started_by_label == pm.get_full_name()


def test_a_night_that_stops_unexpectedly_is_closed_as_failed_at_once(firm_a, monkeypatch):
    from rebalancing.services import risk_models

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with tenant_context(firm_a):
        _prices(3, 150)
        monkeypatch.setattr(risk_models, "risk_model_estimate", database_gone)
        with pytest.raises(OperationalError):
            risk_models.risk_model_refresh_nightly(as_of=AS_OF)
        night = RiskModelEstimate.objects.get()
        assert (night.origin, night.status, night.error_code) == ("nightly", "failed", "failed")
        assert night.error.startswith("the nightly refresh stopped unexpectedly")
        assert "server closed" not in night.error  # the database's words go to the log, not the page

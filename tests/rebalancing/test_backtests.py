"""Backtests as a product feature: started (checked, stored, audited, queued), replayed by the
worker's service, refused with a clear reason, seen only by who may see them."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.api.visibility import backtests_visible_to
from rebalancing.models import Backtest, Benchmark, BenchmarkWeight, Price, Security
from rebalancing.services.backtests import (
    OPEN_PER_USER,
    backtest_execute,
    backtest_parameters,
    backtest_start,
)
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, PermissionDenied, ValidationFailed
from tenants.roles import FirmRole

from .book import make_template

pytestmark = pytest.mark.django_db

RATES = {"short_term_rate": Decimal("0.408"), "long_term_rate": Decimal("0.238")}


def _start(user, **changes):
    values = dict(name="", template=None, basket=Backtest.Basket.SAMPLE, prices=Backtest.Prices.SAMPLE,
                  amount=Decimal("1000000"), start=date(2008, 6, 30), years=1, cohorts=1, **RATES)
    values.update(changes)
    return backtest_start(user=user, **values)


def test_a_backtest_is_stored_audited_and_queued_then_replayed(firm_a, firm_user, django_capture_on_commit_callbacks):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        template = make_template("harvest-tight", parameters={"harvest": {"min_loss_pct": 0.08}})
        with django_capture_on_commit_callbacks() as queued:
            backtest = _start(pm, template=template, name="Prospect 2008")
        assert len(queued) == 1  # the worker gets it once it is committed
        assert backtest.status == Backtest.Status.QUEUED and len(backtest.weights) == 20
        # the template's harvesting settings, with harvesting on and the account fully invested
        assert backtest.parameters["harvest"]["enabled"] is True
        assert backtest.parameters["harvest"]["min_loss_pct"] == 0.08
        assert backtest.parameters["cash"]["target"] == 0.0
        event = AuditEvent.objects.get(action="backtest.start", object_id=str(backtest.pk))
        assert event.actor == pm.username and event.after["template"] == "harvest-tight"

        done = backtest_execute(backtest_id=backtest.pk)

        assert done.status == Backtest.Status.COMPLETED and done.done == 1 and done.progress == 1.0
        report = done.report
        engine = report["groups"]["all"]["engine"]
        assert engine["wash_sales"] == 0 and engine["failed_calls"] == 0
        assert set(report["groups"]["all"]) >= {"engine", "naive", "buy_and_hold", "versus_naive"}
        assert report["cohorts"][0]["values"]["dates"]
        # a second delivery of the task leaves a finished backtest alone
        assert backtest_execute(backtest_id=backtest.pk) is None


def test_a_period_the_prices_do_not_cover_is_refused_before_anything_is_queued(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed, match="Prices cover 1990-01-02 to 2022-12-28"):
            _start(pm, start=date(2019, 12, 31), years=5)
        with pytest.raises(ValidationFailed, match="for the risk model"):
            _start(pm, start=date(1990, 3, 30))
        assert not Backtest.objects.exists()


@pytest.mark.parametrize("start, years, cohorts", [
    (date(1, 1, 1), 1, 1),  # the risk model's history would start before year 1
    (date(1, 2, 28), 10, 1),
    (date(9990, 12, 31), 40, 1),  # the span would end after 9999
    (date(9999, 1, 4), 1, 30),
])
def test_a_span_off_the_calendar_is_refused_in_words(firm_a, firm_user, start, years, cohorts):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        with pytest.raises(ValidationFailed, match="runs? outside the calendar") as refused:
            _start(pm, start=start, years=years, cohorts=cohorts)
        assert refused.value.detail == {"field": "start"}
        assert not Backtest.objects.exists()


def test_a_benchmark_basket_needs_prices_the_firm_holds(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        bench = Benchmark.objects.create(code="TWO", name="Two stocks")
        for symbol in ("AAA", "BBB"):
            sec = Security.objects.create(symbol=symbol, name=symbol, asset_class="us_equity")
            BenchmarkWeight.objects.create(benchmark=bench, date=date(2024, 1, 2), security=sec, weight=Decimal("0.5"))
            Price.objects.create(security=sec, date=date(2024, 1, 2), close=Decimal("10"))
        # the bundled prices do not hold these names...
        with pytest.raises(ValidationFailed, match="AAA, BBB are not among them"):
            _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=bench, start=date(2008, 6, 30))
        # ...and the firm's own cover a day, not a year before the start to its end
        with pytest.raises(ValidationFailed, match="Prices cover 2024-01-02 to 2024-01-02"):
            _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=bench, prices=Backtest.Prices.FIRM,
                   start=date(2024, 1, 2))


def test_a_firms_own_prices_serve_a_backtest(firm_a, firm_user, django_capture_on_commit_callbacks):
    # given two securities with 600 trading days of the firm's own prices (seeded random walks)
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    import numpy as np

    rng = np.random.default_rng(5)
    with tenant_context(firm_a):
        bench = Benchmark.objects.create(code="PAIR", name="A pair")
        day0 = date(2020, 1, 1)
        days = [d for d in (day0 + timedelta(days=k) for k in range(900)) if d.weekday() < 5][:600]
        for symbol in ("AAA", "BBB"):
            sec = Security.objects.create(symbol=symbol, name=symbol, asset_class="us_equity", sector="Energy")
            BenchmarkWeight.objects.create(benchmark=bench, date=days[0], security=sec, weight=Decimal("0.5"))
            path = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
            Price.objects.bulk_create(Price(security=sec, date=d, close=Decimal(f"{p:.4f}")) for d, p in zip(days, path, strict=True))
        with django_capture_on_commit_callbacks():
            backtest = _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=bench, prices=Backtest.Prices.FIRM,
                              start=days[260], years=1)
        done = backtest_execute(backtest_id=backtest.pk)
        assert done.status == Backtest.Status.COMPLETED, done.error
        assert done.report["config"]["prices"]["source"] == "firm"
        assert done.report["groups"]["all"]["engine"]["wash_sales"] == 0


def test_a_user_has_at_most_a_few_backtests_waiting(firm_a, firm_user, django_capture_on_commit_callbacks):
    advisor = firm_user(firm_a, "adv@bt.example", FirmRole.ADVISOR)
    with tenant_context(firm_a), django_capture_on_commit_callbacks():
        for _ in range(OPEN_PER_USER):
            _start(advisor)
        with pytest.raises(Conflict, match="already have 3"):
            _start(advisor)


def test_who_may_start_and_see_backtests(firm_a, firm_user, django_capture_on_commit_callbacks):
    advisor = firm_user(firm_a, "adv@bt.example", FirmRole.ADVISOR)
    colleague = firm_user(firm_a, "adv2@bt.example", FirmRole.ADVISOR)
    compliance = firm_user(firm_a, "cco@bt.example", FirmRole.COMPLIANCE)
    with tenant_context(firm_a):
        from tenants.services import user_ensure

        nobody = user_ensure(username="none@bt.example", email="none@bt.example", roles=[], password="x-pass-12345")
        with django_capture_on_commit_callbacks():
            mine = _start(advisor)
        # an advisor sees their own prospects' backtests, not a colleague's; firm-wide roles see all
        assert list(backtests_visible_to(advisor)) == [mine]
        assert list(backtests_visible_to(colleague)) == []
        assert list(backtests_visible_to(compliance)) == [mine]
        with pytest.raises(PermissionDenied):
            _start(nobody)


def test_the_replayed_parameters_leave_out_what_belongs_to_a_real_accounts_model(firm_a):
    with tenant_context(firm_a):
        template = make_template("esg", parameters={
            "screen": {"enabled": True, "excluded_sectors": ["Energy"]},
            "direct_index": {"us_equity": {"max_names": 50}},
            "harvest": {"enabled": False, "substitutes": {"VTI": "ITOT"}, "min_loss_value": 1000},
            "trading": {"tracking_error_cost": 0.5},
        })
        values = backtest_parameters(template)
    assert values["harvest"] == {"enabled": True, "min_loss_value": 1000, "min_loss_pct": 0.05, "substitutes": {}}
    assert values["screen"]["enabled"] is False and values["direct_index"] == {}
    assert values["trading"]["tracking_error_cost"] == 0.5


def _firm_pair(days, *, every: int = 1):
    """A benchmark of two names with the firm's own prices (seeded random walks): AAA every day,
    BBB every ``every``-th day and the last."""
    import numpy as np

    rng = np.random.default_rng(5)
    bench = Benchmark.objects.create(code="PAIR", name="A pair")
    for symbol in ("AAA", "BBB"):
        sec = Security.objects.create(symbol=symbol, name=symbol, asset_class="us_equity", sector="Energy")
        BenchmarkWeight.objects.create(benchmark=bench, date=days[0], security=sec, weight=Decimal("0.5"))
        path = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        kept = [(k, d, p) for k, (d, p) in enumerate(zip(days, path, strict=True))
                if symbol == "AAA" or k % every == 0 or k == len(days) - 1]
        Price.objects.bulk_create(Price(security=sec, date=d, close=Decimal(f"{p:.4f}")) for _, d, p in kept)
    return bench


def _weekdays(first: date, n: int) -> list[date]:
    return [d for d in (first + timedelta(days=k) for k in range(2 * n)) if d.weekday() < 5][:n]


def test_firm_prices_of_a_name_priced_now_and_then_are_refused_before_anything_is_queued(firm_a, firm_user):
    # given: BBB priced every 30th day, or on 3 of 600 days: each name's first and last day span the period
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        days = _weekdays(date(2020, 1, 1), 600)
        monthly = _firm_pair(days, every=30)
        # when / then: refused at once, naming the missing days (before: queued and replayed as if
        # daily; on three days the worker crashed and retried, leaving it "running" for good)
        with pytest.raises(ValidationFailed, match="No prices from 2020-12-02 to 2021-01-13 for every name") as gap:
            _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=monthly, prices=Backtest.Prices.FIRM,
                   start=days[260], years=1)
        assert gap.value.detail == {"field": "prices"}
        Price.objects.filter(security__symbol="BBB").exclude(date__in=[days[0], days[-1]]).delete()
        with pytest.raises(ValidationFailed, match=r"prices of all 2 securities on 1 day from 2020-03-16"):
            _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=monthly, prices=Backtest.Prices.FIRM,
                   start=days[260], years=1)
        assert not Backtest.objects.exists()


def test_firm_prices_of_a_name_priced_weekly_are_refused_before_anything_is_queued(firm_a, firm_user):
    # given: BBB priced every fifth weekday - weekly, so no gap passes 10 days
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        days = _weekdays(date(2020, 1, 1), 600)
        weekly = _firm_pair(days, every=5)
        # when / then: refused at once, naming how sparse the closes are (before: queued and replayed
        # as if each week were a day)
        with pytest.raises(ValidationFailed, match=r"about 5\d a year: a backtest replays daily closes") as sparse:
            _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=weekly, prices=Backtest.Prices.FIRM,
                   start=days[260], years=1)
        assert sparse.value.detail == {"field": "prices"}
        assert not Backtest.objects.exists()


def test_the_names_the_firm_holds_no_price_of_are_named(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        days = _weekdays(date(2020, 1, 1), 600)
        bench = _firm_pair(days)
        unpriced = Security.objects.create(symbol="CCC", name="CCC", asset_class="us_equity")
        BenchmarkWeight.objects.create(benchmark=bench, date=days[0], security=unpriced, weight=Decimal("0.5"))
        with pytest.raises(ValidationFailed, match=r"This firm holds no prices of CCC \(1 of the basket's 3") as refused:
            _start(pm, basket=Backtest.Basket.BENCHMARK, benchmark=bench, prices=Backtest.Prices.FIRM,
                   start=days[260], years=1)
        assert refused.value.detail == {"field": "prices", "symbols": ["CCC"]}


def test_an_amount_the_backtest_cannot_replay_is_refused_at_once(firm_a, firm_user):
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        # before: stored and queued, then failed in the worker ("below 10^12")
        with pytest.raises(ValidationFailed, match="the amount must be at most 100,000,000,000") as refused:
            _start(pm, amount=Decimal("50000000000000"))
        assert refused.value.detail == {"field": "amount"}
        assert not Backtest.objects.exists()


def test_the_task_gives_up_after_its_retries_saying_so(firm_a, firm_user, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    from django.db import OperationalError

    from rebalancing import tasks

    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        with django_capture_on_commit_callbacks():
            doomed = _start(pm)
        calls = []

        def database_gone(*, backtest_id):
            calls.append(backtest_id)
            Backtest.objects.filter(pk=backtest_id).update(status=Backtest.Status.RUNNING)
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(tasks, "backtest_execute", database_gone)
        result = tasks.backtest_run.apply(args=[doomed.pk])  # eager: retries run at once
        doomed.refresh_from_db()

    assert result.failed() and len(calls) == 4  # the first try and 3 retries
    # before: left "running" for good, counted against the owner's 3 backtests under way
    assert doomed.status == Backtest.Status.FAILED and doomed.finished_at is not None
    assert doomed.error == "the backtest stopped unexpectedly, 4 times; try again"  # not the database's words


def test_the_same_inputs_give_the_same_report_after_the_firm_adds_prices(firm_a, firm_user,
                                                                          django_capture_on_commit_callbacks):
    # given: a backtest on the firm's prices, replayed
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        days = _weekdays(date(2020, 1, 1), 640)
        bench = _firm_pair(days[:600])
        inputs = dict(basket=Backtest.Basket.BENCHMARK, benchmark=bench, prices=Backtest.Prices.FIRM,
                      start=days[260], years=1)
        with django_capture_on_commit_callbacks():
            first = _start(pm, **inputs)
        first = backtest_execute(backtest_id=first.pk)
        # when: the firm's prices go on (as they do every night) and the same backtest is run again
        for sec in Security.objects.filter(symbol__in=["AAA", "BBB"]):
            Price.objects.bulk_create(Price(security=sec, date=d, close=Decimal("50")) for d in days[600:])
        with django_capture_on_commit_callbacks():
            again = _start(pm, **inputs)
        again = backtest_execute(backtest_id=again.pk)
    # then: the same report, to the prices' span (before: every price to the day it ran was read)
    assert first.status == again.status == Backtest.Status.COMPLETED, (first.error, again.error)
    assert again.report == first.report
    assert first.report["config"]["prices"]["last"] <= str(days[260].replace(year=days[260].year + 1) + timedelta(days=11))


def test_the_earlier_and_later_halves_of_mid_year_start_dates_are_halves(firm_a, firm_user):
    # given: four yearly start dates from the middle of 2008 (first tax years 2008 to 2011)
    pm = firm_user(firm_a, "pm@bt.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        backtest = Backtest.objects.create(
            name="halves", parameters=backtest_parameters(None), weights={"XOM": 0.5, "CVX": 0.5},
            amount=Decimal("1000000"), start=date(2008, 6, 30), years=1, cohorts=4, created_by=pm, **RATES)
        done = backtest_execute(backtest_id=backtest.pk)
    # then: two and two (before: 2008-2010 and 2011 alone)
    assert done.status == Backtest.Status.COMPLETED, done.error
    assert list(done.report["groups"]) == ["all", "2008-2009", "2010-2011"]

"""Backtests as a product feature: start one (checked, stored, audited, queued), and replay it in
a worker (rebalancing.backtest does the work; this module loads, stores and reports progress)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rebalancing import dispatch
from rebalancing.access import require
from rebalancing.backtest import BacktestConfig, BacktestError, Settings, run_backtest
from rebalancing.backtest.report import first_tax_year, report_dict
from rebalancing.backtest.risk import RISK_LOOKBACK_DAYS
from rebalancing.backtest.runner import MAX_GAP_DAYS, cohort_windows
from rebalancing.effective_parameters import parameters_effective
from rebalancing.engine import EngineError, Parameters
from rebalancing.models import Backtest, Benchmark, ModelPortfolio, ParameterTemplate
from rebalancing.selectors import (
    backtest_basket,
    backtest_firm_price_days,
    backtest_firm_price_span,
    backtest_price_history,
)
from tenants.audit.services import audit_record
from tenants.errors import Conflict, ValidationFailed
from tenants.permissions import Capability

__all__ = ["OPEN_PER_USER", "WATCHER", "backtest_execute", "backtest_fail", "backtest_parameters", "backtest_start",
           "backtests_watch"]

logger = logging.getLogger(__name__)

WATCHER = "backtest watch"
_ACTIVE = ("queued", "running")
# Backtests a user may have queued or running at once (each is minutes of a worker's time).
OPEN_PER_USER = 3
# Trading days of history the estimated risk model wants before the first start date (with margin).
HISTORY_BEFORE_START_DAYS = 200


def backtest_parameters(template: ParameterTemplate | None) -> dict:
    """The engine parameters a backtest replays: the template's harvesting, wash-sale, trading,
    tax-budget, restriction and drift settings (defaults without a template), with harvesting
    switched on - the question is what harvesting would have saved.

    What belongs to a real account's model rather than to harvesting is left out: the basket is
    the direct index (the template's direct-index, screen and removed-asset-class settings, its
    substitute maps and one-off instructions do not apply), and the cash target is 0 so the
    account is invested like its buy-and-hold twin.
    """
    values = parameters_effective(template=template, household_overrides={}, account_overrides={}).values
    values["harvest"]["enabled"] = True  # before validating: a switched-off group keeps no settings
    values = Parameters.from_dict(values).to_dict()
    values["harvest"]["substitutes"] = {}
    values["transition"]["substitutes"] = {}
    values["screen"]["enabled"] = False
    values["direct_index"] = {}
    values["removed_asset_classes"] = []
    values["instructions"] = []
    values["cash"]["target"] = 0.0
    values["cash"]["floor"] = 0.0
    return values


def _starts(start: date, cohorts: int) -> tuple[date, ...]:
    out = []
    for k in range(cohorts):
        try:
            out.append(start.replace(year=start.year + k))
        except ValueError:  # 29 February
            out.append(start.replace(year=start.year + k, day=28))
    return tuple(out)


def _span(*, start: date, years: int, cohorts: int) -> tuple[date, date]:
    """The days a backtest reads: from the risk model's history before its first start to the end of
    its last cohort."""
    try:
        last_start = _starts(start, cohorts)[-1]
        try:
            end = last_start.replace(year=last_start.year + years)
        except ValueError:  # 29 February
            end = last_start.replace(year=last_start.year + years, day=28)
        return date.fromordinal(start.toordinal() - int(HISTORY_BEFORE_START_DAYS * 365 / 252)), end
    except ValueError:  # the span runs off the calendar (before year 1 or after 9999)
        raise ValidationFailed(
            f"{_cohorts_words(cohorts, years)[:1].upper()}{_cohorts_words(cohorts, years)[1:]} from {start} "
            f"run{'s' if cohorts == 1 else ''} outside the calendar; choose a start within the prices' span.", detail={"field": "start"}) from None


def _cohorts_words(cohorts: int, years: int) -> str:
    """"1 start date of 10 years", "3 start dates of 1 year" (a cohort is a start date on the form)."""
    return f"{cohorts} start date{'s' if cohorts != 1 else ''} of {years} year{'s' if years != 1 else ''}"


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _valid_starts_words(first: date, last: date, *, years: int, cohorts: int) -> str:
    """The first start dates these prices can serve, or why none: the risk model's history before
    it, and every start date's horizon before the prices end."""
    try:
        earliest = date.fromordinal(first.toordinal() + int(HISTORY_BEFORE_START_DAYS * 365 / 252))
        latest = _years_before(last, years + cohorts - 1)
    except (ValueError, OverflowError):  # off the calendar
        earliest = latest = None
    if earliest is None or latest < earliest:
        return (f"These prices are too short for {_cohorts_words(cohorts, years)}: choose fewer years"
                f"{' or fewer start dates' if cohorts > 1 else ''}.")
    return (f"With these prices the {'first ' if cohorts > 1 else ''}start date can be from {earliest} "
            f"to {latest}.")


def _check_history(*, prices: str, symbols: list[str], start: date, years: int, cohorts: int) -> None:
    """Refuse, naming the span, a backtest the prices cannot serve (before anything is queued)."""
    needed_from, end = _span(start=start, years=years, cohorts=cohorts)
    if prices == Backtest.Prices.SAMPLE:
        from rebalancing.backtest.prices import load_sample

        history = load_sample()
        outside = sorted(set(symbols) - set(history.symbols))
        if outside:
            raise ValidationFailed(
                f"The bundled prices cover 20 S&P 500 stocks; {', '.join(outside[:8])}"
                f"{' and others' if len(outside) > 8 else ''} are not among them: use this firm's prices.",
                detail={"field": "prices", "symbols": outside[:50]},
            )
        first, last = history.first, history.last
    else:
        span, missing = backtest_firm_price_span(symbols)
        if span is None:
            raise ValidationFailed(
                f"This firm holds no prices of {', '.join(missing[:8])}{' and others' if len(missing) > 8 else ''}"
                f" ({len(missing)} of the basket's {len(symbols)} securities).",
                detail={"field": "prices", "symbols": missing[:50]},
            )
        first, last = span
    if first > needed_from or last < end:
        raise ValidationFailed(
            f"Prices cover {first} to {last}; {_cohorts_words(cohorts, years)} from {start} need{'s' if cohorts == 1 else ''} prices from "
            f"{needed_from} (for the risk model's history before the first start) to {end}. "
            f"{_valid_starts_words(first, last, years=years, cohorts=cohorts)}",
            detail={"field": "start", "prices_first": str(first), "prices_last": str(last)},
        )
    if prices == Backtest.Prices.FIRM:
        # Each name's first and last day are not enough: the worker replays the days on which every
        # name has a price, and a name priced weekly, or missing for months, leaves too few of them.
        # (with the year after the end: the next day shows a gap across the end, not a short span)
        until = min(last, end + timedelta(days=366))
        days = backtest_firm_price_days(symbols, first=needed_from, last=until)
        try:
            if len(days) < 2:
                raise BacktestError(f"This firm has prices of all {len(symbols)} securities on {len(days)} "
                                    f"day{'s' if len(days) != 1 else ''} from {needed_from} to {until}; a backtest "
                                    "replays daily closes.")
            cohort_windows(np.array([d.toordinal() for d in days]), _starts(start, cohorts), years)
        except BacktestError as exc:
            said = str(exc)  # the engine's words are a clause: said here as a sentence
            raise ValidationFailed(said[:1].upper() + said[1:] + ("" if said.endswith(".") else "."),
                                   detail={"field": "prices"}) from None


def _lock_the_users_backtests(user) -> None:
    """Hold the user's backtests until this transaction ends: of two starts at once the second waits
    here and then counts the first (this statement's snapshot is taken after the wait), so nobody
    gets past ``OPEN_PER_USER`` by pressing twice. Keyed by schema and user: nobody else waits."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"{connection.schema_name}:backtests:{user.pk}"])


@transaction.atomic
def backtest_start(
    *,
    user,
    name: str,
    template: ParameterTemplate | None,
    basket: str,
    model: ModelPortfolio | None = None,
    benchmark: Benchmark | None = None,
    prices: str,
    amount: Decimal,
    start: date,
    years: int,
    cohorts: int = 1,
    short_term_rate: Decimal,
    long_term_rate: Decimal,
    losses: str = Backtest.Losses.OFFSET,
) -> Backtest:
    """Store a backtest and queue it for a worker once this transaction commits."""
    require(user, Capability.VIEW_BOOK)
    _lock_the_users_backtests(user)
    open_ = Backtest.objects.filter(created_by=user, status__in=(Backtest.Status.QUEUED, Backtest.Status.RUNNING))
    if open_.count() >= OPEN_PER_USER:
        raise Conflict(f"you already have {OPEN_PER_USER} backtests waiting or running; start more when one finishes")
    weights = backtest_basket(
        basket=basket,
        model_id=model.pk if model else None,
        benchmark_id=benchmark.pk if benchmark else None,
        as_of=timezone.localdate(),
    )
    backtest = Backtest(
        name=name or f"Harvesting from {start}",
        template=template,
        parameters=backtest_parameters(template),
        basket=basket,
        model=model if basket == Backtest.Basket.MODEL else None,
        benchmark=benchmark if basket == Backtest.Basket.BENCHMARK else None,
        weights=weights,
        prices=prices,
        amount=amount,
        start=start,
        years=years,
        cohorts=cohorts,
        short_term_rate=short_term_rate,
        long_term_rate=long_term_rate,
        losses=losses,
        created_by=user,
        sent_at=timezone.now(),
    )
    backtest.full_clean()
    if amount > Backtest.AMOUNT_MAX:
        raise ValidationFailed(f"the amount must be at most {Backtest.AMOUNT_MAX:,}, got {amount:,}",
                               detail={"field": "amount"})
    _check_history(prices=prices, symbols=list(weights), start=start, years=years, cohorts=cohorts)
    backtest.save()
    audit_record(actor=user, action="backtest.start", obj=backtest, after={
        "template": template.code if template else None, "basket": basket, "prices": prices,
        "symbols": len(weights), "amount": str(amount), "start": str(start), "years": years, "cohorts": cohorts,
    })
    # The schema is read when the message is sent: on_commit runs in this firm's context.
    transaction.on_commit(lambda: dispatch.send(dispatch.BACKTEST_RUN, backtest.pk))
    return backtest


def backtest_fail(*, backtest_id: int, message: str) -> None:
    """End a backtest the worker could not finish (after its retries), saying why: it no longer shows
    as under way nor counts against its owner's backtests waiting or running."""
    Backtest.objects.filter(pk=backtest_id, status__in=(Backtest.Status.QUEUED, Backtest.Status.RUNNING)).update(
        status=Backtest.Status.FAILED, error=message[:2000], finished_at=timezone.now()
    )


def _replay_lock(backtest_id: int) -> str:
    return f"{connection.schema_name}:backtest-replay:{backtest_id}"


@contextmanager
def _replaying(backtest_id: int) -> Iterator[bool]:
    """Hold the backtest's replay lock for as long as a worker replays it; yields False when another
    worker holds it. A session lock: it goes with its worker's connection, so a worker that dies
    mid-way frees the backtest for the watch and for a redelivered message."""
    key = _replay_lock(backtest_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
            except DatabaseError:  # the connection is gone, and the lock with it
                logger.warning("backtest %s: its replay lock went with the connection", backtest_id)


def _replayed_elsewhere(backtest_id: int) -> bool:
    """Whether a worker holds the backtest's replay lock now."""
    with _replaying(backtest_id) as held:
        return not held


def backtest_execute(*, backtest_id: int) -> Backtest | None:
    """Replay a stored backtest (the worker's side). Idempotent: a finished one is left alone; one
    another worker is replaying (a message delivered twice) is left to it; redelivered after its
    worker was lost, it starts again from the first cohort."""
    with _replaying(backtest_id) as held:
        if not held:
            logger.info("backtest %s is being replayed by another worker", backtest_id)
            return None
        return _replay(backtest_id)


def _replay(backtest_id: int) -> Backtest | None:
    claimed = Backtest.objects.filter(pk=backtest_id, status__in=(Backtest.Status.QUEUED, Backtest.Status.RUNNING))
    if not claimed.update(status=Backtest.Status.RUNNING, started_at=timezone.now(), done=0):
        return None
    backtest = Backtest.objects.get(pk=backtest_id)
    try:
        symbols = list(backtest.weights)
        # The span it was checked for (from MAX_GAP_DAYS after its end, the next trading day), not
        # every price since: prices added later do not change it.
        first, end = _span(start=backtest.start, years=backtest.years, cohorts=backtest.cohorts)
        history = backtest_price_history(source=backtest.prices, symbols=symbols, first=first,
                                         last=end + timedelta(days=MAX_GAP_DAYS + 1)).through(end)
        config = BacktestConfig(
            weights=backtest.weights,
            starts=_starts(backtest.start, backtest.cohorts),
            years=backtest.years,
            parameters=Parameters.from_dict(backtest.parameters),
            settings=Settings(
                float(backtest.amount), float(backtest.short_term_rate), float(backtest.long_term_rate),
                backtest.losses,
            ),
            risk_model="estimated" if len(history.dates) > RISK_LOOKBACK_DAYS // 4 else "default",
        )

        def progress(done: int, total: int) -> None:
            Backtest.objects.filter(pk=backtest_id).update(done=done)

        result = run_backtest(config, history, progress=progress)
        # Earlier and later halves of the start dates, by their first tax years.
        split = first_tax_year(backtest.start) + backtest.cohorts // 2 if backtest.cohorts >= 4 else None
        report = report_dict(result, split_year=split)
    except (BacktestError, EngineError, ValidationFailed) as exc:
        message = getattr(exc, "message", None) or str(exc)
        Backtest.objects.filter(pk=backtest_id).update(
            status=Backtest.Status.FAILED, error=message[:2000], finished_at=timezone.now()
        )
        logger.info("backtest %s failed: %s", backtest_id, message)
        return Backtest.objects.get(pk=backtest_id)
    Backtest.objects.filter(pk=backtest_id).update(
        status=Backtest.Status.COMPLETED, report=report, done=backtest.cohorts, finished_at=timezone.now(), error=""
    )
    return Backtest.objects.get(pk=backtest_id)


def backtests_watch(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Sent by beat to every firm: a backtest waiting or running that no worker is replaying (its
    replay lock is free) since it was last sent ``BACKTEST_STALL_SECONDS`` ago - then twice as long,
    and so on - is sent again: its message was lost, or its worker was (a replay of the same backtest
    delivered twice runs once: the lock). After ``BACKTEST_MAX_RESENDS`` sends it is ended as failed,
    saying so, so that it stops counting against its owner's backtests waiting or running."""
    now = now or timezone.now()
    stall = timedelta(seconds=settings.BACKTEST_STALL_SECONDS)
    report: dict[str, list[int]] = {"resent": [], "given_up": []}
    for backtest in Backtest.objects.filter(status__in=_ACTIVE).order_by("pk"):
        if now - (backtest.sent_at or backtest.created_at) < stall * 2**backtest.resends:
            continue
        with transaction.atomic():
            if _replayed_elsewhere(backtest.pk):
                continue
            # The row as it is now (a worker may have finished it since the list was read).
            backtest = Backtest.objects.select_for_update().filter(pk=backtest.pk, status__in=_ACTIVE).first()
            if backtest is None:
                continue
            if backtest.resends >= settings.BACKTEST_MAX_RESENDS:
                message = (f"no worker replayed this backtest after it was sent {backtest.resends + 1} times; "
                           "check the workers and start it again")
                Backtest.objects.filter(pk=backtest.pk).update(
                    status=Backtest.Status.FAILED, error=message, finished_at=now)
                audit_record(actor=WATCHER, action="backtest.give_up", obj=backtest,
                             before={"status": backtest.status}, after={"status": Backtest.Status.FAILED},
                             comment=message)
                report["given_up"].append(backtest.pk)
                continue
            Backtest.objects.filter(pk=backtest.pk).update(sent_at=now, resends=backtest.resends + 1)
            audit_record(actor=WATCHER, action="backtest.resend", obj=backtest,
                         before={"status": backtest.status, "done": backtest.done},
                         after={"resends": backtest.resends + 1},
                         comment=f"no worker had it since {backtest.sent_at or backtest.created_at:%Y-%m-%d %H:%M} UTC")
            transaction.on_commit(lambda pk=backtest.pk: dispatch.send(dispatch.BACKTEST_RUN, pk))
            report["resent"].append(backtest.pk)
    if report["resent"] or report["given_up"]:
        logger.warning("backtests watch in %s: %s", connection.schema_name, report)
    return report

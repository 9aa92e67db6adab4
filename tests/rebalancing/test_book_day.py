"""The days a run, what-if or cash flow may be computed on: 1900 to today in the firm's time zone,
whichever it is (the server keeps UTC)."""

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from rebalancing.engine_inputs import book_day_check, latest_book_day
from tenants.errors import ValidationFailed


def _latest_local_date(now: datetime) -> date:
    # The reference: the latest calendar date shown by any UTC offset in use (-12:00 to +14:00,
    # in quarter hours, which covers +05:45 and +12:45).
    return max(now.astimezone(timezone(timedelta(minutes=15 * q))).date() for q in range(-48, 57))


def test_the_latest_day_is_the_date_in_the_easternmost_zone_on_random_instants():
    rng = random.Random(20261202)
    for _ in range(2000):
        now = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(40 * 366 * 86400))
        assert latest_book_day(now) == _latest_local_date(now)


def test_sydneys_today_is_accepted_before_utc_midnight_and_the_day_after_is_not():
    now = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)  # 09:30 on 3 December in Sydney (UTC+11)
    assert book_day_check(date(2026, 12, 3), now=now) == date(2026, 12, 3)
    with pytest.raises(ValidationFailed, match="must be from 1900-01-01 to today") as refused:
        book_day_check(date(2026, 12, 4), what="run's day", now=now)
    assert refused.value.detail == {"field": "as_of"}
    assert "2026-12-04" in str(refused.value)


def test_early_in_the_utc_day_only_the_zones_past_midnight_have_begun_tomorrow():
    assert latest_book_day(datetime(2026, 12, 2, 9, 59, tzinfo=UTC)) == date(2026, 12, 2)
    assert latest_book_day(datetime(2026, 12, 2, 10, 0, tzinfo=UTC)) == date(2026, 12, 3)
    # An aware instant in another zone is the same instant.
    new_york = timezone(timedelta(hours=-5))
    assert latest_book_day(datetime(2026, 12, 2, 4, 59, tzinfo=new_york)) == date(2026, 12, 2)


def test_before_1900_is_refused():
    with pytest.raises(ValidationFailed, match="not 1899-12-31"):
        book_day_check(date(1899, 12, 31))

"""Price histories: the bundled sample, a firm's own CSV, and bad input named clearly."""

from datetime import date

import pytest

from rebalancing.backtest.errors import BacktestError
from rebalancing.backtest.prices import SAMPLE_SECTORS, load_sample, prices_from_csv, prices_from_rows


def test_the_bundled_sample_holds_20_stocks_from_1990_to_2022():
    h = load_sample()
    assert len(h.symbols) == 20 and set(h.symbols) == set(SAMPLE_SECTORS)
    assert (h.first, h.last, len(h.dates)) == (date(1990, 1, 2), date(2022, 12, 28), 8313)
    # month ends: the last trading day of each month
    rows = h.month_ends(0, 60)
    assert [h.day(int(r)) for r in rows[:2]] == [date(1990, 1, 31), date(1990, 2, 28)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("when,A\n2020-01-02,1\n", "first column"),
        ("date,A,A\n2020-01-02,1,2\n", "twice"),
        ("date,A\n2020-01-02,1\n02/01/2020,2\n", "line 3"),
        ("date,A\n2020-01-02,1\n2020-01-03,abc\n", "line 3, A"),
        ("date,A\n2020-01-02,1\n2020-01-03,-4\n", "positive"),
        ("date,A\n2020-01-02,1\n2020-01-03,1,2\n", "line 3: 3 values"),
        ("date,A\n2020-01-03,1\n2020-01-02,1\n", "ascending"),
    ],
)
def test_a_bad_price_file_is_refused_naming_the_problem(text, message):
    with pytest.raises(BacktestError, match=message):
        prices_from_csv(text)


def test_a_firms_rows_keep_the_days_every_symbol_has_a_price():
    rows = [(date(2020, 1, 2), "A", 1.0), (date(2020, 1, 2), "B", 2.0), (date(2020, 1, 3), "A", 1.1),
            (date(2020, 1, 6), "A", 1.2), (date(2020, 1, 6), "B", 2.2)]  # fmt: skip
    h = prices_from_rows(rows)
    assert h.symbols == ("A", "B") and [h.day(i) for i in range(2)] == [date(2020, 1, 2), date(2020, 1, 6)]
    with pytest.raises(BacktestError, match="no price history for C"):
        h.select(["C"])

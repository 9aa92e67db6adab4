"""The backtest's CSV holds figures at a fixed precision (before: a float's binary noise,
1000000.0000000001, -0.0 and 17-digit fractions)."""

from dataclasses import fields

from rebalancing.backtest.metrics import PeriodMetrics
from rebalancing.backtest.report import CSV_FIELDS, report_csv_rows


def _metrics(**noise) -> dict:
    figures = {f.name: 0.0 for f in fields(PeriodMetrics)} | {"harvests": 3, "wash_sales": 0, "failed_calls": 0,
                                                                "decisions": 12}
    return figures | {"strategy": "engine", "start": "2008-06-30", "end": "2009-06-30"} | noise


def test_money_is_written_to_the_cent_fractions_to_six_places_and_never_minus_zero():
    # Given a cohort whose figures carry a float's noise
    whole = _metrics(start_value=1000000.0000000001, end_value=987654.3219999999, tax=-0.0, losses_harvested=-1e-12,
                     tax_alpha=0.0077200000000000001, tracking_error=0.009312345678901234, active_return=-1e-9,
                     turnover=0.25, after_tax_value=None)
    report = {"cohorts": [{"start": "2008-06-30", "whole": {"engine": whole}, "by_year": {}}]}

    # When it is written as CSV rows
    header, row = list(report_csv_rows(report))
    cells = dict(zip(header, row, strict=True))

    # Then money has cents, fractions six places, counts stay whole and nothing is -0
    assert header == list(CSV_FIELDS)
    assert (cells["start_value"], cells["end_value"], cells["tax"], cells["losses_harvested"]) == (
        "1000000.00", "987654.32", "0.00", "0.00")
    assert (cells["tax_alpha"], cells["tracking_error"], cells["active_return"], cells["turnover"]) == (
        "0.007720", "0.009312", "0.000000", "0.250000")
    assert (cells["harvests"], cells["decisions"], cells["after_tax_value"]) == (3, 12, None)
    assert not any(isinstance(c, str) and c.startswith("-") and float(c) == 0 for c in row)

"""A backtest's report: the engine beside its two baselines, over all cohorts and by period, by
cohort and by year; as a JSON-friendly dict (the page and the API), a text table (the command
line) and CSV rows (the export)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import date
from typing import Any

import numpy as np

from .errors import BacktestError
from .metrics import PeriodMetrics
from .runner import BacktestResult, CohortResult

__all__ = ["STRATEGIES", "first_tax_year", "report_dict", "report_text", "report_csv_rows", "cohort_groups", "TARGETS"]

STRATEGIES = ("engine", "naive", "buy_and_hold")
LABELS = {"engine": "Engine", "naive": "Naive harvester", "buy_and_hold": "Buy and hold"}
# The outcome the engine's defaults are held to (issue 12), against the naive harvester.
TARGETS = {"tax_alpha_ratio": 1.2, "tracking_error_ratio": 0.5}
# Figures averaged over cohorts (each cohort weighs the same).
MEAN_FIELDS = (
    "tax_alpha", "tracking_error", "active_return", "annual_return", "after_tax_excess",
    "after_tax_excess_per_year", "cash_weight", "cash_drag", "turnover", "harvests", "losses_harvested",
    "short_term_gains", "long_term_gains",
)  # fmt: skip
SUM_FIELDS = ("wash_sales", "failed_calls", "decisions")


def cohort_groups(result: BacktestResult, split_year: int | None) -> list[tuple[str, list[CohortResult]]]:
    """All cohorts, and - with ``split_year`` - those starting before it and from it on (named by
    their first tax years, e.g. "1991-2001" and "2002-2012")."""
    cohorts = result.cohorts
    groups = [("all", cohorts)]
    if split_year is not None:
        early = [c for c in cohorts if _first_year(c) < split_year]
        late = [c for c in cohorts if _first_year(c) >= split_year]
        for part in (early, late):
            if part and len(part) < len(cohorts):
                groups.append((f"{_first_year(part[0])}-{_first_year(part[-1])}", part))
    return groups


def first_tax_year(start: date) -> int:
    """The first tax year of a cohort bought on ``start``: a cohort bought at the close of a year's
    last trading day starts its first tax year next."""
    return start.year + 1 if (start.month, start.day) >= (12, 24) else start.year


def _first_year(cohort: CohortResult) -> int:
    return first_tax_year(cohort.start)


def _mean(metrics: Sequence[PeriodMetrics]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in MEAN_FIELDS:
        values = [getattr(m, name) for m in metrics if getattr(m, name) is not None]
        out[name] = float(np.mean(values)) if values else 0.0
    for name in SUM_FIELDS:
        out[name] = int(sum(getattr(m, name) for m in metrics))
    out["tracking_error_median"] = float(np.median([m.tracking_error for m in metrics])) if metrics else 0.0
    return out


def group_summary(cohorts: Sequence[CohortResult]) -> dict[str, Any]:
    """Mean figures of each strategy over ``cohorts``, and the engine against the naive harvester."""
    summary = {s: _mean([c.whole[s] for c in cohorts if s in c.whole]) for s in STRATEGIES}
    engine, naive = summary["engine"], summary["naive"]
    alpha_ratio = engine["tax_alpha"] / naive["tax_alpha"] if naive["tax_alpha"] > 0 else math.nan
    te_ratio = engine["tracking_error"] / naive["tracking_error"] if naive["tracking_error"] > 0 else math.nan
    summary["versus_naive"] = {
        "tax_alpha_ratio": alpha_ratio,
        "tracking_error_ratio": te_ratio,
        "meets_target": bool(
            alpha_ratio >= TARGETS["tax_alpha_ratio"]
            and te_ratio <= TARGETS["tracking_error_ratio"]
            and engine["wash_sales"] == 0
            and engine["failed_calls"] == 0
        ),
    }
    return summary


def _metrics_dict(m: PeriodMetrics) -> dict[str, Any]:
    out = asdict(m)
    out["start"], out["end"] = m.start.isoformat(), m.end.isoformat()
    return out


def _monthly_values(result: BacktestResult, cohort: CohortResult) -> dict[str, Any]:
    """Month-end values of each strategy (for charts: a cohort's daily series would be too long)."""
    history = result.history
    run = cohort.runs["buy_and_hold"]
    rows = history.month_ends(int(run.rows[0]), int(run.rows[-1]))
    rows = np.unique(np.r_[run.rows[0], rows, run.rows[-1]])
    offsets = rows - run.rows[0]
    return {
        "dates": [history.day(int(r)).isoformat() for r in rows],
        **{name: [round(float(v), 2) for v in r.values[offsets]] for name, r in cohort.runs.items()},
    }


def report_dict(
    result: BacktestResult, *, split_year: int | None = None, series: bool = True
) -> dict[str, Any]:
    """The whole report as plain JSON values."""
    config = result.config
    settings = config.settings
    groups = {name: group_summary(cohorts) for name, cohorts in cohort_groups(result, split_year)}
    years: dict[int, dict[str, list[PeriodMetrics]]] = {}
    for c in result.cohorts:
        for s in STRATEGIES:
            for m in c.by_year.get(s, ()):
                years.setdefault(m.end.year, {}).setdefault(s, []).append(m)
    return {
        "config": {
            "symbols": list(config.weights),
            "weights": dict(config.weights),
            "starts": [d.isoformat() for d in config.starts],
            "years": config.years,
            "amount": settings.amount,
            "short_term_rate": settings.short_term_rate,
            "long_term_rate": settings.long_term_rate,
            "losses": settings.losses,
            "risk_model": config.risk_model,
            "naive_threshold": config.naive_threshold,
            "parameters": config.parameters.to_dict(),
            "prices": {
                "source": result.history.source,
                "first": result.history.first.isoformat(),
                "last": result.history.last.isoformat(),
            },
        },
        "targets": TARGETS,
        "groups": groups,
        "by_year": [
            {"year": y, **{s: _mean(ms) for s, ms in by.items()}, "cohorts": len(by.get("engine", ()))}
            for y, by in sorted(years.items())
        ],
        "cohorts": [
            {
                "start": c.start.isoformat(),
                "end": c.end.isoformat(),
                "whole": {s: _metrics_dict(m) for s, m in c.whole.items()},
                "by_year": {s: [_metrics_dict(m) for m in ms] for s, ms in c.by_year.items()},
                "failures": [{"date": d.isoformat(), "error": e} for d, e in c.runs["engine"].failures],
                "values": _monthly_values(result, c) if series else None,
            }
            for c in result.cohorts
        ],
    }


def _pct(x: float | None, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"


def report_text(report: dict[str, Any]) -> str:
    """The command line's table: each group, then each cohort's headline figures."""
    cfg = report["config"]
    lines = [
        f"Backtest: {len(cfg['symbols'])} names, {len(cfg['starts'])} cohort(s) held {cfg['years']} years, "
        f"{cfg['amount']:,.0f} each, month-end decisions, {cfg['short_term_rate']:.1%} short-term / "
        f"{cfg['long_term_rate']:.1%} long-term, losses: {cfg['losses']}, risk model: {cfg['risk_model']}, "
        f"prices: {cfg['prices']['source']} {cfg['prices']['first']}..{cfg['prices']['last']}",
        "",
    ]
    head = (
        f"{'strategy':18} {'tax alpha':>9} {'track err':>9} {'(median)':>9} {'active':>8} {'after-tax':>9} "
        f"{'harvests':>8} {'ST gains':>11} {'LT gains':>11} {'wash':>5} {'failed':>6} {'cash':>6}"
    )
    for name, g in report["groups"].items():
        title = "all cohorts" if name == "all" else f"cohorts {name}"
        lines += [
            f"== {title} (means over cohorts; after-tax = liquidation value vs buy-and-hold, per year)",
            head,
            "-" * len(head),
        ]
        for s in STRATEGIES:
            m = g[s]
            lines.append(
                f"{LABELS[s]:18} {_pct(m['tax_alpha'], 3):>9} {_pct(m['tracking_error']):>9} "
                f"{_pct(m['tracking_error_median']):>9} {_pct(m['active_return']):>8} "
                f"{_pct(m['after_tax_excess_per_year']):>9} {m['harvests']:>8.0f} {m['short_term_gains']:>11,.0f} "
                f"{m['long_term_gains']:>11,.0f} {m['wash_sales']:>5} {m['failed_calls']:>6} {_pct(m['cash_weight']):>6}"
            )
        v = g["versus_naive"]
        lines += [
            f"engine vs naive: tax alpha x{v['tax_alpha_ratio']:.2f} (target >= {TARGETS['tax_alpha_ratio']}), "
            f"tracking error x{v['tracking_error_ratio']:.2f} (target <= {TARGETS['tracking_error_ratio']}): "
            f"{'met' if v['meets_target'] else 'NOT met'}",
            "",
        ]
    lines += [
        "== by cohort (tax alpha / tracking error)",
        f"{'start':10} {'engine':>17} {'naive':>17} {'wash':>5} {'failed':>6}",
    ]
    for c in report["cohorts"]:
        e, n = c["whole"]["engine"], c["whole"]["naive"]
        lines.append(
            f"{c['start']:10} {_pct(e['tax_alpha'], 3):>8} {_pct(e['tracking_error']):>8} "
            f"{_pct(n['tax_alpha'], 3):>8} {_pct(n['tracking_error']):>8} {e['wash_sales']:>5} {e['failed_calls']:>6}"
        )
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("level", "cohort_start", "period_start", "period_end", "strategy") + tuple(
    f.name for f in fields(PeriodMetrics) if f.name not in ("strategy", "start", "end")
)
# Dollar figures, written to the cent; every other float is a fraction (a return, tax alpha, a
# weight, turnover), written to 1e-6: a ten-thousandth of a percentage point.
CSV_MONEY_FIELDS = frozenset(
    ("start_value", "end_value", "tax", "losses_harvested", "short_term_gains", "long_term_gains", "after_tax_value")
)
CSV_FRACTION_PLACES = 6


def _csv_cell(field: str, value: Any) -> Any:
    """A float at the file's fixed precision, so its binary noise (1000000.0000000001, -0.0) stays
    out of the file; counts and absent figures as they are."""
    if not isinstance(value, float):
        return value
    places = 2 if field in CSV_MONEY_FIELDS else CSV_FRACTION_PLACES
    return f"{round(value, places) + 0.0:.{places}f}"  # + 0.0: -0.0 (a loss that rounds away) is 0.0


def report_csv_rows(report: dict[str, Any]) -> Iterable[list[Any]]:
    """Header, then one row per strategy and cohort (level "cohort") and per strategy, cohort and
    year (level "year"); money to the cent, fractions to ``CSV_FRACTION_PLACES`` places."""
    yield list(CSV_FIELDS)
    for c in report["cohorts"]:
        for level, per_strategy in (
            ("cohort", {s: [m] for s, m in c["whole"].items()}),
            ("year", c["by_year"]),
        ):
            for strategy in STRATEGIES:
                for m in per_strategy.get(strategy, ()):
                    yield [level, c["start"], m["start"], m["end"], strategy] + [
                        _csv_cell(f, m[f]) for f in CSV_FIELDS[5:]
                    ]


def parse_cohorts(text: str) -> tuple[int, int]:
    """``"1991-2012"`` or ``"1991"`` -> (first, last); ``BacktestError`` naming a malformed range."""
    first, _, last = text.strip().partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        raise BacktestError(f"cohorts {text!r}: expected a year or first-last years, e.g. 1991-2012") from None


def to_date(text: str) -> date:
    """An ISO date (``2007-12-31``); ``BacktestError`` naming anything else."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BacktestError(f"{text!r} is not a date: expected YYYY-MM-DD, e.g. 2007-12-31") from None

"""Command line: replay harvesting on real prices, beside buy-and-hold and a naive harvester.

    python -m rebalancing.backtest                       # the issue-12 outcome: 1991-2012 cohorts
    python -m rebalancing.backtest --cohorts 2005-2008 --years 5 --json out.json
    python -m rebalancing.backtest --start 2007-06-29 --years 3 --parameters template.json
    python -m rebalancing.backtest --prices my_prices.csv --cohorts 2012-2014 --years 5
    python -m rebalancing.backtest --household       # issue 17: a household (taxable, IRA, Roth)
                                                     # as one, against account by account

Prints the report (means over cohorts, by period, by cohort); errors print one line on stderr
and exit with status 2.  (The figures as CSV come from the product's page and API, through its
one CSV writer, rebalancing.exports.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rebalancing.engine import InvalidRequest, Parameters

from .errors import BacktestError
from .prices import load_sample, prices_from_csv
from .report import parse_cohorts, report_dict, report_text, to_date
from .runner import RISK_MODELS, BacktestConfig, cohort_starts, run_backtest
from .simulation import Settings
from .taxes import LOSS_TREATMENTS

__all__ = ["main", "DEFAULT_TEMPLATE"]

# A template with harvesting switched on and every harvesting setting at its default.  The
# account is fully invested like its buy-and-hold twin (cash target 0; the engine's default 1%
# would be cash drag that has nothing to do with harvesting).
DEFAULT_TEMPLATE = {"harvest": {"enabled": True}, "cash": {"target": 0.0}}


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BacktestError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise BacktestError(f"cannot read {path}: {exc.strerror}") from None


def build_config(args: argparse.Namespace, symbols: tuple[str, ...]) -> BacktestConfig:
    template = dict(DEFAULT_TEMPLATE)
    if args.parameters:
        try:
            template = json.loads(_read_text(args.parameters))
        except json.JSONDecodeError as exc:
            raise BacktestError(f"{args.parameters}: malformed JSON ({exc.msg}, line {exc.lineno})") from None
    try:
        parameters = Parameters.from_dict(template)
    except InvalidRequest as exc:
        raise BacktestError(f"{args.parameters or 'parameters'}: {exc}") from None
    chosen = [s.strip() for s in args.symbols.split(",")] if args.symbols else list(symbols)
    if args.start:
        starts = tuple(to_date(s) for s in args.start)
    else:
        starts = cohort_starts(*parse_cohorts(args.cohorts))
    settings = Settings(args.amount, args.short_term_rate, args.long_term_rate, args.losses)
    return BacktestConfig(
        weights={s: 1 / len(chosen) for s in chosen},
        starts=starts,
        years=args.years,
        parameters=parameters,
        settings=settings,
        risk_model=args.risk_model,
        naive_threshold=args.naive_threshold,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rebalancing.backtest", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--cohorts", default="1991-2012", help="first-last year of yearly cohorts (default 1991-2012)"
    )
    parser.add_argument(
        "--start", action="append", help="a start date instead of yearly cohorts (repeatable)"
    )
    parser.add_argument("--years", type=int, default=10, help="holding period of each cohort (default 10)")
    parser.add_argument(
        "--amount", type=float, default=1_000_000.0, help="money invested (default 1,000,000)"
    )
    parser.add_argument("--short-term-rate", type=float, default=0.408, help="default 0.408 (37%% + 3.8%%)")
    parser.add_argument("--long-term-rate", type=float, default=0.238, help="default 0.238 (20%% + 3.8%%)")
    parser.add_argument(
        "--losses",
        choices=LOSS_TREATMENTS,
        default="offset",
        help="net losses offset gains elsewhere (default) or carry forward ($3,000 a year)",
    )
    parser.add_argument("--parameters", help="engine parameters JSON (a template); default: harvesting on")
    parser.add_argument("--symbols", help="comma-separated subset of the names (equal weight)")
    parser.add_argument(
        "--prices", help="CSV of daily closes: date,SYM1,SYM2,... (default: the bundled sample)"
    )
    parser.add_argument("--risk-model", choices=RISK_MODELS, default="estimated")
    parser.add_argument(
        "--naive-threshold", type=float, default=0.10, help="the naive harvester's loss (0.10)"
    )
    parser.add_argument("--split", type=int, default=2002, help="report cohorts before/from this year apart")
    parser.add_argument("--json", help="write the full report (with monthly values) as JSON")
    group = parser.add_argument_group(
        "household",
        "--household: a taxable account, a traditional IRA and a Roth held to one 60/40 model, "
        "rebalanced as a household against account by account (docs/backtest.md)",
    )
    group.add_argument("--household", action="store_true", help="run the household backtest instead")
    group.add_argument("--taxable", type=float, default=500_000.0, help="taxable account (500,000)")
    group.add_argument("--traditional", type=float, default=300_000.0, help="traditional IRA (300,000)")
    group.add_argument("--roth", type=float, default=200_000.0, help="Roth (200,000)")
    group.add_argument("--equity-weight", type=float, default=0.6, help="model's equity weight (0.6)")
    group.add_argument("--ordinary-rate", type=float, default=0.408, help="bond interest in taxable (0.408)")
    group.add_argument("--withdrawal-rate", type=float, default=0.37, help="IRA withdrawal tax (0.37)")
    group.add_argument("--dividend-yield", type=float, default=0.02, help="stocks' dividend yield (0.02)")
    group.add_argument("--absolute-band", type=float, default=0.03, help="drift band, absolute (0.03)")
    group.add_argument("--relative-band", type=float, default=0.25, help="drift band, relative (0.25)")
    group.add_argument(
        "--income",
        choices=("cash", "reinvested"),
        default="cash",
        help="distributions paid in cash (default) or reinvested in the same fund",
    )
    group.add_argument(
        "--inside-bands",
        choices=("tax_free", "cash_flows"),
        default="tax_free",
        help="inside its bands the household is rebalanced by every tax-free trade (the engine's default) "
        "or by its cash flows only",
    )
    group.add_argument(
        "--location",
        choices=("default", "growth_first"),
        default="default",
        help="where the bonds the IRA cannot hold go: the Roth (the engine's default) or the taxable account "
        "(growth_first: the Roth kept for equity)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    if args.household:
        return _household(args)
    try:
        history = (
            prices_from_csv(_read_text(args.prices), source=args.prices) if args.prices else load_sample()
        )
        config = build_config(args, history.symbols)
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if not args.quiet:
                print(
                    f"\rcohort {done}/{total} ({time.perf_counter() - started:.0f}s)", end="", file=sys.stderr
                )

        result = run_backtest(config, history, progress=progress)
        if not args.quiet:
            print(file=sys.stderr)
        report = report_dict(result, split_year=args.split, series=bool(args.json))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    except BacktestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(report_text(report))
    return 0


def _household(args: argparse.Namespace) -> int:
    from .household import HouseholdSettings, household_report_text, run_household_backtest

    try:
        history = (
            prices_from_csv(_read_text(args.prices), source=args.prices) if args.prices else load_sample()
        )
        if args.symbols:
            history = history.select([s.strip() for s in args.symbols.split(",")])
        settings = HouseholdSettings(
            taxable=args.taxable,
            traditional=args.traditional,
            roth=args.roth,
            equity_weight=args.equity_weight,
            short_term_rate=args.short_term_rate,
            long_term_rate=args.long_term_rate,
            ordinary_rate=args.ordinary_rate,
            withdrawal_rate=args.withdrawal_rate,
            dividend_yield=args.dividend_yield,
            losses=args.losses,
            income=args.income,
            absolute_band=args.absolute_band,
            relative_band=args.relative_band,
            inside_bands=args.inside_bands,
            location=args.location,
        )
        starts = (
            tuple(to_date(s) for s in args.start)
            if args.start
            else cohort_starts(*parse_cohorts(args.cohorts))
        )
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if not args.quiet:
                print(
                    f"\rcohort {done}/{total} ({time.perf_counter() - started:.0f}s)", end="", file=sys.stderr
                )

        cohorts = run_household_backtest(history, starts, args.years, settings, progress=progress)
        if not args.quiet:
            print(file=sys.stderr)
    except BacktestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(household_report_text(cohorts, settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    try:  # (a byte-order mark, as Excel's "CSV UTF-8" starts a file with, is no part of the text)
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BacktestError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise BacktestError(f"cannot read {path}: {exc.strerror}") from None


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser raising ``BacktestError`` (argparse then names the option)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except BacktestError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _symbols(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",")]
    if not all(chosen):
        raise BacktestError(f"{text!r} has an empty name: give comma-separated symbols, e.g. XOM,CVX")
    twice = sorted({s for s in chosen if chosen.count(s) > 1})
    if twice:
        raise BacktestError(f"{', '.join(twice)} named more than once")
    return chosen


def _json_target(path: str) -> Path:
    """Where --json writes: refused before minutes of work when its folder does not exist."""
    target = Path(path)
    if not target.parent.is_dir():
        raise BacktestError(f"cannot write {path}: no folder {target.parent}")
    return target


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
    chosen = args.symbols or list(symbols)
    starts = tuple(args.start) if args.start else args.cohorts
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
        "--cohorts",
        type=_argument(lambda text: cohort_starts(*parse_cohorts(text))),
        default="1991-2012",
        help="first-last year of yearly cohorts (default 1991-2012)",
    )
    parser.add_argument(
        "--start",
        action="append",
        type=_argument(to_date),
        help="a start date (YYYY-MM-DD) instead of yearly cohorts (repeatable)",
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
    parser.add_argument(
        "--symbols", type=_argument(_symbols), help="comma-separated subset of the names (equal weight)"
    )
    parser.add_argument(
        "--prices", help="CSV of daily closes: date,SYM1,SYM2,... (default: the bundled sample)"
    )
    parser.add_argument("--risk-model", choices=RISK_MODELS, default="estimated")
    parser.add_argument(
        "--naive-threshold", type=float, default=0.10, help="the naive harvester's loss (0.10)"
    )
    parser.add_argument("--split", type=int, default=2002, help="report cohorts before/from this year apart")
    parser.add_argument(
        "--json", type=_argument(_json_target), help="write the full report (with monthly values) as JSON"
    )
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
        return _household(args, parser.prog)
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
            try:
                args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
            except OSError as exc:
                raise BacktestError(f"cannot write {args.json}: {exc.strerror}") from None
    except BacktestError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(report_text(report))
    return 0


def _household(args: argparse.Namespace, prog: str) -> int:
    from .household import HouseholdSettings, household_report_text, run_household_backtest

    try:
        history = (
            prices_from_csv(_read_text(args.prices), source=args.prices) if args.prices else load_sample()
        )
        if args.symbols:
            history = history.select(args.symbols)
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
        starts = tuple(args.start) if args.start else args.cohorts
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
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(household_report_text(cohorts, settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

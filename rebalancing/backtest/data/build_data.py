"""Regenerate the backtest's price file from the skfolio wheel (BSD-3), which carries real data.

Run by hand (the backtest never imports skfolio)::

    pip download skfolio --no-deps -d /tmp/skf-wheel
    .venv/bin/python rebalancing/backtest/data/build_data.py --skfolio /tmp/skf-wheel/skfolio-*.whl

Writes ``sp500_daily.csv.gz`` next to this script (gzip with a zero timestamp, so a rebuild from
the same skfolio version is byte-identical): every daily close skfolio publishes (1990-01-02 to
2022-12-28, 8,313 days) of its 20 US large caps, adjusted for splits and dividends, and the S&P 500
index level (column ``^SPX``), as published.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from rebalancing.demo.data.build_data import _read_skfolio_csv, write_gzip_csv

HERE = Path(__file__).resolve().parent


def daily_prices(source: str | None) -> list[list[str]]:
    stocks = list(csv.reader(io.StringIO(_read_skfolio_csv(source, "sp500_dataset.csv.gz"))))
    index = list(csv.reader(io.StringIO(_read_skfolio_csv(source, "sp500_index.csv.gz"))))
    level = {row[0]: row[1] for row in index[1:]}
    rows = [[row[0], *row[1:], level[row[0]]] for row in stocks[1:] if row[0] in level]
    if len(rows) != len(stocks) - 1 or any(not v for r in rows for v in r):
        raise SystemExit("skfolio's price files are not as expected (missing days or values)")
    return [["date", *stocks[0][1:], "^SPX"], *rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skfolio", help="skfolio wheel (.whl) or unpacked package folder")
    parser.add_argument("--out", default=str(HERE), help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    write_gzip_csv(Path(args.out) / "sp500_daily.csv.gz", daily_prices(args.skfolio))


if __name__ == "__main__":
    main()

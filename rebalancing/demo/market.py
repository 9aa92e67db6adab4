"""The demo's market: a security master, price paths and benchmark weights, built in memory.

Nothing here touches the database: ``build_market(as_of)`` returns plain values that the seed
writes. Real: the S&P 500 members (names, GICS sectors, industries), 20 daily price histories and
the S&P 500 index level (``data/``, see ``data/build_data.py``), the fund tickers and the indexes they
track. Synthetic, from fixed seeds (the market is the same in every firm, as it is in reality): ESG
scores, the other price paths, the benchmark weights. docs/demo-data.md states every rule.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "BENCHMARK_CODE",
    "FUNDS",
    "FUND_SUBSTITUTES",
    "HISTORY_DAYS",
    "Market",
    "SecuritySpec",
    "build_market",
    "business_days",
    "last_business_day",
]

DATA = Path(__file__).resolve().parent / "data"
MARKET_SEED = 20221228  # fixed: every firm sees the same market
HISTORY_DAYS = 260  # trading days of prices stored per security (the path behind them is ~5 years)
BENCHMARK_CODE = "SP500"
ZIPF_EXPONENT = 0.8  # cap-like weights: w ~ rank^-0.8 (top name ~7.5% of 503, as in the real index)
RANK_NOISE = 0.5  # std. dev. of the seeded noise added to log(revenue) before ranking
STOCK_CLASS = "us_large_cap"


@dataclass(frozen=True)
class SecuritySpec:
    symbol: str
    name: str
    asset_class: str
    sector: str = ""
    is_fund: bool = False
    tags: tuple[str, ...] = ()
    esg_score: float | None = None
    fractional: bool = False
    equivalence_group: str = ""
    price_source: str = "synthetic"  # "real" (skfolio), "index" (scaled S&P 500 level), "synthetic"


@dataclass(frozen=True)
class Fund:
    symbol: str
    name: str
    asset_class: str
    index: str  # the index it tracks: its wash-sale equivalence group
    end_price: float  # about its late-2022 close (the real stocks' closes are of 2022-12-28)
    index_ratio: float | None = None  # S&P 500 funds: price = index level x ratio
    sector: str = ""
    tags: tuple[str, ...] = ()


# The fund lineup: real tickers and the index each tracks. Funds tracking the same index are
# substantially identical for wash sales (one equivalence group); a harvesting substitute tracks a
# different index (VEA <-> IEFA, VWO <-> IEMG, BND <-> AGG, VNQ <-> SCHH, ...).
FUNDS: tuple[Fund, ...] = (
    Fund("VOO", "Vanguard S&P 500 ETF", "us_large_cap", "sp500", 0, index_ratio=0.09286),
    Fund("IVV", "iShares Core S&P 500 ETF", "us_large_cap", "sp500", 0, index_ratio=0.10157),
    Fund("SPY", "SPDR S&P 500 ETF Trust", "us_large_cap", "sp500", 0, index_ratio=0.10106),
    Fund("SCHX", "Schwab U.S. Large-Cap ETF", "us_large_cap", "dj_us_large_cap_tsm", 44.60),
    Fund("VTI", "Vanguard Total Stock Market ETF", "us_total_market", "crsp_us_total_market", 190.50),
    Fund("QQQ", "Invesco QQQ Trust", "us_large_growth", "nasdaq_100", 264.80),
    Fund("ARKK", "ARK Innovation ETF", "us_large_growth", "active_ark_innovation", 29.90),
    Fund("XLE", "Energy Select Sector SPDR Fund", "us_large_cap", "sp_energy_select_sector", 86.90,
         sector="Energy", tags=("fossil_fuels",)),
    Fund("VB", "Vanguard Small-Cap ETF", "us_small_cap", "crsp_us_small_cap", 182.40),
    Fund("IJR", "iShares Core S&P Small-Cap ETF", "us_small_cap", "sp_smallcap_600", 94.30),
    Fund("IWM", "iShares Russell 2000 ETF", "us_small_cap", "russell_2000", 173.60),
    Fund("VEA", "Vanguard FTSE Developed Markets ETF", "intl_developed", "ftse_developed_all_cap_ex_us", 41.70),
    Fund("IEFA", "iShares Core MSCI EAFE ETF", "intl_developed", "msci_eafe_imi", 61.40),
    Fund("EFA", "iShares MSCI EAFE ETF", "intl_developed", "msci_eafe", 65.30),
    Fund("VWO", "Vanguard FTSE Emerging Markets ETF", "emerging_markets", "ftse_emerging_all_cap", 38.90),
    Fund("IEMG", "iShares Core MSCI Emerging Markets ETF", "emerging_markets", "msci_em_imi", 46.60),
    Fund("BND", "Vanguard Total Bond Market ETF", "us_aggregate_bonds", "bbg_us_aggregate_float_adjusted", 71.70),
    Fund("AGG", "iShares Core U.S. Aggregate Bond ETF", "us_aggregate_bonds", "bbg_us_aggregate", 96.60),
    Fund("LQD", "iShares iBoxx $ Investment Grade Corporate Bond ETF", "us_corporate_bonds",
         "iboxx_usd_liquid_investment_grade", 104.90),
    Fund("MUB", "iShares National Muni Bond ETF", "municipal_bonds", "ice_amt_free_us_national_muni", 105.60),
    Fund("VTEB", "Vanguard Tax-Exempt Bond ETF", "municipal_bonds", "sp_national_amt_free_muni", 49.60),
    Fund("SCHP", "Schwab U.S. TIPS ETF", "tips", "bbg_us_tips", 51.90),
    Fund("SPIP", "SPDR Portfolio TIPS ETF", "tips", "bbg_us_govt_inflation_linked", 25.10),
    Fund("VTIP", "Vanguard Short-Term Inflation-Protected Securities ETF", "tips", "bbg_us_tips_0_5_year", 47.60),
    Fund("VNQ", "Vanguard Real Estate ETF", "real_estate", "msci_us_imi_real_estate_25_50", 82.30),
    Fund("SCHH", "Schwab U.S. REIT ETF", "real_estate", "dj_equity_all_reit_capped", 19.50),
    Fund("DBC", "Invesco DB Commodity Index Tracking Fund", "commodities", "dbiq_optimum_yield_diversified", 23.60),
    Fund("GSG", "iShares S&P GSCI Commodity-Indexed Trust", "commodities", "sp_gsci", 21.30),
)

# Loss-harvesting substitutes: each tracks a different index from the fund it replaces.
FUND_SUBSTITUTES: dict[str, str] = {
    "VOO": "SCHX", "IVV": "SCHX", "SPY": "SCHX", "SCHX": "VOO",
    "VB": "IJR", "IJR": "VB",
    "VEA": "IEFA", "IEFA": "VEA",
    "VWO": "IEMG", "IEMG": "VWO",
    "BND": "AGG", "AGG": "BND",
    "MUB": "VTEB", "VTEB": "MUB",
    "SCHP": "SPIP", "SPIP": "SCHP",
    "VNQ": "SCHH", "SCHH": "VNQ",
    "DBC": "GSG", "GSG": "DBC",
}

# Synthetic fund paths: log return = beta x S&P 500 log return + drift + noise, per asset class.
# (beta, annual volatility of the non-market part, annual drift before / during the last year):
# the last year mimics 2022, when stocks and bonds fell together, so the demo has losses to harvest.
CLASS_DYNAMICS: dict[str, tuple[float, float, float, float]] = {
    "us_large_cap": (1.00, 0.010, 0.000, 0.000),
    "us_total_market": (1.02, 0.020, 0.000, -0.010),
    "us_large_growth": (1.20, 0.080, 0.030, -0.120),
    "us_small_cap": (1.10, 0.100, -0.010, -0.040),
    "intl_developed": (0.75, 0.100, -0.040, -0.020),
    "emerging_markets": (0.80, 0.140, -0.050, -0.070),
    "us_aggregate_bonds": (0.02, 0.045, 0.025, -0.130),
    "us_corporate_bonds": (0.08, 0.070, 0.030, -0.170),
    "municipal_bonds": (0.02, 0.040, 0.020, -0.090),
    "tips": (0.03, 0.050, 0.040, -0.120),
    "real_estate": (0.90, 0.150, 0.000, -0.100),
    "commodities": (0.25, 0.180, 0.030, 0.150),
}
# Per-fund overrides of the class dynamics (an energy fund is not a large-cap blend fund).
FUND_DYNAMICS: dict[str, tuple[float, float, float, float]] = {
    "XLE": (0.80, 0.220, -0.050, 0.450),
    "ARKK": (1.50, 0.350, 0.050, -0.550),
    "VTIP": (0.01, 0.020, 0.020, -0.020),
}
TRACKING_VOL = 0.012  # annual: funds of one class differ a little from each other

# Synthetic stock paths: (beta, annual idiosyncratic volatility) by GICS sector.
SECTOR_DYNAMICS: dict[str, tuple[float, float]] = {
    "Communication Services": (1.05, 0.28),
    "Consumer Discretionary": (1.15, 0.28),
    "Consumer Staples": (0.60, 0.15),
    "Energy": (0.90, 0.32),
    "Financials": (1.05, 0.20),
    "Health Care": (0.75, 0.22),
    "Industrials": (1.00, 0.20),
    "Information Technology": (1.20, 0.28),
    "Materials": (1.00, 0.22),
    "Real Estate": (0.85, 0.20),
    "Utilities": (0.45, 0.15),
}
# Synthetic ESG score: sector mean + noise (std. dev. 12) - 10 per values tag, clipped to 1..99.
SECTOR_ESG_MEAN: dict[str, float] = {
    "Communication Services": 55, "Consumer Discretionary": 54, "Consumer Staples": 57, "Energy": 34,
    "Financials": 56, "Health Care": 60, "Industrials": 52, "Information Technology": 63,
    "Materials": 47, "Real Estate": 58, "Utilities": 49,
}

# Values tags: keyword rules on the member's industries, plus named members whose entry in the
# source data lacks the keyword (casino operators, defence primes).
_WEAPONS = re.compile(r"defen[cs]e|aerospace", re.I)
_GAMBLING = re.compile(r"gaming|casino|gambl|integrated resorts", re.I)
WEAPONS_NAMED = ("GD",)
GAMBLING_NAMED = ("CZR", "MGM")

# A real price history outside the S&P 500 list: kept as a legacy holding (a mid-cap gas producer).
EXTRA_REAL = {"RRC": ("Range Resources Corporation", "Energy", "us_mid_cap")}


def last_business_day(today: date) -> date:
    """The last weekday on or before ``today`` (the demo ignores exchange holidays)."""
    while today.weekday() >= 5:
        today -= timedelta(days=1)
    return today


def business_days(end: date, count: int) -> list[date]:
    """``count`` weekdays ending on ``end`` (itself a weekday), oldest first."""
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def _rng(*keys: int | str) -> np.random.Generator:
    """A generator seeded from the market seed and stable keys (adding a member changes no other)."""
    ints = [MARKET_SEED] + [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(ints)


def _read_csv_gz(name: str) -> list[dict[str, str]]:
    with gzip.open(DATA / name, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(io.StringIO(fh.read())))


@cache
def _members() -> tuple[dict[str, str], ...]:
    return tuple(_read_csv_gz("sp500_members.csv.gz"))


@cache
def _real_prices() -> tuple[tuple[str, ...], np.ndarray]:
    """(column symbols, closes[days, columns]) of the 20 real stocks and ``^SPX``, oldest first."""
    rows = _read_csv_gz("real_prices.csv.gz")
    columns = tuple(k for k in rows[0] if k != "date")
    closes = np.array([[float(r[c]) for c in columns] for r in rows], dtype=float)
    closes.setflags(write=False)
    return columns, closes


def stock_tags(sector: str, industries: list[str], symbol: str) -> tuple[str, ...]:
    tags = []
    if sector == "Energy":  # GICS Energy: oil, gas & consumable fuels, and their equipment & services
        tags.append("fossil_fuels")
    if any(i.lower() == "tobacco" for i in industries):
        tags.append("tobacco")
    if symbol in GAMBLING_NAMED or any(_GAMBLING.search(i) for i in industries):
        tags.append("gambling")
    if sector == "Industrials" and (symbol in WEAPONS_NAMED or any(_WEAPONS.search(i) for i in industries)):
        tags.append("weapons")
    return tuple(tags)


def _esg_score(symbol: str, sector: str, tags: tuple[str, ...]) -> float:
    noise = _rng("esg", symbol).normal(0.0, 12.0)
    score = SECTOR_ESG_MEAN.get(sector, 55) + noise - 10 * len(tags)
    return round(float(min(99.0, max(1.0, score))), 1)


@dataclass(frozen=True)
class Market:
    as_of: date
    days: tuple[date, ...]  # the whole path's calendar (~5 years), oldest first; days[-1] == as_of
    securities: tuple[SecuritySpec, ...]
    paths: dict[str, np.ndarray]  # symbol -> closes on ``days`` (rounded as stored)
    benchmark_weights: dict[str, Decimal]  # S&P 500 member -> weight; sums to exactly 1
    by_symbol: dict[str, SecuritySpec] = field(default_factory=dict)

    @property
    def history(self) -> tuple[date, ...]:
        """The days whose prices are stored."""
        return self.days[-HISTORY_DAYS:]

    def price(self, symbol: str, day_index: int = -1) -> float:
        return float(self.paths[symbol][day_index])

    @property
    def members(self) -> list[str]:
        """The S&P 500 members, in symbol order."""
        return list(self.benchmark_weights)


def _stock_path(symbol: str, sector: str, market_returns: np.ndarray) -> np.ndarray:
    rng = _rng("stock", symbol)
    beta0, idio = SECTOR_DYNAMICS.get(sector, (1.0, 0.22))
    beta = float(np.clip(beta0 + rng.normal(0.0, 0.2), 0.3, 1.8))
    alpha = rng.normal(0.0, 0.06) / 252
    end_price = float(np.clip(math.exp(rng.normal(math.log(95.0), 0.75)), 8.0, 900.0))
    eps = rng.standard_normal(market_returns.size)
    log_path = np.concatenate([[0.0], np.cumsum(beta * market_returns + alpha + idio / math.sqrt(252) * eps)])
    return end_price * np.exp(log_path - log_path[-1])


def _class_log_paths(market_returns: np.ndarray) -> dict[str, np.ndarray]:
    n = market_returns.size
    last_year = np.arange(n) >= n - 252
    out = {}
    for name, (beta, vol, mu_early, mu_last) in {**CLASS_DYNAMICS, **FUND_DYNAMICS}.items():
        rng = _rng("class", name)
        drift = np.where(last_year, mu_last, mu_early) / 252
        steps = beta * market_returns + drift + vol / math.sqrt(252) * rng.standard_normal(n)
        out[name] = np.concatenate([[0.0], np.cumsum(steps)])
    return out


def _fund_path(fund: Fund, class_paths: dict[str, np.ndarray], index_level: np.ndarray) -> np.ndarray:
    if fund.index_ratio is not None:
        return index_level * fund.index_ratio
    base = class_paths[fund.symbol] if fund.symbol in class_paths else class_paths[fund.asset_class]
    eps = _rng("fund", fund.symbol).standard_normal(base.size - 1)
    log_path = base + np.concatenate([[0.0], np.cumsum(TRACKING_VOL / math.sqrt(252) * eps)])
    return fund.end_price * np.exp(log_path - log_path[-1])


def _benchmark_weights(members: tuple[dict[str, str], ...]) -> dict[str, Decimal]:
    """Cap-like weights: rank by log(revenue) + seeded noise, weight ~ rank^-0.8, sum exactly 1."""
    revenues = [float(m["revenue_bn"]) for m in members if m["revenue_bn"]]
    median = float(np.median(revenues))
    noise = _rng("benchmark-rank").normal(0.0, RANK_NOISE, len(members))
    scores = [math.log(float(m["revenue_bn"] or median)) + e for m, e in zip(members, noise, strict=True)]
    order = sorted(range(len(members)), key=lambda i: (-scores[i], members[i]["symbol"]))
    raw = {members[i]["symbol"]: (rank + 1) ** -ZIPF_EXPONENT for rank, i in enumerate(order)}
    total = sum(raw.values())
    quantum = Decimal("0.0000000001")
    weights = {s: Decimal(w / total).quantize(quantum) for s, w in raw.items()}
    top = members[order[0]]["symbol"]
    weights[top] += Decimal(1) - sum(weights.values())
    return dict(sorted(weights.items()))


def build_market(as_of: date) -> Market:
    """The whole market as of ``as_of`` (a weekday). Deterministic: depends on nothing else."""
    columns, closes = _real_prices()
    n = closes.shape[0]
    days = tuple(business_days(as_of, n))
    index_level = closes[:, columns.index("^SPX")]
    market_returns = np.diff(np.log(index_level))
    members = _members()
    class_paths = _class_log_paths(market_returns)

    specs: list[SecuritySpec] = []
    paths: dict[str, np.ndarray] = {}
    for m in members:
        symbol, sector = m["symbol"], m["sector"]
        industries = m["industries"].split("|") if m["industries"] else []
        tags = stock_tags(sector, industries, symbol)
        real = symbol in columns
        specs.append(SecuritySpec(
            symbol=symbol, name=m["name"], asset_class=STOCK_CLASS, sector=sector, tags=tags,
            esg_score=_esg_score(symbol, sector, tags), fractional=False,
            price_source="real" if real else "synthetic",
        ))
        paths[symbol] = closes[:, columns.index(symbol)] if real else _stock_path(symbol, sector, market_returns)
    for symbol, (name, sector, asset_class) in EXTRA_REAL.items():
        tags = stock_tags(sector, [], symbol)
        specs.append(SecuritySpec(symbol=symbol, name=name, asset_class=asset_class, sector=sector, tags=tags,
                                  esg_score=_esg_score(symbol, sector, tags), price_source="real"))
        paths[symbol] = closes[:, columns.index(symbol)]
    for fund in FUNDS:
        specs.append(SecuritySpec(
            symbol=fund.symbol, name=fund.name, asset_class=fund.asset_class, sector=fund.sector,
            is_fund=True, tags=fund.tags, fractional=True, equivalence_group=fund.index,
            price_source="index" if fund.index_ratio is not None else "synthetic",
        ))
        paths[fund.symbol] = _fund_path(fund, class_paths, index_level)
    # Round as stored (4 decimals; the real closes have 3), never below a cent.
    paths = {s: np.maximum(np.round(p, 4), 0.01) for s, p in paths.items()}
    for p in paths.values():
        p.setflags(write=False)
    specs.sort(key=lambda s: s.symbol)
    return Market(
        as_of=as_of, days=days, securities=tuple(specs), paths=paths,
        benchmark_weights=_benchmark_weights(members), by_symbol={s.symbol: s for s in specs},
    )

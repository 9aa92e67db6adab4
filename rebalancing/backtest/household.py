"""The household backtest: a taxable account, a traditional IRA and a Roth held to one 60/40 model,
rebalanced as a household (``rebalance_household``: asset location and coordination) against the
same household rebalanced account by account (``rebalance`` on each account, each held 60/40).

Both replay the same prices from the same cash: the 20 bundled stocks (equal weight) as the
equity sleeve and the stated 10-year Treasury series (``bonds.py``) as the bond sleeve; decisions
at month ends with the engine's default drift bands; fractional shares, no trading cost, no
harvesting (the outcome is location and coordination, not harvesting).  Both see the household's
trades of the last 30 days in every account (what the product passes today), so neither buys into
an earlier loss sale's window; the account-by-account runs do not see each other's proposals of
the same day, so a loss sold in the taxable account on a day the IRA or Roth buys the same stock
is a wash sale whose loss is disallowed for good (Rev. Rul. 2008-5) - counted and charged, each
purchased share against one sold share (the taxable account's wash-sale ledger, ``account.py``).

Taxes, in the taxable account only:

- capital gains of sales: settled each year at the first decision of the next (Schedule D netting,
  ``taxes.year_tax``; net losses offset gains elsewhere at their rate, as in the harvesting backtest,
  or with ``losses="carry_forward"`` offset 3,000 of income and carry forward, IRC §1211(b), §1212(b));
- bond coupons: ordinary income of the year they accrue, at ``ordinary_rate``;
- stock dividends: the bundled prices are adjusted (dividends reinvested) and carry no dividend
  record, so a stated ``dividend_yield`` of the equity held is taxed each year as qualified
  dividends at ``long_term_rate``;
- the tax the year has accrued so far is kept as cash in the taxable account (its cash target, in
  both strategies): money owed is not invested, and the bill is never paid by selling lots at a loss
  that a December purchase in the IRA or Roth would wash.

Income (coupons, dividends) is paid in cash into every account at each decision (``income="cash"``,
the default: the traded prices are the total-return series without their income, and reinvesting
the cash is the next decision's job, so it is also a way to rebalance without selling), or
reinvested in the same fund (``"reinvested"``: the prices are the total returns and the income
adds to the taxable lots' basis).

At the horizon: the taxable account after the tax of selling everything; the traditional IRA
after the ordinary tax of withdrawing it all at ``withdrawal_rate`` (IRC §408(d)(1)); the Roth as
it is (a qualified distribution is tax-free, IRC §408A(d)).  Risk is the annualised volatility of
the household's daily value (time-weighted: tax payments are external flows), before tax and with
the IRA counted after its withdrawal tax.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

from rebalancing.engine import (
    INSIDE_BANDS,
    Account,
    CashParams,
    DriftParams,
    EngineError,
    HouseholdAccount,
    HouseholdRequest,
    HouseholdTrade,
    InfeasibleParameters,
    LocationPreferences,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    rebalance,
    rebalance_household,
)
from rebalancing.engine.wash_sales import WINDOW_DAYS

from .account import SHARE_EPS, SimAccount
from .bonds import BOND_SYMBOL, BondSeries, bond_series
from .errors import BacktestError
from .prices import PriceHistory
from .runner import daily_closes_check
from .taxes import Carryover, year_tax, years_tax

__all__ = [
    "HouseholdSettings",
    "HouseholdRun",
    "HouseholdCohort",
    "HOUSEHOLD_STRATEGIES",
    "run_household_backtest",
    "household_report_text",
]

ACCOUNTS = (("TAX", "taxable"), ("IRA", "traditional"), ("ROTH", "roth"))
HOUSEHOLD_STRATEGIES = (("household", "As a household"), ("separate", "Account by account"))
EQUITY, BONDS = "us_equity", "us_bonds"
EQUITY_SYMBOL = "EQ20"
INCOME_TREATMENTS = ("cash", "reinvested")
_INSIDE_WORDS = {"tax_free": "every tax-free trade", "cash_flows": "its cash flows only"}
# Where the household's assets go, by account (LocationPreferences): the engine's default puts the
# bonds the IRA cannot hold in the Roth before the taxable account; "growth first" keeps the Roth for
# equity (the highest expected growth) and puts them in the taxable account.
LOCATIONS = {
    "default": None,
    "growth_first": LocationPreferences({BONDS: ("traditional", "taxable", "roth"),
                                         EQUITY: ("roth", "taxable", "traditional")}, frozenset({BONDS})),
}
_LOCATION_WORDS = {"default": "bonds in the IRA, then the Roth; equity in the Roth, then taxable (the engine's default)",
                   "growth_first": "bonds in the IRA, then taxable; equity in the Roth, then taxable (growth first)"}


@dataclass(frozen=True, slots=True)
class HouseholdSettings:
    """The household and its taxes (money in currency, rates as fractions)."""

    taxable: float = 500_000.0
    traditional: float = 300_000.0
    roth: float = 200_000.0
    equity_weight: float = 0.6
    short_term_rate: float = 0.408  # 37% + 3.8% net investment income tax
    long_term_rate: float = 0.238  # 20% + 3.8%; qualified dividends too
    ordinary_rate: float = 0.408  # bond interest in the taxable account (37% + 3.8%)
    withdrawal_rate: float = 0.37  # IRA distributions: ordinary income, no NIIT (§1411(c)(5))
    dividend_yield: float = 0.02
    losses: str = "offset"
    income: str = "cash"  # distributions paid in cash, or "reinvested" in the same fund
    absolute_band: float = 0.03  # drift bands (the engine's DriftParams) of every account and
    relative_band: float = 0.25  # of the household
    inside_bands: str = "tax_free"  # HouseholdRequest.inside_bands (the engine's default)
    location: str = "default"  # LOCATIONS: the household's asset location

    def __post_init__(self) -> None:
        for name in ("taxable", "traditional", "roth"):
            if not 0 <= getattr(self, name) <= 1e12:
                raise BacktestError(f"{name} must be between 0 and 1e12")
        if self.taxable + self.traditional + self.roth <= 0:
            raise BacktestError("the household needs money in at least one account")
        for name in (
            "equity_weight",
            "short_term_rate",
            "long_term_rate",
            "ordinary_rate",
            "withdrawal_rate",
            "absolute_band",
            "relative_band",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise BacktestError(f"{name} must be between 0 and 1")
        if self.income not in INCOME_TREATMENTS:
            raise BacktestError(f"income must be one of {', '.join(INCOME_TREATMENTS)}, got {self.income!r}")
        if self.inside_bands not in INSIDE_BANDS:
            raise BacktestError(f"inside_bands must be one of {', '.join(INSIDE_BANDS)}, got {self.inside_bands!r}")
        if self.location not in LOCATIONS:
            raise BacktestError(f"location must be one of {', '.join(LOCATIONS)}, got {self.location!r}")
        if not 0 <= self.dividend_yield <= 0.2:
            raise BacktestError("dividend_yield must be between 0 and 0.2")

    def amount(self, status: str) -> float:
        return {"taxable": self.taxable, "traditional": self.traditional, "roth": self.roth}[status]


@dataclass(slots=True, eq=False)
class HouseholdRun:
    """One strategy over one holding period."""

    strategy: str
    values: np.ndarray  # household value per day, before tax
    after_tax_values: np.ndarray  # with the IRA after its withdrawal tax
    flows: np.ndarray  # tax paid (negative) per day
    end_values: dict[str, float]
    after_tax: float  # the taxable account liquidated at the end, the IRA withdrawn
    after_tax_held: float  # the same with the taxable account's unrealised gains left untaxed
    taxes_paid: float
    realised_gains: float
    cross_washes: int
    failures: list[tuple[date, str]] = field(default_factory=list)
    decisions: int = 0
    bonds_sheltered: float = 0.0  # mean share of the bonds held in the IRA or Roth
    coupons: float = 0.0  # bond interest taxed in the taxable account
    dividends: float = 0.0  # dividends taxed in the taxable account
    equity_weight: float = 0.0  # mean share of equity in the household (before tax)
    equity_share: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per day
    cash_weight: float = 0.0  # mean share of cash in the household

    def returns(self, after_tax: bool = False) -> np.ndarray:
        """Daily returns of household value (tax payments are external flows)."""
        v = self.after_tax_values if after_tax else self.values
        return (v[1:] - self.flows[1:]) / v[:-1] - 1.0

    def volatility(self, after_tax: bool = False) -> float:
        r = self.returns(after_tax)
        return float(r.std(ddof=1) * math.sqrt(252)) if len(r) > 1 else 0.0

    def tracking_error(self, model_returns: np.ndarray) -> float:
        """Annualised standard deviation of the daily returns less the model mix's: how far the
        household strays from the allocation it is held to (drift, idle cash)."""
        active = self.returns() - model_returns
        return float(active.std(ddof=1) * math.sqrt(252)) if len(active) > 1 else 0.0


@dataclass(slots=True, eq=False)
class HouseholdCohort:
    start: date
    end: date
    years: float
    runs: dict[str, HouseholdRun]
    model_returns: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the model mix's daily returns

    @property
    def model_volatility(self) -> float:
        """The model mix put back on its model each month end, fully invested and untaxed."""
        r = self.model_returns
        return float(r.std(ddof=1) * math.sqrt(252)) if len(r) > 1 else 0.0

    def tracking_error(self, strategy: str) -> float:
        return self.runs[strategy].tracking_error(self.model_returns)

    def difference(self, liquidated: bool = True) -> float:
        """After-tax wealth of the household strategy against account by account, %/yr (with
        ``liquidated=False`` the taxable account's unrealised gains are left untaxed)."""
        h, a = self.runs["household"], self.runs["separate"]
        if liquidated:
            return (h.after_tax / a.after_tax) ** (1 / self.years) - 1.0
        return (h.after_tax_held / a.after_tax_held) ** (1 / self.years) - 1.0


@dataclass(slots=True)
class _Income:
    coupons: dict[int, float] = field(default_factory=dict)
    dividends: dict[int, float] = field(default_factory=dict)


def equity_fund(history: PriceHistory) -> np.ndarray:
    """An index fund of the bundled stocks: the basket bought in equal parts on the history's first
    day and held (its weights drift with prices, as a cap-weighted index's do; it trades nothing,
    so it distributes no gains), 100 on the first day; adjusted prices make it a total return."""
    shares = 100.0 / len(history.symbols) / history.closes[0]
    return history.closes @ shares


def model_mix_returns(
    history: PriceHistory, bonds: BondSeries, start_row: int, end_row: int, equity_weight: float
) -> np.ndarray:
    """Daily returns of the model's mix of the two total-return series, put back on its weights at
    every month end, fully invested and untaxed: the reference for the household's risk (a
    strategy that holds the model and invests its cash cannot do much better) and the allocation
    both strategies are held to."""
    prices = np.column_stack([equity_fund(history), bonds.price])[start_row : end_row + 1]
    weights = np.array([equity_weight, 1.0 - equity_weight])
    rebalance = np.zeros(len(prices), dtype=bool)
    rebalance[history.month_ends(start_row + 1, end_row - 1) - start_row] = True
    shares = weights / prices[0]
    values = np.empty(len(prices))
    for k, row in enumerate(prices):
        values[k] = shares @ row
        if rebalance[k]:
            shares = weights * values[k] / row
    return values[1:] / values[:-1] - 1.0


def model_mix_volatility(
    history: PriceHistory, bonds: BondSeries, start_row: int, end_row: int, equity_weight: float
) -> float:
    """Annualised volatility of ``model_mix_returns``."""
    r = model_mix_returns(history, bonds, start_row, end_row, equity_weight)
    return float(r.std(ddof=1) * math.sqrt(252)) if len(r) > 1 else 0.0


def _model(equity_weight: float) -> Model:
    sleeves = [
        Sleeve(EQUITY, equity_weight, {EQUITY_SYMBOL: 1.0}),
        Sleeve(BONDS, 1 - equity_weight, {BOND_SYMBOL: 1.0}),
    ]
    return Model("60/40", tuple(s for s in sleeves if s.weight > 0))


PARAMETERS = Parameters(
    cash=CashParams(target=0.0, floor=0.0),
    drift=DriftParams(),
    trading=TradingParams(whole_shares=False, min_trade_value=100.0),
)


class _Replay:
    """One strategy's replay of one cohort."""

    def __init__(self, strategy: str, history: PriceHistory, bonds: BondSeries, settings: HouseholdSettings):
        self.strategy = strategy
        self.history = history
        self.settings = settings
        self.symbols = (EQUITY_SYMBOL, BOND_SYMBOL)
        total_return = np.column_stack([equity_fund(history), bonds.price])
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.model = _model(settings.equity_weight)
        # The same drift bands for every account and for the household.
        self.parameters = replace(
            PARAMETERS, drift=DriftParams(settings.absolute_band, settings.relative_band)
        )
        # Income as a fraction of the day before's value: coupons on the bond, the stated
        # dividend yield on the fund.
        dt = np.concatenate([[0.0], np.diff(history.dates.astype(float)) / 365.0])
        rate = np.column_stack([settings.dividend_yield * dt, bonds.income])
        if settings.income == "cash":
            # Distributions are paid in cash (reinvesting them is the next decision's job): the
            # traded price is the total return without its income.
            self.closes = total_return / np.cumprod(1.0 + rate, axis=0)
        else:
            self.closes = total_return
        # Income per share, cumulative by day: a position held between two rows earns the difference.
        per_share = np.zeros_like(self.closes)
        per_share[1:] = self.closes[:-1] * rate[1:]
        self.cum_income = np.cumsum(per_share, axis=0)
        self.accounts = {
            name: SimAccount(cash=settings.amount(status))
            for name, status in ACCOUNTS
            if settings.amount(status) > 0
        }
        self.status = dict(ACCOUNTS)
        self.income = _Income()
        self.settled: dict[int, float] = {}
        self.failures: list[tuple[date, str]] = []
        self.forced_washes = 0
        self.sheltered: list[float] = []

    # -- requests -----------------------------------------------------------------------------
    def _securities(self, row: int) -> tuple[Security, ...]:
        prices = self.closes[row]
        return tuple(
            Security(s, float(prices[i]), BONDS if s == BOND_SYMBOL else EQUITY)
            for i, s in enumerate(self.symbols)
        )

    def _window(self, day: date) -> tuple[HouseholdTrade, ...]:
        trades = []
        for name, acct in self.accounts.items():
            taxable = self.status[name] == "taxable"
            for e in acct.recent(day, WINDOW_DAYS):
                gain = (e.gain if taxable else 0.0) if e.side == "sell" else None
                trades.append(HouseholdTrade(e.day, e.symbol, e.side, e.quantity, gain, name))
        return tuple(trades)

    def _request(self, name: str, day: date, row: int, window, securities) -> RebalanceRequest:
        acct = self.accounts[name]
        ytd = acct.year(day.year)
        taxable = self.status[name] == "taxable"
        lots = tuple(
            TaxLot(lot.id, lot.symbol, lot.quantity, lot.basis, lot.acquired)
            for lot in acct.lots.values()
            if lot.quantity > SHARE_EPS
        )
        s = self.settings
        parameters = self.parameters
        if taxable:
            # The tax this year has accrued so far is owed, not invested: kept as cash for the bill
            # (the advisor's reserve; without it a January bill after a crash is paid by selling
            # lots at a loss that an IRA purchase of December would wash, Rev. Rul. 2008-5).
            value = self.value(name, row)
            reserve = min(1.0, self.tax_owed(day) / value) if value > 0 else 0.0
            parameters = replace(parameters, cash=_reserving(parameters.cash, reserve))
        account = Account(
            name,
            acct.cash,
            short_term_rate=s.short_term_rate if taxable else s.withdrawal_rate,
            long_term_rate=s.long_term_rate if taxable else s.withdrawal_rate,
            lots=lots,
            realised_short_term_ytd=ytd[0] if taxable else 0.0,
            realised_long_term_ytd=ytd[1] if taxable else 0.0,
            household_trades=window,
            taxable=taxable,
        )
        return RebalanceRequest(day, account, securities, self.model, parameters)

    # -- the replay ---------------------------------------------------------------------------
    def decide(self, row: int) -> None:
        day = self.history.day(row)
        securities = self._securities(row)
        window = self._window(day)
        requests = {n: self._request(n, day, row, window, securities) for n in self.accounts}
        try:
            results = self._solve(day, requests)
            results = self._reserve_own_tax(day, row, requests, results)
        except InfeasibleParameters:
            if "TAX" not in requests:
                raise
            try:
                results = self._solve_short_of_cash(day, requests)
            except EngineError as exc:
                self.failures.append((day, f"{exc.code}: {exc}"))
                return
        except EngineError as exc:
            self.failures.append((day, f"{exc.code}: {exc}"))
            return
        prices = self.closes[row]
        for n, result in results.items():
            acct = self.accounts[n]
            for t in result.trades:
                if t.side == "sell":
                    for ls in t.lots:
                        acct.sell(ls.lot_id, ls.quantity, float(prices[self.index[t.symbol]]), day)
            for t in result.trades:
                if t.side == "buy":
                    acct.buy(t.symbol, t.quantity, float(prices[self.index[t.symbol]]), day)
                    if self.status[n] != "taxable" and "TAX" in self.accounts:
                        # An IRA or Roth purchase washes a taxable loss sale of the 30 days
                        # around it, for good (Rev. Rul. 2008-5): the taxable account's wash-sale
                        # ledger matches it like its own purchases, share for share, earliest first
                        # (2026-12-06; before, one purchase could wash several sales).
                        self.accounts["TAX"].buy_elsewhere(t.symbol, t.quantity, day)

    def _solve_short_of_cash(self, day: date, requests: dict) -> dict:
        """The taxable account cannot raise the cash it is asked for without selling lots at a loss
        that an IRA or Roth purchase of the last 30 days washes (every taxable lot at a loss after a
        fall). The year's tax reserve is not due yet: decide keeping none of it. Only cash already
        owed (a bill that left the account short) is raised anyway, accepting the wash sale (charged
        below), as a person would rather than borrow."""
        tax = requests["TAX"]
        p = tax.parameters
        if p.cash != self.parameters.cash:
            requests["TAX"] = replace(tax, parameters=replace(p, cash=self.parameters.cash))
            try:
                return self._solve(day, requests)
            except InfeasibleParameters:
                p = requests["TAX"].parameters
        requests["TAX"] = replace(tax, parameters=replace(p, wash_sale=replace(p.wash_sale, allow=True)))
        self.forced_washes += 1
        return self._solve(day, requests)

    def _reserve_own_tax(self, day: date, row: int, requests: dict, results: dict) -> dict:
        """The decision's own sales add to the year's tax: when the cash it leaves in the taxable
        account does not cover the tax then owed, decide again keeping that much (once - the new
        decision sells less at a gain, not more). Without it a December rebalance invests the cash
        its gains will owe, and January's bill sells lots at a loss that the IRA's December
        purchase washes."""
        tax = requests.get("TAX")
        if tax is None or "TAX" not in results:
            return results
        owed = self.tax_owed(day, results["TAX"])
        value = self.value("TAX", row)
        if value <= 0 or results["TAX"].summary.cash_after >= owed - 0.01:
            return results
        p = tax.parameters
        requests["TAX"] = replace(tax, parameters=replace(p, cash=_reserving(p.cash, min(1.0, owed / value))))
        return self._solve(day, requests)

    def _solve(self, day: date, requests: dict[str, RebalanceRequest]) -> dict:
        names = list(requests)
        if self.strategy == "household":
            household = HouseholdRequest(
                "backtest",
                day,
                self.model,
                requests[names[0]].securities,
                tuple(HouseholdAccount(requests[n], self.status[n]) for n in names),
                drift=self.parameters.drift,
                inside_bands=self.settings.inside_bands,
                location=LOCATIONS[self.settings.location],
            )
            return dict(zip(names, rebalance_household(household).accounts, strict=True))
        return {n: rebalance(requests[n]) for n in names}

    def accrue(self, prev: int, row: int) -> None:
        """Income between two decisions: paid in cash into every account (``income="cash"``) or
        reinvested in the position (added to the lots' basis, pro rata); the taxable account's is
        booked to ``row``'s year for its tax."""
        if row <= prev:
            return
        per_share = self.cum_income[row] - self.cum_income[prev]
        year = self.history.day(row).year
        for name, acct in self.accounts.items():
            taxable = self.status[name] == "taxable"
            for lot in acct.lots.values():
                if lot.quantity <= SHARE_EPS:
                    continue
                amount = lot.quantity * per_share[self.index[lot.symbol]]
                if self.settings.income == "cash":
                    acct.cash += amount
                elif taxable:
                    lot.basis += amount
                if taxable:
                    book = self.income.coupons if lot.symbol == BOND_SYMBOL else self.income.dividends
                    book[year] = book.get(year, 0.0) + amount

    def settle(self, through_year: int) -> float:
        """Tax of the years up to ``through_year`` not yet settled, paid from the taxable cash."""
        acct = self.accounts.get("TAX")
        if acct is None:
            return 0.0
        s = self.settings
        paid = 0.0
        years = set(acct.realised) | set(self.income.coupons) | set(self.income.dividends)
        for y in sorted(years):
            if y > through_year:
                continue
            st, lt = acct.realised.get(y, [0.0, 0.0])
            tax = year_tax(st, lt, s.short_term_rate, s.long_term_rate, s.losses, self.carried_into(y))[0]
            tax += s.ordinary_rate * self.income.coupons.get(y, 0.0)
            tax += s.long_term_rate * self.income.dividends.get(y, 0.0)
            delta = tax - self.settled.get(y, 0.0)
            if abs(delta) < 0.005:
                continue
            self.settled[y] = tax
            acct.cash -= delta
            paid += delta
        return paid

    def tax_owed(self, day: date, result=None) -> float:
        """The taxable account's tax of ``day``'s year so far (gains, interest, dividends), if any;
        with ``result`` (the taxable account's proposal of ``day``), counting its sales too."""
        acct = self.accounts.get("TAX")
        if acct is None:
            return 0.0
        s = self.settings
        st, lt = acct.realised.get(day.year, [0.0, 0.0])
        for t in result.trades if result is not None else ():
            for ls in t.lots if t.side == "sell" else ():
                st, lt = (st + ls.gain, lt) if ls.term == "short" else (st, lt + ls.gain)
        tax = year_tax(st, lt, s.short_term_rate, s.long_term_rate, s.losses, self.carried_into(day.year))[0]
        tax += s.ordinary_rate * self.income.coupons.get(day.year, 0.0)
        tax += s.long_term_rate * self.income.dividends.get(day.year, 0.0)
        return max(0.0, tax)

    def value(self, name: str, row: int) -> float:
        acct = self.accounts[name]
        return float(np.array(acct.quantities(self.symbols)) @ self.closes[row]) + acct.cash

    def bonds_sheltered(self, row: int) -> float:
        held = {n: self.accounts[n].quantities(self.symbols)[-1] for n in self.accounts}
        total = sum(held.values())
        return sum(q for n, q in held.items() if self.status[n] != "taxable") / total if total > 0 else 0.0

    def liquidation_tax(self, row: int) -> float:
        """Extra tax of selling the taxable account at ``row``, on top of the years' results: the
        lots sold through the account's own rules (a loss washed by a purchase of the last 30 days,
        in any account, is treated as any sale's; 2026-12-06), the years' taxes compared."""
        acct = self.accounts.get("TAX")
        if acct is None:
            return 0.0
        s = self.settings
        day = self.history.day(row)
        prices = {sym: float(self.closes[row, i]) for sym, i in self.index.items()}
        sold = acct.liquidated(prices, day)
        rates = (s.short_term_rate, s.long_term_rate, s.losses)
        years = range(min(sold.realised, default=day.year), day.year + 1)  # every year: a carried loss spans those without sales
        return years_tax(sold.realised, years, *rates) - years_tax(acct.realised, years, *rates)

    @property
    def cross_washes(self) -> int:
        """Taxable loss sales (a day and fund) washed by an IRA or Roth purchase."""
        acct = self.accounts.get("TAX")
        return acct.outside_washes if acct is not None else 0

    def carried_into(self, year: int) -> Carryover:
        """Net capital losses of the years before ``year`` not yet used (``losses="carry_forward"``:
        IRC §1212(b); with ``"offset"`` nothing carries)."""
        acct = self.accounts.get("TAX")
        carried = Carryover()
        if acct is None:
            return carried
        s = self.settings
        # Every year from the first sale, sales or none: a year without sales still takes its 3,000
        # off a loss carried in and carries the rest (IRC §1211(b), §1212(b)); skipping it dropped that.
        for y in range(min(acct.realised, default=year), year):
            st, lt = acct.realised.get(y, (0.0, 0.0))
            carried = year_tax(st, lt, s.short_term_rate, s.long_term_rate, s.losses, carried)[1]
        return carried


def _reserving(cash, reserve: float):
    """The taxable account's cash parameters keeping ``reserve`` (a fraction of its value) for the
    year's tax: a floor, not only a target - the money is owed, and a target is traded against drift."""
    return replace(cash, target=max(cash.target, reserve), floor=max(cash.floor, reserve))


def replay(
    strategy: str,
    history: PriceHistory,
    bonds: BondSeries,
    settings: HouseholdSettings,
    start_row: int,
    end_row: int,
) -> HouseholdRun:
    """Replay one strategy from ``start_row`` (cash invested at the close) to ``end_row``."""
    r = _Replay(strategy, history, bonds, settings)
    n_rows = end_row - start_row + 1
    names = list(r.accounts)
    decisions = [start_row, *history.month_ends(start_row + 1, end_row - 1).tolist()]
    flows = np.zeros(n_rows)
    changes: list[tuple[int, dict[str, tuple[np.ndarray, float]]]] = []
    prev = start_row
    for row in decisions:
        if row >= end_row:
            continue
        day = history.day(row)
        r.accrue(prev, row)
        prev = row
        paid = r.settle(day.year - 1)
        flows[row - start_row] -= paid
        r.decide(row)
        r.sheltered.append(r.bonds_sheltered(row))
        changes.append(
            (
                row - start_row,
                {n: (np.array(r.accounts[n].quantities(r.symbols)), r.accounts[n].cash) for n in names},
            )
        )
    r.accrue(prev, end_row)
    last = history.day(end_row)
    paid = r.settle(last.year)
    flows[-1] -= paid
    changes.append(
        (n_rows - 1, {n: (np.array(r.accounts[n].quantities(r.symbols)), r.accounts[n].cash) for n in names})
    )
    closes = r.closes[start_row : end_row + 1]
    by_account = {n: np.zeros(n_rows) for n in names}
    for k, (offset, state) in enumerate(changes):
        stop = changes[k + 1][0] if k + 1 < len(changes) else n_rows
        for n, (qty, cash) in state.items():
            by_account[n][offset:stop] = closes[offset:stop] @ qty + cash
    # The last day's tax payment is already in the final state's cash.
    values = sum(by_account.values())
    equity_values = np.zeros(n_rows)
    cash_values = np.zeros(n_rows)
    for k, (offset, state) in enumerate(changes):
        stop = changes[k + 1][0] if k + 1 < len(changes) else n_rows
        equity_values[offset:stop] = closes[offset:stop, 0] * sum(q[0] for q, _ in state.values())
        cash_values[offset:stop] = sum(c for _, c in state.values())
    keep = 1 - settings.withdrawal_rate
    after_tax_values = sum(v * (keep if r.status[n] == "traditional" else 1.0) for n, v in by_account.items())
    end = {n: float(by_account[n][-1]) for n in names}
    held = sum(v * (keep if r.status[n] == "traditional" else 1.0) for n, v in end.items())
    after = held - (r.liquidation_tax(end_row) if "TAX" in end else 0.0)
    tax_acct = r.accounts.get("TAX")
    realised = sum(st + lt for st, lt in tax_acct.realised.values()) if tax_acct else 0.0
    return HouseholdRun(
        strategy=strategy,
        values=values,
        after_tax_values=after_tax_values,
        flows=flows,
        end_values=end,
        after_tax=after,
        after_tax_held=held,
        taxes_paid=float(-flows.sum()),
        realised_gains=realised,
        cross_washes=r.cross_washes,
        failures=r.failures,
        decisions=len(changes) - 1,
        bonds_sheltered=float(np.mean(r.sheltered)) if r.sheltered else 0.0,
        coupons=sum(r.income.coupons.values()),
        dividends=sum(r.income.dividends.values()),
        equity_weight=float(np.mean(equity_values / values)),
        equity_share=equity_values / values,
        cash_weight=float(np.mean(cash_values / values)),
    )


def run_household_backtest(
    history: PriceHistory,
    starts: tuple[date, ...],
    years: int = 10,
    settings: HouseholdSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[HouseholdCohort]:
    """Replay both strategies for every start date, each held ``years`` years."""
    settings = settings or HouseholdSettings()
    if not starts:
        raise BacktestError("a backtest needs at least one start date")
    if not 1 <= years <= 40:
        raise BacktestError(f"the horizon must be 1 to 40 years, got {years}")
    bonds = bond_series(history.dates)
    out = []
    for k, start in enumerate(starts):
        # Bought at the close of the last trading day on or before ``start`` (a cohort's start
        # is the last day of the year before), held to the same day ``years`` later.
        start_row = history.row_on_or_before(start)
        try:
            end_day = date(start.year + years, start.month, min(start.day, 28) if start.month == 2 else start.day)
        except ValueError:  # after 9999
            raise BacktestError(f"the prices do not cover {start} + {years} years") from None
        end_row = history.row_on_or_before(end_day)
        if (
            start_row < 0
            or end_row >= len(history.dates)
            or end_row <= start_row
            or history.day(end_row) < end_day - timedelta(days=10)
        ):
            raise BacktestError(f"the prices do not cover {start} + {years} years")
        daily_closes_check(history.dates, start_row, end_row, start, end_day)
        runs = {
            name: replay(name, history, bonds, settings, start_row, end_row)
            for name, _ in HOUSEHOLD_STRATEGIES
        }
        span = (history.dates[end_row] - history.dates[start_row]) / 365.25
        mix = model_mix_returns(history, bonds, start_row, end_row, settings.equity_weight)
        out.append(HouseholdCohort(history.day(start_row), history.day(end_row), float(span), runs, mix))
        if progress:
            progress(k + 1, len(starts))
    return out


def household_report_text(cohorts: list[HouseholdCohort], settings: HouseholdSettings) -> str:
    """The outcome as text: per cohort and the mean."""
    s = settings
    lines = [
        "== household backtest: taxable + traditional IRA + Roth, one 60/40 model",
        f"   {s.taxable:,.0f} taxable / {s.traditional:,.0f} IRA / {s.roth:,.0f} Roth; equity = an index fund of the 20 "
        f"bundled stocks, bonds = the stated 10-year Treasury series; income {s.income}; "
        f"inside its bands the household is rebalanced by {_INSIDE_WORDS[s.inside_bands]}; "
        f"location: {_LOCATION_WORDS[s.location]}",
        f"   rates: gains {s.short_term_rate:.1%} short / {s.long_term_rate:.1%} long, bond interest {s.ordinary_rate:.1%}, "
        f"dividends {s.dividend_yield:.1%}/yr at {s.long_term_rate:.1%}, IRA withdrawn at {s.withdrawal_rate:.1%}",
        "",
        f"{'cohort':<24}{'after-tax (household)':>23}{'(by account)':>15}{'diff %/yr':>11}"
        f"{'vol hh':>9}{'vol acct':>10}{'vol AT hh':>11}{'vol AT acct':>12}{'tax hh':>11}{'tax acct':>11}"
        f"{'bonds sheltered':>17}{'washes':>8}{'failed':>8}",
    ]
    lines.append("-" * len(lines[-1]))
    for c in cohorts:
        h, a = c.runs["household"], c.runs["separate"]
        lines.append(
            f"{c.start.isoformat()} - {c.end.year:<9}{h.after_tax:>23,.0f}{a.after_tax:>15,.0f}{c.difference():>10.2%}"
            f"{h.volatility():>9.2%}{a.volatility():>10.2%}{h.volatility(True):>11.2%}{a.volatility(True):>12.2%}"
            f"{h.taxes_paid:>11,.0f}{a.taxes_paid:>11,.0f}"
            f"{h.bonds_sheltered:>8.0%} / {a.bonds_sheltered:<6.0%}{f'{h.cross_washes}/{a.cross_washes}':>8}"
            f"{len(h.failures) + len(a.failures):>8}"
        )
    if cohorts:
        diff = float(np.mean([c.difference() for c in cohorts]))
        vol_h = float(np.mean([c.runs["household"].volatility() for c in cohorts]))
        vol_a = float(np.mean([c.runs["separate"].volatility() for c in cohorts]))
        at_h = float(np.mean([c.runs["household"].volatility(True) for c in cohorts]))
        at_a = float(np.mean([c.runs["separate"].volatility(True) for c in cohorts]))
        held = float(np.mean([c.difference(liquidated=False) for c in cohorts]))
        eq_h = float(np.mean([c.runs["household"].equity_weight for c in cohorts]))
        eq_a = float(np.mean([c.runs["separate"].equity_weight for c in cohorts]))
        cash_h = float(np.mean([c.runs["household"].cash_weight for c in cohorts]))
        cash_a = float(np.mean([c.runs["separate"].cash_weight for c in cohorts]))
        mix = float(np.mean([c.model_volatility for c in cohorts]))
        te_h = float(np.mean([c.tracking_error("household") for c in cohorts]))
        te_a = float(np.mean([c.tracking_error("separate") for c in cohorts]))
        lines += [
            "",
            f"mean over {len(cohorts)} cohorts: after-tax household wealth {diff:+.2%}/yr as a household "
            f"(goal >= +0.30%/yr: {'met' if diff >= 0.003 else 'NOT met'}); {held:+.2%}/yr if the taxable "
            "account's unrealised gains are never taxed (held, or stepped up at death, IRC §1014)",
            f"mean equity share of the household (before tax): {eq_h:.1%} as a household vs {eq_a:.1%} account by "
            f"account; mean cash {cash_h:.2%} vs {cash_a:.2%}",
            f"risk (volatility of household value): {vol_h:.2%} as a household vs {vol_a:.2%} account by account "
            f"({'no higher' if vol_h <= vol_a + 1e-4 else 'HIGHER'}); "
            f"with the IRA after its withdrawal tax: {at_h:.2%} vs {at_a:.2%}",
            f"the model's mix put back on its model every month end, fully invested and untaxed: {mix:.2%}; "
            f"tracking error against it (how far each strays from the allocation it is held to): {te_h:.2%} as a "
            f"household vs {te_a:.2%} account by account",
        ]
    lines.append(
        "diff = (household after-tax / account-by-account after-tax)^(1/years) - 1; vol = annualised volatility of "
        "daily household value (AT: IRA after withdrawal tax); tax = tax paid over the period; bonds sheltered = "
        "mean share of the bonds in the IRA or Roth (household / by account); washes = taxable loss sales on or within "
        "30 days after an IRA or Roth purchase of the same fund (household / by account)"
    )
    return "\n".join(lines) + "\n"

"""What the replayed account does at each decision: the engine, and the two baselines.

A strategy sees the account and the market up to today (never later prices) and returns orders;
the simulator fills them at today's close through ``SimAccount``, which applies the tax rules.

- ``BuyAndHold``: buys the starting basket and never trades (tax refunds stay in cash).
- ``NaiveHarvester``: the script a firm could write: sell any lot down ``threshold`` (10%), park
  the proceeds pro rata in the other names, buy the name back (selling the parked shares) on the
  first trading day 31 days after the sale.  It is careful about wash sales: it never sells at a
  loss a name bought in the last 30 days, never buys a name sold at a loss in the last 30 days
  (a buy-back waits), and invests tax refunds / raises tax payments pro rata by the same rules.
- ``EngineStrategy``: calls ``rebalancing.engine.rebalance`` with the template's parameters, as the
  product does for a real account.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np

from rebalancing.engine import (
    Account,
    Benchmark,
    EngineError,
    HouseholdTrade,
    Model,
    Parameters,
    RebalanceRequest,
    RiskModel,
    Security,
    Sleeve,
    TaxLot,
    rebalance,
)
from rebalancing.engine.wash_sales import WINDOW_DAYS

from .account import SimAccount

__all__ = ["Market", "Orders", "Strategy", "BuyAndHold", "NaiveHarvester", "EngineStrategy", "ASSET_CLASS"]

ASSET_CLASS = "us_equity"


@dataclass(frozen=True, slots=True, eq=False)
class Market:
    """Today's market as a strategy may see it: ``past`` closes up to and including today."""

    day: date
    symbols: tuple[str, ...]
    sectors: tuple[str | None, ...]
    prices: np.ndarray
    past: np.ndarray
    past_dates: np.ndarray
    benchmark: np.ndarray
    scheduled: bool
    short_term_rate: float
    long_term_rate: float


@dataclass(frozen=True, slots=True)
class Orders:
    """Lots to sell ``(lot id, shares)``, symbols to buy ``(symbol, shares)``, days to be woken up
    on besides the scheduled decisions, and - when the strategy failed - why."""

    sells: tuple[tuple[str, float], ...] = ()
    buys: tuple[tuple[str, float], ...] = ()
    wake_on: tuple[date, ...] = ()
    failure: str | None = None
    uninvested: tuple[str, ...] = ()


class Strategy:
    """Base class: ``decide`` is called at every scheduled decision and requested wake-up."""

    name = "strategy"
    label = "Strategy"

    def start(self) -> None:
        """Forget state from a previous run (one instance replays many cohorts)."""

    def decide(self, account: SimAccount, market: Market) -> Orders:
        raise NotImplementedError


class BuyAndHold(Strategy):
    name = "buy_and_hold"
    label = "Buy and hold"

    def decide(self, account: SimAccount, market: Market) -> Orders:
        return Orders()


def _bought_recently(account: SimAccount, day: date) -> set[str]:
    return {e.symbol for e in account.recent(day) if e.side == "buy"}


@dataclass(slots=True)
class _Park:
    sold_on: date
    proceeds: dict[str, float]  # harvested symbol -> what its sale raised
    lots: list[str] = field(default_factory=list)


@dataclass
class NaiveHarvester(Strategy):
    """Sell any lot down ``threshold``; park pro rata; buy back after 31 days (see the module)."""

    threshold: float = 0.10
    name: str = "naive"
    label: str = "Naive harvester"
    _parks: list[_Park] = field(default_factory=list)
    _pending: tuple[_Park | None, list[int]] = (None, [])

    def start(self) -> None:
        self._parks = []
        self._pending = (None, [])

    def decide(self, account: SimAccount, market: Market) -> Orders:
        day = market.day
        price = dict(zip(market.symbols, market.prices.tolist(), strict=True))
        bought = _bought_recently(account, day)
        last_loss = {}
        for e in account.recent(day):
            if e.side == "sell" and e.gain < 0:
                last_loss[e.symbol] = max(last_loss.get(e.symbol, e.day), e.day)
        sells: dict[str, float] = {}  # lot id -> shares

        def value_of(lot_id: str) -> float:
            lot = account.lots[lot_id]
            return lot.quantity * price[lot.symbol]

        def at_loss(lot_id: str) -> bool:
            lot = account.lots[lot_id]
            return lot.quantity * price[lot.symbol] < lot.basis

        # 1. Buy-backs: 31 days after the sale (later if a name was sold at a loss since), sell
        #    the parked shares and buy the harvested names back with the proceeds.
        wake: list[date] = []
        buy_back: dict[str, float] = {}
        due_parks = []
        for park in self._parks:
            due = max(
                [park.sold_on + timedelta(days=WINDOW_DAYS + 1)]
                + [last_loss[s] + timedelta(days=WINDOW_DAYS + 1) for s in park.proceeds if s in last_loss]
            )
            if day < due:
                wake.append(due)
            else:
                due_parks.append(park)
        # A buy-back waits a day when another park's unwind sells its name at a loss today (buying
        # it back the same day would be a wash sale).
        while True:
            unwound_at_loss = {
                account.lots[i].symbol
                for p in due_parks
                for i in p.lots
                if i in account.lots and at_loss(i) and account.lots[i].symbol not in bought
            }
            waiting = [p for p in due_parks if set(p.proceeds) & unwound_at_loss]
            if not waiting:
                break
            for park in waiting:
                due_parks.remove(park)
                wake.append(day + timedelta(days=1))
        for park in due_parks:
            raised, kept = 0.0, []
            for lot_id in park.lots:
                if lot_id not in account.lots or lot_id in sells:
                    continue
                if at_loss(lot_id) and account.lots[lot_id].symbol in bought:
                    kept.append(lot_id)  # a loss sale now would be a wash sale: later
                    continue
                sells[lot_id] = account.lots[lot_id].quantity
                raised += value_of(lot_id)
            total = sum(park.proceeds.values())
            for s, p in park.proceeds.items():
                buy_back[s] = buy_back.get(s, 0.0) + raised * p / total
            park.lots = kept
            if kept:
                wake.append(day + timedelta(days=1))
            else:
                self._parks.remove(park)
        # 2. Harvest (at scheduled decisions): any lot down the threshold, unless its name was
        #    bought in the last 30 days or is being bought back.
        harvested: dict[str, float] = {}
        if market.scheduled:
            for lot in account.lots.values():
                if lot.id in sells or lot.symbol in bought or lot.symbol in buy_back:
                    continue
                if lot.quantity * price[lot.symbol] <= (1 - self.threshold) * lot.basis:
                    sells[lot.id] = lot.quantity
                    harvested[lot.symbol] = harvested.get(lot.symbol, 0.0) + value_of(lot.id)
        loss_today = {account.lots[i].symbol for i in sells if at_loss(i)}
        # Names that may not be bought: sold at a loss in the window or today, or out of the
        # market until their own buy-back.
        blocked = set(last_loss) | loss_today | {s for p in self._parks for s in p.proceeds}
        held = np.array(account.quantities(market.symbols)) * market.prices
        buys: dict[str, float] = dict(buy_back)
        parked: dict[str, float] = {}
        if harvested:
            parked = _pro_rata(market.symbols, held, blocked | set(buy_back), sum(harvested.values()))
            wake.append(day + timedelta(days=WINDOW_DAYS + 1))
        # 3. Cash: a refund (above 0.1% of the account) is invested pro rata; a bill is raised.
        cash = account.cash + sum(q * price[account.lots[i].symbol] for i, q in sells.items())
        cash -= sum(buys.values()) + sum(parked.values())
        value = float(held.sum()) + account.cash
        if cash > 0.001 * value and market.scheduled:
            for s, v in _pro_rata(market.symbols, held, blocked, cash).items():
                buys[s] = buys.get(s, 0.0) + v
        elif cash < 0:
            no_loss = bought | set(buys) | set(parked)
            self._raise(account, market, -cash, no_loss, sells)
        orders: list[tuple[str, float]] = []
        park_orders: list[int] = []
        for source, is_park in ((buys, False), (parked, True)):
            for s, v in source.items():
                shares = math.floor(v / price[s] + 1e-9)
                if shares > 0:
                    if is_park:
                        park_orders.append(len(orders))
                    orders.append((s, float(shares)))
        self._pending = (_Park(day, harvested) if harvested else None, park_orders)
        return Orders(tuple(sells.items()), tuple(orders), tuple(sorted(set(wake))))

    def filled(self, day: date, lots: list[str | None]) -> None:
        """The simulator reports the lot each buy order created: remember the parked ones."""
        park, indices = self._pending
        if park is not None:
            park.lots = [lots[i] for i in indices if lots[i] is not None]
            self._parks.append(park)
        self._pending = (None, [])

    def _raise(
        self,
        account: SimAccount,
        market: Market,
        amount: float,
        no_loss_sale: set[str],
        sells: dict[str, float],
    ) -> None:
        """Sell highest-cost shares, largest position first, until ``amount`` is raised."""
        price = dict(zip(market.symbols, market.prices.tolist(), strict=True))
        lots = [lot for lot in account.lots.values() if lot.id not in sells]
        value = dict.fromkeys(market.symbols, 0.0)
        for lot in lots:
            value[lot.symbol] += lot.quantity * price[lot.symbol]
        lots.sort(key=lambda lot: (-value[lot.symbol], -lot.basis / lot.quantity))
        for lot in lots:
            if amount <= 0:
                break
            p = price[lot.symbol]
            if lot.quantity * p < lot.basis and lot.symbol in no_loss_sale:
                continue
            shares = min(lot.quantity, math.ceil(amount / p))
            sells[lot.id] = shares
            amount -= shares * p


def _pro_rata(
    symbols: tuple[str, ...], held: np.ndarray, blocked: set[str], amount: float
) -> dict[str, float]:
    weights = np.array([0.0 if s in blocked else max(v, 0.0) for s, v in zip(symbols, held, strict=True)])
    if weights.sum() <= 0:
        weights = np.array([0.0 if s in blocked else 1.0 for s in symbols])
    if weights.sum() <= 0:
        return {}
    weights /= weights.sum()
    return {s: amount * w for s, w in zip(symbols, weights, strict=True) if w > 0}


RiskSource = Callable[[Market], RiskModel | None]


@dataclass
class EngineStrategy(Strategy):
    """The product's engine with a template's parameters, tracking the buy-and-hold basket as a
    direct-indexed benchmark (``risk`` gives the benchmark's risk model at each decision; None =
    the engine's documented default).  With ``rerun_when_unblocked`` the account is run again on
    the day a wash-sale block it reported clears (``RebalanceResult.blocked_buys``)."""

    parameters: Parameters = field(default_factory=Parameters)
    risk: RiskSource | None = None
    name: str = "engine"
    label: str = "Engine"
    account_id: str = "backtest"
    rerun_when_unblocked: bool = True

    def decide(self, account: SimAccount, market: Market) -> Orders:
        request = self.request(account, market)
        if not market.scheduled:
            # A run on the day a wash-sale block clears puts the money back to work; it does not
            # harvest (harvest decisions stay at month ends, as the naive harvester's do).
            request = replace(request, parameters=replace(request.parameters, harvest=None))
        try:
            result = rebalance(request)
        except EngineError as exc:
            return Orders(failure=f"{exc.code}: {exc}")
        sells = tuple((ls.lot_id, ls.quantity) for t in result.trades if t.side == "sell" for ls in t.lots)
        buys = tuple((t.symbol, t.quantity) for t in result.trades if t.side == "buy")
        wake = tuple(sorted({b.buyable_on for b in result.blocked_buys})) if self.rerun_when_unblocked else ()
        return Orders(sells, buys, wake, uninvested=tuple(b.symbol for b in result.blocked_buys))

    def request(self, account: SimAccount, market: Market) -> RebalanceRequest:
        """The engine request for the account today (also what ``--explain`` of a day shows)."""
        day = market.day
        ytd = account.year(day.year)
        lots = tuple(
            TaxLot(lot.id, lot.symbol, lot.quantity, lot.basis, lot.acquired) for lot in account.lots.values()
        )
        trades = tuple(
            HouseholdTrade(
                e.day, e.symbol, e.side, e.quantity, e.gain if e.side == "sell" else None, self.account_id
            )
            for e in account.recent(day)
        )
        securities = tuple(
            Security(s, float(p), ASSET_CLASS, sector=sec)
            for s, p, sec in zip(market.symbols, market.prices, market.sectors, strict=True)
        )
        weights = market.benchmark / market.benchmark.sum()
        bench = Benchmark(
            "buy-and-hold basket",
            {s: float(w) for s, w in zip(market.symbols, weights, strict=True)},
            self.risk(market) if self.risk else None,
        )
        return RebalanceRequest(
            as_of=day,
            account=Account(
                self.account_id,
                account.cash,
                short_term_rate=market.short_term_rate,
                long_term_rate=market.long_term_rate,
                lots=lots,
                realised_short_term_ytd=ytd[0],
                realised_long_term_ytd=ytd[1],
                household_trades=trades,
            ),
            securities=securities,
            model=Model("backtest", (Sleeve(ASSET_CLASS, 1.0, {}, bench),)),
            parameters=self.parameters,
        )


def with_parameters(strategy: EngineStrategy, parameters: Parameters) -> EngineStrategy:
    """A copy of an engine strategy with other parameters."""
    return replace(strategy, parameters=parameters)

"""The demo's book of business, built in memory from a market and a seed (the seed writes it).

Households and accounts are assigned to *programs* (a model and a template); every program gets at
least one household, the rest follow the program shares. Tax lots are priced from the market's
paths so that gains and losses, short- and long-term lots come out of the prices themselves.
docs/demo-data.md states every rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from rebalancing import effective_parameters as rules

from .catalogue import TEMPLATE_BY_CODE, flat_targets
from .market import FUND_SUBSTITUTES, Market

__all__ = ["PROGRAMS", "AccountSpec", "Book", "HouseholdSpec", "LotSpec", "Program", "TradeSpec", "build_book",
           "override_problems"]

MIN_ACCOUNTS = 20
SHARED_HOUSEHOLD_SHARE = 0.40  # of accounts: in a household with at least one other account


@dataclass(frozen=True)
class Program:
    code: str
    models: tuple[str, ...]  # drawn in turn per household
    template: str
    share: float  # of accounts
    kind: str = "funds"  # "funds" | "legacy" | "fossil" | "direct"
    tax_managed: bool = False  # its main account is always taxable; IRAs in it go to "standard"


PROGRAMS: tuple[Program, ...] = (
    Program("growth", ("growth-80-20",), "standard", 0.18),
    Program("balanced", ("balanced-60-30-10",), "standard", 0.14),
    Program("conservative", ("conservative-30-70",), "standard", 0.09),
    Program("moderate", ("moderate-55-45",), "standard", 0.07),
    Program("harvesting", ("growth-80-20", "balanced-60-30-10"), "year-round-harvesting", 0.13, tax_managed=True),
    Program("no-real-estate", ("balanced-60-30-10",), "remove-real-estate", 0.05),
    Program("transition", ("growth-80-20", "balanced-60-30-10"), "tax-managed-transition", 0.10, "legacy", True),
    Program("esg-funds", ("growth-80-20",), "esg-no-fossil-fuels", 0.05, "fossil", True),
    Program("esg-direct", ("tax-managed-equity",), "esg-no-fossil-fuels", 0.05, "direct", True),
    Program("direct-index", ("tax-managed-equity",), "direct-index-us-large-cap", 0.14, "direct", True),
)
PROGRAM_BY_CODE = {p.code: p for p in PROGRAMS}

# (short-term, long-term, ordinary) marginal rates: federal brackets, 3.8% NIIT on the top ones' gains.
# An IRA is given the ordinary rate, without the NIIT: the rate its distributions are taxed at, and an IRA
# distribution is not net investment income (IRC §1411(c)(5)).
TAX_BRACKETS = ((0.24, 0.15, 0.24), (0.32, 0.15, 0.32), (0.35, 0.188, 0.35), (0.37, 0.20, 0.37),
                (0.408, 0.238, 0.37))
TAXABLE_TYPES = (("Individual", 0.5), ("Joint", 0.35), ("Revocable Trust", 0.15))
RETIREMENT_TYPES = (("Traditional IRA", 0.5), ("Roth IRA", 0.3), ("Rollover IRA", 0.2))

# Legacy holdings of accounts being transitioned: funds outside every model, and names drawn first
# from the stocks whose price history is real (long histories with large embedded gains).
LEGACY_FUNDS = ("IVV", "SPY", "EFA", "IWM", "QQQ", "ARKK", "VTI", "LQD", "AGG")
FOSSIL_LEGACY = ("XOM", "CVX", "COP", "EOG", "SLB", "RRC")

# Lot dates: probabilities of (last 30 days, rest of the last year, older within the price path,
# before the price path) by profile.
DATE_PROFILES: dict[str, tuple[float, float, float, float]] = {
    "normal": (0.006, 0.29, 0.704, 0.0),
    "harvest": (0.006, 0.50, 0.494, 0.0),
    "direct": (0.002, 0.36, 0.638, 0.0),
    "legacy": (0.0, 0.06, 0.16, 0.78),
}

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra",
    "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
    "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie",
    "Ronald", "Rebecca", "Jason", "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy",
    "Wei", "Mei", "Arjun", "Priya", "Hiroshi", "Yuki", "Carlos", "Lucia", "Omar", "Fatima",
)
SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
    "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
    "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
    "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
    "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Chen", "Wang", "Shah", "Tanaka", "Okafor", "Novak", "Kowalski", "Schmidt", "Rossi", "Dubois",
)

Q6 = Decimal("0.000001")
Q2 = Decimal("0.01")


@dataclass
class HouseholdSpec:
    external_id: str
    name: str
    program: str
    advisor_slot: int  # 0 -> advisor1, 1 -> advisor2
    template: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class AccountSpec:
    custodian_number: str
    name: str
    household: int  # index into Book.households
    program: str
    model: str
    template: str | None  # None: the household's
    taxable: bool
    discretionary: bool
    short_term_rate: Decimal
    long_term_rate: Decimal
    cash: Decimal = Decimal(0)
    realised_short_term_ytd: Decimal = Decimal(0)
    realised_long_term_ytd: Decimal = Decimal(0)
    opened_on: date | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # "Joint", "Roth IRA", ...
    # A traditional IRA's RMD facts (services.rmd): its owner, and last 31 December's value.
    owner_name: str = ""
    owner_birth_date: date | None = None
    year_end_values: dict[str, str] = field(default_factory=dict)

    @property
    def tax_status(self) -> str:
        if self.taxable:
            return "taxable"
        return "roth" if self.kind == "Roth IRA" else "traditional"


@dataclass(frozen=True)
class LotSpec:
    account: int
    lot_id: str
    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    acquired: date


@dataclass(frozen=True)
class TradeSpec:
    account: int
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    trade_date: date
    realised_gain: Decimal | None
    external_id: str


@dataclass
class Book:
    households: list[HouseholdSpec]
    accounts: list[AccountSpec]
    lots: list[LotSpec]
    trades: list[TradeSpec]
    wash_sale_household: int  # index of the household with a recent loss sale


def override_problems(overrides: dict[str, Any], template_code: str) -> list[str]:
    """What the demo template refuses in ``overrides`` (the product's own rule)."""
    template = TEMPLATE_BY_CODE[template_code]
    return rules.override_problems(overrides, code=template_code, overridable=template.overridable)


def _dec(value: float, quantum: Decimal) -> Decimal:
    return Decimal(repr(float(value))).quantize(quantum)


class _Builder:
    def __init__(self, market: Market, prefix: str, accounts: int, seed: int):
        if accounts < MIN_ACCOUNTS:
            raise ValueError(f"a demo book needs at least {MIN_ACCOUNTS} accounts (one household per program)")
        self.market = market
        self.prefix = prefix
        self.n_accounts = accounts
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.n_days = len(market.days)
        self.as_of = market.as_of
        self.year_fraction = (self.as_of - date(self.as_of.year, 1, 1)).days / 365.0
        self.members = market.members
        bench = market.benchmark_weights
        self.members_by_weight = sorted(self.members, key=lambda s: (-bench[s], s))
        self.real_members = [s.symbol for s in market.securities
                             if s.price_source == "real" and s.symbol in bench]
        self.fossil_members = [s for s in self.members if "fossil_fuels" in market.by_symbol[s].tags]
        self.households: list[HouseholdSpec] = []
        self.accounts: list[AccountSpec] = []
        self.lots: list[LotSpec] = []
        self.trades: list[TradeSpec] = []
        self._lot_counter: dict[int, int] = {}
        self._first_lot: dict[int, date] = {}

    # -- small helpers -------------------------------------------------------------------------
    def choice(self, options, p=None):
        return options[int(self.rng.choice(len(options), p=p))]

    def weighted(self, pairs):
        names, weights = zip(*pairs, strict=True)
        return self.choice(names, p=np.array(weights) / sum(weights))

    def _old_date(self) -> tuple[date, float]:
        """A date before the price path starts, and the years between it and the path's start."""
        years = float(self.rng.uniform(1.5, 12.0))
        day = self.market.days[0] - timedelta(days=int(years * 365.25))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return day, years

    def _draw_days(self, k: int, profile: str) -> list[int | tuple[date, float]]:
        p_recent, p_short, p_long, p_old = DATE_PROFILES[profile]
        n = self.n_days
        out = []
        for bucket in self.rng.choice(4, size=k, p=[p_recent, p_short, p_long, p_old]):
            if bucket == 0:
                out.append(int(self.rng.integers(n - 21, n - 1)))
            elif bucket == 1:
                out.append(int(self.rng.integers(n - 252, n - 21)))
            elif bucket == 2:
                out.append(int(self.rng.integers(0, n - 252)))
            else:
                out.append(self._old_date())
        return out

    def _add_lot(self, lot: LotSpec) -> None:
        self.lots.append(lot)
        first = self._first_lot.get(lot.account)
        if first is None or lot.acquired < first:
            self._first_lot[lot.account] = lot.acquired

    def _next_lot_id(self, account: int) -> str:
        self._lot_counter[account] = self._lot_counter.get(account, 0) + 1
        return f"{self.accounts[account].custodian_number}-L{self._lot_counter[account]:04d}"

    # -- lots -----------------------------------------------------------------------------------
    def add_position(self, account: int, symbol: str, value: float, profile: str) -> None:
        """Lots worth about ``value`` today: 2-6 lots (fewer if the shares do not allow it)."""
        spec = self.market.by_symbol[symbol]
        path = self.market.paths[symbol]
        price = float(path[-1])
        k = int(self.rng.integers(2, 7))
        if spec.fractional:
            total = value / price
            if total < 0.01:
                return
            shares = [round(float(x) * total, 3) for x in self.rng.dirichlet(np.ones(k))]
        else:
            total = int(value // price)
            if total < 1:
                return
            k = min(k, total)
            cuts = sorted(int(c) for c in self.rng.choice(np.arange(1, total), size=k - 1, replace=False)) \
                if k > 1 else []
            bounds = [0, *cuts, total]
            shares = [float(bounds[i + 1] - bounds[i]) for i in range(k)]
        days = self._draw_days(len(shares), profile)
        growth = float(self.rng.uniform(0.07, 0.14))  # before the path: plausible cost at this yearly growth
        for qty, when in zip(shares, days, strict=True):
            if qty <= 0:
                continue
            if isinstance(when, tuple):
                acquired, years = when
                unit_cost = float(path[0]) * math.exp(-growth * years)
            else:
                acquired = self.market.days[when]
                unit_cost = float(path[when])
            unit_cost *= math.exp(float(self.rng.normal(0.0, 0.004)))
            quantity = _dec(qty, Q6)
            cost = max(_dec(qty * unit_cost, Q2), Q2)
            lot_id = self._next_lot_id(account)
            self._add_lot(LotSpec(account, lot_id, symbol, quantity, cost, acquired))
            if (self.as_of - acquired).days <= 30:
                self.trades.append(TradeSpec(account, symbol, "buy", quantity, _dec(unit_cost, Q6), acquired,
                                             None, f"T-{lot_id}"))

    # -- households and accounts ----------------------------------------------------------------
    def household_sizes(self) -> list[int]:
        n = self.n_accounts
        shared_target = round(SHARED_HOUSEHOLD_SHARE * n)
        sizes, shared = [], 0
        while shared < shared_target:
            size = 3 if self.rng.random() < 0.3 else 2
            size = min(size, shared_target - shared) if shared_target - shared >= 2 else 2
            sizes.append(size)
            shared += size
        sizes += [1] * (n - shared)
        order = self.rng.permutation(len(sizes))
        return [sizes[i] for i in order]

    def assign_programs(self, sizes: list[int]) -> list[Program]:
        """Each program gets one household first (harvesting a shared one), then the biggest deficit."""
        assigned: list[Program | None] = [None] * len(sizes)
        counts = dict.fromkeys(PROGRAM_BY_CODE, 0)
        free = list(range(len(sizes)))
        harvesting = PROGRAM_BY_CODE["harvesting"]
        first_shared = next(i for i in free if sizes[i] > 1)
        assigned[first_shared] = harvesting
        counts[harvesting.code] += sizes[first_shared]
        free.remove(first_shared)
        for program in PROGRAMS:
            if program is harvesting:
                continue
            i = free.pop(0)
            assigned[i] = program
            counts[program.code] += sizes[i]
        for i in free:
            program = max(PROGRAMS, key=lambda p: p.share * self.n_accounts - counts[p.code])
            assigned[i] = program
            counts[program.code] += sizes[i]
        return assigned  # type: ignore[return-value]

    def build(self) -> Book:
        sizes = self.household_sizes()
        programs = self.assign_programs(sizes)
        model_turn: dict[str, int] = {}
        wash_household = None
        for h, (size, program) in enumerate(zip(sizes, programs, strict=True)):
            turn = model_turn.get(program.code, 0)
            model_turn[program.code] = turn + 1
            model = program.models[turn % len(program.models)]
            wash = wash_household is None and program.code == "harvesting" and size > 1
            if wash:
                wash_household, model = h, "growth-80-20"
            self.add_household(h, size, program, model, wash)
        return Book(self.households, self.accounts, self.lots, self.trades, wash_household)

    def add_household(self, h: int, size: int, program: Program, model: str, wash: bool) -> None:
        rng = self.rng
        surname = self.choice(SURNAMES)
        firsts = [self.choice(FIRST_NAMES) for _ in range(2)]
        name = f"{firsts[0]} {surname}" if size == 1 else f"{surname} Family"
        overrides = {"cash": {"target": 0.02}} if rng.random() < 0.03 else {}
        self.households.append(HouseholdSpec(
            external_id=f"{self.prefix}-HH-{h + 1:05d}", name=name, program=program.code,
            advisor_slot=int(rng.integers(0, 2)), template=program.template, overrides=overrides,
        ))
        top = program.tax_managed or program.kind == "direct"
        bracket = TAX_BRACKETS[int(rng.choice(len(TAX_BRACKETS), p=[0, 0, 0.2, 0.3, 0.5] if top
                                              else [0.2, 0.25, 0.2, 0.15, 0.2]))]
        for j in range(size):
            main = j == 0
            if program.tax_managed and main or wash:
                taxable = True
            else:
                taxable = bool(rng.random() < (0.68 if main else 0.45))
            self.add_account(h, j, program, model, taxable, bracket, surname, firsts, wash)

    def birth_dates(self, h: int) -> list[date]:
        """The household's two people's dates of birth, 50 to 84 years old: a generator of their own
        (the book's stream, and so every other draw, stays as it was without them), so that about
        a third of the book's traditional IRAs owe an RMD this year."""
        rng = np.random.default_rng([self.seed, h])
        return [date(self.as_of.year - int(rng.integers(50, 85)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
                for _ in range(2)]

    def add_account(self, h, j, program, model, taxable, bracket, surname, firsts, wash) -> None:
        rng = self.rng
        index = len(self.accounts)
        kind = self.weighted(TAXABLE_TYPES if taxable else RETIREMENT_TYPES)
        owner = firsts[j % 2]
        if kind == "Joint":
            name = f"{firsts[0]} & {firsts[1]} {surname} Joint"
        elif kind == "Revocable Trust":
            name = f"{surname} Family Revocable Trust"
        else:
            name = f"{owner} {surname} {kind}"
        template = None
        program_kind = program.kind
        if program.tax_managed and not taxable:
            # Tax management means nothing in an IRA: it follows the standard template.
            template = "standard"
            if program_kind == "direct":
                model = "growth-80-20"
            program_kind = "funds"
        st, lt, ordinary = bracket
        if not taxable:
            st = ordinary
        account = AccountSpec(
            custodian_number=f"{self.prefix}-{index + 1:06d}", name=name, household=h, program=program.code,
            model=model, template=template, taxable=taxable, discretionary=bool(rng.random() < 0.75),
            short_term_rate=Decimal(str(st)), long_term_rate=Decimal(str(lt)), kind=kind,
        )
        if account.tax_status == "traditional":
            account.owner_name, account.owner_birth_date = f"{owner} {surname}", self.birth_dates(h)[j % 2]
        self.accounts.append(account)
        effective_template = template or program.template
        account.overrides = self.account_overrides(program, program_kind, effective_template)
        problems = override_problems(account.overrides, effective_template)
        assert not problems, problems  # the demo's own rules; a failure here is a bug in this module
        self.fill_account(index, program, program_kind, model, taxable, wash and j < 2, j)

    def account_overrides(self, program: Program, kind: str, template: str) -> dict[str, Any]:
        r = self.rng.random()
        if program.code == "esg-direct" and kind == "direct":
            return {"direct_index": {"us_large_cap": {"max_names": 150}}}
        if template == "direct-index-us-large-cap" and r < 0.2:
            return {"direct_index": {"us_large_cap": {"max_names": 120}}}
        if template == "tax-managed-transition" and r < 0.25:
            return {"transition": {"max_net_gain_per_year": 50000.0}}
        if template == "year-round-harvesting" and r < 0.15:
            return {"harvest": {"min_loss_value": 1000.0}}
        if r < 0.08:
            return {"cash": {"target": 0.02}}
        if r < 0.12:
            return {"drift": {"absolute_band": 0.05}}
        return {}

    def fill_account(self, index: int, program: Program, kind: str, model: str, taxable: bool,
                     wash: bool, position_in_household: int) -> None:
        rng = self.rng
        account = self.accounts[index]
        if kind == "direct":
            value = float(rng.uniform(1_000_000, 3_000_000))
        elif kind == "legacy":
            value = float(np.clip(math.exp(rng.normal(math.log(450_000), 0.6)), 100_000, 4_000_000))
        else:
            value = float(np.clip(math.exp(rng.normal(math.log(250_000), 0.75)), 25_000, 5_000_000))
        mode = self.choice(("near", "far", "cash"), p=[0.68, 0.2, 0.12])
        cash_w = float(rng.uniform(0.08, 0.2)) if mode == "cash" else float(rng.uniform(0.002, 0.025))
        invested = value * (1 - cash_w)
        targets = flat_targets(model)
        drifted = {s: w * math.exp(float(rng.normal(0.0, 0.08))) for s, w in targets.items()}
        if mode == "far":
            victim = self.choice(sorted(drifted))
            drifted[victim] *= float(rng.uniform(1.4, 1.8)) if rng.random() < 0.5 else float(rng.uniform(0.35, 0.6))
        if wash and position_in_household == 0:
            drifted["VEA"] *= 0.5  # half of it was harvested 9 days ago (add_loss_sale)
        if wash and position_in_household == 1:
            drifted["VEA"] *= 0.55  # underweight: the engine wants to buy VEA, the household's loss sale forbids it
        legacy_share = {"legacy": float(rng.uniform(0.5, 0.9)), "fossil": float(rng.uniform(0.05, 0.12))}.get(kind, 0.0)
        scale = (1 - legacy_share) * invested / sum(drifted.values())
        profile = "harvest" if program.code == "harvesting" else "normal"
        for symbol in sorted(drifted):
            if symbol.startswith("@"):
                self.add_direct_index(index, drifted[symbol] * scale, program.code == "esg-direct")
            else:
                self.add_position(index, symbol, drifted[symbol] * scale, profile)
        if kind == "legacy":
            self.add_legacy(index, legacy_share * invested)
        elif kind == "fossil":
            self.add_fossil(index, legacy_share * invested)
        if wash and position_in_household == 0:
            self.add_loss_sale(index, "VEA", targets["VEA"] * invested)
        account.cash = _dec(cash_w * value, Q2)
        if account.owner_birth_date is not None:  # 5% below today's: the market has moved since
            account.year_end_values = {str(self.as_of.year - 1): f"{value * 0.95:.2f}"}
        if taxable:
            self.add_realised(index, value, kind)
        first = self._first_lot.get(index, self.as_of)
        account.opened_on = min(first, self.as_of - timedelta(days=int(rng.integers(30, 400))))

    def add_direct_index(self, index: int, value: float, esg: bool) -> None:
        rng = self.rng
        bench = self.market.benchmark_weights
        count = int(rng.integers(100, 151 if esg else 201))
        names = list(self.members_by_weight[:60])
        rest = [s for s in self.members_by_weight[60:]]
        names += [rest[i] for i in sorted(rng.choice(len(rest), size=count - 60, replace=False))]
        if esg:  # bought before the screen: the engine has energy names to sell
            names += [s for s in self.choice_many(self.fossil_members, 4) if s not in names]
        weights = np.array([float(bench[s]) for s in names]) * np.exp(rng.normal(0.0, 0.25, len(names)))
        weights /= weights.sum()
        for symbol, w in zip(names, weights, strict=True):
            self.add_position(index, symbol, value * float(w), "direct")

    def choice_many(self, options: list[str], k: int) -> list[str]:
        return [options[i] for i in sorted(self.rng.choice(len(options), size=min(k, len(options)), replace=False))]

    def add_legacy(self, index: int, value: float) -> None:
        rng = self.rng
        n_stocks = int(rng.integers(6, 13))
        from_real = min(len(self.real_members), int(round(n_stocks * 0.6)))
        stocks = self.choice_many(self.real_members, from_real)
        others = [s for s in self.members if s not in stocks]
        stocks += self.choice_many(others, n_stocks - len(stocks))
        funds = self.choice_many(list(LEGACY_FUNDS), int(rng.integers(1, 4)))
        holdings = stocks + funds
        weights = rng.dirichlet(np.ones(len(holdings)) * 2.0)
        for symbol, w in zip(holdings, weights, strict=True):
            self.add_position(index, symbol, value * float(w), "legacy")
        if rng.random() < 0.35:  # a recent sale of a legacy name, inside the yearly gain budget
            symbol = stocks[0]
            day = self.n_days - 1 - int(rng.integers(3, 20))
            price = float(self.market.paths[symbol][day])
            qty = max(1, int(float(rng.uniform(5_000, 20_000)) // price))
            gain = qty * price * float(rng.uniform(0.4, 0.7))
            self.add_sale(index, symbol, qty, price, day, gain, long_term=True)

    def add_fossil(self, index: int, value: float) -> None:
        holdings = ["XLE", *self.choice_many(list(FOSSIL_LEGACY), int(self.rng.integers(1, 4)))]
        weights = self.rng.dirichlet(np.ones(len(holdings)) * 2.0)
        for symbol, w in zip(holdings, weights, strict=True):
            self.add_position(index, symbol, value * float(w), "normal")

    def add_sale(self, index: int, symbol: str, qty: float, price: float, day: int, gain: float,
                 long_term: bool) -> None:
        account = self.accounts[index]
        trade_date = self.market.days[day]
        quantity = _dec(qty, Q6)
        realised = _dec(gain, Q2)
        self.trades.append(TradeSpec(index, symbol, "sell", quantity, _dec(price, Q6), trade_date, realised,
                                     f"T-{account.custodian_number}-S{len(self.trades) + 1:05d}"))
        if trade_date.year == self.as_of.year:
            if long_term:
                account.realised_long_term_ytd += realised
            else:
                account.realised_short_term_ytd += realised

    def add_loss_sale(self, index: int, symbol: str, target_value: float) -> None:
        """Harvested 9 business days ago: half the position sold at a loss, the substitute bought."""
        day = self.n_days - 1 - 9
        price = float(self.market.paths[symbol][day])
        qty = round(0.5 * target_value / price, 3)
        loss = -qty * price * 0.16  # the sold lots had cost 16% more than the sale price
        self.add_sale(index, symbol, qty, price, day, loss, long_term=False)
        substitute = FUND_SUBSTITUTES[symbol]
        sub_price = float(self.market.paths[substitute][day])
        sub_qty = _dec(qty * price / sub_price, Decimal("0.001"))
        lot_id = self._next_lot_id(index)
        acquired = self.market.days[day]
        self._add_lot(LotSpec(index, lot_id, substitute, sub_qty, _dec(float(sub_qty) * sub_price, Q2), acquired))
        self.trades.append(TradeSpec(index, substitute, "buy", sub_qty, _dec(sub_price, Q6), acquired, None,
                                     f"T-{lot_id}"))

    def add_realised(self, index: int, value: float, kind: str) -> None:
        rng = self.rng
        account = self.accounts[index]
        if kind == "legacy":
            account.realised_long_term_ytd += _dec(float(rng.uniform(2_000, 12_000)) * self.year_fraction, Q2)
        elif rng.random() < 0.35:
            account.realised_long_term_ytd += _dec(value * float(rng.uniform(0, 0.02)) * self.year_fraction, Q2)
            account.realised_short_term_ytd += _dec(value * float(rng.normal(0, 0.004)) * self.year_fraction, Q2)


def build_book(market: Market, *, prefix: str, accounts: int, seed: int) -> Book:
    """The book for ``accounts`` accounts; deterministic for (market.as_of, prefix, accounts, seed)."""
    return _Builder(market, prefix, accounts, seed).build()

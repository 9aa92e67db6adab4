"""The household as the unit: one model across its accounts, asset location, coordinated wash sales.

``rebalance_household(request)`` proposes one set of trades per account so that the household's
combined holdings sit on its one model.  Two stages (the formulation is stated in docs/engine.md):

1. **Placement** (``placement.place``): one linear programme over (account, security) decides what each
   account should hold - the household on target, tax-inefficient asset classes where they are taxed
   least, gains realised only where no trade inside a tax-deferred account does the same job, no
   loss sale in one account while another buys the same security.
2. **Per account**: each account's placement becomes its own model and the single-account engine
   (``rebalance``) turns it into tradable proposals, so every account's own constraints (restrictions,
   cash floor, whole shares, minimum trade, tax budget, lot relief) still bind; its drift bands
   too unless the household has its own (``HouseholdRequest.drift``, applied by the placement).
   Accounts are solved
   tax-deferred first, then taxable, each seeing the trades already proposed in the others as
   household trades of today: the wash-sale rule (IRC §1091, Rev. Rul. 2008-5 for IRA purchases)
   is enforced across the household by the same code that enforces it inside one account.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from .errors import EngineError, InvalidRequest
from .limits import PLANNED_PURCHASE
from .parameters import DriftParams, Instruction, TransitionParams
from .placement import Placement, place
from .rebalancer import rebalance
from .request import HouseholdTrade, Model, RebalanceRequest, Security, Sleeve, TaxLot, validate_request
from .result import CASH_KEY, REASONS, LotSale, RebalanceResult, Summary, Trade
from .targets import nothing_to_remove
from .tax import realised_add, returns_after
from .wash_sales import WINDOW_DAYS, Equivalence, told_by, window_activity

__all__ = [
    "INSIDE_BANDS",
    "TAX_STATUSES",
    "HouseholdAccount",
    "LocationPreferences",
    "HouseholdRequest",
    "HouseholdDiagnostics",
    "HouseholdResult",
    "default_location_preferences",
    "household_equivalence",
    "household_window_trades",
    "rebalance_household",
    "validate_household",
]

# "traditional": tax-deferred (traditional IRA, 401(k)): withdrawals taxed as ordinary income.
# "roth": contributions already taxed; qualified withdrawals are tax-free.
TAX_STATUSES = ("taxable", "traditional", "roth")
# How a household inside its drift bands is rebalanced (HouseholdRequest.inside_bands).
INSIDE_BANDS = ("tax_free", "cash_flows")

# Words in an asset-class name that mark it tax-inefficient: its return is mostly income taxed at
# ordinary rates each year (bond coupons, REIT dividends are not qualified dividends, IRC §857), or
# taxed every year whether sold or not (a futures-based commodity fund marks its contracts to market
# each year, 60% long-term / 40% short-term, IRC §1256, and reports on a K-1).
_INEFFICIENT_WORDS = ("bond", "fixed", "income", "treasur", "credit", "tips", "reit", "real_estate",
                      "real estate", "high_yield", "high yield", "commodit")  # fmt: skip
# Words that mark the highest expected growth (Roth first, ahead of taxable).
_GROWTH_WORDS = ("equity", "stock", "growth", "small", "emerging", "international", "us_", "us ")


@dataclass(frozen=True, slots=True)
class HouseholdAccount:
    """One account of the household: its own request (lots, cash, rates, parameters - all still
    binding), its tax status and the asset classes it may hold (None = any)."""

    request: RebalanceRequest
    tax_status: str = "taxable"
    allowed_asset_classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.tax_status not in TAX_STATUSES:
            raise InvalidRequest(
                f"tax status of account {self.request.account.id} must be one of "
                f"{', '.join(TAX_STATUSES)}, got {self.tax_status!r}"
            )
        if self.request.account.taxable != (self.tax_status == "taxable"):
            raise InvalidRequest(
                f"account {self.request.account.id} is {self.tax_status} but its taxable flag is "
                f"{self.request.account.taxable}"
            )

    @property
    def id(self) -> str:
        return self.request.account.id


@dataclass(frozen=True, slots=True)
class LocationPreferences:
    """Asset class -> tax statuses in order of preference (first = where it is taxed least).

    ``weight``: how strongly a class is pulled to its preferred place, as a fraction of value per
    step down its list (a year's worth of location benefit weighed against one-off tax and cost);
    tax-inefficient classes (``inefficient``) pull twice as hard, so when a Roth cannot take both,
    bonds go there before equity does.
    """

    order: Mapping[str, tuple[str, ...]]
    inefficient: frozenset[str] = frozenset()
    weight: float = 0.002

    def __post_init__(self) -> None:
        for asset_class, statuses in self.order.items():
            unknown = set(statuses) - set(TAX_STATUSES)
            if unknown:
                raise InvalidRequest(
                    f"location preference of {asset_class} names unknown tax status {sorted(unknown)[0]!r}"
                )
        if not (isinstance(self.weight, int | float) and 0 <= self.weight <= 1):
            raise InvalidRequest("location preference weight must be between 0 and 1")

    def cost(self, asset_class: str, tax_status: str) -> float:
        """Penalty per unit of value of ``asset_class`` held in an account of ``tax_status``."""
        statuses = self.order.get(asset_class)
        if not statuses:
            return 0.0
        rank = statuses.index(tax_status) if tax_status in statuses else len(statuses)
        step = 2.0 if asset_class in self.inefficient else 1.0
        return self.weight * step * rank


def is_tax_inefficient(asset_class: str) -> bool:
    """Bonds, fixed income, REITs, commodity funds: taxed every year, largely at ordinary rates."""
    name = asset_class.lower()
    return any(w in name for w in _INEFFICIENT_WORDS)


def default_location_preferences(asset_classes: Iterable[str]) -> LocationPreferences:
    """The documented defaults: tax-inefficient classes (bonds, REITs, commodities) in traditional accounts
    first, then Roth, taxable last; equity (highest expected growth) in Roth first, then taxable
    (tax-efficient: qualified dividends, deferred gains), traditional last."""
    order: dict[str, tuple[str, ...]] = {}
    inefficient = set()
    for asset_class in asset_classes:
        if is_tax_inefficient(asset_class):
            order[asset_class] = ("traditional", "roth", "taxable")
            inefficient.add(asset_class)
        else:
            order[asset_class] = ("roth", "taxable", "traditional")
    return LocationPreferences(order, frozenset(inefficient))


@dataclass(frozen=True, slots=True)
class HouseholdRequest:
    """Everything the engine needs for one household on one date: ONE model for the combined
    value, the securities, the accounts; ``tax_budget``: tax on realised gains the household allows
    this run (currency; None = no limit); ``location``: None = ``default_location_preferences``;
    ``drift``: the household's tolerance bands (the engine's rule, by security and by asset class):
    inside them no gain is realised to rebalance, though tax-free trades still are (None = none);
    ``inside_bands``: how the household is rebalanced while inside those bands - ``"tax_free"`` (the
    default): by every trade that costs no tax (IRA and Roth trades, cash invested); ``"cash_flows"``:
    only by where its cash goes (income, deposits invested in what is under its model; what a
    withdrawal or tax bill needs raised from what is over it), no holding sold to rebalance until a
    band is broken, as an account's own bands work."""

    household_id: str
    as_of: date
    model: Model
    securities: tuple[Security, ...]
    accounts: tuple[HouseholdAccount, ...]
    tax_budget: float | None = None
    location: LocationPreferences | None = None
    drift: DriftParams | None = None
    inside_bands: str = "tax_free"

    def preferences(self) -> LocationPreferences:
        if self.location is not None:
            return self.location
        return default_location_preferences(s.asset_class for s in self.model.sleeves)


@dataclass(frozen=True, slots=True)
class HouseholdDiagnostics:
    """How the proposal was computed (milliseconds)."""

    solver: str = "HiGHS"
    placement_solves: int = 0
    placement_ms: float = 0.0
    accounts_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class HouseholdResult:
    """One proposal per account (same order as the request) and what they do to the household.

    ``allocation_*``: asset class -> account id -> value (``CASH_KEY`` for cash); drift is half the
    sum of absolute differences between the household's security (and cash) weights and the
    model's; ``tax_cost``: estimated tax of the realised gains, summed over taxable accounts.
    """

    household_id: str
    as_of: date
    accounts: tuple[RebalanceResult, ...]
    allocation_before: Mapping[str, Mapping[str, float]]
    allocation_after: Mapping[str, Mapping[str, float]]
    targets: Mapping[str, float]
    drift_before: float
    drift_after: float
    tax_cost: float
    warnings: tuple[str, ...] = ()
    diagnostics: HouseholdDiagnostics = field(default_factory=HouseholdDiagnostics)


def validate_household(request: HouseholdRequest) -> dict[str, Security]:
    """Check the household request; return the securities by symbol (``InvalidRequest`` names the
    problem: no accounts, two accounts with one id, an account whose own request is invalid)."""
    if not isinstance(request, HouseholdRequest):
        raise InvalidRequest(f"expected a HouseholdRequest, got {type(request).__name__}")
    if not request.accounts:
        raise InvalidRequest(f"household {request.household_id} has no accounts")
    ids = [a.id for a in request.accounts]
    if len(set(ids)) != len(ids):
        raise InvalidRequest(f"household {request.household_id} lists an account twice")
    if request.inside_bands not in INSIDE_BANDS:
        raise InvalidRequest(
            f"inside_bands must be one of {', '.join(INSIDE_BANDS)}, got {request.inside_bands!r}"
        )
    if request.tax_budget is not None and not (
        isinstance(request.tax_budget, int | float) and 0 <= request.tax_budget < math.inf
    ):
        raise InvalidRequest("the household tax budget must be a non-negative amount")
    securities = {}
    household_total = 0.0
    for a in request.accounts:
        own = replace(a.request, as_of=request.as_of, model=request.model, securities=request.securities)
        securities = validate_request(own)
        total = account_value(a, securities)
        if total < 0:
            raise InvalidRequest(
                f"account {a.id} is worth {total:,.2f}: its cash is below zero by more than it holds",
                {"account": a.id},
            )
        household_total += total
    if household_total <= 0:
        raise InvalidRequest(f"household {request.household_id} has no value to rebalance")
    return securities


def account_value(account: HouseholdAccount, securities: Mapping[str, Security]) -> float:
    """Cash plus holdings at today's prices."""
    acct = account.request.account
    return acct.cash + sum(lot.quantity * securities[lot.symbol].price for lot in acct.lots)


def household_equivalence(request: HouseholdRequest) -> Equivalence:
    """Substantially identical securities across the household: every account's groups merged
    (a rule of one account's parameters is a fact about the securities, so it holds for all)."""
    groups = [g for a in request.accounts for g in a.request.parameters.wash_sale.equivalent_groups]
    return Equivalence(groups)


def household_window_trades(request: HouseholdRequest) -> tuple[HouseholdTrade, ...]:
    """The household's trades of the last 30 days as every account must see them: each account's
    recorded household trades, plus every lot bought in the window in any account as a purchase
    (an IRA or Roth purchase washes a taxable loss too, Rev. Rul. 2008-5; a gift is not bought)."""
    start = request.as_of - timedelta(days=WINDOW_DAYS)
    seen: set[tuple] = set()
    out: list[HouseholdTrade] = []
    for a in request.accounts:
        for t in a.request.account.household_trades:
            key = (t.date, t.symbol, t.side, t.quantity, t.realised_gain, t.account_id)
            if key not in seen:
                seen.add(key)
                out.append(t)
    for a in request.accounts:
        bought_on = a.request.account.bought_on()  # a replacement's day bought; None: a gift
        told = told_by(out, a.id)  # (the account's own buy trade tells its lots of that day)
        for lot in a.request.account.lots:
            day = bought_on.get(lot.id, lot.acquired) if bought_on else lot.acquired
            if day is not None and start <= day <= request.as_of and not told(lot.symbol, day, lot.quantity):
                out.append(HouseholdTrade(day, lot.symbol, "buy", lot.quantity, None, a.id))
    return tuple(out)


# Placements of one household run: the first, and one more for each set of names a harvest in
# one account keeps the others from buying (``_stranded_buys``).
MAX_PLACEMENTS = 3


def rebalance_household(request: HouseholdRequest) -> HouseholdResult:
    """Propose the trades of every account of a household, held to one model, and explain them.

    Raises ``InvalidRequest`` for bad input and, from an account's own solve,
    ``InfeasibleParameters`` naming the account's conflicting parameters.
    """
    start = time.perf_counter()
    securities = validate_household(request)
    request = _brought_to_model(request)
    window = household_window_trades(request)
    equivalence = household_equivalence(request)
    placement = place(request, securities, window, equivalence)
    placing = time.perf_counter() - start  # every placement's time, the first and any again
    accounts = _accounts_solved(request, placement, window, securities, equivalence)
    stranded: frozenset[str] = frozenset()
    for _ in range(MAX_PLACEMENTS - 1):
        # A harvest in one account stops every other account buying the name for 30 days, so a
        # purchase the placement gave another account (an IRA's position moved there, say) would
        # leave its money idle for a month: placed again with the name bought nowhere, the
        # household holds on to it or moves something else. The harvest's own account keeps
        # its substitute, which stands in for the name there. (Placed again, another harvest
        # may strand another name: at most MAX_PLACEMENTS placements.)
        more = (
            _stranded_buys(request, accounts, placement, equivalence)
            | _harvests_blocked(request, accounts, placement, window, equivalence)
        ) - stranded
        if not more:
            break
        stranded |= more
        again = time.perf_counter()
        placement = place(
            request, securities, window, equivalence, bought_nowhere=stranded, solved_before=placement.solves,
            outside=placement.outside,  # the bands judged once, on the household as it stands
        )
        placing += time.perf_counter() - again
        accounts = _accounts_solved(request, placement, window, securities, equivalence)
    _guard_household_wash_sales(request, accounts, window)
    _guard_allowed_classes(request, accounts, placement, securities)
    accounts = tuple(
        _at_true_basis(account, result) for account, result in zip(request.accounts, accounts, strict=True)
    )
    done = time.perf_counter()
    return _report(
        request,
        accounts,
        placement,
        securities,
        HouseholdDiagnostics(
            placement_solves=placement.solves,
            placement_ms=placing * 1e3,
            accounts_ms=(done - start - placing) * 1e3,
            total_ms=(done - start) * 1e3,
        ),
    )


def _brought_to_model(request: HouseholdRequest) -> HouseholdRequest:
    """"Bring back to the model", given to any account of a household held to one model, is the
    household's: its drift bands and tax budget are set aside this once, and every account solves
    with the instruction (its own bands and transition budget set aside, as an account's are)."""
    if not any(_instructed(a, "bring_to_model") for a in request.accounts):
        return request
    bring = Instruction(kind="bring_to_model")
    # An account told to liquidate sells everything: it has nothing to bring to the model.
    accounts = tuple(
        a if _instructed(a, "bring_to_model") or _instructed(a, "liquidate") else replace(a, request=replace(
            a.request, parameters=replace(a.request.parameters,
                                          instructions=(*a.request.parameters.instructions, bring))))
        for a in request.accounts
    )
    return replace(request, accounts=accounts, drift=None, tax_budget=None)


def _instructed(account: HouseholdAccount, kind: str) -> bool:
    return any(i.kind == kind for i in account.request.parameters.instructions)


def _accounts_solved(
    request: HouseholdRequest,
    placement: Placement,
    window: tuple[HouseholdTrade, ...],
    securities: Mapping[str, Security],
    equivalence: Equivalence,
) -> tuple[RebalanceResult, ...]:
    """Each account's own solve of its placement, in the order the wash-sale rule needs."""
    # Tax-deferred accounts first: their buys must stop a taxable account's loss sale of the same
    # security, and a taxable loss sale must stop their buys; each later account sees both.
    order = sorted(range(len(request.accounts)), key=lambda i: request.accounts[i].tax_status == "taxable")
    proposed: list[HouseholdTrade] = []
    results: dict[int, RebalanceResult] = {}
    # Net results proposed so far on each tax return: each later account's estimate nets its run
    # after them, so the accounts' estimates add up to what each return pays (tax.run_tax).
    on_returns: dict[str, tuple[float, float]] = {}
    for i in order:
        account = request.accounts[i]
        if account_value(account, securities) == 0:
            # An account opened and not yet funded: nothing to trade until money arrives.
            results[i] = _empty_result(request, account)
            continue
        own = _account_request(request, account, placement, window, proposed, securities, equivalence)
        own = replace(own, account=replace(own.account, tax_returns=returns_after(own.account.tax_returns, on_returns)))
        result = rebalance(own)
        result = _without_false_removals(result, request, account)
        result = _with_location_reasons(result, account, placement, securities)
        results[i] = result
        proposed.extend(_as_household_trades(request.as_of, account, result))
        on_returns = realised_add(on_returns, own.account, result.summary)
    return tuple(results[i] for i in range(len(request.accounts)))


def _stranded_buys(
    request: HouseholdRequest,
    accounts: tuple[RebalanceResult, ...],
    placement: Placement,
    equivalence: Equivalence,
) -> frozenset[str]:
    """Symbols the placement has an account buy that a loss sale proposed in another account
    (a harvest) keeps it from buying: the wash-sale rule holds across the household."""
    loss_groups: dict[str, set[str]] = {}  # group -> accounts selling it at a loss in this proposal
    for account, result in zip(request.accounts, accounts, strict=True):
        if account.tax_status != "taxable":
            continue
        for t in result.trades:
            if t.side == "sell" and any(ls.gain < 0 for ls in t.lots):
                loss_groups.setdefault(equivalence.group(t.symbol), set()).add(account.id)
    if not loss_groups:
        return frozenset()
    tolerance = 1e-9 * max(placement.total, 1.0)
    stranded = set()
    for a, account_id in enumerate(placement.account_ids):
        for j, symbol in enumerate(placement.symbols):
            sellers = loss_groups.get(equivalence.group(symbol), set())
            if sellers - {account_id} and placement.after[a, j] > placement.before[a, j] + tolerance:
                stranded.add(symbol)
    # Every member of a stranded group: a name stands for its group in the wash-sale rule.
    groups = {equivalence.group(s) for s in stranded}
    return frozenset(s for s in placement.symbols if equivalence.group(s) in groups)


def _harvests_blocked(
    request: HouseholdRequest,
    accounts: tuple[RebalanceResult, ...],
    placement: Placement,
    window: tuple[HouseholdTrade, ...],
    equivalence: Equivalence,
) -> frozenset[str]:
    """Symbols whose harvest in a taxable account is stopped only by another account's purchase in
    this proposal (tax-deferred accounts are solved first, so an IRA's buy of the name would wash
    the loss): placed again with the name bought nowhere, its harvest substitute takes the buy's
    place (``placement._stood_in``) and the harvest goes ahead."""
    before = window_activity(request.as_of, window, (), equivalence).purchases
    out: set[str] = set()
    for account, result in zip(request.accounts, accounts, strict=True):
        params = account.request.parameters
        if account.tax_status != "taxable" or params.harvest is None or params.wash_sale.allow:
            continue
        for alert in result.alerts:
            if alert.code != "harvest_opportunity" or alert.symbol is None or PLANNED_PURCHASE not in alert.message:
                continue  # not harvested for another reason (its substitute, a restriction, ...)
            group = equivalence.group(alert.symbol)
            if group in before:
                continue  # a purchase of the last 30 days stops it anyway
            substitute = params.harvest.substitutes.get(alert.symbol)
            if substitute is None or equivalence.group(substitute) == group or substitute in set(
                params.restrictions.do_not_buy
            ) | set(params.restrictions.hold):
                continue  # it would not be harvested anyway: its substitute may not stand in
            bought_elsewhere = any(
                t.side == "buy" and equivalence.group(t.symbol) == group
                for other in accounts
                if other.account_id != account.id
                for t in other.trades
            )
            if bought_elsewhere:
                out |= {s for s in placement.symbols if equivalence.group(s) == group}
    return frozenset(out)


def _account_request(
    request: HouseholdRequest,
    account: HouseholdAccount,
    placement: Placement,
    window: tuple[HouseholdTrade, ...],
    proposed: list[HouseholdTrade],
    securities: Mapping[str, Security],
    equivalence: Equivalence,
) -> RebalanceRequest:
    own = account.request
    acct = own.account
    lots = acct.lots
    if account.tax_status != "taxable":
        # A tax-deferred account realises no capital gain or loss: its lots go to the engine at
        # market value, so none is frozen by a wash-sale window meant for taxable losses. (The
        # result reports their true basis again: ``_at_true_basis``.)
        lots = tuple(
            TaxLot(
                lot.id, lot.symbol, lot.quantity, lot.quantity * securities[lot.symbol].price, lot.acquired
            )
            for lot in lots
        )
    trades = (*window, *proposed)
    params = own.parameters
    banned = placement.no_buy_symbols(account.id)
    if banned:
        # A name barred to keep a loss sale elsewhere clean bars its whole group: a security
        # substantially identical to it (IRC §1091) that the placement does not hold - a harvest's
        # substitute, say - would wash the same loss.
        groups = {equivalence.group(s) for s in banned}
        banned |= {s.symbol for s in request.securities if equivalence.group(s.symbol) in groups}
    if account.allowed_asset_classes is not None:
        # Every security of a class the account may not hold, not only the model's (a harvest
        # substitute, a transition's target).
        allowed = set(account.allowed_asset_classes)
        banned |= {
            s.symbol
            for s in request.securities
            if placement.asset_class.get(s.symbol, s.asset_class) not in allowed
        }
    if banned:
        restrictions = params.restrictions
        params = replace(
            params,
            restrictions=replace(
                restrictions, do_not_buy=tuple(sorted(set(restrictions.do_not_buy) | banned))
            ),
        )
    if account.allowed_asset_classes is not None and not placement.holdings(account.id) \
            and not _instructed(account, "liquidate"):
        # No class of the model it may hold: the placement leaves it all cash, and so does its solve
        # (its holdings are of classes it may not hold, sold as far as its parameters allow).
        params = replace(params, cash=replace(params.cash, target=1.0), direct_index=())
    if request.drift is not None:
        # The placement has applied the household's drift bands (a tax-free trade fixes drift
        # inside them, a taxable gain waits for the band): the account's own would undo it.
        # Without household bands the account's own still decide when it trades.
        params = replace(params, drift=None)
    if request.tax_budget is not None and account.tax_status == "taxable":
        # The household's tax budget, as the gain the placement realises in this account: a cap on
        # its net gain that whole shares and lot relief cannot overrun (the transition budget).
        cap = placement.planned_gain.get(account.id, 0.0) + 0.005
        transition = params.transition or TransitionParams()
        if transition.max_net_gain_per_run is not None:
            cap = min(cap, transition.max_net_gain_per_run)
        params = replace(params, transition=replace(transition, max_net_gain_per_run=cap))
    return RebalanceRequest(
        as_of=request.as_of,
        account=replace(acct, lots=lots, household_trades=trades),
        securities=request.securities,
        model=_account_model(request, account, placement),
        parameters=replace(params, wash_sale=replace(params.wash_sale, equivalent_groups=_groups(request))),
    )


def _at_true_basis(account: HouseholdAccount, result: RebalanceResult) -> RebalanceResult:
    """A tax-deferred account's result with each lot sold at its true share of basis, as its own
    proposal reports it: the cost basis and gain of every lot sale, each sale's realised gain and
    the summary's realised figures. Its solve saw the lots at market value (``_account_request``);
    the trades and the tax estimate (none: an IRA's or Roth's sales realise nothing for tax, IRC
    §408(e)(1), §408A(a)) are those of that solve. A taxable account's result is returned as it is."""
    if account.tax_status == "taxable" or not any(t.lots for t in result.trades):
        return result
    lots = {lot.id: lot for lot in account.request.account.lots}
    trades = []
    sold: list[LotSale] = []
    for t in result.trades:
        if not t.lots:
            trades.append(t)
            continue
        sales = []
        for ls in t.lots:
            lot = lots[ls.lot_id]
            basis = lot.cost_basis * ls.quantity / lot.quantity if lot.quantity > 0 else 0.0
            gain = ls.proceeds - basis
            if abs(gain) < 1e-9 * max(ls.proceeds, 1.0):  # float noise is not a loss (as ``rebalance``)
                gain = 0.0
            sales.append(replace(ls, cost_basis=basis, gain=gain))
        sold.extend(sales)
        trades.append(replace(t, lots=tuple(sales), realised_gain=math.fsum(ls.gain for ls in sales)))
    short = [ls.gain + ls.disallowed_loss for ls in sold if ls.term != "long"]
    long_ = [ls.gain + ls.disallowed_loss for ls in sold if ls.term == "long"]
    st_gain, st_loss = math.fsum(g for g in short if g > 0), -math.fsum(g for g in short if g < 0)
    lt_gain, lt_loss = math.fsum(g for g in long_ if g > 0), -math.fsum(g for g in long_ if g < 0)
    summary = replace(
        result.summary,
        realised_short_term_gain=st_gain,
        realised_short_term_loss=st_loss,
        realised_long_term_gain=lt_gain,
        realised_long_term_loss=lt_loss,
        net_realised_gain=st_gain - st_loss + lt_gain - lt_loss,
    )
    return replace(result, trades=tuple(trades), summary=summary)


def _empty_result(request: HouseholdRequest, account: HouseholdAccount) -> RebalanceResult:
    zero = dict.fromkeys(Summary.__slots__, 0.0)
    zero.update(tracking_error_before={}, tracking_error_after={}, trade_count=0)
    for name in ("tracking_error_with_cash_before", "tracking_error_with_cash_after"):
        if name in zero:
            zero[name] = {}
    return RebalanceResult(
        account_id=account.id,
        as_of=request.as_of,
        trades=(),
        summary=Summary(**zero),
        weights_before={CASH_KEY: 0.0},
        weights_after={CASH_KEY: 0.0},
        targets={CASH_KEY: 0.0},
        warnings=("the account holds nothing: nothing to rebalance",),
    )


def _groups(request: HouseholdRequest) -> tuple[tuple[str, ...], ...]:
    seen: list[tuple[str, ...]] = []
    for a in request.accounts:
        for g in a.request.parameters.wash_sale.equivalent_groups:
            if tuple(g) not in seen:
                seen.append(tuple(g))
    return tuple(seen)


def _account_model(request: HouseholdRequest, account: HouseholdAccount, placement: Placement) -> Model:
    """The account's placement as a model: one sleeve per asset class it should hold."""
    held = placement.holdings(account.id)
    by_class: dict[str, dict[str, float]] = {}
    for symbol, value in held.items():
        by_class.setdefault(placement.asset_class[symbol], {})[symbol] = value
    total = sum(held.values())
    if total <= 0:
        # Nothing placed here (e.g. no class it may hold): the household model, with every buy
        # of a class it may not hold refused by its restrictions - a direct-indexed sleeve as its
        # benchmark's names, none of which it may buy (``_account_request`` makes it all cash and
        # indexes nothing: no name could be selected).
        if account.allowed_asset_classes is None:
            return request.model
        return replace(request.model, sleeves=tuple(
            s if s.holdings or s.benchmark is None else replace(s, holdings=dict(s.benchmark.constituents))
            for s in request.model.sleeves
        ))
    # A sleeve keeps its benchmark: an account that direct-indexes it does so on its share.
    benchmarks = {s.asset_class: s.benchmark for s in request.model.sleeves}
    sleeves = []
    for asset_class, values in by_class.items():
        class_total = sum(values.values())
        holdings = {s: v / class_total for s, v in values.items()}
        sleeves.append(Sleeve(asset_class, class_total / total, holdings, benchmarks.get(asset_class)))
    # Weights summing to 1 within the request's tolerance, whatever the float noise.
    drift = 1.0 - sum(s.weight for s in sleeves)
    sleeves[0] = replace(sleeves[0], weight=sleeves[0].weight + drift)
    return Model(f"{request.model.name} ({account.id} placement)", tuple(sleeves))


def _without_false_removals(
    result: RebalanceResult, request: HouseholdRequest, account: HouseholdAccount
) -> RebalanceResult:
    """An account's removed asset class is judged against the household's model: its solve's model
    is its placement, which need not hold a class the household's does (the class is held elsewhere,
    or the removal kept it out of this account), and "nothing to remove" would be false."""
    classes = {s.asset_class for s in request.model.sleeves}
    false = {nothing_to_remove(c) for c in account.request.parameters.removed_asset_classes if c in classes}
    if not false or not false & set(result.warnings):
        return result
    return replace(result, warnings=tuple(w for w in result.warnings if w not in false))


def _with_location_reasons(
    result: RebalanceResult,
    account: HouseholdAccount,
    placement: Placement,
    securities: Mapping[str, Security],
) -> RebalanceResult:
    """Add "asset_location" to the trades that move an asset class towards where the household
    places it (the account's share of the class differs from the model's), and say so instead of
    "removed_asset_class" for a class the household holds elsewhere."""
    located = placement.located_classes(account.id)
    if not located or _instructed(account, "liquidate"):
        return result  # a liquidation's sales are the client's order, not a placement
    trades = []
    for t in result.trades:
        asset_class = placement.asset_class.get(t.symbol, securities[t.symbol].asset_class)
        direction = located.get(asset_class)
        if direction is not None and (direction > 0) == (t.side == "buy"):
            reasons = tuple(r for r in t.reasons if r != "removed_asset_class")
            if "asset_location" not in reasons:
                reasons = _ordered((*reasons, "asset_location"))
            t = replace(t, reasons=reasons)
        trades.append(t)
    return replace(result, trades=tuple(trades))


def _ordered(reasons: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(r for r in REASONS if r in reasons)


def _as_household_trades(
    as_of: date, account: HouseholdAccount, result: RebalanceResult
) -> list[HouseholdTrade]:
    out = []
    taxable = account.tax_status == "taxable"
    for t in result.trades:
        if t.side == "sell" and taxable and t.lots:
            # Lot by lot: a sale whose gains outweigh one lot's loss still sells that lot at a loss,
            # and a later account buying the group would wash it (Pub. 550 matches shares).
            out.extend(
                HouseholdTrade(as_of, t.symbol, "sell", ls.quantity, ls.gain, account.id) for ls in t.lots
            )
            continue
        # A sale in a tax-deferred account realises nothing for tax: it is never a loss sale.
        gain = (t.realised_gain if taxable else 0.0) if t.side == "sell" else None
        out.append(HouseholdTrade(as_of, t.symbol, t.side, t.quantity, gain, account.id))
    return out


def _guard_household_wash_sales(
    request: HouseholdRequest, accounts: tuple[RebalanceResult, ...], window: tuple[HouseholdTrade, ...]
) -> None:
    """Last line of defence: no taxable loss sale in one account with a purchase of the same group
    in any account (this proposal or the last 30 days), unless the account allows wash sales."""
    eq = household_equivalence(request)
    bought = {eq.group(t.symbol) for r in accounts for t in r.trades if t.side == "buy"}
    start = request.as_of - timedelta(days=WINDOW_DAYS)
    bought |= {eq.group(t.symbol) for t in window if t.side == "buy" and start <= t.date <= request.as_of}
    for account, result in zip(request.accounts, accounts, strict=True):
        if account.tax_status != "taxable" or account.request.parameters.wash_sale.allow:
            continue
        for t in result.trades:
            loss = t.side == "sell" and any(ls.gain < 0 and ls.disallowed_loss == 0 for ls in t.lots)
            if loss and eq.group(t.symbol) in bought:
                raise EngineError(
                    f"internal error: the household proposal would wash the loss on {t.symbol} "
                    f"in account {account.id}",
                    code="internal_error",
                )


def _guard_allowed_classes(
    request: HouseholdRequest,
    accounts: tuple[RebalanceResult, ...],
    placement: Placement,
    securities: Mapping[str, Security],
) -> None:
    """Last line of defence: no buy of an asset class an account may not hold."""
    for account, result in zip(request.accounts, accounts, strict=True):
        if account.allowed_asset_classes is None:
            continue
        for t in result.trades:
            asset_class = placement.asset_class.get(t.symbol, securities[t.symbol].asset_class)
            if t.side == "buy" and asset_class not in account.allowed_asset_classes:
                raise EngineError(
                    f"internal error: the household proposal would buy {t.symbol} ({asset_class}) "
                    f"in account {account.id}, which may hold only "
                    f"{', '.join(account.allowed_asset_classes)}",
                    code="internal_error",
                )


def _report(
    request: HouseholdRequest,
    accounts: tuple[RebalanceResult, ...],
    placement: Placement,
    securities: Mapping[str, Security],
    diagnostics: HouseholdDiagnostics,
) -> HouseholdResult:
    before: dict[str, dict[str, float]] = {}
    after: dict[str, dict[str, float]] = {}
    held_before: dict[str, float] = {}
    held_after: dict[str, float] = {}
    total_before = total_after = 0.0
    for result in accounts:
        mv = result.summary.market_value
        value_after = mv - result.summary.trading_cost
        for weights, alloc, held, value in (
            (result.weights_before, before, held_before, mv),
            (result.weights_after, after, held_after, value_after),
        ):
            for symbol, w in weights.items():
                if w <= 0:
                    continue
                key = (
                    CASH_KEY
                    if symbol == CASH_KEY
                    else placement.asset_class.get(symbol, securities[symbol].asset_class)
                )
                row = alloc.setdefault(key, {})
                row[result.account_id] = row.get(result.account_id, 0.0) + w * value
                held[symbol] = held.get(symbol, 0.0) + w * value
        total_before += mv
        total_after += value_after
    targets = placement.household_targets()
    tax = sum(r.summary.estimated_tax for r in accounts)
    warnings = [*placement.warnings]
    for r in accounts:
        warnings.extend(f"{r.account_id}: {w}" for w in r.warnings)
    return HouseholdResult(
        household_id=request.household_id,
        as_of=request.as_of,
        accounts=accounts,
        allocation_before=before,
        allocation_after=after,
        targets=targets,
        drift_before=household_drift(held_before, total_before, targets, placement.stand_ins),
        drift_after=household_drift(held_after, total_after, targets, placement.stand_ins),
        tax_cost=tax,
        warnings=tuple(warnings),
        diagnostics=diagnostics,
    )


def household_drift(values: Mapping[str, float], total: float, targets: Mapping[str, float],
                    stand_ins: Mapping[str, str] | None = None) -> float:
    """Half the sum of |weight - target| over securities and cash (``CASH_KEY``). A harvest
    substitute standing in for a blocked model security (``stand_ins``: substitute -> security) counts
    as that security, in what is held and in the targets, as in one account's drift (``drift.stand_ins``):
    a swap is no drift."""
    if total <= 0:
        return 0.0
    if stand_ins:
        values, targets = _stood_for(values, stand_ins), _stood_for(targets, stand_ins)
    # Summed in a fixed order: a set of strings iterates in the order of the process's hash seed
    # (PYTHONHASHSEED), and float addition is not associative - the last bit moved between processes.
    keys = sorted(set(values) | set(targets))
    return 0.5 * sum(abs(values.get(k, 0.0) / total - targets.get(k, 0.0)) for k in keys)


def _stood_for(amounts: Mapping[str, float], stand_ins: Mapping[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for symbol, amount in amounts.items():
        key = stand_ins.get(symbol, symbol)
        out[key] = out.get(key, 0.0) + amount
    return out


def trades_of(result: HouseholdResult) -> list[tuple[str, Trade]]:
    """(account id, trade) for every trade of the household proposal."""
    return [(r.account_id, t) for r in result.accounts for t in r.trades]

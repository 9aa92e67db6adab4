"""Where the household's money should sit: one linear programme over (account, security).

Variables, all as fractions of the household's value ``V``:

- ``b[a,j] >= 0``: buys of security ``j`` in account ``a``;
- taxable accounts: ``x[l]`` in ``[0, value of lot l]``, the part of lot ``l`` sold (tax is
  lot-level, only here); tax-deferred and Roth accounts: ``s[a,j]`` in ``[0, holding]``;
- ``e[j] >= |sum_a holding_after[a,j] - T[j]|``: the household's deviation from its model, where
  ``T[j] = model weight of j x (V - the accounts' cash targets)``, and ``g[k]`` the same summed
  over the securities of asset class ``k``;
- ``f[a] >= |cash_after[a] - cash target[a]|``.

Minimise ``sum g + sum f + sum e / 2`` (the household on target first: by asset class, then by
security, so a security that may not be bought is made up by its class) ``+ sum_a,j loc[class j, status a] x
holding_after[a,j]`` (asset location, ``LocationPreferences.cost``) ``+ sum_l tax[l] x[l]``
(``rate x gain / value`` of a gain lot; a loss lot a small credit, a tie-breaker toward it)
``+ (trading cost + epsilon) x traded``; subject to each account's cash floor
(``cash_after[a] >= floor[a]``), its restrictions, screens, removed and disallowed asset classes,
the household's tax budget (``sum tax[l] x[l] <= budget``), with ``HouseholdRequest.inside_bands``
``"cash_flows"`` and the household inside its drift bands no net sale of a model security beyond the
cash the accounts must raise (``sum_a change[a,j] >= -sum_a max(0, cash target[a] - cash[a])``:
drift is then removed by where cash goes, not by selling; what an account sells of a class it may
not hold is left out of the sum, like a screened or removed security, and the class is made up by
cash flows only), and the wash-sale rule across the
household: no buy of a security sold at a loss in the last 30 days, no loss sale of one bought in
the last 30 days (in any account, IRA and Roth included: Rev. Rul. 2008-5), and within the
proposal no group both sold at a loss and bought - a conflict the solution shows is removed by
solving again without the loss's credit (it had paid for selling the lot and buying it back),
then, if the conflict stays, by forbidding the loss sale (the loss is only a tie-breaker, so
little is lost).

A trade inside a tax-deferred account costs no tax, so the programme realises a gain in a
taxable account only where no such trade does the same job.

What an account holds of an asset class it may not hold costs ``NOT_ALLOWED`` a unit (it is sold,
within the tax budget; what stays is named in a warning). A model security no account may buy (a
loss sale in the window, this run's harvest) has its harvest substitute hold its place
(``_stood_in``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .errors import InfeasibleParameters, SolverFailed
from .instructions import cash_levels, read_instructions
from .request import HouseholdTrade, Security
from .result import CASH_KEY
from .screens import excluded_mask
from .tax import is_long_term
from .wash_sales import Equivalence, buyable_on, window_activity
from .words import dollars

if TYPE_CHECKING:
    from .household import HouseholdRequest

__all__ = ["Placement", "place", "model_weights"]

# The household's deviation from its model: by asset class (what sets its risk) at full weight, by
# security at half, so a security that may not be bought (a wash-sale window, a restriction) is
# made up by the others of its class rather than left as cash.
DRIFT_WEIGHT = 1.0
SECURITY_WEIGHT = 0.5
# Deviation inside the household's drift bands costs this share of the above: tax-free trades
# (IRA, Roth, cash) still remove it, a gain taxed at more than about 2% of the value sold does not.
# A sale and the buy it pays for each remove drift at both ends, from a security and from its
# class: 2 x (1 + 0.5) x IN_BAND = 2% of the value moved (less any location step it costs). It
# stays above every location step (0.6% at most), so location never moves the household's mix.
IN_BAND = 0.02 / (2 * (DRIFT_WEIGHT + SECURITY_WEIGHT))
# A loss lot's credit as a share of its tax value: enough to prefer it over a gain lot, too little
# to sell anything only for the loss (harvesting is each account's own parameter).
LOSS_TIE = 0.05
# Per unit traded: keeps accounts from swapping holdings for nothing (below any location step).
EPSILON = 1e-5
MAX_SOLVES = 6
# A class whose share in an account differs from the model's by more than this is "located" there.
LOCATED = 0.01
# Per unit of value an account keeps of an asset class it may not hold: above everything else a unit
# costs (the household's drift, 1.5; a lot's tax, under 0.5; trading), so the holding goes wherever
# the account may sell it - only a restriction, a wash-sale window or the household's tax budget
# keeps any, and the household is told which.
NOT_ALLOWED = 4.0


@dataclass(slots=True)
class Placement:
    """What each account should hold after the household's rebalance (values in currency)."""

    account_ids: tuple[str, ...]
    symbols: tuple[str, ...]
    asset_class: dict[str, str]
    before: np.ndarray  # accounts x securities, value held now
    after: np.ndarray  # accounts x securities, value to hold
    cash_target: np.ndarray  # per account, value
    target: np.ndarray  # per security, household value
    total: float
    banned: dict[str, set[str]]
    planned_gain: dict[str, float] = field(default_factory=dict)
    solves: int = 0
    warnings: list[str] = field(default_factory=list)
    stand_ins: dict[str, str] = field(default_factory=dict)  # substitute -> the blocked security it stands for
    # Whether the household was outside its drift bands: judged once per run, by its first placement
    outside: bool = False

    def _row(self, account_id: str) -> int:
        return self.account_ids.index(account_id)

    def holdings(self, account_id: str) -> dict[str, float]:
        """Symbol -> value the account should hold (only what it holds)."""
        row = self.after[self._row(account_id)]
        cut = 1e-9 * max(self.total, 1.0)
        return {s: float(v) for s, v in zip(self.symbols, row.tolist(), strict=True) if v > cut}

    def no_buy_symbols(self, account_id: str) -> set[str]:
        """Symbols the account may not buy in this household run (classes it may not hold, and
        buys the household forbids to keep a loss sale elsewhere clean)."""
        return set(self.banned.get(account_id, ()))

    def household_targets(self) -> dict[str, float]:
        """Symbol (and ``CASH_KEY``) -> the model's weight of the household's value."""
        out = {
            s: float(t) / self.total for s, t in zip(self.symbols, self.target.tolist(), strict=True) if t > 0
        }
        out[CASH_KEY] = float(self.cash_target.sum()) / self.total
        return out

    def located_classes(self, account_id: str) -> dict[str, int]:
        """Asset class -> +1 (the account should hold more of it) / -1 (less), for the classes
        whose share in this account the household's location sets apart from the model's."""
        row = self._row(account_id)
        invested = float(self.after[row].sum())
        investable = float(self.target.sum())
        if invested <= 0 or investable <= 0:
            return {}
        out = {}
        for asset_class in set(self.asset_class.values()):
            cols = [j for j, s in enumerate(self.symbols) if self.asset_class[s] == asset_class]
            placed = float(self.after[row, cols].sum())
            now = float(self.before[row, cols].sum())
            model_share = float(self.target[cols].sum()) / investable
            if abs(placed / invested - model_share) > LOCATED and abs(placed - now) > 1e-6 * self.total:
                out[asset_class] = 1 if placed > now else -1
        return out


def _ordered_sales(request, ordered, lot_acct, lot_sec, lot_loss, lot_ub, sell_ub_sec, buy_ub, banned, symbols,
                   group, n) -> list[tuple[tuple[int, int], np.ndarray | None, float]]:
    """The sales accounts' instructions order ("sell X, buy Y"), as (account, security), its lot
    columns (None in a tax-deferred account) and value. The account does not buy X back; a loss
    they realise in a taxable account bars X's group from every account's buys this run, where a
    purchase would wash it (IRC §1091, Rev. Rul. 2008-5). A sale the account may not make (a
    restriction, a wash-sale window) is left to the account's own solve, which refuses it by name."""
    accounts = request.accounts
    out = []
    for (a, j), value in ordered.items():
        acct = accounts[a]
        buy_ub[a, j] = 0.0
        if acct.tax_status != "taxable":
            if sell_ub_sec[a, j] > 0:
                out.append(((a, j), None, value))
            continue
        lots = np.flatnonzero((lot_acct == a) & (lot_sec == j))
        if not lots.size or (lot_ub[lots] <= 0).any():
            continue
        out.append(((a, j), lots, value))
        if lot_loss[lots].any() and not acct.request.parameters.wash_sale.allow:
            for k in range(n):
                if group[k] == group[j]:
                    buy_ub[:, k] = 0.0
                    for other in accounts:
                        banned.setdefault(other.id, set()).add(symbols[k])
    return out


def _stood_in(request, weights, securities, window, activity, equivalence, bought_nowhere):
    """Each model security no account may buy - sold at a loss in the household's 30 days (a purchase
    would wash the loss, IRC §1091) or harvested in this run (``bought_nowhere``) - and its harvest
    substitute (``harvest.substitutes`` of the first account naming one that may be bought), which
    holds its place until the window closes: the household stays on its asset classes instead of
    short of one. Returns substitute -> the security it stands in for, and the words for a blocked
    security without one (which, its loss sale and when it can be bought again)."""
    loss_group = {g for g in activity.loss_sales}
    everyone_avoids = all(not a.request.parameters.wash_sale.allow for a in request.accounts)
    nowhere = {equivalence.group(s) for s in bought_nowhere}

    def blocked(symbol: str) -> bool:
        g = equivalence.group(symbol)
        return g in nowhere or (g in loss_group and everyone_avoids)

    stand_ins: dict[str, str] = {}
    words: list[str] = []
    for symbol in sorted(weights):
        if weights[symbol] <= 0 or not blocked(symbol):
            continue
        substitute = next(
            (
                sub
                for a in request.accounts
                if a.request.parameters.harvest is not None
                for sub in [a.request.parameters.harvest.substitutes.get(symbol)]
                if sub is not None and sub in securities and not blocked(sub)
                and equivalence.group(sub) != equivalence.group(symbol)
            ),
            None,
        )
        if substitute is not None and substitute not in stand_ins:
            stand_ins[substitute] = symbol
            continue
        words.append(_blocked_words(request, symbol, window, equivalence, bought_nowhere))
    return stand_ins, words


def _blocked_words(request, symbol, window, equivalence, bought_nowhere) -> str:
    """A model security no account may buy, its loss sale and the day it can be bought again."""
    group = equivalence.group(symbol)
    if symbol in bought_nowhere or any(equivalence.group(s) == group for s in bought_nowhere):
        day, where = request.as_of, "a loss sale of it in this proposal (a harvest)"
    else:
        sales = [t for t in window if t.side == "sell" and equivalence.group(t.symbol) == group
                 and (t.realised_gain is None or t.realised_gain < 0)]
        last = max(sales, key=lambda t: t.date) if sales else None
        day = last.date if last else request.as_of
        where = f"a sale at a loss in {last.account_id}" if last and last.account_id else "a sale at a loss"
    return (
        f"{symbol} may be bought in no account until {buyable_on(day):%d %B %Y}: {where} on {day:%d %B %Y} would "
        "be washed (IRC §1091), and no harvest substitute for it (harvest.substitutes) may be bought: its asset "
        "class is made up by the others of the class, or stays short"
    )


def _classes_held_nowhere(request) -> list[str]:
    """A class of the model that no account may hold (each allows a list leaving it out) keeps the
    household off its model by its whole weight, run after run: named, with what to change."""
    allowed = [a.allowed_asset_classes for a in request.accounts]
    if not allowed or any(a is None for a in allowed):
        return []
    anywhere = {c for classes in allowed for c in classes}
    weights: dict[str, float] = {}
    for sleeve in request.model.sleeves:
        weights[sleeve.asset_class] = weights.get(sleeve.asset_class, 0.0) + sleeve.weight
    return [f"no account of the household may hold {c} ({w:.1%} of the model): it stays out of the household "
            "until an account is allowed it" for c, w in sorted(weights.items()) if w > 0 and c not in anywhere]


def _kept_not_allowed(request, symbols, classes, before, after, not_allowed, sell_ub_sec, lot_acct, lot_sec, lot_ub,
                      nl, total) -> list[str]:
    """Why an account keeps some of an asset class it may not hold, one warning per holding."""
    out = []
    cut = 1e-6 * max(total, 1.0)
    model_classes = {s.asset_class for s in request.model.sleeves}
    for acct in request.accounts:
        allowed = acct.allowed_asset_classes
        if allowed is not None and not model_classes & set(allowed) and before[request.accounts.index(acct)].sum() > cut:
            out.append(f"{acct.id} may hold none of the model's asset classes (only {', '.join(allowed)}): what it "
                       "holds is sold and it stays in cash")
    for a, j in zip(*np.nonzero(not_allowed & (after > cut)), strict=True):
        acct = request.accounts[a]
        if before[a, j] <= cut:
            continue
        lots = np.flatnonzero((lot_acct == a) & (lot_sec == j)) if nl else np.array([], dtype=np.int64)
        if sell_ub_sec[a, j] == 0:
            why = "a hold or do-not-sell restriction keeps it"
        elif acct.tax_status == "taxable" and lots.size and (lot_ub[lots] == 0).any():
            why = "a lot of it at a loss cannot be sold: the household bought it within 30 days (a wash sale)"
        elif acct.tax_status == "taxable" and request.tax_budget is not None:
            why = f"selling it all would realise more gain than the household's tax budget ({dollars(request.tax_budget)}) allows"
        else:
            why = "the account's cash floor or another of its parameters keeps it"
        out.append(
            f"{acct.id} keeps {dollars(after[a, j])} of {symbols[j]} ({classes[symbols[j]]}), an asset class it may not "
            f"hold: {why}"
        )
    return out


def _classes(request: HouseholdRequest, securities: Mapping[str, Security]) -> dict[str, str]:
    """Symbol -> asset class: the model's sleeve for a model holding, else the security's own."""
    out = {s: sec.asset_class for s, sec in securities.items()}
    for sleeve in request.model.sleeves:
        for symbol in sleeve.holdings or (sleeve.benchmark.constituents if sleeve.benchmark else {}):
            out[symbol] = sleeve.asset_class
    return out


def model_weights(request: HouseholdRequest) -> dict[str, float]:
    """Symbol -> weight in the model (a direct-indexed sleeve's benchmark weights where it has no
    holdings: the household places the sleeve by its constituents)."""
    out: dict[str, float] = {}
    for sleeve in request.model.sleeves:
        inside = sleeve.holdings or (sleeve.benchmark.constituents if sleeve.benchmark else {})
        for symbol, w in inside.items():
            out[symbol] = out.get(symbol, 0.0) + sleeve.weight * w
    return out


def place(
    request: HouseholdRequest,
    securities: Mapping[str, Security],
    window: tuple[HouseholdTrade, ...],
    equivalence: Equivalence,
    bought_nowhere: frozenset[str] = frozenset(),
    solved_before: int = 0,
    outside: bool | None = None,
) -> Placement:
    """Solve the household's placement (see the module docstring).

    ``bought_nowhere``: symbols no account may buy in this run (the household's own harvests keep them
    from being bought back); ``solved_before``: programmes solved before this one, for the diagnostics;
    ``outside``: whether the household is outside its drift bands, as the run's first placement judged
    it (None: judged here, on the household as it stands). A placement again with this run's harvests
    bought nowhere gives their substitutes the blocked names' targets and each blocked name what is
    held of it: judged on those targets, a household outside its bands (a substitute held far above
    its model weight of nothing) would look inside them, and be rebalanced by other rules than the
    same household without the harvest.
    """
    accounts = request.accounts
    # Which windows block what, household-wide.
    activity = window_activity(request.as_of, window, (), equivalence)
    weights = model_weights(request)
    stand_ins, warnings = _stood_in(request, weights, securities, window, activity, equivalence, bought_nowhere)
    held = {lot.symbol for a in accounts for lot in a.request.account.lots}
    symbols = tuple(sorted(set(weights) | held | set(stand_ins)))
    col = {s: j for j, s in enumerate(symbols)}
    n, m = len(symbols), len(accounts)
    price = np.array([securities[s].price for s in symbols])
    classes = _classes(request, securities)
    for substitute, blocked in stand_ins.items():
        if substitute not in weights:  # (a model security keeps its own sleeve)
            classes[substitute] = classes[blocked]  # it holds the blocked security's place in its sleeve
    prefs = request.preferences()

    before = np.zeros((m, n))
    cash0 = np.zeros(m)
    for a, acct in enumerate(accounts):
        cash0[a] = acct.request.account.cash
        for lot in acct.request.account.lots:
            before[a, col[lot.symbol]] += lot.quantity * price[col[lot.symbol]]
    values = before.sum(axis=1) + cash0
    V = float(values.sum())
    cash_target = np.zeros(m)
    cash_floor = np.zeros(m)
    ordered: dict[tuple[int, int], float] = {}  # (account, security) -> value an instruction sells
    proceeds = np.zeros(m)  # of those sales, what the instructions spend themselves ("and buy Y")
    liquidating = np.zeros(m, dtype=bool)
    for a, acct in enumerate(accounts):
        if values[a] <= 0:
            continue  # not funded yet: no cash target, nothing to place
        effects = read_instructions(acct.request.parameters.instructions)
        t, f = cash_levels(acct.request.parameters.cash, effects, float(values[a]))
        cash_target[a], cash_floor[a] = t * values[a], f * values[a]
        if effects.liquidate:
            # Sell everything: every holding is an ordered sale of all of it (its losses then bar
            # their groups from every account's buys), the account's value its cash target.
            liquidating[a] = True
            for j in np.flatnonzero(before[a] > 0):
                ordered[(a, int(j))] = before[a, j]
            continue
        for ins in effects.swaps:
            j = col.get(ins.sell)
            if j is None or before[a, j] <= 0:
                continue  # nothing of it held here: the account's own solve says so
            sold = before[a, j]
            if ins.quantity is not None:
                sold = min(sold, ins.quantity * price[j])
            elif ins.amount is not None:
                sold = min(sold, ins.amount)
            # Two orders on one holding sell it at most once.
            ordered[(a, j)] = min(before[a, j], ordered.get((a, j), 0.0) + sold)
            if ins.buy is not None or ins.quantity is not None or ins.amount is not None:
                # The proceeds are the instruction's to spend (the account's own solve buys Y with
                # them, or keeps a partial sale's in cash: ``instructions.apply_swap_targets``): kept
                # as the account's cash here, not placed in the household's model.
                cash_target[a] += sold
                proceeds[a] += sold
    investable = V - float(cash_target.sum())
    target = np.array([weights.get(s, 0.0) for s in symbols]) * investable
    for substitute, blocked in stand_ins.items():
        # What the household holds of the blocked security keeps its target (nothing is sold only to
        # buy the substitute); the substitute takes the rest, as a harvest's does in one account.
        j, k = col[blocked], col[substitute]
        kept = min(target[j], float(before[:, j].sum()))
        target[k] += target[j] - kept
        target[j] = kept

    group = [equivalence.group(s) for s in symbols]
    recent_loss = np.array([g in activity.loss_sales for g in group], dtype=bool)
    recent_buy = np.array([g in activity.purchases for g in group], dtype=bool)

    # Buy bounds per account.
    buy_ub = np.full((m, n), np.inf)
    buy_ub[:, target <= 0] = 0.0
    buy_ub[liquidating] = 0.0
    banned: dict[str, set[str]] = {}
    must_go = np.zeros(n, dtype=bool)  # screened out or of a removed class in some account
    sell_ub_sec = before.copy()
    for a, acct in enumerate(accounts):
        p = acct.request.parameters
        r = p.restrictions
        no_buy = set(r.hold) | set(r.do_not_buy)
        no_sell = set(r.hold) | set(r.do_not_sell)
        excluded = excluded_mask([securities[s] for s in symbols], p.screen)
        removed = set(p.removed_asset_classes)
        allowed = None if acct.allowed_asset_classes is None else set(acct.allowed_asset_classes)
        for j, s in enumerate(symbols):
            cls = classes[s]
            if allowed is not None and cls not in allowed:
                banned.setdefault(acct.id, set()).add(s)
                buy_ub[a, j] = 0.0
            if s in no_buy or excluded[j] or cls in removed or (recent_loss[j] and not p.wash_sale.allow):
                buy_ub[a, j] = 0.0
            if excluded[j] or cls in removed:
                must_go[j] = True
            if s in no_sell:
                sell_ub_sec[a, j] = 0.0
            if s in bought_nowhere:
                banned.setdefault(acct.id, set()).add(s)
                buy_ub[a, j] = 0.0

    # Lots of taxable accounts.
    lot_acct, lot_sec, lot_value, lot_tax, lot_loss, lot_ub, lot_gain_frac = [], [], [], [], [], [], []
    for a, acct in enumerate(accounts):
        if acct.tax_status != "taxable":
            continue
        account = acct.request.account
        allow = acct.request.parameters.wash_sale.allow
        for lot in account.lots:
            if lot.quantity <= 0:
                continue
            j = col[lot.symbol]
            value = lot.quantity * price[j]
            gain = value - lot.cost_basis
            rate = (
                account.long_term_rate
                if is_long_term(lot.acquired, request.as_of)
                else account.short_term_rate
            )
            tax = rate * gain / value if value > 0 else 0.0
            loss = gain < 0
            lot_acct.append(a)
            lot_sec.append(j)
            lot_value.append(value / V)
            lot_tax.append(tax)
            lot_gain_frac.append(gain / value if value > 0 else 0.0)
            lot_loss.append(loss)
            frozen = sell_ub_sec[a, j] == 0 or (loss and recent_buy[j] and not allow)
            lot_ub.append(0.0 if frozen else value / V)
    lot_acct = np.array(lot_acct, dtype=np.int64)
    lot_sec = np.array(lot_sec, dtype=np.int64)
    lot_tax = np.array(lot_tax, dtype=float)
    lot_loss = np.array(lot_loss, dtype=bool)
    lot_ub = np.array(lot_ub, dtype=float)
    forced_rows = _ordered_sales(request, ordered, lot_acct, lot_sec, lot_loss, lot_ub, sell_ub_sec, buy_ub,
                                 banned, symbols, group, n)
    nl = len(lot_ub)
    deferred = [a for a, acct in enumerate(accounts) if acct.tax_status != "taxable"]
    nd = len(deferred)

    # Column layout: buys (m*n) | lot sales (nl) | deferred sales (nd*n) | e (n) | f (m).
    nb = m * n
    o_x, o_s = nb, nb + nl
    o_e = o_s + nd * n
    o_f = o_e + n
    o_g = o_f + m
    class_names = sorted({classes[s] for s in symbols})
    class_of = np.array([class_names.index(classes[s]) for s in symbols], dtype=np.int64)
    nc = len(class_names)
    o_ei = o_g + nc  # the parts of e and g inside the household's drift bands
    o_gi = o_ei + n
    nv = o_gi + nc
    status = [acct.tax_status for acct in accounts]
    loc = np.array([[prefs.cost(classes[s], status[a]) for s in symbols] for a in range(m)])
    # An account may not hold a class it is not allowed: what it holds of one is sold (and made up
    # where the class may be held), not only kept from being bought.
    not_allowed = np.array(
        [
            [acct.allowed_asset_classes is not None and classes[s] not in acct.allowed_asset_classes for s in symbols]
            for acct in accounts
        ],
        dtype=bool,
    ).reshape(m, n)
    loc = loc + NOT_ALLOWED * not_allowed
    cost_rate = np.array([acct.request.parameters.trading.trading_cost_bps / 1e4 for acct in accounts])

    c = np.zeros(nv)
    c[:nb] = (loc + cost_rate[:, None] + EPSILON).ravel()
    loss_credit = np.where(lot_loss, LOSS_TIE * lot_tax, 0.0)
    credited = lot_loss.copy()  # loss lots whose credit still stands (removed where it caused a wash)
    c[o_x:o_s] = (
        np.where(lot_loss, loss_credit, lot_tax)
        - loc[lot_acct, lot_sec]
        + cost_rate[lot_acct]
        + EPSILON
    )
    for k, a in enumerate(deferred):
        c[o_s + k * n : o_s + (k + 1) * n] = -loc[a] + cost_rate[a] + EPSILON
    c[o_e:o_f] = SECURITY_WEIGHT
    c[o_f:o_g] = DRIFT_WEIGHT
    c[o_g:o_ei] = DRIFT_WEIGHT
    c[o_ei:o_gi] = SECURITY_WEIGHT * IN_BAND
    c[o_gi:] = DRIFT_WEIGHT * IN_BAND

    # Net change of each (account, security) holding: +b - x - s, as a sparse map into m*n.
    rows, cols, vals = [], [], []
    rows += list(range(nb))
    cols += list(range(nb))
    vals += [1.0] * nb
    rows += (lot_acct * n + lot_sec).tolist()
    cols += list(range(o_x, o_s))
    vals += [-1.0] * nl
    for k, a in enumerate(deferred):
        rows += list(range(a * n, (a + 1) * n))
        cols += list(range(o_s + k * n, o_s + (k + 1) * n))
        vals += [-1.0] * n
    delta = sp.csr_matrix((vals, (rows, cols)), shape=(nb, nv))
    # Per-security household change and per-account cash change (cost charged on both sides).
    sum_accounts = sp.kron(np.ones((1, m)), sp.identity(n), format="csr")
    by_sec = sum_accounts @ delta
    cash_cols = np.zeros((m, nv))
    for a in range(m):
        cash_cols[a, a * n : (a + 1) * n] = -(1 + cost_rate[a])
    for k in range(nl):
        cash_cols[lot_acct[k], o_x + k] = 1 - cost_rate[lot_acct[k]]
    for k, a in enumerate(deferred):
        cash_cols[a, o_s + k * n : o_s + (k + 1) * n] = 1 - cost_rate[a]
    cash_change = sp.csr_matrix(cash_cols)
    e_block = sp.csr_matrix(
        (
            np.ones(2 * n),
            (np.tile(np.arange(n), 2), np.concatenate([o_e + np.arange(n), o_ei + np.arange(n)])),
        ),
        shape=(n, nv),
    )
    f_block = sp.csr_matrix((np.ones(m), (np.arange(m), o_f + np.arange(m))), shape=(m, nv))
    held_sec = before.sum(axis=0) / V
    in_class = sp.csr_matrix((np.ones(n), (class_of, np.arange(n))), shape=(nc, n))
    by_class = in_class @ by_sec
    g_block = sp.csr_matrix(
        (
            np.ones(2 * nc),
            (np.tile(np.arange(nc), 2), np.concatenate([o_g + np.arange(nc), o_gi + np.arange(nc)])),
        ),
        shape=(nc, nv),
    )
    class_gap = in_class @ (target / V - before.sum(axis=0) / V)
    A = [
        by_sec - e_block,
        -by_sec - e_block,
        by_class - g_block,
        -by_class - g_block,
        cash_change - f_block,
        -cash_change - f_block,
        -cash_change,
    ]
    b = [
        target / V - held_sec,
        held_sec - target / V,
        class_gap,
        -class_gap,
        (cash_target - cash0) / V,
        (cash0 - cash_target) / V,
        (cash0 - cash_floor) / V,
    ]
    for (a, j), lots, value in forced_rows:
        # An instruction's sale happens: at least its value leaves the account's holding of it.
        row = np.zeros((1, nv))
        if lots is None:
            row[0, o_s + deferred.index(a) * n + j] = -1.0
        else:
            row[0, o_x + lots] = -1.0
        A.append(sp.csr_matrix(row))
        b.append(np.array([-value * (1 - 1e-9) / V]))
    if request.tax_budget is not None and nl:
        # What a liquidation realises is the client's order, not the budget's to refuse.
        budget_row = np.zeros((1, nv))
        budget_row[0, o_x:o_s] = np.where(liquidating[lot_acct], 0.0, np.maximum(lot_tax, 0.0))
        A.append(sp.csr_matrix(budget_row))
        b.append(np.array([request.tax_budget / V]))
    A_ub = sp.vstack(A, format="csr")
    b_ub = np.concatenate(b)

    lb = np.zeros(nv)
    ub = np.full(nv, np.inf)
    ub[:nb] = buy_ub.ravel()
    ub[o_x:o_s] = lot_ub
    # Drift bands (the engine's rule, DriftParams): inside them the household's deviation costs
    # little, so a trade inside a tax-deferred account still fixes it but a gain is not realised.
    band_sec, band_class = np.zeros(n), np.zeros(nc)
    if request.drift is not None:
        d = request.drift
        w_sec = target / V
        band_sec = np.maximum(d.absolute_band, d.relative_band * w_sec)
        w_class = np.bincount(class_of, weights=w_sec, minlength=nc)
        band_class = np.maximum(d.absolute_band, d.relative_band * w_class)
        held_class = np.bincount(class_of, weights=before.sum(axis=0) / V, minlength=nc)
        if outside is None:
            outside = bool(np.any(np.abs(held_class - w_class) > band_class + 1e-12) or np.any(
                np.abs(before.sum(axis=0) / V - w_sec) > band_sec + 1e-12
            ))
        if outside:
            # The engine's rule: once a position is outside its band, the whole household is
            # brought back to its model (not to the edge of the band).
            band_sec[:], band_class[:] = 0.0, 0.0
    ub[o_ei:o_gi] = band_sec
    ub[o_gi:] = band_class
    if request.drift is not None and request.inside_bands == "cash_flows" and not outside:
        # Inside its bands the household is rebalanced with its cash flows only (income, deposits,
        # the cash a withdrawal or tax bill needs go to what is under its model), as an account is:
        # a model security's household holding falls only by the cash the accounts must raise.
        # Moves between accounts that leave the household's holding alone (location) still happen.
        # What an account sells of a class it may not hold is not counted: that sale is the account's
        # rule (as a screen's or a removed class's is), not a rebalancing the bands defer, and counted
        # it had to be bought back at once - another model security of the household sold for it, or
        # an account's cash target spent on it.
        need = float(np.maximum(cash_target - proceeds - cash0, 0.0).sum()) / V  # proceeds raise themselves
        kept = np.flatnonzero((target > 0) & ~must_go)
        if kept.size:
            may_hold = sp.diags((~not_allowed).ravel().astype(float))
            by_sec_held = sum_accounts @ (may_hold @ delta)
            A_ub = sp.vstack([A_ub, -by_sec_held[kept]], format="csr")
            b_ub = np.concatenate([b_ub, np.full(kept.size, need)])
    for k, a in enumerate(deferred):
        ub[o_s + k * n : o_s + (k + 1) * n] = sell_ub_sec[a] / V

    group_ids = {g: i for i, g in enumerate(dict.fromkeys(group))}
    sec_group = np.array([group_ids[g] for g in group], dtype=np.int64)
    solves = 0

    def ban_buys(groups: np.ndarray) -> None:
        for j in np.flatnonzero(groups[sec_group]).tolist():
            ub[[a * n + j for a in range(m)]] = 0.0
            for a in range(m):
                banned.setdefault(accounts[a].id, set()).add(symbols[j])
        warnings.append("the household placement forbade buys that would wash a loss sale")

    previous = None  # the bounds before the last ban of loss sales, and the groups it banned
    while True:
        solves += 1
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=np.column_stack([lb, ub]), method="highs")
        if res.status == 2 and previous is not None:
            # Without those loss sales the cash floor is out of reach (a tax bill when every lot
            # is at a loss): keep the sales, forbid the buys instead.
            ub, groups = previous
            previous = None
            ban_buys(groups)
            continue
        if res.status == 2:
            raise InfeasibleParameters(
                "the household's accounts cannot all keep their cash floors and restrictions; "
                "relax one of: cash.floor, restrictions",
                ["cash.floor", "restrictions"],
                {"household": request.household_id},
            )
        if res.status != 0:
            raise SolverFailed(f"the household placement did not solve: {res.message}")
        z = res.x
        buys = z[:nb].reshape(m, n)
        sold_loss = np.zeros(len(group_ids), dtype=bool)
        if nl:
            loss_sold_lots = lot_loss & (z[o_x:o_s] > 1e-10)
            sold_loss[sec_group[lot_sec[loss_sold_lots]]] = True
        bought = np.zeros(len(group_ids), dtype=bool)
        bought[sec_group[(buys > 1e-10).any(axis=0)]] = True
        clash = sold_loss & bought
        if not clash.any():
            break
        clashing = lot_loss & clash[sec_group[lot_sec]]
        if solves < MAX_SOLVES and credited[clashing].any():
            # First without the loss's credit: the tie-breaker paid for selling a lot and buying
            # the security back. A sale the household needs (cash) may still take the lot.
            paid = clashing & credited
            c[o_x:o_s][paid] -= loss_credit[paid]
            credited[paid] = False
        elif solves < MAX_SOLVES:
            # Keep the buys, drop the loss sales: the loss was only a tie-breaker.
            previous = (ub.copy(), clash)
            ub[o_x:o_s][clashing] = 0.0
        else:
            ban_buys(clash)

    if nl:
        # The plan's loss sales bar their groups' buys in every account's own solve too: the plan
        # buys none (no clash, above), but an account solved first (a tax-deferred one) investing its
        # last cent of cash in one would wash the loss and stop the sale the plan counts on.
        keeps_clean = np.array([not accounts[a].request.parameters.wash_sale.allow for a in lot_acct.tolist()],
                               dtype=bool)
        groups_sold = np.zeros(len(group_ids), dtype=bool)
        groups_sold[sec_group[lot_sec[lot_loss & keeps_clean & (z[o_x:o_s] > 1e-10)]]] = True
        for j in np.flatnonzero(groups_sold[sec_group]).tolist():
            for account in accounts:
                banned.setdefault(account.id, set()).add(symbols[j])
    change = (delta @ z).reshape(m, n) * V
    lot_gain_share = np.where(lot_loss, 0.0, np.array(lot_gain_frac))
    planned = (
        np.bincount(lot_acct, weights=lot_gain_share * z[o_x:o_s] * V, minlength=m) if nl else np.zeros(m)
    )
    after = np.maximum(before + change, 0.0)
    warnings.extend(_kept_not_allowed(request, symbols, classes, before, after, not_allowed, sell_ub_sec,
                                      lot_acct, lot_sec, lot_ub, nl, V))
    warnings.extend(_classes_held_nowhere(request))
    shortfall = float(z[o_g:o_ei].sum()) * 0.5
    if shortfall > 0.005:
        warnings.append(
            f"the household's asset classes stay {shortfall:.1%} away from its model (restrictions, "
            "allowed asset classes, wash sales or the tax budget)"
        )
    return Placement(
        account_ids=tuple(a.id for a in accounts),
        symbols=symbols,
        asset_class={s: classes[s] for s in symbols},
        before=before,
        after=after,
        cash_target=cash_target,
        target=target,
        total=V,
        banned=banned,
        planned_gain={
            accounts[a].id: float(planned[a]) for a in range(m) if accounts[a].tax_status == "taxable"
        },
        solves=solved_before + solves,
        warnings=warnings,
        stand_ins=dict(stand_ins),
        outside=bool(outside),
    )

"""From the model to per-security targets.

Steps, each a parameter of its own: drop removed asset classes and rescale the other sleeves;
screen holdings out of each sleeve and give the freed weight to the rest of the sleeve (pro rata,
or leave it to the optimiser to track the sleeve's benchmark); replace a direct-indexed sleeve's
funds by up to N benchmark constituents; let legacy close substitutes stand in for model
symbols; keep restricted positions where they are and rescale the rest of their sleeve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, repeat

import numpy as np
import scipy.sparse as sp

from .errors import InfeasibleParameters, InvalidRequest
from .parameters import DirectIndexParams, Parameters
from .positions import Book, LotColumns, lot_columns
from .request import RebalanceRequest, Security, Sleeve
from .screens import excluded_mask

__all__ = ["DirectIndexSleeve", "TargetPlan", "universe_symbols", "sleeve_weights", "plan_targets", "nothing_to_remove"]


@dataclass(slots=True, eq=False)
class DirectIndexSleeve:
    """A sleeve held as constituents of its benchmark.

    ``members``: universe indices of the constituents; ``bench``: their (unscreened) benchmark
    weights; ``selected``: which members may be bought (screens, max names); ``funds``: indices of
    the sleeve's funds being replaced (held through look-through to the benchmark).
    """

    sleeve: str
    weight: float
    members: np.ndarray
    bench: np.ndarray
    selected: np.ndarray
    funds: np.ndarray
    params: DirectIndexParams


@dataclass(slots=True, eq=False)
class TargetPlan:
    """Targets and the tracking reference, as fractions of account value.

    ``target``: the holdings the proposal aims at (drift is measured against it);
    ``reference``: what the optimiser tracks, in look-through space (``lookthrough`` maps
    holdings into it; None = identity).  They differ only for direct-indexed sleeves and for
    ``screen.rescale = "track_benchmark"``.
    """

    target: np.ndarray
    reference: np.ndarray
    lookthrough: sp.csr_matrix | None
    sleeve_of: list[str | None]
    sleeve_weights: dict[str, float]
    cash_target: float
    cash_floor: float
    excluded: np.ndarray
    removed: np.ndarray
    legacy: np.ndarray
    restricted: np.ndarray
    buyable: np.ndarray
    direct_index: list[DirectIndexSleeve]
    warnings: list[str] = field(default_factory=list)
    # Cash kept this run for holdings a wash sale blocks (on top of the target; see limits).
    cash_reserve: float = 0.0

    def direct_indexed(self) -> np.ndarray:
        """Per security: whether it is a member of a direct-indexed sleeve."""
        out = np.zeros(len(self.target), dtype=bool)
        for di in self.direct_index:
            out[di.members] = True
        return out


def _direct_index_params(request: RebalanceRequest) -> dict[str, DirectIndexParams]:
    params = {d.sleeve: d for d in request.parameters.direct_index}
    names = {s.asset_class for s in request.model.sleeves}
    for name in params:
        if name not in names:
            raise InvalidRequest(f"direct_index names sleeve {name!r}, which is not in the model")
    for sleeve in request.model.sleeves:
        if sleeve.asset_class in params and sleeve.benchmark is None:
            raise InvalidRequest(f"sleeve {sleeve.asset_class} cannot be direct-indexed: it has no benchmark")
        if not sleeve.holdings and sleeve.benchmark is not None:
            params.setdefault(sleeve.asset_class, DirectIndexParams(sleeve=sleeve.asset_class))
    return params


def universe_symbols(
    request: RebalanceRequest, columns: LotColumns | None = None, securities: Mapping[str, Security] | None = None
) -> list[str]:
    """Every symbol the proposal may touch besides the held ones (``columns``: the lots' columns
    when the caller has read them already; ``securities``: the request's by symbol, validated -
    every lot's symbol among them)."""
    params = request.parameters
    di = _direct_index_params(request)
    out: list[str] = []
    for sleeve in request.model.sleeves:
        out.extend(sleeve.holdings)
        if sleeve.asset_class in di:
            out.extend(sleeve.benchmark.constituents)
    if params.harvest:
        # Only substitutes of securities holding a loss can be needed.
        columns = columns if columns is not None else lot_columns(request.account.lots)
        symbols = columns.symbols
        if securities is not None:
            prices = [securities[symbol].price for symbol in symbols]
        else:
            prices = map({s.symbol: s.price for s in request.securities}.get, symbols, repeat(0.0))
        value = columns.quantity * np.fromiter(prices, float, len(symbols))
        losing = set(compress(symbols, (value < columns.cost_basis).tolist()))
        out.extend(new for old, new in params.harvest.substitutes.items() if old in losing)
    for ins in params.instructions:
        out.extend(s for s in (ins.sell, ins.buy) if s)
    return out


def nothing_to_remove(asset_class: str) -> str:
    """The warning for a removed asset class the account's model does not hold."""
    return f"asset class {asset_class!r} is not in the model; nothing to remove"


def sleeve_weights(sleeves: Iterable[Sleeve], removed: Iterable[str], invested: float) -> dict[str, float]:
    """Account weight of each remaining sleeve after removing asset classes (pro-rata rescale)."""
    removed = set(removed)
    kept = {s.asset_class: s.weight for s in sleeves if s.asset_class not in removed}
    total = sum(kept.values())
    if not kept or total <= 0:
        raise InfeasibleParameters(
            "removing these asset classes leaves nothing of the model",
            ["removed_asset_classes", "model"],
        )
    return {name: invested * w / total for name, w in kept.items()}


def plan_targets(request: RebalanceRequest, book: Book, cash_target: float, cash_floor: float) -> TargetPlan:
    """Compute targets, reference and look-through for the account (see the module docstring)."""
    params: Parameters = request.parameters
    n = book.n
    idx = book.index
    w0 = book.weights
    warnings: list[str] = []
    model_classes = {s.asset_class for s in request.model.sleeves}
    for name in params.removed_asset_classes:
        if name not in model_classes:
            warnings.append(nothing_to_remove(name))
    weights = sleeve_weights(request.model.sleeves, params.removed_asset_classes, 1.0 - cash_target)
    di_params = _direct_index_params(request)
    screen = params.screen
    track = screen is not None and screen.rescale == "track_benchmark"
    excluded = excluded_mask(book.securities, screen)
    buy_restricted = np.zeros(n, dtype=bool)
    restricted_buys = False
    for s in (*params.restrictions.do_not_buy, *params.restrictions.hold):
        if s in idx:
            buy_restricted[idx[s]] = restricted_buys = True

    target = np.zeros(n)
    reference = np.zeros(n)
    sleeve_of: list[str | None] = [None] * n
    removed = np.zeros(n, dtype=bool)
    removed_any = False
    selectable = np.zeros(n, dtype=bool)
    di_sleeves: list[DirectIndexSleeve] = []
    # The look-through's entries beyond the identity (a replaced fund's column), if any.
    look_rows: list[np.ndarray] = []
    look_cols: list[np.ndarray] = []
    look_vals: list[np.ndarray] = []
    replaced = np.zeros(n, dtype=bool)
    excluded_l = excluded.tolist() if screen is not None else None  # (read only with a screen)
    flat_members: list[int] = []
    flat_h: list[float] = []
    flat_sleeve_w: list[float] = []
    flat_kept: list[float] = []
    flat_untracked: list[bool] = []

    for sleeve in request.model.sleeves:
        name = sleeve.asset_class
        if name not in weights:
            for s in sleeve.holdings:
                removed[idx[s]] = removed_any = True
            continue
        W = weights[name]
        if name in di_params:
            di = _plan_direct_index(sleeve, di_params[name], W, book, excluded, buy_restricted, track)
            di_sleeves.append(di)
            for i in di.members.tolist():
                sleeve_of[i] = name
            target[di.members[di.selected]] += W * di.bench[di.selected] / di.bench[di.selected].sum()
            eligible = ~excluded[di.members]
            ref_w = di.bench if track else di.bench * eligible / di.bench[eligible].sum()
            reference[di.members] += W * ref_w
            selectable[di.members[di.selected]] = True
            for f in di.funds:
                sleeve_of[f] = name
                replaced[f] = True
                look_rows.append(di.members)
                look_cols.append(np.full(len(di.members), f))
                look_vals.append(di.bench)
            continue
        # A model sleeve holds a few funds: plain Python here, one numpy pass after the loop.
        members = [idx[s] for s in sleeve.holdings]
        h = list(sleeve.holdings.values())
        # (Without a screen nothing is excluded: the same sum, in the same order.)
        kept = sum(h) if screen is None else sum(w for i, w in zip(members, h, strict=True) if not excluded_l[i])
        if kept <= 0:
            raise InfeasibleParameters(
                f"the screen excludes every holding of sleeve {name}", ["screen", f"model.{name}"]
            )
        for i in members:
            sleeve_of[i] = name
        untracked = track and kept < sum(h) and (sleeve.benchmark is None or sleeve.benchmark.risk_model is None)
        if untracked:
            # Nothing to track the screened holdings' weight through: it would sit in cash.
            warnings.append(
                f"sleeve {name} has no benchmark with a risk model to track, so its screened holdings' weight "
                "is given to its other holdings pro rata (screen.rescale track_benchmark needs one)"
            )
        flat_untracked += [untracked] * len(members)
        flat_members += members
        flat_h += h
        flat_sleeve_w += [W] * len(members)
        flat_kept += [kept] * len(members)

    if flat_members:
        members = np.array(flat_members, dtype=np.int64)
        h = np.array(flat_h)
        W, kept = np.array(flat_sleeve_w), np.array(flat_kept)
        if screen is None:  # (nothing excluded: ``h * True`` is ``h``)
            screened = h / kept
            selectable[members] = True
        else:
            keep = ~excluded[members]
            screened = h * keep / kept
            selectable[members[keep]] = True
        held = np.bincount(members, weights=W * screened, minlength=n)
        if track and any(flat_untracked):
            tracked = np.bincount(members, weights=W * np.where(flat_untracked, screened, h), minlength=n)
        else:
            tracked = np.bincount(members, weights=W * h, minlength=n) if track else held
        if di_sleeves:
            target += held
            reference += tracked
        else:  # (still zeros: 0.0 + x is x, and a bincount holds no -0.0)
            target = held
            reference = tracked.copy() if tracked is held else tracked

    # Held securities of a removed asset class that the model does not name.
    removed_classes = set(params.removed_asset_classes)
    if removed_classes:
        for i, sec in enumerate(book.securities):
            if sec.asset_class in removed_classes and sleeve_of[i] is None:
                removed[i] = removed_any = True
    # (Each mask below only when something can be in it: a replaced fund, a screen, a removed class.)
    legacy = (book.value > 0) & (target <= 0) & (reference <= 0)
    if look_rows:
        legacy &= ~replaced
    if screen is not None:
        legacy &= ~excluded
    if removed_any:
        legacy &= ~removed
    # Transition: a legacy close substitute stands in for its model symbol up to that target.
    if params.transition is not None:
        for old, new in params.transition.substitutes.items():
            if old not in idx or new not in idx:
                continue
            i, j = idx[old], idx[new]
            keep_w = min(w0[i], target[j])
            if keep_w <= 0 or excluded[i]:
                continue
            target[i] += keep_w
            target[j] -= keep_w
            reference[i] += keep_w
            reference[j] -= keep_w
            sleeve_of[i] = sleeve_of[j]
            legacy[i] = False

    restricted = _apply_restrictions(request, book, target, reference, sleeve_of, di_sleeves)
    invested = float(target.sum()) if restricted.any() else 1.0 - cash_target
    if abs(invested - (1.0 - cash_target)) > 1e-9 and not di_sleeves:
        # Restricted positions kept where they are leave the rest of the model nothing to give (or
        # nothing that may take what they free): the cash target gives way.
        warnings.append(
            f"restricted positions and the rest of the model hold {invested:.1%} of the account, not the "
            f"{1.0 - cash_target:.1%} the cash target leaves; the cash target is {max(1.0 - invested, 0.0):.1%} this run"
        )
        cash_target = max(1.0 - invested, 0.0)
    buyable = selectable & (target > 0)
    if screen is not None:
        buyable &= ~excluded
    if restricted_buys:
        buyable &= ~buy_restricted
    lookthrough = None
    if look_rows:
        # Identity, plus the benchmark in the column of each replaced fund: the fund counts as the
        # benchmark it holds, and its own row (reference 0) is the incentive to replace it.
        rows, cols, vals = (
            np.concatenate((first, *parts))
            for first, parts in ((np.arange(n), look_rows), (np.arange(n), look_cols), (np.ones(n), look_vals))
        )
        lookthrough = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    return TargetPlan(
        target=target,
        reference=reference,
        lookthrough=lookthrough,
        sleeve_of=sleeve_of,
        sleeve_weights=weights,
        cash_target=cash_target,
        cash_floor=cash_floor,
        excluded=excluded,
        removed=removed,
        legacy=legacy,
        restricted=restricted,
        buyable=buyable,
        direct_index=di_sleeves,
        warnings=warnings,
    )


def _plan_direct_index(
    sleeve: Sleeve,
    params: DirectIndexParams,
    weight: float,
    book: Book,
    excluded: np.ndarray,
    buy_restricted: np.ndarray,
    track: bool,
) -> DirectIndexSleeve:
    idx = book.index
    bench = sleeve.benchmark
    members = np.fromiter(map(idx.__getitem__, bench.constituents), np.int64, len(bench.constituents))
    b = np.fromiter(bench.constituents.values(), float, len(bench.constituents))
    eligible = ~excluded[members] & ~buy_restricted[members] & (b > 0)
    if not eligible.any():
        raise InfeasibleParameters(
            f"no constituent of {bench.name} passes the screens and restrictions for sleeve {sleeve.asset_class}",
            ["screen", f"direct_index.{sleeve.asset_class}", "restrictions.do_not_buy"],
        )
    selected = eligible.copy()
    if params.max_names is not None and eligible.sum() > params.max_names:
        # Keep what is already held (selling it costs tax) and the heaviest benchmark names.
        held_share = book.value[members] / (book.total_value * weight)
        score = np.where(eligible, b + held_share, -np.inf)
        top = np.argsort(-score, kind="stable")[: params.max_names]
        selected = np.zeros_like(eligible)
        selected[top] = True
    constituent = set(bench.constituents)
    funds = np.array([idx[s] for s in sleeve.holdings if s not in constituent], dtype=np.int64)
    return DirectIndexSleeve(sleeve.asset_class, weight, members, b, selected, funds, params)


def _apply_restrictions(
    request: RebalanceRequest,
    book: Book,
    target: np.ndarray,
    reference: np.ndarray,
    sleeve_of: list[str | None],
    di_sleeves: list[DirectIndexSleeve],
) -> np.ndarray:
    """Hold restricted positions where they must stay; rescale the rest of their sleeve.

    ``hold`` pins a position at its weight; ``do_not_buy`` caps it at its weight, ``do_not_sell``
    floors it there.  The difference comes from (or goes to) the sleeve's other holdings pro rata;
    direct-indexed sleeves are left to the optimiser.  Returns the mask of adjusted securities.
    """
    r = request.parameters.restrictions
    idx = book.index
    w0 = book.weights
    adjusted = np.zeros(book.n, dtype=bool)
    di_names = {d.sleeve for d in di_sleeves}
    pinned: dict[int, float] = {}
    for s in r.hold:
        if s in idx:
            pinned[idx[s]] = w0[idx[s]]
    for s in r.do_not_buy:
        if s in idx and idx[s] not in pinned and w0[idx[s]] < target[idx[s]]:
            pinned[idx[s]] = w0[idx[s]]
    for s in r.do_not_sell:
        if s in idx and idx[s] not in pinned and w0[idx[s]] > target[idx[s]]:
            pinned[idx[s]] = w0[idx[s]]
    if not pinned:
        return adjusted
    model_target = target.copy()
    target_before = {i: target[i] for i in pinned}
    by_sleeve: dict[str | None, list[int]] = {}
    for i in pinned:
        by_sleeve.setdefault(sleeve_of[i], []).append(i)
    for name, pins in by_sleeve.items():
        if name not in di_names:  # (direct-indexed sleeves are left to the optimiser)
            for i in pins:
                target[i] = reference[i] = pinned[i]
                adjusted[i] = True
    # What a sleeve's other holdings cannot give (or take) comes from the rest of the model, pro
    # rata: a position pinned above its whole sleeve's weight shrinks the other sleeves, so the
    # targets still sum to the account less its cash target.
    overflow = 0.0
    for name, pins in by_sleeve.items():
        if name in di_names:
            continue
        delta = sum(pinned[i] - target_before[i] for i in pins)
        free = []
        if name is not None:
            free = [j for j in range(book.n) if sleeve_of[j] == name and j not in pinned and target[j] > 0]
        base = target[free].sum() if free else 0.0
        if base <= 0:
            # Nothing else in the sleeve (or a legacy position): the whole model makes room.
            overflow += delta
            continue
        taken = min(delta, base)
        overflow += delta - taken
        free_arr = np.array(free)
        scale = (base - taken) / base
        target[free_arr] *= scale
        reference[free_arr] *= scale
        adjusted[free_arr] = True
    if overflow != 0.0:
        free = [j for j in range(book.n) if target[j] > 0 and j not in pinned]
        if free:
            free_arr = np.array(free)
            base = target[free_arr].sum()
            scale = max(0.0, (base - overflow) / base)
            target[free_arr] *= scale
            reference[free_arr] *= scale
            adjusted[free_arr] = True
        elif overflow < 0:
            # Weight freed while every other holding of the model is at nothing (a sleeve's pin took
            # it): it goes to the model's other holdings, as the model weighs them.
            free = [j for j in range(book.n) if model_target[j] > 0 and j not in pinned and sleeve_of[j] not in di_names]
            base = sum(model_target[j] for j in free)
            if base > 0:
                free_arr = np.array(free)
                add = -overflow * model_target[free_arr] / base
                target[free_arr] += add
                reference[free_arr] += add
                adjusted[free_arr] = True
    return adjusted

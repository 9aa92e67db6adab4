"""Loading accounts for the engine: everything a rebalance needs, for a batch of accounts, in a
fixed number of queries whatever the batch size. Rows come back as tuples and become the engine's
frozen dataclasses, which share one Security and one Benchmark object per symbol across the batch.

The one loader: runs, the nightly scan, the pages' previews and what-if, and the backtest's firm
data all build their requests here. A household managed as one is its accounts' requests
gathered into one ``engine.HouseholdRequest`` (``household_inputs_from``, ``household_inputs_load``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import psycopg
from django.db import connection
from django.db.models import Case, F, FloatField, Q, Value, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from psycopg.pq import Format

from rebalancing import engine
from rebalancing.array_filters import any_of
from rebalancing.effective_parameters import parameters_from_text, parameters_from_values
from rebalancing.engine.request import EARLIEST_DAY
from rebalancing.engine.tax import gift_basis, gift_start
from rebalancing.engine.wash_sales import WINDOW_DAYS
from rebalancing.household_parameters import (
    household_drift_bands,
    household_settings_effective,
    tax_budget_left,
    tax_realised_ytd,
)
from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.ledger.holdings import purchases_known_from_lots
from rebalancing.ledger.schedule_d import joint_halves, loss_limit
from rebalancing.models import Account, ModelPortfolio, Security, Sleeve, TaxLot, TradeRecord
from rebalancing.planned_trades import Planned, household_plans_load, request_with_plans
from rebalancing.selectors import (
    ModelBook,
    account_parameters,
    benchmark_weights_latest,
    firm_restrictions_on,
    latest_prices_dated,
    risk_model_current,
)
from tenants.errors import ValidationFailed

__all__ = ["FIRST_BOOK_DAY", "AccountInputs", "HouseholdInputs", "book_day_check", "household_inputs_from",
           "household_inputs_load", "household_tax_budget_standing", "rebalance_inputs_load", "tax_returns_of"]

# The earliest day a rebalance, what-if or cash flow may be computed on: the loader looks back from it
# (the wash-sale window, price history), and before 1900 there is no book to look back at. The engine's
# first day, so a day the product accepts is one the engine takes (``engine.request.EARLIEST_DAY``).
FIRST_BOOK_DAY = EARLIEST_DAY
# The easternmost time zone (UTC+14): a firm's own today has begun by the time it has begun there.
EARLIEST_ZONE = timedelta(hours=14)


def latest_book_day(now: datetime | None = None) -> date:
    """The latest day that is today somewhere: the server keeps UTC, a firm in Sydney trades on its
    own date, up to a day ahead of it."""
    return ((now or timezone.now()).astimezone(UTC) + EARLIEST_ZONE).date()


def book_day_check(as_of: date, *, what: str = "day", now: datetime | None = None) -> date:
    """``as_of`` if the book can be computed on it: from 1900 to today (in the firm's time zone,
    whichever it is: ``latest_book_day``). A later day would look for recent trades in a wash-sale
    window weeks ahead of them, and so not see them."""
    latest = latest_book_day(now)
    if not FIRST_BOOK_DAY <= as_of <= latest:
        raise ValidationFailed(f"The {what} must be from {FIRST_BOOK_DAY} to today ({latest} at the latest, "
                               f"the date in the easternmost time zone), not {as_of}.",
                               detail={"field": "as_of"})
    return as_of


@dataclass(frozen=True)
class AccountInputs:
    """One account's engine request and what the proposal records about its inputs."""

    account_id: int
    request: engine.RebalanceRequest | None
    model_version_id: int | None
    parameters: dict[str, Any]
    fingerprint: str
    error: ValidationFailed | None = None
    household_id: int | None = None
    recorded: tuple[engine.HouseholdTrade, ...] = ()  # the household's trades of the last 30 days
    planned: tuple[Planned, ...] = ()  # its open orders and proposals (planned_trades)
    # The firm's risk model its benchmark-tracking sleeves get (None: the engine's default, for the
    # reason in risk_model_note; both empty when no sleeve tracks a benchmark).
    risk_model_version_id: int | None = None
    risk_model_note: str = ""
    tax_status: str = "taxable"
    asset_classes: tuple[str, ...] = ()  # empty: any
    # The oldest close among what the proposal may trade (held, or its targets): the day its advice
    # is as of, which the policy's price-age limit is judged by (not the run's day).
    priced_on: date | None = None

    def seeing(self, proposed: dict[int, list[engine.HouseholdTrade]],
               realised: dict[str, tuple[float, float]] | None = None) -> engine.RebalanceRequest | None:
        """The request, seeing what a run just proposed for other accounts of the household: their
        trades (wash sales) and ``realised``, their net results on each tax return
        (``engine.realised_add``), which its estimate nets its run after."""
        if self.request is None or not (proposed or realised):
            return self.request
        request = self.request if not proposed else request_with_plans(
            self.request, account_id=self.account_id, recorded=self.recorded, planned=self.planned, proposed=proposed)
        account = request.account
        if realised and account.tax_returns:
            account = dataclasses.replace(account, tax_returns=engine.returns_after(account.tax_returns, realised))
            request = dataclasses.replace(request, account=account)
        return request


def _f(value: Decimal | float | None) -> float:
    return 0.0 if value is None else float(value)


@dataclass
class _FirmSnapshot:
    """Firm-wide inputs of a run (models, benchmarks, securities, prices), loaded once per run and
    worker process: every chunk of a run prices with the same snapshot."""

    models: ModelBook
    bench_weights: dict[int, dict[int, float]]
    universe: _Universe


_SNAPSHOTS: OrderedDict[tuple, _FirmSnapshot] = OrderedDict()
_SNAPSHOTS_KEPT = 4
# Engine forms of risk model versions (immutable rows), shared across runs: the engine caches its
# factor matrices per model object.
_RISK_MODELS: OrderedDict[tuple[str, int], engine.RiskModel] = OrderedDict()


def _risk_model(as_of: date) -> tuple[int | None, engine.RiskModel | None, str]:
    version, note = risk_model_current(as_of)
    if version is None:
        return None, None, note
    key = (connection.schema_name, version.pk)
    if key not in _RISK_MODELS:
        _RISK_MODELS[key] = version.as_engine()
        while len(_RISK_MODELS) > _SNAPSHOTS_KEPT:
            _RISK_MODELS.popitem(last=False)
    return version.pk, _RISK_MODELS[key], ""


def _firm_snapshot(as_of: date, key) -> _FirmSnapshot:
    cache_key = (connection.schema_name, key, as_of)
    if key is not None and cache_key in _SNAPSHOTS:
        _SNAPSHOTS.move_to_end(cache_key)
        return _SNAPSHOTS[cache_key]
    models = ModelBook(set(ModelPortfolio.objects.values_list("pk", flat=True)), as_of)
    benchmark_ids = {
        s.benchmark_id for sleeves in models.sleeves.values() for s in sleeves if s.benchmark_id is not None
    }
    snapshot = _FirmSnapshot(
        models=models,
        bench_weights=benchmark_weights_latest(benchmark_ids, as_of),
        universe=_Universe({s.pk: s for s in Security.objects.all()}, *latest_prices_dated(as_of), _risk_model(as_of)),
    )
    if key is not None:
        _SNAPSHOTS[cache_key] = snapshot
        while len(_SNAPSHOTS) > _SNAPSHOTS_KEPT:
            _SNAPSHOTS.popitem(last=False)
    return snapshot


# A return's id in the engine (``engine.TaxReturn.id``): the household's one, or a spouse's.
_RETURN_IDS = {"": "household", Account.Spouse.FIRST: "first", Account.Spouse.SECOND: "second"}


def tax_returns_of(households, year: int) -> dict[int, tuple[engine.TaxReturn, ...]]:
    """Each taxable account's returns (``_tax_returns``) for ``year``, from the ledger as it is."""
    households = list(households)
    return _tax_returns(households, loss_carried_into(households, year), year)


@dataclass(frozen=True)
class TaxBudgetStanding:
    """A household's yearly tax budget against its year so far: ``spent`` the tax its sales have cost
    (negative when its losses saved tax), ``left`` what its next run may still spend (the budget less
    ``spent`` less the netting reserve, as the run is given it: ``tax_budget_left``)."""

    budget: float
    spent: float
    left: float

    @property
    def over(self) -> float:
        return max(self.spent - self.budget, 0.0)

    @property
    def saved(self) -> float:
        return max(-self.spent, 0.0)


def household_tax_budget_standing(household, accounts, budget, year: int) -> TaxBudgetStanding | None:
    """``household``'s tax budget this year as its runs read it (None: no budget), from the ledger's
    year so far on each return its taxable ``accounts`` (model ``Account``s) are on."""
    if budget is None:
        return None
    returns = tax_returns_of([household], year)
    on_returns = [engine.Account(id=str(a.pk), cash=0.0, taxable=a.taxable, short_term_rate=_f(a.short_term_rate),
                                 long_term_rate=_f(a.long_term_rate), tax_returns=returns.get(a.pk, ()))
                  for a in accounts]
    return TaxBudgetStanding(float(budget), tax_realised_ytd(on_returns), tax_budget_left(budget, on_returns))


def _tax_returns(households, carried: dict[tuple[int, str], tuple[Decimal, Decimal]],
                 year: int) -> dict[int, tuple[engine.TaxReturn, ...]]:
    """Each taxable account's returns as its estimate sees them: the WHOLE return - the year's
    results of every taxable account on it, the loss it carries in, its whole 3,000 (1,500 married
    filing separately; IRC §1211(b), §1212(b)) - and the part of the account's results on it: the
    household's one return; filing separately, its spouse's, or half on each for a joint account
    (``Account.spouse``, Pub. 550 "Capital Losses": a carryover stays with its spouse) - and its
    taxable income of the year where the firm entered one (the carryover worksheet's line 1).

    Each account is solved on its own, so its estimate is what its run adds to the return's
    Schedule D (``engine.run_tax``): another account's loss this year makes a gain free, its gains
    make a harvest worth the whole rate. Accounts solved one after the other in a run (or in a
    household's solve) also see what was just proposed before them (``engine.returns_after``), so
    that their estimates add up to what the return pays once all are filled."""
    by_pk = {h.pk: h for h in households}
    on_return: dict[tuple[int, str], list[tuple[int, Decimal]]] = defaultdict(list)
    ytd: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    joint: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    half, whole = Decimal("0.5"), Decimal(1)
    rows = (Account.objects.filter(any_of("household_id", by_pk), taxable=True).order_by()
            .values_list("pk", "household_id", "spouse", "realised_short_term_ytd", "realised_long_term_ytd",
                         "realised_ytd_year"))
    for pk, household_id, spouse, short, long, ytd_year in rows:
        if ytd_year is not None and ytd_year != year:  # another year's figures (Account.realised_ytd)
            short = long = Decimal(0)
        if not by_pk[household_id].files_separately_in(year):
            parts = [("", whole, short, long)]
        elif spouse == Account.Spouse.JOINT:
            # The joint accounts' sum is halved once, as Schedule D halves it (``filing_years._owners``):
            # halving each account would give the first spouse an odd cent per account.
            joint[household_id][0] += short
            joint[household_id][1] += long
            parts = [(Account.Spouse.FIRST, half, Decimal(0), Decimal(0)),
                     (Account.Spouse.SECOND, half, Decimal(0), Decimal(0))]
        else:
            parts = [(spouse, whole, short, long)]
        for key_spouse, share, part_short, part_long in parts:
            key = (household_id, key_spouse)
            on_return[key].append((pk, share))
            ytd[key][0] += part_short
            ytd[key][1] += part_long
    for household_id, (short, long) in joint.items():
        (s1, s2), (l1, l2) = joint_halves(short), joint_halves(long)
        for key_spouse, part_short, part_long in ((Account.Spouse.FIRST, s1, l1), (Account.Spouse.SECOND, s2, l2)):
            ytd[(household_id, key_spouse)][0] += part_short
            ytd[(household_id, key_spouse)][1] += part_long
    out: dict[int, list[engine.TaxReturn]] = defaultdict(list)
    for key in sorted(on_return):
        household_id, spouse = key
        short_in, long_in = carried.get(key, (Decimal(0), Decimal(0)))
        # The worksheet's line 1 as the firm entered it (None: not entered), as Schedule D reads it
        # (``ScheduleD.deduction_used``): the deduction saves tax only as far as it absorbs it.
        income = by_pk[household_id].taxable_income_by_return.get((year, spouse))
        for pk, share in on_return[key]:
            out[pk].append(engine.TaxReturn(
                short_term_ytd=_f(ytd[key][0]), long_term_ytd=_f(ytd[key][1]), carried_short=_f(short_in),
                carried_long=_f(long_in), loss_limit=_f(loss_limit(by_pk[household_id].filing_status_in(year))),
                share=float(share), id=_RETURN_IDS[spouse], taxable_income=None if income is None else _f(income)))
    return {pk: tuple(returns) for pk, returns in out.items()}


def rebalance_inputs_load(account_ids, *, as_of: date, snapshot_key=None,
                          edits: dict[int, dict[str, Any]] | None = None) -> list[AccountInputs]:
    """Everything the engine needs for these accounts, in a fixed number of queries.

    ``snapshot_key`` (a run's id) lets the chunks of one run share the firm-wide inputs instead of
    loading them again. An account that cannot be rebalanced (a held security without a price, a
    model without a version) comes back with ``error`` set instead of a request, so the run records
    it and goes on. ``edits`` (by account id) are parameter values laid over an account's effective
    ones for this solve only: an advisor's edit of a proposal (``services.revisions``).
    """
    # Templates once per chunk: a template per account row, with its parameters' JSON parsed
    # again, was a third of the accounts query's time.
    accounts = list(Account.objects.filter(any_of("pk", account_ids)).with_governing_template(batch=True).order_by("pk"))
    lots_by_account = _lots_by_account([a.pk for a in accounts])
    households = {a.household_id for a in accounts}
    trades_by_household: dict[int, list[tuple]] = defaultdict(list)
    window = as_of - timedelta(days=WINDOW_DAYS)
    trade_rows = (
        TradeRecord.objects.filter(any_of("account__household_id", households), trade_date__gte=window,
                                   trade_date__lte=as_of, cancelled=False)
        # A sale is a loss sale for the wash-sale rules if any of its lots lost, whatever its net; one
        # inside an IRA or Roth realises nothing for tax (no loss to wash), as the ledger's replay reads it.
        .annotate(hh=F("account__household_id"), q=Cast("quantity", FloatField()),
                  gain=Case(When(account__taxable=False, side="sell", then=Value(Decimal(0))),
                            When(realised_loss__lt=0, then=F("realised_loss")), default=F("realised_gain")))
        .values_list("hh", "account__custodian_number", "security_id", "side", "q", "trade_date", "gain")
        .order_by()
    )
    told_buys = set()
    for row in trade_rows:
        trades_by_household[row[0]].append(row[1:])
        if row[3] == "buy":
            told_buys.add((row[1], row[2], row[5]))
    # Lots bought in the window that no trade tells of (a lots file, a custodian's positions) are
    # purchases for the wash-sale rules too, in any account of the household (the ledger's replay).
    for row in purchases_known_from_lots(households, window, as_of, told_buys=told_buys):
        trades_by_household[row[0]].append(row[1:])
    snapshot = _firm_snapshot(as_of, snapshot_key)
    received, purchased = _gifts_priced(lots_by_account, snapshot.universe.prices, window, as_of)
    household_rows = list({a.household_id: a.household for a in accounts}.values())
    returns = _tax_returns(household_rows, loss_carried_into(household_rows, as_of.year), as_of.year)
    plans = household_plans_load(households, as_of=as_of)
    parameter_sets = _ParameterSets(firm_restrictions_on(as_of))
    return [
        _account_inputs(a, lots_by_account.get(a.pk, _NO_LOTS), trades_by_household[a.household_id], snapshot.models,
                        snapshot.bench_weights, snapshot.universe, as_of,
                        returns.get(a.pk, ()), plans.get(a.household_id, ()),
                        (edits or {}).get(a.pk), parameter_sets, received.get(a.pk, frozenset()),
                        purchased.get(a.pk, {}))
        for a in accounts
    ]


def _canonical(layer) -> bytes:
    return orjson.dumps(layer or {}, option=orjson.OPT_SORT_KEYS)


class _ParameterSets:
    """Effective parameter values merged once per distinct set of layers in a batch (most accounts
    of a firm share a template and override little; merging costs a third of loading a model
    portfolio account), with their canonical JSON (the fingerprint's). Accounts with the same
    layers share one values dict: it is read, never changed."""

    def __init__(self, restrictions: dict[str, str]) -> None:
        self.restrictions = restrictions  # the firm's restricted list on the batch's day, the same for all
        self._sets: dict[tuple, tuple[dict[str, Any], str]] = {}
        self._targets: dict[tuple, _Targets] = {}
        self._securities: dict[frozenset, tuple] = {}

    def values(self, account, firm_substitutes: dict[str, str],
               edit: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
        template = account.governing_template
        key = (template.pk if template else None, _canonical(account.household.overrides),
               _canonical(account.overrides), tuple(sorted(firm_substitutes.items())), _canonical(edit))
        found = self._sets.get(key)
        if found is None:
            effective = account_parameters(account, firm_substitutes=firm_substitutes,
                                           firm_restrictions=self.restrictions)
            values = engine.merge_parameter_dicts(effective.values, edit) if edit else effective.values
            found = self._sets[key] = (values, json.dumps(values, sort_keys=True))
        return found


    def targets(self, model_id: int | None, values: dict[str, Any], models: ModelBook, bench_weights,
                universe: _Universe) -> _Targets:
        """What an account's model and parameter set make of its targets, once per pair in a batch
        (a firm's accounts share a few models and templates: merging sleeves account by account was
        a fifth of loading a model portfolio)."""
        key = (model_id, id(values))  # the set's values dict lives as long as this object
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = _Targets(model_id, values, models, bench_weights, universe)
        return found

    def securities(self, needed: set[int], universe: _Universe) -> tuple[tuple[engine.Security, ...],
                                                                             tuple[tuple[str, ...], ...], list]:
        """The request's securities (``needed`` and the priced members of their equivalence groups,
        which take part in wash-sale checks), the groups of more than one, and the securities'
        ``(symbol, price)`` as the fingerprint hashes them, once per set."""
        key = frozenset(needed)
        found = self._securities.get(key)
        if found is None:
            # (Only members with a price: a group member nobody holds or targets is never bought.)
            group_names = {universe.masters[sid].equivalence_group for sid in needed} - {""}
            with_groups = set(needed)
            for name in group_names:
                with_groups.update(sid for sid in universe.groups[name] if sid in universe.prices)
            securities = tuple(universe.security(sid) for sid in sorted(with_groups))
            groups = tuple(
                tuple(sorted(universe.masters[sid].symbol for sid in universe.groups[name] if sid in with_groups))
                for name in sorted(group_names)
            )
            found = self._securities[key] = (securities, tuple(g for g in groups if len(g) > 1),
                                             [(s.symbol, s.price) for s in securities])
        return found


class _Targets:
    """A model's current version and sleeves under one parameter set (direct-indexed classes and
    screens decide which sleeves track their benchmark), and the securities they name."""

    def __init__(self, model_id: int | None, values: dict[str, Any], models: ModelBook, bench_weights,
                 universe: _Universe) -> None:
        self.version = models.versions.get(model_id)
        direct_indexed = set(values.get("direct_index", {}))
        track = values["screen"]["enabled"] and values["screen"]["rescale"] == "track_benchmark"
        merged: dict[str, dict[str, Any]] = {}
        needed: set[int] = set()
        for sleeve, weight, holdings in models.flat_sleeves(model_id):
            entry = merged.setdefault(sleeve.asset_class, {"weight": 0.0, "holdings": defaultdict(float), "benchmark": None})
            entry["weight"] += weight
            for sid, w in holdings.items():
                entry["holdings"][sid] += w * weight
                needed.add(sid)
            use_benchmark = sleeve.benchmark_id is not None and (
                sleeve.kind == Sleeve.Kind.DIRECT_INDEX or sleeve.asset_class in direct_indexed or track
            )
            if use_benchmark:
                if entry["benchmark"] is not None and entry["benchmark"].pk != sleeve.benchmark_id:
                    raise ValidationFailed(f"two sleeves of asset class {sleeve.asset_class} track different benchmarks")
                entry["benchmark"] = sleeve.benchmark
                needed.update(bench_weights.get(sleeve.benchmark_id, {}))
        for symbol in _parameter_symbols(values):
            if symbol in universe.by_symbol:
                needed.add(universe.by_symbol[symbol])
        self.needed = frozenset(needed)
        self._merged = merged
        self._sleeves: list[engine.Sleeve] | None = None
        # Set with the sleeves: the engine's model (one object shared by the requests), whether a
        # sleeve tracks a benchmark, and the sleeves as the fingerprint hashes them.
        self.model: engine.Model | None = None
        self.tracks = False
        self.fingerprinted: list[tuple] = []

    def sleeves(self, universe: _Universe, bench_weights) -> list[engine.Sleeve]:
        """The engine's sleeves (a benchmark without weights is refused here, for every account
        asking, after the request's other checks as before)."""
        if self._sleeves is None:
            sleeves = []
            for asset_class, entry in self._merged.items():
                total = sum(entry["holdings"].values())
                holdings = {universe.masters[sid].symbol: w / total for sid, w in entry["holdings"].items()} if total else {}
                benchmark = entry["benchmark"]
                sleeves.append(engine.Sleeve(
                    asset_class=asset_class, weight=entry["weight"], holdings=holdings,
                    benchmark=universe.benchmark(benchmark, bench_weights.get(benchmark.pk, {})) if benchmark else None,
                ))
            self._sleeves = sleeves
            self.model = engine.Model(name=self.version.model.code if self.version else "", sleeves=tuple(sleeves))
            self.tracks = any(s.benchmark is not None for s in sleeves)
            self.fingerprinted = [(s.asset_class, s.weight, sorted(s.holdings.items()),
                                   s.benchmark.name if s.benchmark else None) for s in sleeves]
        return self._sleeves


# An account's lots as columns, oldest first: lot ids, security ids, quantities, cost bases,
# acquisition dates (date ordinals) and the lot ids' lengths in characters (the fingerprint's).
_Lots = tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_NO_LOTS: _Lots = ((), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))


# An account's lots as the server sends them: one byte string of the lots' ``TaxLot.run_record``,
# fixed-width values in PostgreSQL's binary format (big-endian) that numpy reads as they are:
# primary key, security id, quantity, cost basis, and acquisition date as days since 2000-01-01.
_SENT = np.dtype([("pk", ">i8"), ("security", ">i8"), ("quantity", ">f8"), ("cost_basis", ">f8"), ("acquired", ">i4")])
_LOADED = (np.int64, np.int64, np.float64, np.float64, np.int64)
_DATE_SHIFT = date(2000, 1, 1).toordinal()


# The lot ids of an account are joined with this character: the server joins text for about a
# third of what turning each id into bytes cost (0.3 ms of server CPU for a direct-indexed account's
# 2,000 lots). Text cannot hold the NUL that separates bytes, so an account whose ids hold this
# character (a control character no custodian's id is expected to) is read again with its ids as
# NUL-separated bytes, which no id can break.
_ID_SEPARATOR = "\x1f"
_LOT_COLUMNS = (
    "SELECT account_id, string_agg(run_record, ''), {ids} "
    f"FROM (SELECT account_id, run_record, lot_id FROM {TaxLot._meta.db_table} "
    "WHERE account_id = ANY(%s::bigint[]) ORDER BY account_id) AS lots GROUP BY account_id"
)
_LOTS_IDS_AS_TEXT = _LOT_COLUMNS.format(ids="string_agg(lot_id, %s)")
_LOTS_IDS_AS_BYTES = _LOT_COLUMNS.format(ids="string_agg(convert_to(lot_id, 'UTF8'), '\\x00'::bytea)")


def _gifts_priced(lots_by_account: dict[int, _Lots], prices: dict[int, float], window: date, as_of: date
                  ) -> tuple[dict[int, frozenset[str]], dict[int, dict[str, date]]]:
    """Lots not bought on the day they count as acquired, in one query (on the gifted lots' index
    and the purchase day's; none in most chunks).

    Gifted lots (IRC §1015(a)) worth less on the gift day than the donor's basis have two bases:
    the engine gets, in place, the one a sale at today's price uses (``engine.tax.gift_basis``: per
    share, whatever is sold) and the holding period that goes with it (``gift_start``). Returns
    each account's gifted lot ids - the engine's ``Account.received_lots``, never purchases in the
    wash-sale window (§1091(a)) - and the lots bought from ``window`` to ``as_of`` whose holding
    period starts earlier (a wash sale's replacement, §1223(3)) with their purchase day, the
    engine's ``Account.purchased_on``."""
    received: dict[int, set[str]] = defaultdict(set)
    purchased: dict[int, dict[str, date]] = defaultdict(dict)
    if not lots_by_account:
        return {}, {}
    rows = (TaxLot.objects.filter(any_of("account_id", list(lots_by_account)))
            .annotate(day=Coalesce("purchased", "acquired"))
            .filter(Q(gift_date__isnull=False) | Q(day__gte=window, day__lte=as_of, inherited=False,
                                                    purchased__isnull=False) & ~Q(purchased=F("acquired")))
            .values_list("account_id", "lot_id", "security_id", "gift_date", "gift_unit_value", "purchased")
            .order_by())
    places: dict[int, dict[str, int]] = {}  # an account's lot ids -> their places, made once
    for account_id, lot_id, security_id, gifted, unit_value, bought in rows:
        if gifted is None:
            purchased[account_id][lot_id] = bought
            continue
        ids, _, quantities, costs, acquired, _ = lots_by_account[account_id]
        if account_id not in places:
            places[account_id] = {lot: n for n, lot in enumerate(ids)}
        i = places[account_id][lot_id]
        received[account_id].add(lot_id)
        price = prices.get(security_id)
        value = float(unit_value) * quantities[i]
        if price is None or value >= costs[i]:
            continue  # no price: the account is refused by name anyway
        donor, proceeds, start = float(costs[i]), float(quantities[i]) * price, date.fromordinal(int(acquired[i]))
        costs[i] = gift_basis(proceeds, donor, value)
        acquired[i] = gift_start(proceeds, donor, value, start, gifted).toordinal()
    return ({account_id: frozenset(ids) for account_id, ids in received.items()},
            {account_id: dict(days) for account_id, days in purchased.items()})


def _lots_by_account(account_ids: list[int]) -> dict[int, _Lots]:
    """The accounts' lots, oldest first, as columns per account, in one query.

    The server sends each account's lots as one byte string of packed records, which numpy reads
    without a Python object per lot (a direct-indexed account has 2,000 lots: rows, then columns
    built from them, took most of its loading). Concatenating binary values costs the server less
    than building an array of them (arrays' elements are sent one by one with their sizes), and
    the records are those PostgreSQL keeps beside each lot (``TaxLot.run_record``: the quantity
    and basis cast to float8 as a client parsing the decimal's text would, so the same floats),
    so no value is converted at the read: 0.62 -> 0.35 ms of server CPU for a direct-indexed
    account's lots against converting them here. The lot ids come as one text joined with
    ``_ID_SEPARATOR`` (``_LOTS_IDS_AS_BYTES`` for the rare account whose ids hold it). The lots
    come in the order the account's index gives them and numpy puts them oldest first
    (``_oldest_first``): the server's sort by date cost more than numpy's (a direct-indexed
    account's lots 3.09 -> 2.73 ms, process and server CPU).
    """
    rows = _lot_rows(_LOTS_IDS_AS_TEXT, [_ID_SEPARATOR, account_ids])
    # n lots joined hold n - 1 separators, unless an id holds one too.
    ambiguous = {row[0] for row in rows if row[-1].count(_ID_SEPARATOR) != len(row[1]) // _SENT.itemsize - 1}
    if ambiguous:
        rows = [row for row in rows if row[0] not in ambiguous]
        rows += [(*row[:-1], row[-1].decode()) for row in _lot_rows(_LOTS_IDS_AS_BYTES, [sorted(ambiguous)])]
    if not rows:
        return {}
    # The chunk's lots as one set of columns, cut into each account's slice at the end: numpy's
    # cost per call is paid once a chunk, not once an account (about 30 calls for a model
    # portfolio's 60 lots).
    packed = np.frombuffer(b"".join(records for _, records, _ in rows), _SENT)
    pks, sids, quantities, costs, days = (packed[field].astype(loaded)
                                          for field, loaded in zip(_SENT.names, _LOADED, strict=True))
    acquired = days + _DATE_SHIFT
    ends = np.cumsum([len(records) // _SENT.itemsize for _, records, _ in rows])
    if ambiguous:
        lot_ids = [i for account, _, names in rows
                   for i in names.split("\x00" if account in ambiguous else _ID_SEPARATOR)]
        lengths = np.fromiter(map(len, lot_ids), np.int64, len(lot_ids))
    else:
        names = _ID_SEPARATOR.join(names for _, _, names in rows)
        lot_ids = names.split(_ID_SEPARATOR)
        if names.isascii():  # a character a byte: the lengths are the gaps between the separators
            gaps = np.flatnonzero(np.frombuffer((names + _ID_SEPARATOR).encode(), np.uint8) == ord(_ID_SEPARATOR))
            lengths = gaps.copy()
            lengths[1:] -= gaps[:-1] + 1
        else:
            lengths = np.fromiter(map(len, lot_ids), np.int64, len(lot_ids))
    by_account = _accounts_oldest_first(pks, sids, quantities, costs, acquired, lot_ids, lengths, ends)
    return {account: lots for (account, _, _), lots in zip(rows, by_account, strict=True)}


def _accounts_oldest_first(pks, sids, quantities, costs, acquired, lot_ids: list[str], id_lengths,
                           ends: np.ndarray) -> list[_Lots]:
    """Each account's lot columns as ``_oldest_first`` sorts them, from the columns of a chunk's
    accounts one after another (``ends``: where each account's lots end). Which accounts need
    sorting is found for the whole chunk at once; each is sorted on its own slice (a permutation of
    the whole chunk's ids took twice as long on a direct-indexed chunk's 200,000 lots)."""
    starts, ends = [0, *ends[:-1].tolist()], ends.tolist()
    if len(pks) and (pks.min() < 0 or pks.max() >= _KEY_LIMIT):  # keys past 40 bits: account by account
        return [_oldest_first(pks[a:b], sids[a:b], quantities[a:b], costs[a:b], acquired[a:b], lot_ids[a:b],
                              id_lengths[a:b]) for a, b in zip(starts, ends, strict=True)]
    keys = acquired << _KEY_BITS | pks
    # The lots not after the one before them in order (an account's first follows none of its own).
    behind = np.zeros(len(keys), bool)
    np.less_equal(keys[1:], keys[:-1], out=behind[1:])
    behind[starts] = False
    out = []
    for a, b, unsorted in zip(starts, ends, np.logical_or.reduceat(behind, starts).tolist(), strict=True):
        columns = sids[a:b], quantities[a:b], costs[a:b], acquired[a:b], id_lengths[a:b]
        if unsorted:
            order = np.argsort(keys[a:b])  # ``_oldest_first``'s argsort of the same keys: the same order
            out.append((itemgetter(*order.tolist())(lot_ids[a:b]), *(column[order] for column in columns)))
        else:
            out.append((tuple(lot_ids[a:b]), *columns))
    return out


def _lot_rows(query: str, params: list) -> list[tuple]:
    with connection.cursor() as django_cursor:  # the firm's schema is on the search path
        # A cursor binding on the server (the client-binding one cannot receive binary), logged
        # as Django logs its own.
        cursor = psycopg.Cursor(django_cursor.connection)
        cursor.format = Format.BINARY
        with connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor) as c:
            c.execute(query, params)
            return c.fetchall()


# A lot's date ordinal (below 2**22 up to the year 9999) above its primary key's 40 bits: one int64.
_KEY_BITS = 40
_KEY_LIMIT = 1 << _KEY_BITS


def _oldest_first(pks, sids, quantities, costs, acquired, lot_ids: list[str], id_lengths) -> _Lots:
    """An account's lot columns sorted by acquisition date, then primary key (``pks``)."""
    # Rows come in the order the lots were stored: already in order if stored as bought, else sorted here.
    if len(pks) > 1 and pks.min() >= 0 and pks.max() < _KEY_LIMIT:
        # Date and key as one integer, sorted by one argsort: a third of lexsort's time on a
        # direct-indexed account's 2,000 lots (0.16 -> 0.05 ms), and the same order (keys are unique).
        key = acquired << _KEY_BITS | pks
        order = None if (key[1:] > key[:-1]).all() else np.argsort(key)
    elif not ((acquired[1:] > acquired[:-1]) | (acquired[1:] == acquired[:-1]) & (pks[1:] > pks[:-1])).all():
        order = np.lexsort((pks, acquired))
    else:
        order = None
    if order is not None:
        sids, quantities, costs, acquired, id_lengths = (
            sids[order], quantities[order], costs[order], acquired[order], id_lengths[order])
        # (At least two lots here, so itemgetter gives a tuple: what LotTable keeps, without a copy.)
        return itemgetter(*order.tolist())(lot_ids), sids, quantities, costs, acquired, id_lengths
    return tuple(lot_ids), sids, quantities, costs, acquired, id_lengths


class _Universe:
    """Engine Security objects built once per batch and shared by every request in it."""

    def __init__(self, masters: dict[int, Security], prices: dict[int, float], price_dates: dict[int, date],
                 risk: tuple[int | None, engine.RiskModel | None, str] = (None, None, "")):
        self.masters = masters
        self.prices = prices
        self.price_dates = price_dates  # the day of each price: a proposal is as old as its oldest
        # The firm's estimated risk model, given to every benchmark (direct-indexed sleeves use it).
        self.risk_version_id, self.risk_model, self.risk_note = risk
        self.by_symbol = {s.symbol: pk for pk, s in masters.items()}
        self._engine: dict[int, engine.Security] = {}
        self.groups: dict[str, list[int]] = defaultdict(list)
        for pk, s in masters.items():
            if s.equivalence_group:
                self.groups[s.equivalence_group].append(pk)
        # The firm-wide harvest substitutes, symbol -> substitute (Security.harvest_substitute).
        self.harvest_substitutes = {s.symbol: masters[s.harvest_substitute_id].symbol
                                    for s in masters.values() if s.harvest_substitute_id in masters}
        # The same pairs with the held security's id, in the same order: an account's pairs are
        # picked by its lots' security ids, without a symbol per lot.
        self.substitutes_by_id = tuple((pk, s.symbol, masters[s.harvest_substitute_id].symbol)
                                       for pk, s in masters.items() if s.harvest_substitute_id in masters)
        # Symbols by security id (the masters' own str objects): a direct index's 2,000 lots' symbols
        # by one numpy take instead of 2,000 dict lookups.
        self.symbols_by_id = np.empty(max(masters, default=0) + 1, dtype=object)
        for pk, s in masters.items():
            self.symbols_by_id[pk] = s.symbol
        self._benchmarks: dict[tuple[int, str], engine.Benchmark] = {}

    def security(self, pk: int) -> engine.Security:
        found = self._engine.get(pk)
        if found is None:
            s = self.masters[pk]
            price = self.prices.get(pk)
            if price is None:
                raise ValidationFailed(f"no price for {s.symbol} on or before the run's date", code="missing_price",
                                       detail={"symbol": s.symbol})
            found = engine.Security(
                symbol=s.symbol, price=price, asset_class=s.asset_class, sector=s.sector or None,
                tags=tuple(s.tags or ()), esg_score=s.esg_score, fractional=s.fractional,
            )
            self._engine[pk] = found
        return found

    def benchmark(self, benchmark, weights: dict[int, float]) -> engine.Benchmark:
        key = (benchmark.pk, benchmark.code)
        found = self._benchmarks.get(key)
        if found is None:
            if not weights:
                raise ValidationFailed(f"benchmark {benchmark.code} has no constituent weights on or before the run's date",
                                       code="missing_benchmark_weights")
            total = sum(weights.values())
            found = engine.Benchmark(
                name=benchmark.code,
                constituents={self.masters[sid].symbol: w / total for sid, w in weights.items()},
                risk_model=self.risk_model,
            )
            self._benchmarks[key] = found
        return found


def _account_inputs(account, lots: _Lots, trades, models: ModelBook, bench_weights, universe: _Universe, as_of,
                    tax_returns: tuple[engine.TaxReturn, ...] = (), plans=(),
                    edit: dict[str, Any] | None = None, parameter_sets: _ParameterSets | None = None,
                    received: frozenset[str] = frozenset(), purchased: dict[str, date] | None = None
                    ) -> AccountInputs:
    # Only the firm's pairs for securities the account holds: harvesting sells held lots, and each
    # pair named brings its substitute into the request.
    lot_ids, sids, quantities, costs, acquired, _ = lots
    held_ids = set(sids.tolist())
    substitutes = {symbol: sub for sid, symbol, sub in universe.substitutes_by_id if sid in held_ids}
    parameter_sets = parameter_sets or _ParameterSets(firm_restrictions_on(as_of))
    values, values_text = parameter_sets.values(account, substitutes, edit)
    try:
        _lots_held_on(as_of, lot_ids, sids, acquired, universe)
        params = parameters_from_text(values_text)  # the set's canonical text, made once per set
        model_id = account.managed_model_id
        targets = parameter_sets.targets(model_id, values, models, bench_weights, universe)
        version = targets.version
        needed = set(targets.needed)
        needed.update(held_ids)
        engine_trades = []
        for account_number, sid, side, qty, trade_date, gain in trades:
            needed.add(sid)
            engine_trades.append(engine.HouseholdTrade(
                date=trade_date, symbol=universe.masters[sid].symbol, side=side, quantity=qty,
                realised_gain=None if gain is None else float(gain), account_id=account_number,
            ))
        for p in plans:
            if p.trade.symbol in universe.by_symbol:
                needed.add(universe.by_symbol[p.trade.symbol])
        securities, groups, priced = parameter_sets.securities(needed, universe)
        if groups:
            with_groups = engine.merge_parameter_dicts(values, {"wash_sale": {"equivalent_groups": [list(g) for g in groups]}})
            params = parameters_from_values(with_groups)
        targets.sleeves(universe, bench_weights)  # (refuses a benchmark without weights here, as before)
        ytd = account.realised_ytd(as_of.year)
        request = engine.RebalanceRequest(
            as_of=as_of,
            # The lots as the query's columns: no TaxLot per lot (a direct index has thousands).
            account=engine.Account.from_lot_columns(
                lot_ids=lot_ids, symbols=tuple(universe.symbols_by_id[sids].tolist()),
                quantities=quantities, cost_bases=costs, acquired=acquired,
                id=account.custodian_number, cash=_f(account.cash),
                short_term_rate=_f(account.short_term_rate), long_term_rate=_f(account.long_term_rate),
                realised_short_term_ytd=_f(ytd[0]),
                realised_long_term_ytd=_f(ytd[1]),
                household_trades=tuple(engine_trades), taxable=account.taxable,
                # The whole returns it is on (the carried loss and loss limit are theirs).
                tax_returns=tax_returns if account.taxable else (),
                received_lots=received,
                purchased_on=purchased or (),
            ),
            securities=securities,
            model=targets.model,
            parameters=params,
        )
        request = request_with_plans(request, account_id=account.pk, recorded=engine_trades, planned=plans,
                                     proposed={})
    except (ValidationFailed, engine.InvalidRequest) as exc:
        error = exc if isinstance(exc, ValidationFailed) else ValidationFailed(exc.message, code="invalid_request",
                                                                              detail=exc.detail or {})
        return AccountInputs(account.pk, None, None, values, "", error, household_id=account.household_id,
                             tax_status=account.tax_status)
    tracks = targets.tracks
    risk_version_id = universe.risk_version_id if tracks else None
    return AccountInputs(
        account_id=account.pk,
        request=request,
        model_version_id=version.pk if version else None,
        parameters=values,
        fingerprint=_fingerprint(account, lots, trades, version, values_text, priced, targets.fingerprinted, as_of,
                                 # (the gifts only where there are any: stored fingerprints stay comparable)
                                 (tax_returns, request.account.household_trades, risk_version_id,
                                  *((tuple(sorted(received)),) if received else ()),
                                  *((request.account.purchased_on,) if purchased else ()))),
        household_id=account.household_id, recorded=tuple(engine_trades), planned=tuple(plans),
        risk_model_version_id=risk_version_id, risk_model_note=universe.risk_note if tracks else "",
        tax_status=account.tax_status, asset_classes=tuple(account.asset_classes or ()),
        priced_on=min((universe.price_dates[sid] for sid in held_ids.union(targets.needed)
                       if sid in universe.price_dates), default=None),
    )


def _lots_held_on(as_of: date, lot_ids: tuple[str, ...], sids: np.ndarray, acquired: np.ndarray,
                  universe: _Universe) -> None:
    """Refuse an account whose lots include one acquired after ``as_of``: the loader reads the lots held
    now, and a run as of a past day (``run_start`` takes any day to today; a retried run keeps its day)
    would hand the engine a lot before its purchase, its holding period and wash-sale window counted
    from a day it was not held (IRS Pub. 550: the holding period starts the day after acquisition) - a
    wrong tax figure, not an answer. The account fails (``AccountInputs.error``) naming the first such lot;
    the run's other accounts go on."""
    # The lots come oldest first (``_oldest_first``): the last is the latest, the first found the earliest after.
    if not len(acquired) or acquired[-1] <= as_of.toordinal():
        return
    later = np.flatnonzero(acquired > as_of.toordinal())
    first, last = int(later[0]), int(acquired[-1])
    day = date.fromordinal(int(acquired[first]))
    symbol = universe.symbols_by_id[int(sids[first])] if int(sids[first]) < len(universe.symbols_by_id) else None
    others = f" ({len(later) - 1} more lot{'s' if len(later) > 2 else ''} too)" if len(later) > 1 else ""
    raise ValidationFailed(
        f"lot {lot_ids[first]}{f' ({symbol})' if symbol else ''} was acquired on {day}, after {as_of}, the day "
        f"this rebalance is as of{others}: the account's lots are those held now, not on {as_of}. Rebalance it "
        f"as of {date.fromordinal(last)} or later.", code="lot_after_as_of",
        detail={"lot": lot_ids[first], "symbol": symbol, "acquired": day.isoformat(), "as_of": as_of.isoformat(),
                "lots_after": len(later)})


def _parameter_symbols(values: dict[str, Any]) -> set[str]:
    symbols: set[str] = set()
    for group in ("transition", "harvest"):
        for a, b in (values.get(group, {}).get("substitutes") or {}).items():
            symbols.update((a, b))
    for ins in values.get("instructions") or ():
        symbols.update(s for s in (ins.get("sell"), ins.get("buy")) if s)
    return symbols


def _fingerprint(account, lots: _Lots, trades, version, parameters_text: str, priced: list, sleeves: list, as_of,
                 carried=()) -> str:
    """A digest of every input the engine saw: equal fingerprints mean an equal proposal.
    ``parameters_text``: the parameter values as canonical JSON (sorted keys); ``priced``: the
    securities' ``(symbol, price)``; ``sleeves``: each sleeve's ``(asset class, weight, sorted
    holdings, benchmark name or None)`` - both built once per set of accounts sharing them."""
    payload = (
        as_of, account.custodian_number, account.cash, account.short_term_rate, account.long_term_rate,
        *account.realised_ytd(as_of.year), account.taxable,
        version.pk if version else None, parameters_text, trades, priced, sleeves, tuple(carried),
    )
    digest = hashlib.sha256(pickle.dumps(payload, protocol=5))
    # The lots as packed numbers (a fifth of the time pickle takes on thousands of lots); the
    # ids with their lengths, so that no two lists of ids hash alike.
    lot_ids, sids, quantities, costs, acquired, id_lengths = lots
    # (Native 8-byte integers and floats, the bytes ``array("q", map(len, lot_ids))`` and
    # ``array`` gave when lots came as rows.)
    digest.update(np.ascontiguousarray(id_lengths, np.int64))
    digest.update("".join(lot_ids).encode())
    for column in (sids, quantities, costs, acquired):
        digest.update(np.ascontiguousarray(column))
    return digest.hexdigest()


# --- Households managed as one ----------------------------------------------------------------


@dataclass(frozen=True)
class HouseholdInputs:
    """A household's one engine request, its accounts' inputs (in the request's order) and the
    household settings it used (values and sources)."""

    household_id: int
    request: engine.HouseholdRequest | None
    members: tuple[AccountInputs, ...]
    settings: dict[str, Any]
    sources: dict[str, str]
    error: ValidationFailed | None = None

    @property
    def fingerprint(self) -> str:
        payload = pickle.dumps(([m.fingerprint for m in self.members], json.dumps(self.settings, sort_keys=True),
                                self.request.tax_budget if self.request else None,
                                self.request.drift if self.request else None), protocol=5)
        return hashlib.sha256(payload).hexdigest()


def household_inputs_from(household, members: list[AccountInputs], *, as_of: date) -> HouseholdInputs:
    """``household``'s request from its accounts' inputs (``rebalance_inputs_load``). Each account
    sees the household's executed trades and open orders, not its accounts' older open proposals:
    the household's new proposal replaces them all."""
    effective = household_settings_effective(household)
    members = sorted(members, key=lambda m: m.account_id)
    failed = [m for m in members if m.error is not None]
    if not members or failed:
        error = failed[0].error if failed else ValidationFailed(f"household {household.name} has no account to manage")
        return HouseholdInputs(household.pk, None, tuple(members), effective.values, effective.sources, error)
    replaced = {m.account_id: [] for m in members}
    requests = [m.seeing(replaced) for m in members]
    securities: dict[str, engine.Security] = {}
    for r in requests:
        for s in r.securities:
            securities.setdefault(s.symbol, s)
    model = requests[0].model
    location = None
    if effective.values.get("location"):
        defaults = engine.default_location_preferences(s.asset_class for s in model.sleeves)
        order = {**defaults.order, **{k: tuple(v) for k, v in effective.values["location"].items()}}
        location = engine.LocationPreferences(order=order, inefficient=defaults.inefficient)
    try:
        request = engine.HouseholdRequest(
            household_id=household.external_id, as_of=as_of, model=model,
            securities=tuple(securities[k] for k in sorted(securities)),
            accounts=tuple(engine.HouseholdAccount(request=r, tax_status=m.tax_status,
                                                   allowed_asset_classes=m.asset_classes or None)
                           for m, r in zip(members, requests, strict=True)),
            tax_budget=tax_budget_left(effective.values.get("tax_budget"), [r.account for r in requests]),
            location=location,
            drift=household_drift_bands(household),
            inside_bands=effective.values["inside_bands"],
        )
    except engine.InvalidRequest as exc:
        error = ValidationFailed(exc.message, code="invalid_request", detail=exc.detail or {})
        return HouseholdInputs(household.pk, None, tuple(members), effective.values, effective.sources, error)
    return HouseholdInputs(household.pk, request, tuple(members), effective.values, effective.sources)


def household_inputs_load(households, *, as_of: date, snapshot_key=None) -> list[HouseholdInputs]:
    """Households' requests (each managed as one), in a fixed number of queries."""
    households = list(households)
    ids = list(Account.objects.filter(household__in=households).values_list("pk", flat=True))
    by_household: dict[int, list[AccountInputs]] = defaultdict(list)
    for inputs in rebalance_inputs_load(ids, as_of=as_of, snapshot_key=snapshot_key):
        by_household[inputs.household_id].append(inputs)
    return [household_inputs_from(h, by_household[h.pk], as_of=as_of) for h in households]

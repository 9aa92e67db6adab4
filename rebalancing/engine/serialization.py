"""JSON (de)serialisation of requests and results, validated against the committed schemas.

Dates are ISO strings; money is rounded to cents, weights and tracking errors to 8 decimals,
share quantities to 6 decimals.  Malformed input raises ``InvalidRequest`` naming the path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from .errors import InvalidRequest
from .money import cents
from .parameters import DriftParams, Parameters
from .request import (
    EARLIEST_DAY,
    LATEST_DAY,
    Account,
    Benchmark,
    HouseholdTrade,
    Model,
    RebalanceRequest,
    RiskModel,
    Security,
    Sleeve,
    TaxLot,
)
from .result import Alert, BlockedBuy, Diagnostics, LotSale, RebalanceResult, Summary, Trade
from .tax import ORDINARY_LOSS_LIMIT, TaxReturn

__all__ = [
    "REQUEST_SCHEMA",
    "RESULT_SCHEMA",
    "load_schema",
    "validate_request_dict",
    "validate_result_dict",
    "request_from_dict",
    "request_to_dict",
    "request_from_json",
    "result_to_dict",
    "result_from_dict",
    "result_to_json",
    "household_request_to_dict",
    "household_request_from_dict",
    "household_result_to_dict",
    "household_result_from_dict",
    "withdrawal_plan_to_dict",
    "withdrawal_plan_from_dict",
]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/<name>.schema.json`` (``"request"`` or ``"result"``)."""
    text = resources.files("rebalancing.engine").joinpath(f"schemas/{name}.schema.json").read_text("utf-8")
    return json.loads(text)


REQUEST_SCHEMA: dict[str, Any] = load_schema("request")
RESULT_SCHEMA: dict[str, Any] = load_schema("result")


@cache
def _validator(name: str):
    import jsonschema

    schema = load_schema(name)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _validate(name: str, data: Any) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InvalidRequest(f"invalid {name} at {where}: {error.message}", {"path": where})


def validate_request_dict(data: Any) -> None:
    """Raise ``InvalidRequest`` unless ``data`` matches the request schema."""
    _validate("request", data)


def validate_result_dict(data: Any) -> None:
    """Raise ``InvalidRequest`` unless ``data`` matches the result schema."""
    _validate("result", data)


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"invalid date {value!r} in {where}") from None


def _beyond_float_check(data: Any, name: str = "request") -> None:
    """Refuse the first integer too large for a float, naming its path: JSON allows 10**400, which
    Python's reader takes as an int, and the engine's arithmetic (numpy, ``float()``) overflows on."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if type(value) is int and not -1e308 < value < 1e308:  # (an int compares with a float exactly)
            where = "/".join(map(str, path))
            raise InvalidRequest(f"invalid {name} at {where}: a number of {len(str(abs(value)))} digits, beyond "
                                 "any amount, quantity or weight", {"path": where})
        if isinstance(value, Mapping):
            stack.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))


def _lots_dated_check(data: Mapping[str, Any], as_of: date, where: str = "account") -> None:
    """Refuse a lot acquired after the request's day: solved as a short-term lot whose holding period
    and wash-sale window start in the future. (Checked where a request is read from JSON - the CLI,
    the API's what-if; the product's loader fails such an account of a past-dated run itself,
    ``engine_inputs``, naming the lot - not on the dataclasses.)"""
    account = data.get("account")
    lots = account.get("lots", ()) if isinstance(account, Mapping) else ()
    for k, lot in enumerate(lots):
        day = _date(lot["acquired"], f"lot {lot['id']}")
        if day > as_of:
            raise InvalidRequest(f"lot {lot['id']} was acquired on {day}, after the request's day {as_of}: a lot "
                                 "is held from its acquisition day", {"lot": lot["id"],
                                                                      "path": f"{where}/lots/{k}/acquired"})


def _risk_model(d: Mapping[str, Any] | None) -> RiskModel | None:
    if d is None:
        return None
    return RiskModel(
        factors=tuple(d["factors"]),
        loadings={k: tuple(v) for k, v in d["loadings"].items()},
        factor_covariance=tuple(tuple(row) for row in d["factor_covariance"]),
        specific_variance=dict(d["specific_variance"]),
    )


def _benchmark(d: Mapping[str, Any] | None) -> Benchmark | None:
    if d is None:
        return None
    return Benchmark(
        name=d["name"], constituents=dict(d["constituents"]), risk_model=_risk_model(d.get("risk_model"))
    )


def request_from_dict(data: Mapping[str, Any], *, validate: bool = True) -> RebalanceRequest:
    """Build a ``RebalanceRequest`` from its JSON form (validated against the schema first)."""
    if not isinstance(data, Mapping):
        raise InvalidRequest("a request must be a JSON object")
    if validate:
        _beyond_float_check(data)  # (before the schema, whose message would spell out its 401 digits)
        validate_request_dict(data)
        _lots_dated_check(data, _as_of(data["as_of"]))
    a = data["account"]
    account = Account(
        id=a["id"],
        cash=a["cash"],
        short_term_rate=a.get("short_term_rate", 0.37),
        long_term_rate=a.get("long_term_rate", 0.20),
        realised_short_term_ytd=a.get("realised_short_term_ytd", 0.0),
        realised_long_term_ytd=a.get("realised_long_term_ytd", 0.0),
        taxable=a.get("taxable", True),
        loss_carryforward_short=a.get("loss_carryforward_short", 0.0),
        loss_carryforward_long=a.get("loss_carryforward_long", 0.0),
        ordinary_loss_limit=a.get("ordinary_loss_limit", ORDINARY_LOSS_LIMIT),
        tax_returns=tuple(TaxReturn(**r) for r in a.get("tax_returns", ())),
        received_lots=frozenset(a.get("received_lots", ())),
        purchased_on={i: _date(day, f"purchased_on of lot {i}") for i, day in a.get("purchased_on", {}).items()},
        lots=tuple(
            TaxLot(
                id=lot["id"],
                symbol=lot["symbol"],
                quantity=lot["quantity"],
                cost_basis=lot["cost_basis"],
                acquired=_date(lot["acquired"], f"lot {lot['id']}"),
            )
            for lot in a.get("lots", ())
        ),
        household_trades=tuple(
            HouseholdTrade(
                date=_date(t["date"], f"household trade of {t['symbol']}"),
                symbol=t["symbol"],
                side=t["side"],
                quantity=t["quantity"],
                realised_gain=t.get("realised_gain"),
                account_id=t.get("account_id"),
            )
            for t in a.get("household_trades", ())
        ),
    )
    securities = tuple(
        Security(
            symbol=s["symbol"],
            price=s["price"],
            asset_class=s["asset_class"],
            sector=s.get("sector"),
            tags=tuple(s.get("tags", ())),
            esg_score=s.get("esg_score"),
            fractional=s.get("fractional", True),
        )
        for s in data["securities"]
    )
    m = data["model"]
    model = Model(
        name=m["name"],
        sleeves=tuple(
            Sleeve(
                asset_class=s["asset_class"],
                weight=s["weight"],
                holdings=dict(s.get("holdings", {})),
                benchmark=_benchmark(s.get("benchmark")),
            )
            for s in m["sleeves"]
        ),
    )
    return RebalanceRequest(
        as_of=_date(data["as_of"], "as_of"),
        account=account,
        securities=securities,
        model=model,
        parameters=Parameters.from_dict(data.get("parameters") or {}),
    )


def _as_of(value: str) -> date:
    day = _date(value, "as_of")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise InvalidRequest(f"as_of must be a day from {EARLIEST_DAY} to {LATEST_DAY}, got {day}", {"path": "as_of"})
    return day


def request_from_json(text: str | bytes) -> RebalanceRequest:
    """Parse JSON text into a request; malformed JSON raises ``InvalidRequest``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return request_from_dict(data)


def _risk_model_dict(rm: RiskModel | None) -> dict[str, Any] | None:
    if rm is None:
        return None
    return {
        "factors": list(rm.factors),
        "loadings": {k: list(v) for k, v in rm.loadings.items()},
        "factor_covariance": [list(r) for r in rm.factor_covariance],
        "specific_variance": dict(rm.specific_variance),
    }


def request_to_dict(request: RebalanceRequest) -> dict[str, Any]:
    """The JSON form of a request (round-trips through ``request_from_dict``)."""
    a = request.account
    return {
        "as_of": request.as_of.isoformat(),
        "account": {
            "id": a.id,
            "cash": a.cash,
            "short_term_rate": a.short_term_rate,
            "long_term_rate": a.long_term_rate,
            "realised_short_term_ytd": a.realised_short_term_ytd,
            "realised_long_term_ytd": a.realised_long_term_ytd,
            "taxable": a.taxable,
            "loss_carryforward_short": a.loss_carryforward_short,
            "loss_carryforward_long": a.loss_carryforward_long,
            "ordinary_loss_limit": a.ordinary_loss_limit,
            "tax_returns": [{name: getattr(r, name) for name in TaxReturn.__slots__} for r in a.tax_returns],
            "received_lots": sorted(a.received_lots),
            "purchased_on": {i: day.isoformat() for i, day in a.purchased_on},
            "lots": [
                {
                    "id": lot.id,
                    "symbol": lot.symbol,
                    "quantity": lot.quantity,
                    "cost_basis": lot.cost_basis,
                    "acquired": lot.acquired.isoformat(),
                }
                for lot in a.lots
            ],
            "household_trades": [
                {
                    "date": t.date.isoformat(),
                    "symbol": t.symbol,
                    "side": t.side,
                    "quantity": t.quantity,
                    "realised_gain": t.realised_gain,
                    "account_id": t.account_id,
                }
                for t in a.household_trades
            ],
        },
        "securities": [
            {
                "symbol": s.symbol,
                "price": s.price,
                "asset_class": s.asset_class,
                "sector": s.sector,
                "tags": list(s.tags),
                "esg_score": s.esg_score,
                "fractional": s.fractional,
            }
            for s in request.securities
        ],
        "model": {
            "name": request.model.name,
            "sleeves": [
                {
                    "asset_class": s.asset_class,
                    "weight": s.weight,
                    "holdings": dict(s.holdings),
                    "benchmark": None
                    if s.benchmark is None
                    else {
                        "name": s.benchmark.name,
                        "constituents": dict(s.benchmark.constituents),
                        "risk_model": _risk_model_dict(s.benchmark.risk_model),
                    },
                }
                for s in request.model.sleeves
            ],
        },
        "parameters": request.parameters.to_dict(),
    }


def _money(x: float) -> float:
    return cents(x)  # half up on the figure (a tax of 1,349.895 is 1,349.90, as the ledger stores it)


def _weight(x: float | None) -> float | None:
    return None if x is None else round(float(x), 8) + 0.0


def _shares(x: float) -> float:
    return round(float(x), 6) + 0.0


def _rounded(values: list[float], decimals: int) -> list[float]:
    """``_money``/``_shares`` over a whole column at once: numpy's rounding (scale, round half to
    even, unscale) matched Python's ``round`` on all but one of two million random amounts, at a
    tenth of the time; a direct-index result has a thousand lot sales."""
    return (np.round(np.array(values, dtype=float), decimals) + 0.0).tolist()


def _weights(weights: Mapping[str, float]) -> dict[str, float]:
    return dict(zip(weights, _rounded(list(weights.values()), 8), strict=True))


def _trades_to_dicts(trades: tuple[Trade, ...]) -> list[dict[str, Any]]:
    sales = [ls for t in trades for ls in t.lots]
    lots = [
        {
            "lot_id": ls.lot_id,
            "quantity": quantity,
            "proceeds": proceeds,
            "cost_basis": basis,
            "gain": gain,
            "term": ls.term,
            "disallowed_loss": disallowed,
        }
        for ls, quantity, proceeds, basis, gain, disallowed in zip(
            sales,
            _rounded([ls.quantity for ls in sales], 6),
            _rounded([ls.proceeds for ls in sales], 2),
            _rounded([ls.cost_basis for ls in sales], 2),
            _rounded([ls.gain for ls in sales], 2),
            _rounded([ls.disallowed_loss for ls in sales], 2),
            strict=True,
        )
    ]
    out = []
    at = 0
    for t, quantity, value, gain, cost in zip(
        trades,
        _rounded([t.quantity for t in trades], 6),
        _rounded([t.value for t in trades], 2),
        _rounded([t.realised_gain for t in trades], 2),
        _rounded([t.trading_cost for t in trades], 2),
        strict=True,
    ):
        out.append(
            {
                "symbol": t.symbol,
                "side": t.side,
                "quantity": quantity,
                "price": float(t.price),
                "value": value,
                "reasons": list(t.reasons),
                "lots": lots[at : at + len(t.lots)],
                "realised_gain": gain,
                "trading_cost": cost,
            }
        )
        at += len(t.lots)
    return out


def result_to_dict(result: RebalanceResult) -> dict[str, Any]:
    """The JSON form of a result (dates ISO, money to cents, weights to 8 decimals)."""
    s = result.summary
    money_fields = {
        "market_value", "cash_before", "cash_after", "realised_short_term_gain", "realised_short_term_loss",
        "realised_long_term_gain", "realised_long_term_loss", "net_realised_gain", "estimated_tax",
        "harvested_losses", "disallowed_losses", "trading_cost", "buy_value", "sell_value",
    }  # fmt: skip
    summary: dict[str, Any] = {}
    for name in Summary.__slots__:
        value = getattr(s, name)
        if name in money_fields:
            summary[name] = _money(value)
        elif name.startswith("tracking_error"):
            summary[name] = {k: _weight(v) for k, v in value.items()}
        elif name == "trade_count":
            summary[name] = int(value)
        else:
            summary[name] = _weight(value)
    d = result.diagnostics
    return {
        "account_id": result.account_id,
        "as_of": result.as_of.isoformat(),
        "trades": _trades_to_dicts(result.trades),
        "summary": summary,
        "weights_before": _weights(result.weights_before),
        "weights_after": _weights(result.weights_after),
        "targets": _weights(result.targets),
        "warnings": list(result.warnings),
        "alerts": [
            {"code": a.code, "message": a.message, "symbol": a.symbol, "amount": a.amount}
            for a in result.alerts
        ],
        "diagnostics": {
            "solver": d.solver,
            "status": d.status,
            "solves": d.solves,
            "cached": d.cached,
            "compile_ms": round(d.compile_ms, 3),
            "solve_ms": round(d.solve_ms, 3),
            "total_ms": round(d.total_ms, 3),
        },
        "blocked_buys": [
            {
                "symbol": b.symbol,
                "shortfall": _money(b.shortfall),
                "sale_symbol": b.sale_symbol,
                "sale_date": b.sale_date.isoformat(),
                "sale_account_id": b.sale_account_id,
                "sale_loss": None if b.sale_loss is None else _money(b.sale_loss),
                "sale_in_proposal": b.sale_in_proposal,
                "buyable_on": b.buyable_on.isoformat(),
                "held_in_place": _money(b.held_in_place),
                "held_by": list(b.held_by),
            }
            for b in result.blocked_buys
        ],
    }


def result_to_json(result: RebalanceResult, indent: int | None = 2) -> str:
    """``result_to_dict`` as JSON text."""
    return json.dumps(result_to_dict(result), indent=indent)


def result_from_dict(data: Mapping[str, Any], *, validate: bool = True) -> RebalanceResult:
    """Rebuild a result from its JSON form (e.g. one stored by the web app)."""
    if validate:
        validate_result_dict(data)
    s = data["summary"]
    return RebalanceResult(
        account_id=data["account_id"],
        as_of=_date(data["as_of"], "as_of"),
        trades=tuple(
            Trade(
                symbol=t["symbol"],
                side=t["side"],
                quantity=t["quantity"],
                price=t["price"],
                value=t["value"],
                reasons=tuple(t["reasons"]),
                lots=tuple(LotSale(**ls) for ls in t["lots"]),
                realised_gain=t["realised_gain"],
                trading_cost=t["trading_cost"],
            )
            for t in data["trades"]
        ),
        summary=Summary(**{k: (dict(v) if isinstance(v, Mapping) else v) for k, v in s.items()}),
        weights_before=dict(data["weights_before"]),
        weights_after=dict(data["weights_after"]),
        targets=dict(data["targets"]),
        warnings=tuple(data["warnings"]),
        alerts=tuple(Alert(**a) for a in data["alerts"]),
        diagnostics=Diagnostics(**data["diagnostics"]),
        # Results stored before the field existed have none.
        blocked_buys=tuple(
            BlockedBuy(
                **{
                    **b,
                    "sale_date": _date(b["sale_date"], "blocked_buys"),
                    "buyable_on": _date(b["buyable_on"], "blocked_buys"),
                    "held_by": tuple(b.get("held_by", ())),
                }
            )
            for b in data.get("blocked_buys", ())
        ),
    )


# The household (rebalancing/engine/household.py): a household request is its accounts' own
# requests (their "model" and "securities" are the household's, so they are written once).


def household_request_to_dict(request) -> dict[str, Any]:
    """The JSON form of a ``HouseholdRequest`` (round-trips through ``household_request_from_dict``)."""
    accounts = []
    for a in request.accounts:
        d = request_to_dict(a.request)
        accounts.append(
            {
                "tax_status": a.tax_status,
                "allowed_asset_classes": None if a.allowed_asset_classes is None else list(a.allowed_asset_classes),
                "account": d["account"],
                "parameters": d["parameters"],
            }
        )
    shared = request_to_dict(_shared_request(request))
    location = request.location
    return {
        "household_id": request.household_id,
        "as_of": request.as_of.isoformat(),
        "model": shared["model"],
        "securities": shared["securities"],
        "accounts": accounts,
        "tax_budget": request.tax_budget,
        "drift": None
        if request.drift is None
        else {"absolute_band": request.drift.absolute_band, "relative_band": request.drift.relative_band},
        "inside_bands": request.inside_bands,
        "location": None
        if location is None
        else {
            "order": {k: list(v) for k, v in location.order.items()},
            "inefficient": sorted(location.inefficient),
            "weight": location.weight,
        },
    }


def _shared_request(request) -> RebalanceRequest:
    """A request carrying the household's model and securities (the first account's, otherwise)."""
    first = request.accounts[0].request
    return RebalanceRequest(request.as_of, first.account, request.securities, request.model, first.parameters)


def _strings(value: Any) -> bool:
    """A JSON list of strings (what a tuple of names is read from)."""
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def household_request_from_dict(data: Mapping[str, Any]):
    """Build a ``HouseholdRequest`` from its JSON form; malformed input raises ``InvalidRequest``
    naming the account and the path."""
    from .household import HouseholdAccount, HouseholdRequest, LocationPreferences

    if not isinstance(data, Mapping):
        raise InvalidRequest("a household request must be a JSON object")
    for key in ("household_id", "as_of", "model", "securities", "accounts"):
        if key not in data:
            raise InvalidRequest(f"invalid household request: {key!r} is missing", {"path": key})
    if not isinstance(data["accounts"], list) or not data["accounts"]:
        raise InvalidRequest("invalid household request: accounts must be a non-empty list", {"path": "accounts"})
    _beyond_float_check(data, "household request")
    accounts = []
    for k, a in enumerate(data["accounts"]):
        if not isinstance(a, Mapping) or "account" not in a:
            raise InvalidRequest(f"invalid household request at accounts/{k}: no account", {"path": f"accounts/{k}"})
        one = {
            "as_of": data["as_of"],
            "account": a["account"],
            "securities": data["securities"],
            "model": data["model"],
            "parameters": a.get("parameters") or {},
        }
        try:
            request = request_from_dict(one)
        except InvalidRequest as exc:
            raise InvalidRequest(f"account {k + 1} of the household: {exc}", {"path": f"accounts/{k}"}) from None
        allowed = a.get("allowed_asset_classes")
        if allowed is not None and not _strings(allowed):
            raise InvalidRequest(f"invalid household request at accounts/{k}/allowed_asset_classes: a list of asset "
                                 f"classes or null, got {allowed!r}", {"path": f"accounts/{k}/allowed_asset_classes"})
        accounts.append(
            HouseholdAccount(
                request=request,
                tax_status=a.get("tax_status", "taxable"),
                allowed_asset_classes=None if allowed is None else tuple(allowed),
            )
        )
    loc = data.get("location")
    location = None
    if loc is not None:
        order = loc.get("order", {}) if isinstance(loc, Mapping) else None
        if not isinstance(order, Mapping) or not all(map(_strings, order.values())) \
                or not _strings(loc.get("inefficient", ())):
            raise InvalidRequest("invalid household request at location: an object of 'order' (asset class -> "
                                 "tax statuses), 'inefficient' (asset classes) and 'weight'", {"path": "location"})
        location = LocationPreferences(
            order={k: tuple(v) for k, v in loc.get("order", {}).items()},
            inefficient=frozenset(loc.get("inefficient", ())),
            weight=loc.get("weight", 0.002),
        )
    budget = data.get("tax_budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float)):
        raise InvalidRequest(f"the household tax budget must be a number, got {budget!r}", {"path": "tax_budget"})
    drift = data.get("drift")
    if drift is not None:
        if not isinstance(drift, Mapping):
            raise InvalidRequest("invalid household request: drift must be an object", {"path": "drift"})
        drift = DriftParams(**{k: drift[k] for k in ("absolute_band", "relative_band") if k in drift})
    return HouseholdRequest(
        household_id=str(data["household_id"]),
        as_of=_date(data["as_of"], "as_of"),
        model=accounts[0].request.model,
        securities=accounts[0].request.securities,
        accounts=tuple(accounts),
        tax_budget=None if budget is None else float(budget),
        location=location,
        drift=drift,
        inside_bands=str(data.get("inside_bands", "tax_free")),
    )


def household_result_to_dict(result) -> dict[str, Any]:
    """The JSON form of a ``HouseholdResult`` (each account's result as ``result_to_dict``)."""
    d = result.diagnostics

    def alloc(a: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
        return {k: {acc: _money(v) for acc, v in row.items()} for k, row in a.items()}

    return {
        "household_id": result.household_id,
        "as_of": result.as_of.isoformat(),
        "accounts": [result_to_dict(r) for r in result.accounts],
        "allocation_before": alloc(result.allocation_before),
        "allocation_after": alloc(result.allocation_after),
        "targets": _weights(result.targets),
        "drift_before": _weight(result.drift_before),
        "drift_after": _weight(result.drift_after),
        "tax_cost": _money(result.tax_cost),
        "warnings": list(result.warnings),
        "diagnostics": {
            "solver": d.solver,
            "placement_solves": d.placement_solves,
            "placement_ms": round(d.placement_ms, 3),
            "accounts_ms": round(d.accounts_ms, 3),
            "total_ms": round(d.total_ms, 3),
        },
    }


def household_result_from_dict(data: Mapping[str, Any]):
    """Rebuild a ``HouseholdResult`` from its JSON form (e.g. one stored by the web app)."""
    from .household import HouseholdDiagnostics, HouseholdResult

    try:
        return HouseholdResult(
            household_id=data["household_id"],
            as_of=_date(data["as_of"], "as_of"),
            accounts=tuple(result_from_dict(r) for r in data["accounts"]),
            allocation_before={k: dict(v) for k, v in data["allocation_before"].items()},
            allocation_after={k: dict(v) for k, v in data["allocation_after"].items()},
            targets=dict(data["targets"]),
            drift_before=data["drift_before"],
            drift_after=data["drift_after"],
            tax_cost=data["tax_cost"],
            warnings=tuple(data.get("warnings", ())),
            diagnostics=HouseholdDiagnostics(**data.get("diagnostics", {})),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidRequest(f"invalid household result: {exc}") from None


def withdrawal_plan_to_dict(plan) -> dict[str, Any]:
    """The JSON form of a ``WithdrawalPlan``."""
    return {
        "amount": _money(plan.amount),
        "kind": plan.kind,
        "sales": [
            {
                "account_id": account_id,
                "symbol": symbol,
                "lot_id": s.lot_id,
                "quantity": _shares(s.quantity),
                "proceeds": _money(s.proceeds),
                "cost_basis": _money(s.cost_basis),
                "gain": _money(s.gain),
                "term": s.term,
            }
            for account_id, symbol, s in plan.sales
        ],
        "cash_used": {k: _money(v) for k, v in plan.cash_used.items()},
        "distributions": {k: _money(v) for k, v in plan.distributions.items()},
        "tax_cost": _money(plan.tax_cost),
        "raised": _money(plan.raised),
        "explanation": list(plan.explanation),
        "early_tax": {k: _money(v) for k, v in plan.early_tax.items()},
        "rmd_taken": {k: _money(v) for k, v in plan.rmd_taken.items()},
    }


def withdrawal_plan_from_dict(data: Mapping[str, Any]):
    """Rebuild a ``WithdrawalPlan`` from its JSON form."""
    from .withdrawal import WithdrawalPlan

    try:
        return WithdrawalPlan(
            amount=data["amount"],
            kind=data["kind"],
            sales=tuple(
                (
                    s["account_id"],
                    s["symbol"],
                    LotSale(s["lot_id"], s["quantity"], s["proceeds"], s["cost_basis"], s["gain"], s["term"]),
                )
                for s in data["sales"]
            ),
            cash_used=dict(data["cash_used"]),
            distributions=dict(data["distributions"]),
            tax_cost=data["tax_cost"],
            raised=data["raised"],
            explanation=tuple(data["explanation"]),
            early_tax=dict(data.get("early_tax", {})),  # plans stored before it had none
            rmd_taken=dict(data.get("rmd_taken", {})),  # nor this
        )
    except (KeyError, TypeError) as exc:
        raise InvalidRequest(f"invalid withdrawal plan: {exc}") from None

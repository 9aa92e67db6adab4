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
from .parameters import Parameters
from .request import (
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
        validate_request_dict(data)
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
    return round(float(x), 2) + 0.0


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
                }
            )
            for b in data.get("blocked_buys", ())
        ),
    )

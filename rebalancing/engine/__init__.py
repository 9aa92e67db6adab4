"""Rebalancing engine: parameter-based, tax-aware optimisation of one account.

Pure Python (numpy, scipy, cvxpy with Clarabel): frozen dataclasses in, a frozen result out.
``rebalance(request)`` is the one entry point; ``request_from_dict`` / ``result_to_dict`` and
friends convert to and from JSON-friendly dicts (schemas in ``schemas/``).
"""

from .errors import EngineError, InfeasibleParameters, InvalidRequest, SolverFailed
from .parameters import (
    PARAMETERS_SCHEMA,
    CashParams,
    DirectIndexParams,
    DriftParams,
    HarvestParams,
    Instruction,
    Parameters,
    Restrictions,
    ScreenParams,
    TradingParams,
    TransitionParams,
    WashSaleParams,
    default_parameters,
    merge_parameter_dicts,
)
from .rebalancer import rebalance
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
from .result import CASH_KEY, REASONS, Alert, Diagnostics, LotSale, RebalanceResult, Summary, Trade
from .serialization import (
    REQUEST_SCHEMA,
    RESULT_SCHEMA,
    request_from_dict,
    request_from_json,
    request_to_dict,
    result_from_dict,
    result_to_dict,
    result_to_json,
)

__all__ = [
    "rebalance",
    "RebalanceRequest",
    "RebalanceResult",
    "Account",
    "TaxLot",
    "HouseholdTrade",
    "Security",
    "Model",
    "Sleeve",
    "Benchmark",
    "RiskModel",
    "Parameters",
    "TransitionParams",
    "ScreenParams",
    "HarvestParams",
    "WashSaleParams",
    "DirectIndexParams",
    "Restrictions",
    "CashParams",
    "DriftParams",
    "TradingParams",
    "Instruction",
    "Trade",
    "LotSale",
    "Summary",
    "Alert",
    "Diagnostics",
    "CASH_KEY",
    "REASONS",
    "PARAMETERS_SCHEMA",
    "REQUEST_SCHEMA",
    "RESULT_SCHEMA",
    "default_parameters",
    "merge_parameter_dicts",
    "request_from_dict",
    "request_from_json",
    "request_to_dict",
    "result_to_dict",
    "result_from_dict",
    "result_to_json",
    "EngineError",
    "InvalidRequest",
    "InfeasibleParameters",
    "SolverFailed",
]

"""The book of business, per firm schema (docs/adr/0002-market-data-per-firm.md)."""

from .approvals import ApprovalPolicy, ProposalApproval
from .backtests import Backtest
from .book import (
    Account,
    Household,
    HouseholdUserObjectPermission,
    PastFilingStatus,
    ReturnTaxableIncome,
    TaxLot,
    TradeRecord,
)
from .cashflows import CashFlow
from .ledger import (
    BasisAdjustment,
    Execution,
    Order,
    RealisedLot,
    Reconciliation,
    ReconciliationAccount,
    ReconciliationRow,
    WashSaleRecalculation,
)
from .market import Benchmark, BenchmarkWeight, Price, Security
from .notifications import NotificationPreference
from .portfolios import ModelPortfolio, ModelVersion, Sleeve, SleeveHolding
from .recovery import RunWatch
from .releases import ReleaseBatch
from .restrictions import RestrictedSecurity
from .risk import RiskModelEstimate, RiskModelVersion
from .runs import Alert, HouseholdProposal, Proposal, RebalanceRun, RunOutcome
from .templates import ParameterTemplate
from .webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "Account", "Alert", "ApprovalPolicy", "Backtest", "BasisAdjustment", "Benchmark", "BenchmarkWeight", "CashFlow", "Execution", "Household", "HouseholdProposal", "HouseholdUserObjectPermission", "PastFilingStatus", "ModelPortfolio", "ModelVersion",
    "NotificationPreference", "Order", "ParameterTemplate", "Price", "Proposal", "ProposalApproval", "RealisedLot", "RebalanceRun", "Reconciliation", "ReconciliationAccount",
    "ReconciliationRow", "ReleaseBatch", "RestrictedSecurity", "ReturnTaxableIncome", "RiskModelEstimate", "RiskModelVersion", "RunOutcome", "RunWatch", "Security", "Sleeve",
    "SleeveHolding", "TaxLot", "TradeRecord", "WashSaleRecalculation", "WebhookDelivery", "WebhookEndpoint",
    "WebhookEvent",
]

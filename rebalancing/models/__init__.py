"""The book of business, per firm schema (docs/adr/0002-market-data-per-firm.md)."""

from .approvals import ApprovalPolicy, ProposalApproval
from .book import Account, Household, HouseholdUserObjectPermission, TaxLot, TradeRecord
from .market import Benchmark, BenchmarkWeight, Price, Security
from .portfolios import ModelPortfolio, ModelVersion, Sleeve, SleeveHolding
from .runs import Alert, Proposal, RebalanceRun, RunOutcome
from .templates import ParameterTemplate

__all__ = [
    "Account", "Alert", "ApprovalPolicy", "Benchmark", "BenchmarkWeight", "Household", "HouseholdUserObjectPermission", "ModelPortfolio", "ModelVersion",
    "ParameterTemplate", "Price", "Proposal", "ProposalApproval", "RebalanceRun", "RunOutcome", "Security", "Sleeve",
    "SleeveHolding", "TaxLot", "TradeRecord",
]

"""A small, hand-checkable book of business for tests (inside the active firm's schema)."""

from datetime import date, timedelta
from decimal import Decimal

from rebalancing.models import (
    Account,
    Household,
    ModelPortfolio,
    ModelVersion,
    ParameterTemplate,
    Price,
    Security,
    Sleeve,
    SleeveHolding,
    TaxLot,
)
from rebalancing.services.people import advisor_assign

AS_OF = date(2026, 11, 20)

SECURITIES = [
    # symbol, asset class, price, equivalence group
    ("VTI", "us_equity", 100, "us_total"),
    ("ITOT", "us_equity", 50, "us_total"),
    ("SCHB", "us_equity", 25, "us_broad_schwab"),
    ("BND", "bonds", 80, "us_agg"),
    ("AGG", "bonds", 100, "us_agg_ishares"),
    ("VNQ", "real_estate", 90, "reit"),
]


def make_securities(as_of: date = AS_OF) -> dict[str, Security]:
    out = {}
    for symbol, asset_class, price, group in SECURITIES:
        sec = Security.objects.create(symbol=symbol, name=f"{symbol} fund", asset_class=asset_class, is_fund=True,
                                      fractional=False, equivalence_group=group)
        Price.objects.create(security=sec, date=as_of - timedelta(days=3), close=Decimal(price) * Decimal("0.98"))
        Price.objects.create(security=sec, date=as_of, close=Decimal(price))
        out[symbol] = sec
    return out


def make_model(code: str = "balanced", sleeves=(("us_equity", "0.6", {"VTI": "1"}), ("bonds", "0.3", {"BND": "1"}),
                                                  ("real_estate", "0.1", {"VNQ": "1"}))) -> ModelPortfolio:
    model = ModelPortfolio.objects.create(code=code, name=code.title())
    version = ModelVersion.objects.create(model=model, number=1)
    securities = {s.symbol: s for s in Security.objects.all()}
    for asset_class, weight, holdings in sleeves:
        sleeve = Sleeve.objects.create(version=version, asset_class=asset_class, weight=Decimal(weight))
        for symbol, w in holdings.items():
            SleeveHolding.objects.create(sleeve=sleeve, security=securities[symbol], weight=Decimal(w))
    return model


def make_template(code: str = "standard", parameters=None, overridable=None) -> ParameterTemplate:
    return ParameterTemplate.objects.create(
        code=code, name=code.title(),
        parameters=parameters if parameters is not None else {"cash": {"target": 0.01}, "trading": {"whole_shares": True}},
        overridable=overridable if overridable is not None else {"cash.target": {"min": 0, "max": 0.05}, "harvest": {}},
    )


def make_account(number: str, *, model, template=None, household=None, cash="1000", holdings=(), advisor=None,
                 overrides=None) -> Account:
    """``holdings``: (symbol, quantity, cost basis, acquired) lots."""
    if household is None:
        household = Household.objects.create(name=f"{number} household", external_id=f"HH-{number}", template=template)
        if advisor is not None:
            advisor_assign(household=household, advisor=advisor, by=None)
    account = Account.objects.create(custodian_number=number, name=f"Account {number}", household=household,
                                     model=model, cash=Decimal(cash), overrides=overrides or {})
    securities = {s.symbol: s for s in Security.objects.all()}
    for i, (symbol, qty, basis, acquired) in enumerate(holdings):
        TaxLot.objects.create(account=account, lot_id=f"{number}-L{i + 1}", security=securities[symbol],
                              quantity=Decimal(qty), cost_basis=Decimal(basis), acquired=acquired)
    return account


def make_book(n_accounts: int = 3, *, advisor=None) -> dict:
    """Securities, a 60/30/10 model, a template and ``n_accounts`` drifted accounts."""
    securities = make_securities()
    model = make_model()
    template = make_template()
    accounts = [
        make_account(
            f"T-{i:03d}", model=model, template=template, advisor=advisor,
            holdings=[("VTI", 300 + 10 * i, 24000, date(2020, 1, 2)), ("BND", 100, 9000, date(2026, 6, 1))],
        )
        for i in range(n_accounts)
    ]
    return {"securities": securities, "model": model, "template": template, "accounts": accounts}

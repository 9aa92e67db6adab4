"""A household of a couple managed as one: a joint taxable account, a traditional IRA, a Roth, held
to one 60/30/10 model (for the services, API, CSV and page tests)."""

from datetime import date
from decimal import Decimal

from rebalancing.models import Account, CashFlow, Household, RebalanceRun
from rebalancing.services.people import advisor_assign

from .book import make_account, make_model, make_securities, make_template


def make_unit_household(*, advisor=None, external_id: str = "HH-LEE", prefix: str = "LEE") -> dict:
    """The Lees: a taxable account with gains in equity, an IRA and a Roth with cash to invest."""
    if not Account.objects.exists():
        make_securities()
    model = make_model(code=f"sixty-{prefix.lower()}")
    template = make_template(f"household-{prefix.lower()}", overridable={
        "cash.target": {"min": 0, "max": 0.05}, "household.tax_budget": {"max": 50000}, "household.location": {}})
    household = Household.objects.create(name=f"{prefix.title()} family", external_id=external_id,
                                         template=template, managed_as=Household.ManagedAs.HOUSEHOLD, model=model)
    if advisor is not None:
        advisor_assign(household=household, advisor=advisor, by=None)
    joint = make_account(f"{prefix}-JT", model=None, household=household, cash="2000",
                         holdings=[("VTI", 400, 28000, date(2019, 5, 1)), ("BND", 100, 8200, date(2025, 2, 3))])
    ira = make_account(f"{prefix}-IRA", model=None, household=household, cash="30000", holdings=[])
    roth = make_account(f"{prefix}-ROTH", model=None, household=household, cash="12000", holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    Account.objects.filter(pk=roth.pk).update(tax_status=Account.TaxStatus.ROTH)
    for a in (joint, ira, roth):
        a.refresh_from_db()
    return {"household": household, "model": model, "template": template, "joint": joint, "ira": ira, "roth": roth,
            "value": Decimal(400 * 100 + 100 * 80 + 2000 + 30000 + 12000)}


def household_remove(made: dict) -> None:
    """Remove what ``make_unit_household`` made and what was done to it (cash flows, runs, accounts):
    the browser tests share one firm for a module."""
    household = made["household"]
    CashFlow.objects.filter(household=household).delete()
    RebalanceRun.objects.filter(household_proposals__household=household).delete()
    Account.objects.filter(household=household).delete()
    household.delete()

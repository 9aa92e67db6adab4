"""A small firm book with real proposals, for the page tests and the browser tests.

Built inside the active firm's schema: four accounts on a 60/30/10 model whose US equity sleeve
holds an energy fund (so an ESG screen on fossil fuels has something to sell), two advisors with
their own households, and a run solved by the real engine with auto-approval off (so proposals
wait for their advisor).
"""

from datetime import date
from decimal import Decimal

from rebalancing.models import ApprovalPolicy, Price, RebalanceRun, Security
from rebalancing.selectors import RunScope
from rebalancing.services.people import advisor_assign
from rebalancing.services.runs import run_process_chunk
from tests.rebalancing.book import AS_OF, make_account, make_model, make_securities, make_template


def make_firm_book(people: dict, *, as_of: date = AS_OF, accounts_per_advisor: int = 2) -> dict:
    securities = make_securities(as_of)
    xle = Security.objects.create(symbol="XLE", name="Energy Select Sector fund", asset_class="us_equity",
                                  sector="Energy", is_fund=True, tags=["fossil_fuels"], fractional=False,
                                  equivalence_group="energy")
    Price.objects.create(security=xle, date=as_of, close=Decimal("90"))
    securities["XLE"] = xle
    model = make_model(sleeves=(("us_equity", "0.6", {"VTI": "0.8", "XLE": "0.2"}), ("bonds", "0.3", {"BND": "1"}),
                                ("real_estate", "0.1", {"VNQ": "1"})))
    template = make_template(overridable={"cash.target": {"min": 0, "max": 0.05}, "harvest": {},
                                          "trading.lot_selection": {"choices": ["tax_optimal", "fifo"]}})
    accounts = []
    for slot, advisor in enumerate((people["advisor"], people["colleague"])):
        for i in range(accounts_per_advisor):
            n = slot * accounts_per_advisor + i
            account = make_account(
                f"F-{n:03d}", model=model, template=template, cash="2000",
                holdings=[("VTI", 300 + 20 * n, 18000, date(2019, 3, 4)), ("XLE", 120, 6000, date(2020, 5, 1)),
                          ("BND", 150, 13500, date(2026, 6, 1)), ("VNQ", 40, 4200, date(2026, 2, 10))],
            )
            advisor_assign(household=account.household, advisor=advisor, by=None)
            accounts.append(account)
    policy = ApprovalPolicy.current()
    policy.auto_approve = False
    policy.save()
    run = RebalanceRun.objects.create(scope=RunScope(firm=True).to_dict(), as_of=as_of, total=len(accounts),
                                      started_by_label="test")
    run_process_chunk(run_id=run.pk, account_ids=[a.pk for a in accounts])
    return {"securities": securities, "model": model, "template": template, "accounts": accounts, "run": run,
            "mine": accounts[:accounts_per_advisor], "theirs": accounts[accounts_per_advisor:]}

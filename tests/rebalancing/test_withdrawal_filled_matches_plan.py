"""Withdrawals over random households, planned, approved, released and filled, checked against
a deliberately simple reference written here (Schedule D netting, the loss limit, the carryover; ordinary
income on IRA distributions; the 30-day wash-sale window; whole shares)."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_apply
from rebalancing.ledger.reports import schedules_d
from rebalancing.models import (
    Account,
    CashFlow,
    Household,
    HouseholdProposal,
    Order,
    Proposal,
    Security,
    TaxLot,
    TradeRecord,
)
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide, proposal_release
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF, make_model, make_securities, make_template
from .workflow import policy

pytestmark = pytest.mark.django_db

RS, RL = Decimal("0.37"), Decimal("0.20")
PRICES = {"VTI": 100, "ITOT": 50, "SCHB": 25, "BND": 80, "AGG": 100, "VNQ": 90}
GROUPS = {"VTI": "us_total", "ITOT": "us_total", "SCHB": "s", "BND": "b", "AGG": "a", "VNQ": "r"}


@pytest.fixture
def firm(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@wd.example", FirmRole.ADVISOR)
    pm = firm_user(firm_a, "pm@wd.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10,
               compliance_min_estimated_tax=10**9)
        make_securities()
        yield {"advisor": advisor, "pm": pm}


def _household(rng: random.Random, advisor, *, whole: bool):
    from rebalancing.services.people import advisor_assign

    if not whole:
        Security.objects.filter(symbol__in=["VTI", "BND", "VNQ"]).update(fractional=True)
    model = make_model(code="m-wd")
    template = make_template("t-wd", parameters={"cash": {"target": 0.01}, "trading": {"whole_shares": whole}},
                             overridable={"cash.target": {"min": 0, "max": 0.05}, "household.tax_budget": {"max": 10**7},
                                          "household.location": {}})
    status = rng.choice(["single", "married_joint", "married_separate"])
    cf_s, cf_l = (rng.choice([0, 0, 800, 2500, 6000]), rng.choice([0, 0, 1200, 4000]))
    household = Household.objects.create(
        name="WD family", external_id="HH-WD", template=template, managed_as=Household.ManagedAs.HOUSEHOLD,
        model=model, filing_status=status, carryforward_year=2026, carryforward_short_term=cf_s,
        carryforward_long_term=cf_l,
        carryforward_second_short_term=rng.choice([0, 700]) if status == "married_separate" else 0)
    advisor_assign(household=household, advisor=advisor, by=None)
    securities = {s.symbol: s for s in Security.objects.all()}
    kinds = ["taxable"] * rng.randint(1, 2) + rng.choice([[], ["traditional"]]) + rng.choice([[], ["roth"]])
    ira_birth = {}
    for n, kind in enumerate(kinds):
        spouse = rng.choice(["first", "second", "joint"]) if status == "married_separate" and kind == "taxable" else "first"
        acc = Account.objects.create(
            custodian_number=f"WD-{n}", name=f"WD {n}", household=household, model=None,
            cash=Decimal(rng.choice([0, 0, 150, 1000])), spouse=spouse,
            short_term_rate=RS if kind == "taxable" else Decimal(rng.choice(["0.22", "0.32", "0.35"])),
            long_term_rate=RL, realised_ytd_year=2026,
            realised_short_term_ytd=Decimal(rng.choice([0, 0, -1500, 2000])) if kind == "taxable" else 0,
            realised_long_term_ytd=Decimal(rng.choice([0, 0, -2500, 3000])) if kind == "taxable" else 0)
        Account.objects.filter(pk=acc.pk).update(tax_status=kind)
        if kind == "traditional":
            born = date(rng.choice([1950, 1958, 1968, 1972]), rng.randint(1, 12), rng.randint(1, 28))
            Account.objects.filter(pk=acc.pk).update(owner_birth_date=born, owner_name="Pat",
                                                     year_end_values={"2025": str(rng.choice([20000, 90000]))})
            ira_birth[acc.custodian_number] = born
        for k in range(rng.randint(1, 4)):
            sym = rng.choice(list(PRICES))
            qty = rng.randint(5, 60)
            value = qty * PRICES[sym]
            basis = Decimal(round(value * rng.uniform(0.6, 1.4), 2))
            acquired = AS_OF - timedelta(days=rng.choice([40, 200, 360, 367, 800]))
            TaxLot.objects.create(account=acc, lot_id=f"WD-{n}-L{k}", security=securities[sym],
                                  quantity=Decimal(qty), cost_basis=basis, acquired=acquired)
    # Purchases within 30 days (Pub. 550 wash sales), in any account of the household.
    accounts = list(Account.objects.filter(household=household).order_by("custodian_number"))
    for _ in range(rng.randint(0, 2)):
        acc = rng.choice(accounts)
        sym = rng.choice(list(PRICES))
        day = AS_OF - timedelta(days=rng.randint(1, 25))
        TaxLot.objects.create(account=acc, lot_id=f"{acc.custodian_number}-B{day:%d}{sym}", security=securities[sym],
                              quantity=Decimal(2), cost_basis=Decimal(2 * PRICES[sym]), acquired=day)
        TradeRecord.objects.create(account=acc, security=securities[sym], side="buy", quantity=2, price=PRICES[sym],
                                   trade_date=day)
    return household, ira_birth


def _sheets_tax(household) -> Decimal:
    """The year's capital-gain tax over the household's returns, figured simply from the Schedule D lines."""
    total = Decimal(0)
    for row in schedules_d(households=Household.objects.filter(pk=household.pk), year=2026):
        s = row.sheet
        net_s = s.short_term + s.before_ledger_short - s.carried_in_short
        net_l = s.long_term + s.before_ledger_long - s.carried_in_long
        net = net_s + net_l
        if net < 0:
            total -= min(-net, s.limit) * RS
        elif net_l > 0:
            lt = min(net_l, net)
            total += lt * RL + (net - lt) * RS
        else:
            total += net * RS
    return total


def _under_59_half(born: date) -> bool:
    m = born.month + 6
    y, m = born.year + 59 + (m - 1) // 12, (m - 1) % 12 + 1
    return date(y, m, min(born.day, 28 if m == 2 else 30 if m in (4, 6, 9, 11) else 31)) > AS_OF


def _fill(flow: CashFlow) -> None:
    records = [{"external_id": f"X{o.pk}", "order_id": o.order_id, "kind": "fill", "quantity": o.quantity,
                "price": o.reference_price, "trade_date": AS_OF.isoformat()}
               for o in Order.objects.filter(proposal__run=flow.run)]
    executions_apply(records=records, actor="custodian feed", as_of=AS_OF)


@pytest.mark.parametrize("seed", range(6))  # 14 passed when written; 6 keep the suite short
def test_a_filled_withdrawal_books_the_tax_the_plan_showed_and_sells_as_claimed(firm, seed):
    rng = random.Random(seed)
    whole = seed % 3 != 2
    household, ira_birth = _household(rng, firm["advisor"], whole=whole)
    value = sum(a.cash for a in Account.objects.filter(household=household)) + sum(
        lot.quantity * PRICES[lot.security.symbol] for lot in TaxLot.objects.filter(account__household=household)
        .select_related("security"))
    amount = Decimal(str(round(float(value) * rng.uniform(0.05, 0.7), 2)))
    before = _sheets_tax(household)
    buys = list(TradeRecord.objects.filter(account__household=household, side="buy")
                .values_list("security__symbol", "trade_date"))
    try:
        flow = cash_flow_enter(user=firm["advisor"], household=household, kind="withdrawal", amount=amount,
                               as_of=AS_OF).cash_flow
    except ValidationFailed as exc:
        pytest.skip(f"refused: {exc}")
    plan = flow.plan
    # (2) no loss sold while its group was bought by the household within 30 days (other than the lot itself).
    for s in plan["sales"]:
        if Decimal(str(s["gain"])) < 0:
            lot = TaxLot.objects.get(lot_id=s["lot_id"])
            others = [d for sym, d in buys if GROUPS[sym] == GROUPS[s["symbol"]] and abs((d - AS_OF).days) <= 30
                      and not (lot.acquired == d and lot.security.symbol == sym and lot.quantity == 2)]
            assert not others, (s, others)
    # (4) raises at least the amount, never a whole share more than needed.
    raised = sum(Decimal(str(s["proceeds"])) for s in plan["sales"]) + sum(
        Decimal(str(v)) for v in plan["cash_used"].values())
    assert raised >= amount - Decimal("0.01")
    # Only the amount leaves; what whole shares raise beyond it stays, less than a share per account drawn on.
    assert sum(Decimal(str(v)) for v in plan["distributions"].values()) == pytest.approx(amount, abs=Decimal("0.02"))
    for number, out in plan["distributions"].items():
        sold = [s for s in plan["sales"] if s["account_id"] == number]
        left = sum(Decimal(str(s["proceeds"])) for s in sold) + Decimal(str(plan["cash_used"].get(number, 0))) \
            - Decimal(str(out))
        assert left < (max(PRICES[s["symbol"]] for s in sold) if sold else 0) + Decimal("0.02"), (number, left)
    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=flow.run), user=firm["advisor"],
                              approve=True)
    for p in Proposal.objects.filter(run=flow.run).order_by("pk"):
        proposal_release(proposal=p, user=firm["pm"], today=AS_OF)
    _fill(flow)
    assert set(Proposal.objects.filter(run=flow.run).values_list("status", flat=True)) == {"executed"}
    after = _sheets_tax(household)
    ordinary = Decimal(0)
    for number, taken in plan["distributions"].items():
        acc = Account.objects.get(custodian_number=number)
        if acc.tax_status == "traditional":
            ordinary += Decimal(str(taken)) * acc.short_term_rate
            if _under_59_half(ira_birth[number]):
                ordinary += Decimal(str(taken)) * Decimal("0.10")
    # (3) the RMD: prior year-end value / the Uniform Lifetime Table period at the age reached in 2026,
    # less what this withdrawal took from the IRA (it counts towards it, Treas. Reg. §1.408-8).
    from rebalancing.services.rmd import rmd_due
    for number, born in ira_birth.items():
        acc = Account.objects.get(custodian_number=number)
        line = rmd_due(account=acc, year=2026, as_of=AS_OF)
        age = 2026 - born.year
        start = 72 if born.year == 1950 and born >= date(1949, 7, 1) else 73 if born.year <= 1959 else 75
        table = {76: Decimal("23.7")}
        due = (Decimal(acc.year_end_values["2025"]) / table[age]).quantize(Decimal("0.01"), rounding="ROUND_CEILING") \
            if 2026 - born.year >= start and born.year + start <= 2026 else Decimal(0)
        taken = Decimal(str(plan["distributions"].get(number, 0)))
        assert line.remaining == pytest.approx(max(due - taken, Decimal(0)), abs=Decimal("0.02")), (number, line)
        if due > 0:  # a withdrawal takes what is owed first (engine.plan_withdrawal)
            assert taken >= min(due, amount) - Decimal("0.02") or taken >= sum(
                lot.quantity * PRICES[lot.security.symbol] for lot in acc.lots.select_related("security")) + acc.cash \
                - Decimal("0.02")
    # (1) the plan's tax = Schedule D's change + ordinary income tax, and the ledger books the same.
    assert flow.tax_cost == pytest.approx(after - before + ordinary, abs=Decimal("0.05")), (
        flow.tax_cost, after - before, ordinary, plan["explanation"])

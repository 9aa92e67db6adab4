"""An IRA whose owner's spouse, sole beneficiary, is more than 10 years younger: the Joint and Last
Survivor Table governs its RMD (Treas. Reg. §1.401(a)(9)-5, Q&A-4(b)), which the product does not
carry. The product refuses to compute it - never the Uniform table's larger figure - and takes the
RMD the custodian computed, entered per year: planned, counted, alerted; a figure that cannot be
one is refused naming the field, and nothing is written."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing import engine
from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.models import Account, CashFlow, Proposal
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.rmd import account_rmd_facts_set, rmd_alerts_due, rmd_due, rmds_owed
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF
from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db
YEAR = AS_OF.year  # 2026: the owner is 76, the spouse 56
BORN, SPOUSE = date(1950, 6, 1), date(1970, 3, 1)


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@jls.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        yield {**made, "advisor": advisor}


def _facts(lees, amounts=None, *, spouse=SPOUSE, value="100000", today=AS_OF):
    return account_rmd_facts_set(user=lees["advisor"], account=lees["ira"], owner_birth_date=BORN,
                                 spouse_birth_date=spouse, year_end_value=Decimal(value), year_end_year=YEAR - 1,
                                 today=today, rmd_amounts=amounts)


def _rmd(lees, amount=None):
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=amount,
                           account=lees["ira"], as_of=AS_OF).cash_flow


def test_the_engine_takes_the_custodians_rmd_only_where_the_joint_table_applies():
    # given: the Uniform table would give 100,000 / 23.7 = 4,219.41, more than the Joint and Last Survivor
    # Table's RMD (a longer period): using it would overstate the minimum
    with pytest.raises(engine.InvalidRequest, match="enter the RMD the custodian computed for 2026"):
        engine.required_minimum_distribution(birth_date=BORN, year=YEAR, year_end_value=Decimal("100000"),
                                             spouse_birth_date=SPOUSE)
    entered = engine.required_minimum_distribution(birth_date=BORN, year=YEAR, year_end_value=Decimal("100000"),
                                                   spouse_birth_date=SPOUSE, entered_amount=Decimal("3012.05"))
    assert (entered.amount, entered.entered, entered.due, entered.distribution_period, entered.deadline) == (
        Decimal("3012.05"), True, True, None, date(YEAR, 12, 31))
    assert "entered from the custodian" in entered.explanation
    # where the Uniform table applies, an entered figure is not read
    uniform = engine.required_minimum_distribution(birth_date=BORN, year=YEAR, year_end_value=Decimal("100000"),
                                                   entered_amount=Decimal("3012.05"))
    assert (uniform.amount, uniform.entered) == (Decimal("4219.41"), False)
    for bad in ("0", "-5", "100000.01", "3012.055", "NaN"):
        with pytest.raises(engine.InvalidRequest) as refused:
            engine.required_minimum_distribution(birth_date=BORN, year=YEAR, year_end_value=Decimal("100000"),
                                                 spouse_birth_date=SPOUSE, entered_amount=Decimal(bad))
        assert refused.value.detail == {"field": "rmd_amount", "year": YEAR}


def test_without_the_custodians_figure_nothing_is_computed_and_the_page_asks_for_it(lees):
    ira = _facts(lees)
    due = rmd_due(account=ira, year=YEAR, as_of=AS_OF)
    assert due.required is None and due.amount_wanted
    assert "Joint and Last Survivor Table applies" in due.problem and "custodian computed for 2026" in due.problem
    with pytest.raises(ValidationFailed, match="RMD facts, on the household page or the API's rmd-facts") as refused:
        _rmd(lees)
    assert refused.value.detail == {"field": "amount"}
    assert rmd_alerts_due([ira.pk], as_of=AS_OF) == []
    assert not CashFlow.objects.exists()


def test_the_entered_rmd_is_planned_counted_and_alerted(lees):
    # given: the custodian's 2026 RMD entered
    ira = _facts(lees, {YEAR: Decimal("3012.05")})
    assert ira.rmd_amounts == {str(YEAR): "3012.05"}
    due = rmd_due(account=ira, year=YEAR, as_of=AS_OF)
    assert (due.required.amount, due.required.entered, due.remaining, due.amount_wanted) == (
        Decimal("3012.05"), True, Decimal("3012.05"), False)
    # then: the nightly check alerts it (before: no alert, the RMD could not be computed)
    [alert] = rmd_alerts_due([ira.pk], as_of=AS_OF)
    assert (alert.account.pk, alert.remaining) == (ira.pk, Decimal("3012.05"))
    [row] = rmds_owed(Account.objects.all(), as_of=AS_OF)
    assert (row.required, row.remaining, row.problem) == (Decimal("3012.05"), Decimal("3012.05"), "")
    # when: an RMD entered without an amount is planned: it takes the custodian's figure from the IRA
    flow = _rmd(lees)
    assert flow.amount == Decimal("3012.05") and flow.plan["distributions"] == {"LEE-IRA": 3012.05}
    # then: the year's RMD is satisfied, and nothing is alerted
    after = rmd_due(account=ira, year=YEAR, as_of=AS_OF)
    assert (after.distributed, after.remaining) == (Decimal("3012.05"), 0)
    assert rmd_alerts_due([ira.pk], as_of=AS_OF) == []
    with pytest.raises(ValidationFailed, match=r"2026 RMD of \$3,012.05 is already taken or planned"):
        _rmd(lees)


def test_a_cash_flow_file_row_without_an_amount_takes_the_entered_rmd(lees):
    _facts(lees, {YEAR: Decimal("3012.05")})
    text = f"household_id,kind,amount,account_number,as_of\nHH-LEE,rmd,,LEE-IRA,{AS_OF}\n"
    summary = cash_flows_import(source=SimpleUploadedFile("f.csv", text.encode()), user=lees["advisor"])
    assert summary.created == 1
    assert CashFlow.objects.get().amount == Decimal("3012.05")


@pytest.mark.parametrize("amounts, field, said", [
    ({YEAR: Decimal("0")}, "rmd_amount", "must be more than 0"),
    ({YEAR: Decimal("-10")}, "rmd_amount", "must be more than 0"),
    ({YEAR: Decimal("3012.055")}, "rmd_amount", "dollars and cents"),
    ({YEAR: Decimal("100000.01")}, "rmd_amount", r"more than the IRA's value on 31 December 2025 \(\$100,000.00\)"),
    ({YEAR + 1: Decimal("3000")}, "rmd_amount", "for a year from 2021 to 2026, not 2027"),
    ({2020: Decimal("3000")}, "rmd_amount", "not 2020"),
])
def test_a_figure_that_cannot_be_the_rmd_is_refused_and_nothing_is_written(lees, amounts, field, said):
    ira = _facts(lees)
    audits = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed, match=said) as refused:
        _facts(lees, amounts)
    assert refused.value.detail["field"] == field
    ira.refresh_from_db()
    assert (ira.rmd_amounts, ira.spouse_birth_date, AuditEvent.objects.count()) == ({}, SPOUSE, audits)


def test_a_custodians_figure_is_refused_where_the_product_computes_the_rmd(lees):
    # no spouse sole beneficiary: the Uniform table applies, and the product says its own figure
    with pytest.raises(ValidationFailed, match=r"the product computes it: \$4,219.41") as refused:
        _facts(lees, {YEAR: Decimal("3012.05")}, spouse=None)
    assert refused.value.detail == {"field": "rmd_amount", "year": YEAR}
    lees["ira"].refresh_from_db()
    assert (lees["ira"].rmd_amounts, lees["ira"].owner_birth_date) == ({}, None)


def test_a_value_lowered_below_the_entered_rmd_is_refused_and_an_empty_figure_removes_it(lees):
    _facts(lees, {YEAR: Decimal("3012.05")})
    with pytest.raises(ValidationFailed, match="is more than the IRA's value on 31 December 2025"):
        _facts(lees, value="3000")
    ira = Account.objects.get(pk=lees["ira"].pk)
    assert (ira.year_end_value(YEAR - 1), ira.rmd_amounts) == (Decimal("100000.00"), {str(YEAR): "3012.05"})
    # sent again as stored it is kept; None removes it, and the RMD is again not computed
    assert _facts(lees, {YEAR: Decimal("3012.05")}).rmd_amounts == {str(YEAR): "3012.05"}
    removed = _facts(lees, {YEAR: None})
    assert removed.rmd_amounts == {} and rmd_due(account=removed, year=YEAR).required is None
    assert AuditEvent.objects.filter(action="account.rmd_facts", object_id=str(ira.pk)).count() == 3
    assert not Proposal.objects.exists()

"""An IRA's RMD in the product: computed from the facts kept on the account, an RMD entered without an
amount takes what is left of it, every live distribution from the IRA in the year counts towards
it, and a fact that cannot be right is refused naming the field, writing nothing."""

from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, CashFlow, HouseholdProposal, Proposal
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide
from rebalancing.services.rmd import account_rmd_facts_set, rmd_due
from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF
from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db
YEAR = AS_OF.year


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@rmd.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        yield {**made, "advisor": advisor}


def _facts(lees, born=date(1950, 6, 1), value="100000", year=YEAR - 1, spouse=None, account=None, owner=None,
           today=AS_OF):
    return account_rmd_facts_set(user=lees["advisor"], account=account or lees["ira"], owner_birth_date=born,
                                 spouse_birth_date=spouse, year_end_value=None if value is None else Decimal(value),
                                 year_end_year=year, today=today, owner_name=owner)


def _rmd(lees, amount=None):
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=amount,
                           account=lees["ira"], as_of=AS_OF).cash_flow


def test_an_rmd_without_an_amount_takes_the_years_rmd_and_then_nothing_is_left(lees):
    ira = _facts(lees)  # 76 in 2026: 100,000 / 23.7 = 4,219.409... rounded up
    due = rmd_due(account=ira, year=YEAR)
    assert (due.required.amount, due.distributed, due.remaining) == (Decimal("4219.41"), 0, Decimal("4219.41"))

    flow = _rmd(lees)
    assert flow.amount == Decimal("4219.41") and flow.plan["distributions"] == {"LEE-IRA": 4219.41}
    after = rmd_due(account=ira, year=YEAR)
    assert (after.distributed, after.remaining) == (Decimal("4219.41"), 0)
    with pytest.raises(ValidationFailed, match=r"2026 RMD of \$4,219.41 is already taken or planned"):
        _rmd(lees)
    assert CashFlow.objects.count() == 1
    assert AuditEvent.objects.filter(action="account.rmd_facts", object_id=str(ira.pk)).count() == 1


def test_a_part_planned_leaves_the_rest_and_a_rejected_proposal_gives_it_back(lees):
    ira = _facts(lees)
    flow = _rmd(lees, Decimal("1000"))
    assert rmd_due(account=ira, year=YEAR).remaining == Decimal("3219.41")
    rest = _rmd(lees)  # planned beside the first, on the book as the first will leave it
    assert rest.amount == Decimal("3219.41") and rmd_due(account=ira, year=YEAR).remaining == 0
    first_cash, rest_cash = flow.plan["cash_used"]["LEE-IRA"], rest.plan["cash_used"]["LEE-IRA"]
    assert (first_cash, rest_cash) == (1000.0, 3219.41)  # 30,000 of cash: each takes its own part of it
    assert set(Proposal.objects.filter(run=flow.run).values_list("status", flat=True)) == {Proposal.Status.PENDING}

    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=flow.run), user=lees["advisor"],
                              approve=False, comment="client took it in cash")
    assert Proposal.objects.filter(run=flow.run, status=Proposal.Status.REJECTED).exists()
    assert rmd_due(account=ira, year=YEAR).remaining == Decimal("1000.00")  # that money never left
    assert _rmd(lees).amount == Decimal("1000.00")


def test_a_withdrawal_from_the_ira_counts_towards_its_rmd(lees):
    ira = _facts(lees)
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("2500"), account=lees["ira"], as_of=AS_OF).cash_flow
    assert flow.plan["distributions"] == {"LEE-IRA": 2500.0}
    due = rmd_due(account=ira, year=YEAR)
    assert (due.distributed, due.remaining) == (Decimal("2500.00"), Decimal("1719.41"))


def test_a_withdrawal_from_the_household_takes_the_rmd_still_owed_first(lees):
    # Every distribution from the IRA counts towards its RMD, which must come out this year anyway:
    # a withdrawal funded from the joint account would leave the 4,219.41 still to take.
    def withdraw(amount):
        return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                               amount=Decimal(amount), as_of=AS_OF).cash_flow

    before_facts = withdraw("1000")  # no RMD known yet: the joint account's cash, as always
    assert before_facts.plan["distributions"] == {"LEE-JT": 1000.0}
    HouseholdProposal.objects.filter(run=before_facts.run).delete()
    Proposal.objects.filter(run=before_facts.run).update(status=Proposal.Status.REJECTED)
    ira = _facts(lees)
    flow = withdraw("5000")
    assert flow.plan["distributions"] == {"LEE-IRA": 4219.41, "LEE-JT": 780.59}
    assert flow.plan["explanation"][0].startswith(
        "first $4,219.41 from LEE-IRA: $4,219.41 of its required minimum distribution is still to be taken")
    assert flow.plan["rmd_taken"] == {"LEE-IRA": 4219.41}
    assert rmd_due(account=ira, year=YEAR).remaining == 0
    later = withdraw("300")
    assert later.plan["distributions"] == {"LEE-JT": 300.0} and later.plan["rmd_taken"] == {}  # nothing owed now


def test_a_distribution_of_another_year_does_not_count(lees):
    ira = _facts(lees)
    flow = _rmd(lees, Decimal("900"))
    CashFlow.objects.filter(pk=flow.pk).update(as_of=date(YEAR - 1, 12, 1))  # as if entered last December
    assert rmd_due(account=ira, year=YEAR - 1).distributed == Decimal("900.00")
    assert rmd_due(account=ira, year=YEAR).distributed == 0


@pytest.mark.parametrize("facts, problem", [
    ({"born": None}, "Enter the date of birth of LEE-IRA's owner"),
    ({"value": None, "year": None}, "Enter LEE-IRA's value on 31 December 2025"),
    ({"year": YEAR - 2}, "Enter LEE-IRA's value on 31 December 2025"),  # 2024's alone does not do
    # one sentence: no "None due" again mid-sentence, no double period (until 2026-12-06: "...RMD is not
    # due: None due for 2026: RMDs start at 75 ... by 1 April 2036.. Enter an amount")
    ({"born": date(1960, 1, 1)}, r"LEE-IRA's 2026 RMD is not due: RMDs start at 75 [^.]*, by 1 April 2036\. Enter an "
                                 r"amount to take more\.$"),
    ({"spouse": date(1962, 1, 1)}, "Joint and Last Survivor Table"),
])
def test_an_rmd_that_cannot_be_computed_is_refused_naming_what_is_missing(lees, facts, problem):
    _facts(lees, **facts)
    with pytest.raises(ValidationFailed, match=problem):
        _rmd(lees)
    assert not CashFlow.objects.exists() and not Proposal.objects.exists()


def test_an_rmd_of_a_stated_amount_from_an_ira_that_owes_none_is_refused_as_a_withdrawal(lees):
    # given: an owner born in 1960, whose RMDs start at 75 (SECURE 2.0 §107)
    _facts(lees, born=date(1960, 1, 1))
    # when / then: refused, naming why (before: entered as an RMD, so the page showed the 2026 RMD
    # "taken" for an owner who owes none), and nothing is written
    with pytest.raises(ValidationFailed, match="LEE-IRA owes no RMD for 2026: RMDs start at 75"
                                               r"[^.]*, by 1 April 2036\. Enter the money as a withdrawal") as refused:
        _rmd(lees, Decimal("5000"))
    assert refused.value.detail == {"field": "kind"}
    assert not CashFlow.objects.exists() and not Proposal.objects.exists()
    # the same money as a withdrawal is taken; and with the facts missing, a stated RMD is taken as
    # stated (the RMD cannot be computed to say it is not owed)
    assert cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("5000"), account=lees["ira"], as_of=AS_OF).created
    _facts(lees, born=None)
    assert _rmd(lees, Decimal("700")).amount == Decimal("700.00")


@pytest.mark.parametrize("taken_outside", [False, True])
def test_an_rmd_before_the_first_rmd_year_is_refused_though_no_year_end_value_is_entered(lees, taken_outside):
    # Born 1953: RMDs start at 73, the first for 2026. A distribution of 2025 is no RMD, whatever the IRA
    # was worth on 31 December 2024 (not entered): before, with that value missing, it was recorded as
    # an RMD "counting towards the IRA's RMD for its year".
    _facts(lees, born=date(1953, 6, 1), value="100000", year=2025)
    day = date(2025, 6, 2)
    with pytest.raises(ValidationFailed, match=r"LEE-IRA owes no RMD for 2025: RMDs start at 73 for an owner born on "
                                               r"01 June 1953; the first is for 2026, by 1 April 2027\. Enter the "
                                               "money as a withdrawal") as refused:
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=Decimal("1000"),
                        account=lees["ira"], as_of=day, taken_outside=taken_outside)
    assert refused.value.detail == {"field": "kind"}
    assert not CashFlow.objects.exists()
    assert _taken(lees, Decimal("1000"), day=day, kind="withdrawal").amount == 1000  # as a withdrawal it is taken


@pytest.mark.parametrize("facts, field", [
    ({"born": date(2027, 1, 1)}, "owner_birth_date"),
    ({"spouse": date(1850, 1, 1)}, "spouse_birth_date"),
    ({"value": "-1"}, "year_end_value"),
    ({"value": "10.001"}, "year_end_value"),
    ({"value": "1e20"}, "year_end_value"),
    ({"value": "1e30"}, "year_end_value"),  # beyond what Decimal can put in cents: refused, not a traceback
    ({"year": YEAR}, "year_end_year"),  # this year has not ended
    ({"year": None}, "year_end_year"),
    ({"owner": "x" * 201}, "owner_name"),
])
def test_facts_that_cannot_be_right_are_refused_naming_the_field_and_write_nothing(lees, facts, field):
    with pytest.raises(ValidationFailed) as refused:
        _facts(lees, **facts)
    assert refused.value.detail == {"field": field}
    ira = Account.objects.get(pk=lees["ira"].pk)
    assert (ira.owner_name, ira.owner_birth_date, ira.year_end_values) == ("", None, {})
    assert not AuditEvent.objects.filter(action="account.rmd_facts").exists()


def test_only_a_traditional_ira_keeps_rmd_facts(lees):
    with pytest.raises(ValidationFailed, match="Roth IRA: RMD facts are kept for traditional IRAs"):
        _facts(lees, account=lees["roth"])
    assert "only a traditional IRA has an RMD" in rmd_due(account=lees["roth"], year=YEAR).problem


def test_a_withdrawal_from_the_ira_of_an_owner_under_59_and_a_half_bears_the_10_percent_early_tax(lees):
    _facts(lees, born=date(1975, 5, 5), value=None, year=None)  # 51 on the day
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal",
                           amount=Decimal("2500"), account=lees["ira"], as_of=AS_OF).cash_flow
    rate = Account.objects.get(pk=lees["ira"].pk).short_term_rate
    assert flow.plan["early_tax"] == {"LEE-IRA": 250.0}
    assert flow.tax_cost == (Decimal("2500") * (rate + Decimal("0.10"))).quantize(Decimal("0.01"))
    assert any("IRC §72(t)" in line and "5 November 2034" in line for line in flow.plan["explanation"])
    sale = Proposal.objects.get(run=flow.run, account=lees["ira"])
    assert sale.estimated_tax == flow.tax_cost  # the account's proposal carries it too


def test_a_run_alerts_an_rmd_not_yet_planned_within_a_quarter_of_its_deadline_until_it_is_planned(lees):
    from rebalancing.models import Alert
    from rebalancing.selectors import RunScope
    from rebalancing.services.rmd import rmd_alerts_due
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    def run_household():
        run = run_start(scope=RunScope(household_id=lees["household"].pk), as_of=AS_OF, label="nightly")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        return Alert.objects.filter(run=run, kind=Alert.Kind.RMD)

    assert not run_household().exists()  # no facts, no alert
    ira = _facts(lees)
    [alert] = run_household()
    assert (alert.account_id, alert.amount) == (ira.pk, Decimal("4219.41"))
    assert "$4,219.41 not yet taken or planned, due by 31 December 2026" in alert.message
    assert rmd_alerts_due([ira.pk], as_of=date(YEAR, 9, 29)) == []  # 93 days before its deadline
    assert [d.account.pk for d in rmd_alerts_due([ira.pk], as_of=date(YEAR, 9, 30))] == [ira.pk]

    _rmd(lees, Decimal("4000"))
    [alert] = run_household()  # 219.41 still to plan
    assert alert.amount == Decimal("219.41")
    HouseholdProposal.objects.filter(run__kind="cash_flow").get().proposals.update(status=Proposal.Status.EXECUTED)
    _rmd(lees)
    assert not run_household().exists()


def test_a_run_alerts_a_missed_rmd_and_the_years_in_one_alert_of_the_ira(lees):
    from rebalancing.models import Alert
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    # Given last year's RMD missed (80,000 / 24.6 = 3,252.04) and this year's within a quarter of its deadline
    _facts(lees, value="80000", year=YEAR - 2)
    ira = _facts(lees)
    run = run_start(scope=RunScope(household_id=lees["household"].pk), as_of=AS_OF, label="nightly")
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    # Then the run completes with one alert on the IRA naming both (a run keeps one alert of a kind per account)
    run.refresh_from_db()
    assert (run.status, run.failed) == ("completed", 0)
    [alert] = Alert.objects.filter(run=run, kind=Alert.Kind.RMD)
    assert (alert.account_id, alert.amount) == (ira.pk, Decimal("3252.04") + Decimal("4219.41"))
    assert alert.message.startswith(f"{YEAR - 1} RMD missed: $3,252.04 was not taken by 31 December {YEAR - 1}")
    assert "Excise tax so far $813.01" in alert.message and f"{YEAR} RMD of $4,219.41" in alert.message


def test_a_released_withdrawal_holds_the_next_one_back_until_its_orders_have_executed(lees):
    first = _rmd(lees, Decimal("500"))
    sales = Proposal.objects.filter(run=first.run)
    sales.update(status=Proposal.Status.RELEASED)  # its orders are out: its lots are still in the book
    with pytest.raises(Conflict, match="has orders out at the custodian: enter this one once they are filled"):
        _rmd(lees, Decimal("100"))
    sales.update(status=Proposal.Status.EXECUTED)  # every order filled or cancelled
    assert _rmd(lees, Decimal("100")).amount == Decimal("100")


def test_what_the_cash_flows_took_is_read_for_many_iras_at_once(lees, django_assert_num_queries):
    from rebalancing.services.rmd import rmd_alerts_due

    ira = _facts(lees)
    _rmd(lees, Decimal("1000"))
    accounts = [ira.pk, lees["roth"].pk, lees["joint"].pk]
    with django_assert_num_queries(4):  # the IRAs with facts, their households' IRAs, live cash-flow sales, flows
        [due] = rmd_alerts_due(accounts, as_of=AS_OF)
    assert (due.distributed, due.remaining) == (Decimal("1000.00"), Decimal("3219.41"))
    with django_assert_num_queries(1):  # none with the facts an RMD needs: one query
        assert rmd_alerts_due([lees["roth"].pk, lees["joint"].pk], as_of=AS_OF) == []


def test_reading_rmds_on_a_far_day_costs_no_more_queries_than_on_a_near_one(lees):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from rebalancing.services.rmd import rmd_open

    # Given values entered for two years
    _facts(lees, value="90000", year=YEAR - 2)
    ira = _facts(lees, value="100000", year=YEAR - 1)
    # When the open RMDs are read next year and in 9998 (the last day the API reads them on)
    read = {}
    for day in (date(YEAR + 1, 6, 1), date(9998, 12, 31)):
        with CaptureQueriesContext(connection) as queries:
            lines = rmd_open([ira], as_of=day)
        read[day.year] = (len(queries.captured_queries), [(d.year, d.missed) for d in lines if d.required])
    # Then both check only the years whose value is entered: the same queries, the same missed years
    # (before, one pass per calendar year: thousands of queries, 19 s for one household's GET)
    assert read[YEAR + 1] == (read[9998][0], [(YEAR - 1, True), (YEAR, True)])
    assert read[9998][1] == [(YEAR - 1, True), (YEAR, True)]


# -- one owner's IRAs share one total (Treas. Reg. §1.408-8, Q&A-9) -------------------------------------

def _second_ira(lees, number="LEE-IRA2", cash="20000"):
    from .book import make_account

    ira = make_account(number, model=None, household=lees["household"], cash=cash, holdings=[])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    ira.refresh_from_db()
    return ira


def _executed(flow):
    Proposal.objects.filter(run=flow.run).update(status=Proposal.Status.EXECUTED)


def test_one_owners_iras_share_one_total_that_any_of_them_may_pay(lees):
    first = _facts(lees, owner="Kim Lee")  # 100,000 / 23.7 -> 4,219.41
    second = _facts(lees, account=_second_ira(lees), owner=" kim  LEE ", value="50000")  # 2,109.71 (rounded up)
    due = rmd_due(account=second, year=YEAR)
    assert due.owner_accounts == ("LEE-IRA", "LEE-IRA2")
    assert (due.required.amount, due.owner_required, due.remaining) == (
        Decimal("2109.71"), Decimal("6329.12"), Decimal("6329.12"))

    flow = _rmd(lees)  # from LEE-IRA, no amount: what the owner has left, all of it
    assert flow.amount == Decimal("6329.12") and flow.plan["distributions"] == {"LEE-IRA": 6329.12}
    _executed(flow)
    for ira in (first, second):
        after = rmd_due(account=ira, year=YEAR)
        assert (after.owner_distributed, after.remaining) == (Decimal("6329.12"), 0)
    assert rmd_due(account=second, year=YEAR).distributed == 0  # none of it came from LEE-IRA2 itself
    with pytest.raises(ValidationFailed, match=r"from LEE-IRA, LEE-IRA2, one owner's IRAs \(\$6,329.12 of "):
        _rmd(lees)


@pytest.mark.parametrize("second_owner, second_born", [
    ("", date(1950, 6, 1)),  # no name: nothing says they are one owner's
    ("Pat Lee", date(1950, 6, 1)),  # the spouse's IRA: never totalled with the owner's
    ("Kim Lee", date(1950, 6, 2)),  # one name, two dates of birth: not known to be one person
])
def test_iras_not_known_to_be_one_owners_each_pay_their_own(lees, second_owner, second_born):
    _facts(lees, owner="Kim Lee")
    second = _facts(lees, account=_second_ira(lees), owner=second_owner, born=second_born, value="50000")
    _executed(_rmd(lees))  # LEE-IRA's own 4,219.41
    due = rmd_due(account=second, year=YEAR)
    assert (due.owner_accounts, due.owner_required, due.remaining) == ((), None, Decimal("2109.71"))


def test_an_owners_iras_stand_alone_while_one_of_them_cannot_be_computed(lees):
    first = _facts(lees, owner="Kim Lee")
    _facts(lees, account=_second_ira(lees), owner="Kim Lee", value=None, year=None)  # no 31 December value
    due = rmd_due(account=first, year=YEAR)
    assert (due.owner_required, due.remaining) == (None, Decimal("4219.41"))  # never less than its own
    assert "LEE-IRA, LEE-IRA2 share one owner" in due.owner_note and "Enter LEE-IRA2's value" in due.owner_note
    second = _facts(lees, account=Account.objects.get(custodian_number="LEE-IRA2"), owner="Kim Lee",
                    born=date(1950, 6, 1), spouse=date(1980, 1, 1), value="50000")  # a table the product lacks
    from rebalancing.services.rmd import rmd_alerts_due
    [alert] = rmd_alerts_due([first.pk, second.pk], as_of=AS_OF)  # LEE-IRA's own; LEE-IRA2's is not computable
    assert (alert.account.pk, alert.remaining) == (first.pk, Decimal("4219.41"))
    _facts(lees, account=second, owner="Kim Lee", born=date(1950, 6, 1), value="50000", year=YEAR - 1)
    assert rmd_due(account=second, year=YEAR).owner_required == Decimal("6329.12")


def test_a_run_alerts_once_for_an_owners_iras(lees):
    from rebalancing.services.rmd import rmd_alerts_due

    first = _facts(lees, owner="Kim Lee")
    second = _facts(lees, account=_second_ira(lees), owner="Kim Lee", value="50000")
    [due] = rmd_alerts_due([first.pk, second.pk], as_of=AS_OF)
    assert (due.account.pk, due.remaining) == (first.pk, Decimal("6329.12"))
    [due] = rmd_alerts_due([second.pk], as_of=AS_OF)  # a run of the second alone still counts the first
    assert (due.account.pk, due.owner_required) == (second.pk, Decimal("6329.12"))
    flow = cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=None,
                           account=second, as_of=AS_OF).cash_flow  # paid from LEE-IRA2 alone
    assert flow.plan["distributions"] == {"LEE-IRA2": 6329.12}
    assert rmd_alerts_due([first.pk, second.pk], as_of=AS_OF) == []


# -- a first RMD may wait until 1 April ----------------------------------------------------------------

def test_a_first_rmd_deferred_to_1_april_is_owed_beside_the_years_and_paid_first(lees):
    from rebalancing.services.rmd import rmd_alerts_due, rmd_open

    ira = _facts(lees, born=date(1952, 10, 1), value="100000", year=2024)  # 73 in 2025: the first year
    ira = _facts(lees, born=date(1952, 10, 1), value="102000", year=2025)  # 2024's is kept beside it
    assert ira.year_end_values == {"2024": "100000.00", "2025": "102000.00"}
    _executed(_rmd_on(lees, date(2025, 12, 10), Decimal("1000")))

    lines = rmd_open([ira], as_of=date(2026, 2, 2))
    assert [(d.year, d.is_first, d.required.amount, d.remaining, d.required.deadline) for d in lines] == [
        (2025, True, Decimal("3773.59"), Decimal("2773.59"), date(2026, 4, 1)),  # 100,000 / 26.5
        (2026, False, Decimal("4000.00"), Decimal("4000.00"), date(2026, 12, 31))]  # 102,000 / 25.5
    [alert] = rmd_alerts_due([ira.pk], as_of=date(2026, 2, 2))  # the first is due within the quarter
    assert (alert.year, alert.remaining) == (2025, Decimal("2773.59"))

    _executed(_rmd_on(lees, date(2026, 3, 15), Decimal("3000")))  # 2,773.59 for 2025, 226.41 for 2026
    assert [(d.year, d.remaining) for d in rmd_open([ira], as_of=date(2026, 3, 20))] == [(2026, Decimal("3773.59"))]
    assert rmd_due(account=ira, year=2025).distributed == Decimal("3773.59")
    assert rmd_due(account=ira, year=2026).distributed == Decimal("226.41")
    assert [d.year for d in rmd_open([ira], as_of=date(2026, 4, 2))] == [2026]


def test_an_rmd_without_an_amount_before_1_april_takes_both_that_are_open(lees):
    _facts(lees, born=date(1952, 10, 1), value="100000", year=2024)
    _facts(lees, born=date(1952, 10, 1), value="102000", year=2025)
    flow = _rmd_on(lees, date(2026, 1, 20), None)
    assert flow.amount == Decimal("7773.59")  # 3,773.59 for 2025 by 1 April and 4,000.00 for 2026


def test_a_first_rmd_whose_value_is_missing_is_named_not_guessed(lees):
    _facts(lees, born=date(1952, 10, 1), value="102000", year=2025)  # 2024's value never entered
    with pytest.raises(ValidationFailed, match="The 2025 RMD cannot be computed: Enter LEE-IRA's value on "
                                               "31 December 2024"):
        _rmd_on(lees, date(2026, 1, 20), None)
    assert not CashFlow.objects.exists()


def test_a_years_value_is_removed_by_its_year_alone_and_the_others_kept(lees):
    _facts(lees, value="100000", year=2024)
    ira = _facts(lees, value="102000", year=2025)
    ira = _facts(lees, value=None, year=2024)
    assert ira.year_end_values == {"2025": "102000.00"}


def _rmd_on(lees, day, amount):
    from rebalancing.models import Price

    for price in Price.objects.filter(date=AS_OF):  # the book valued on that day too
        Price.objects.get_or_create(security=price.security, date=day, defaults={"close": price.close})
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=amount,
                           account=lees["ira"], as_of=day).cash_flow


# -- distributions the client took at the custodian ------------------------------------------------------

def _taken(lees, amount, day=AS_OF, kind="rmd", account=None, **kw):
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind=kind, amount=amount,
                           account=account or lees["ira"], as_of=day, taken_outside=True, **kw).cash_flow


def test_a_distribution_taken_at_the_custodian_is_recorded_counts_towards_the_rmd_and_sells_nothing(lees):
    ira = _facts(lees)
    pending = _rmd(lees, Decimal("500"))  # planned sales waiting for a decision do not hold a record back
    recorded = _taken(lees, Decimal("1200"), day=date(YEAR, 3, 2), kind="withdrawal")
    assert (recorded.run_id, recorded.tax_cost, recorded.plan["distributions"]) == (None, 0, {"LEE-IRA": 1200.0})
    assert "at the custodian on 02 March 2026" in recorded.plan["explanation"][0]
    assert Proposal.objects.exclude(run=pending.run).count() == 0  # nothing sold for it
    due = rmd_due(account=ira, year=YEAR)
    assert (due.distributed, due.remaining) == (Decimal("1700.00"), Decimal("2519.41"))
    assert _taken(lees, Decimal("1"), day=date(YEAR - 1, 12, 30)).amount == 1  # last year's counts for last year
    assert rmd_due(account=ira, year=YEAR).distributed == Decimal("1700.00")
    audit = AuditEvent.objects.filter(action="cash_flow.create").order_by("pk").last()
    assert audit.after["taken_outside"] is True


def test_a_first_rmd_taken_at_the_custodian_in_january_counts_for_the_first_year(lees):
    from rebalancing.services.rmd import rmd_open

    ira = _facts(lees, born=date(1952, 10, 1), value="100000", year=2024)
    ira = _facts(lees, born=date(1952, 10, 1), value="102000", year=2025)
    _taken(lees, Decimal("5000"), day=date(2026, 1, 15))  # 3,773.59 for 2025, the rest for 2026
    assert rmd_due(account=ira, year=2025).remaining == 0
    assert [(d.year, d.remaining) for d in rmd_open([ira], as_of=date(2026, 1, 20))] == [(2026, Decimal("2773.59"))]


@pytest.mark.parametrize("change, field", [
    ({"kind": "deposit"}, "kind"),
    ({"amount": None}, "amount"),
    ({"account": "roth"}, "account"),
    ({"account": "joint"}, "account"),
])
def test_a_record_that_is_not_a_distribution_from_an_ira_is_refused_and_writes_nothing(lees, change, field):
    _facts(lees)
    args = {"amount": Decimal("100"), "kind": "rmd", "account": lees["ira"]} | change
    if isinstance(args["account"], str):
        args["account"] = lees[args["account"]]
    with pytest.raises(ValidationFailed) as refused:
        _taken(lees, **args)
    assert refused.value.detail == {"field": field}
    assert not CashFlow.objects.exists()


def test_the_books_rmds_leave_out_owners_below_the_start_age_and_put_the_earliest_deadline_first(lees):
    from rebalancing.services.rmd import rmds_owed

    _facts(lees, born=date(1975, 5, 5))  # 51: none due
    assert rmds_owed(Account.objects.all(), as_of=AS_OF) == []
    _facts(lees, born=date(1952, 10, 1), value="100000", year=2024)  # first year 2025: deferred to 1 April
    _facts(lees, born=date(1952, 10, 1), value="102000", year=2025)
    rows = rmds_owed(Account.objects.all(), as_of=date(2026, 2, 2))
    assert [(r.year, r.first, r.required, r.deadline) for r in rows] == [
        (2025, True, Decimal("3773.59"), date(2026, 4, 1)), (2026, False, Decimal("4000.00"), date(2026, 12, 31))]


# -- a missed RMD: its shortfall, its excise tax, and making it up ----------------------------------------

def _make_up(lees, year, amount=None, day=AS_OF, **kw):
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="rmd", amount=amount,
                           account=lees["ira"], as_of=day, makes_up_year=year, **kw).cash_flow


def test_a_missed_rmd_stays_open_with_its_excise_until_it_is_made_up_apart_from_the_years(lees):
    from rebalancing.services.rmd import rmd_alerts_due, rmd_open, rmds_owed

    # Given an owner born 1950 (76 in 2026) whose 2025 RMD was not all taken: 90,000 on 31 December
    # 2024 / 24.6 (age 75) = 3,658.54; 1,000 taken at the custodian in 2025
    ira = _facts(lees, value="90000", year=YEAR - 2)
    ira = _facts(lees, value="100000", year=YEAR - 1)
    _taken(lees, Decimal("1000"), day=date(YEAR - 1, 6, 30))
    # Then on 20 November 2026 it is open beside the year's, missed: 2,658.54 short, 25% of it so far
    lines = rmd_open([ira], as_of=AS_OF)
    missed, this_year = lines
    assert (missed.year, missed.missed, missed.shortfall, missed.remaining) == (
        YEAR - 1, True, Decimal("2658.54"), Decimal("2658.54"))
    assert (missed.excise, missed.window_end) == (Decimal("664.64"), date(YEAR + 1, 12, 31))
    assert (this_year.year, this_year.missed, this_year.remaining) == (YEAR, False, Decimal("4219.41"))
    # and it is alerted, and listed on the book's report first (its deadline is the earliest)
    [owed, _] = rmds_owed(Account.objects.all(), as_of=AS_OF)
    assert (owed.year, owed.missed, owed.remaining, owed.excise) == (YEAR - 1, True, Decimal("2658.54"),
                                                                      Decimal("664.64"))
    assert [(d.year, d.missed) for d in rmd_alerts_due([ira.pk], as_of=AS_OF)][0] == (YEAR - 1, True)

    # When an RMD without an amount is entered for the year, it takes the year's only
    assert _rmd(lees).amount == Decimal("4219.41")
    for flow in CashFlow.objects.filter(run__isnull=False):
        _executed(flow)
    # and the make-up, without an amount, takes what is left of the missed one, for that year only
    made_up = _make_up(lees, YEAR - 1)
    assert (made_up.amount, made_up.makes_up_year) == (Decimal("2658.54"), YEAR - 1)
    after = rmd_due(account=ira, year=YEAR)
    assert (after.distributed, after.remaining) == (Decimal("4219.41"), 0)
    # Then nothing is open for either year; the excise of what was made up within the window is 10%
    assert [(d.year, d.remaining) for d in rmd_open([ira], as_of=AS_OF)] == [(YEAR, 0)]
    [line] = [d for d in rmd_open([ira], as_of=AS_OF, missed=False) if d.year == YEAR]
    assert line.remaining == 0
    from rebalancing.services.rmd import _lines

    [last] = _lines([Account.objects.get(pk=ira.pk)], YEAR - 1, AS_OF)
    assert (last.made_up, last.remaining, last.excise) == (Decimal("2658.54"), 0, Decimal("265.85"))


def test_a_missed_2022_rmd_bears_50_percent_made_up_or_not_and_names_no_correction_window(lees):
    from rebalancing.services.rmd import _lines, rmd_open, rmds_owed

    # Given an owner born 1 March 1949 (70½ in 2019; 73 in 2022) whose 2022 RMD, 100,000 on 31 December
    # 2021 / 26.5 = 3,773.59, due by 31 December 2022, was not taken
    ira = _facts(lees, born=date(1949, 3, 1), value="100000", year=2021)
    [missed] = [line for line in rmd_open([ira], as_of=AS_OF) if line.year == 2022]
    # Then it is missed with the excise of 2022's tax: 50% (IRC §4974(a) before SECURE 2.0 §302),
    # and no correction window to make it up at a lower rate
    assert (missed.missed, missed.shortfall, missed.excise, missed.window_end) == (
        True, Decimal("3773.59"), Decimal("1886.80"), None)
    [owed] = [r for r in rmds_owed(Account.objects.all(), as_of=AS_OF) if r.year == 2022]
    assert (owed.excise, owed.window_end) == (Decimal("1886.80"), None)
    from rebalancing.services.rmd import rmd_alerts_due
    from rebalancing.services.runs import _rmd_alert_text

    [alerted] = [d for d in rmd_alerts_due([ira.pk], as_of=AS_OF) if d.year == 2022]
    assert "Excise tax so far $1,886.80 (50%, the rate before 2023, made up or not" in _rmd_alert_text(alerted)
    # When it is made up, the excise stays 50% (only a waiver lowers it, Form 5329)
    _make_up(lees, 2022)
    [line] = _lines([Account.objects.get(pk=ira.pk)], 2022, AS_OF)
    assert (line.made_up, line.remaining, line.excise) == (Decimal("3773.59"), 0, Decimal("1886.80"))


def test_a_first_rmd_of_2021_is_divided_by_the_old_table_so_a_2022_rmd_taken_by_1_april_is_2022s(lees):
    from rebalancing.services.rmd import rmd_open, rmds_owed

    # Given an owner born 15 September 1949 (72 in 2021, the first year; 1 April 2022 its deadline),
    # 100,000 on 31 December 2020 and 2021; 2021's RMD (100,000 / 25.6, the table before 2022) taken
    # on 1 November 2021 and 2022's (100,000 / 26.5) on 15 February 2022
    _facts(lees, born=date(1949, 9, 15), value="100000", year=2020)
    ira = _facts(lees, born=date(1949, 9, 15), value="100000", year=2021)
    _taken(lees, Decimal("3906.25"), day=date(2021, 11, 1))
    _taken(lees, Decimal("3773.59"), day=date(2022, 2, 15))
    ira = Account.objects.get(pk=ira.pk)
    # Then 2021's is 3,906.25 and all taken; February's counts for 2022, which is not missed
    first = rmd_due(account=ira, year=2021, as_of=AS_OF)
    assert (first.required.amount, first.required.distribution_period, first.distributed) == (
        Decimal("3906.25"), Decimal("25.6"), Decimal("3906.25"))
    second = rmd_due(account=ira, year=2022, as_of=AS_OF)
    assert (second.required.amount, second.distributed, second.missed, second.remaining) == (
        Decimal("3773.59"), Decimal("3773.59"), False, 0)
    assert not [line for line in rmd_open([ira], as_of=AS_OF) if line.missed]
    assert not [r for r in rmds_owed(Account.objects.all(), as_of=AS_OF) if r.year == 2022]
    # Had only 2021's been taken, by 1 April 2022: it counts for 2021, and 2022's is missed (50%)
    CashFlow.objects.filter(as_of=date(2022, 2, 15)).update(as_of=date(2022, 3, 1), plan={
        "distributions": {ira.custodian_number: 3906.25}})
    CashFlow.objects.filter(as_of=date(2021, 11, 1)).delete()
    line = rmd_due(account=ira, year=2022, as_of=AS_OF)
    assert (line.missed, line.shortfall, line.excise) == (True, Decimal("3773.59"), Decimal("1886.80"))


@pytest.mark.parametrize("year, message", [
    (YEAR, "is due by 31 December 2026, not missed"),
    (YEAR - 1, "all taken by its deadline"),
    (2019, "is not a year whose RMD can be made up"),
])
def test_a_make_up_of_an_rmd_that_was_not_missed_is_refused_naming_why_and_writes_nothing(lees, year, message):
    _facts(lees, value="90000", year=YEAR - 2)
    _facts(lees, value="100000", year=YEAR - 1)
    _taken(lees, Decimal("3658.54"), day=date(YEAR - 1, 12, 31))  # all of 2025's, on its last day
    with pytest.raises(ValidationFailed, match=message) as refused:
        _make_up(lees, year)
    assert refused.value.detail == {"field": "makes_up_year"}
    assert CashFlow.objects.count() == 1


def test_a_make_up_of_more_than_is_left_to_make_up_is_refused_naming_the_amount_and_writes_nothing(lees):
    # Given a 2025 RMD of 3,658.54 (90,000 / 24.6) missed, nothing taken
    _facts(lees, value="90000", year=YEAR - 2)
    _facts(lees, value="100000", year=YEAR - 1)
    # When 1 cent more is entered to make it up, it is refused (the cent would count for no year)
    with pytest.raises(ValidationFailed, match=r"\$3,658.54 is left to make up of LEE-IRA's 2025 RMD") as refused:
        _make_up(lees, YEAR - 1, amount=Decimal("3658.55"))
    assert refused.value.detail == {"field": "amount"} and not CashFlow.objects.exists()
    # and what is left is taken
    assert _make_up(lees, YEAR - 1, amount=Decimal("3658.54")).amount == Decimal("3658.54")


def test_only_an_rmd_makes_up_a_missed_one(lees):
    _facts(lees, value="90000", year=YEAR - 2)
    with pytest.raises(ValidationFailed, match="Only a required minimum distribution makes up"):
        cash_flow_enter(user=lees["advisor"], household=lees["household"], kind="withdrawal", amount=Decimal("10"),
                        account=lees["ira"], as_of=AS_OF, makes_up_year=YEAR - 1)


def test_a_first_rmd_not_taken_by_1_april_is_missed_from_2_april(lees):
    from rebalancing.services.rmd import rmd_open

    # Born October 1952: 73 in 2025, the first RMD due by 1 April 2026: 100,000 / 26.5 = 3,773.59
    ira = _facts(lees, born=date(1952, 10, 1), value="100000", year=2024)
    ira = _facts(lees, born=date(1952, 10, 1), value="102000", year=2025)
    on_1_april = [(d.year, d.missed) for d in rmd_open([ira], as_of=date(2026, 4, 1))]
    on_2_april = [(d.year, d.missed, d.excise) for d in rmd_open([ira], as_of=date(2026, 4, 2))]
    assert on_1_april == [(2025, False), (2026, False)]
    assert on_2_april == [(2025, True, Decimal("943.40")), (2026, False, None)]
    # and its window runs to the end of 2028 (the tax is imposed for 2026, the deadline's year)
    assert rmd_open([ira], as_of=date(2026, 4, 2))[0].window_end == date(2028, 12, 31)


@pytest.mark.parametrize("seed", range(16))
def test_missed_lines_agree_with_a_simple_implementation_over_random_histories(lees, seed):
    import random

    from rebalancing.services.rmd import rmd_open

    # Given an owner born 1948-1952 (from seed 12 in the second half of 1949: 2021 the first year),
    # values for 2020-2025 and distributions taken at the custodian on random days of 2021-2026, some
    # of them making up an earlier year
    rng = random.Random(seed)
    born = date(rng.randint(1948, 1952), rng.randint(1, 12), rng.randint(1, 28))
    if seed >= 12:
        born = date(1949, 7 + seed % 6, born.day)
    for year in range(2021, 2026):
        ira = _facts(lees, born=born, value=str(rng.randint(50_000, 500_000)), year=year)
    # 31 December 2020 too (its own stream, the draws above as they were): a first year of 2021 is computed
    ira = _facts(lees, born=born, value=str(random.Random(-1 - seed).randint(50_000, 500_000)), year=2020)
    taken = []
    for _ in range(8):
        day = date(rng.randint(2021, 2026), rng.randint(1, 12), rng.randint(1, 28))
        if day > AS_OF:
            continue
        years_missed = [y for y in range(2022, day.year) if rng.random() < 0.3]
        makes_up = rng.choice(years_missed) if years_missed and rng.random() < 0.5 else None
        amount = Decimal(rng.randint(1, 2_000_000)) / 100
        try:
            _taken(lees, amount, day=day, makes_up_year=makes_up)
        except ValidationFailed:
            continue  # that year was not missed on that day: nothing written
        taken.append((day, amount, makes_up))
    assert CashFlow.objects.count() == len(taken)
    lines = {(d.year, d.missed): d for d in rmd_open([Account.objects.get(pk=ira.pk)], as_of=AS_OF)}

    # A simple second reading: the RMD of a year from its table and value; what counts for it is
    # what was taken in it without a make-up year (and, for the first year, by 1 April after, the
    # first year's first); a make-up counts for its year only; missed = deadline passed and short
    from rebalancing.engine.rmd import (
        UNIFORM_LIFETIME_TABLE,
        first_distribution_year,
        required_minimum_distribution,
    )
    first = first_distribution_year(born)
    for year in range(2022, YEAR):
        if year < first:
            continue
        value = Account.objects.get(pk=ira.pk).year_end_value(year - 1)
        required = (value / UNIFORM_LIFETIME_TABLE[year - born.year]).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
        assert required == required_minimum_distribution(birth_date=born, year=year, year_end_value=value).amount
        deadline = date(year + 1, 4, 1) if year == first else date(year, 12, 31)
        plain = sorted((d, a) for d, a, m in taken if m is None)
        in_year = sum((a for d, a in plain if d.year == year and not (year == first + 1 and d <= date(year, 4, 1))),
                      Decimal(0))
        if year == first:
            early = sum((a for d, a in plain if d.year == year + 1 and d <= date(year + 1, 4, 1)), Decimal(0))
            credited = in_year + min(early, max(required - in_year, Decimal(0)))
        elif year == first + 1:
            # a first year of 2021 is divided by the table in force before 2022 (Treas. Reg. §1.401(a)(9)-9,
            # Q&A-2 before T.D. 9930): 27.4 at 70, 26.5 at 71, 25.6 at 72
            table = {70: Decimal("27.4"), 71: Decimal("26.5"), 72: Decimal("25.6")} if first < 2022 else UNIFORM_LIFETIME_TABLE
            first_required = (Account.objects.get(pk=ira.pk).year_end_value(first - 1) / table[first - born.year]
                              ).quantize(Decimal("0.01"), rounding="ROUND_CEILING")
            first_own = sum((a for d, a in plain if d.year == first), Decimal(0))
            early = sum((a for d, a in plain if d.year == year and d <= date(year, 4, 1)), Decimal(0))
            credited = in_year + early - min(early, max(first_required - first_own, Decimal(0)))
        else:
            credited = in_year
        made_up = sum((a for d, a, m in taken if m == year), Decimal(0))
        short = max(required - credited, Decimal(0))
        left = max(short - made_up, Decimal(0))
        if deadline < AS_OF and short > 0 and left > 0:
            line = lines[(year, True)]
            in_window = sum((a for d, a, m in taken if m == year and d <= date(deadline.year + 2, 12, 31)), Decimal(0))
            excise = (min(in_window, short) * Decimal("0.10") + (short - min(in_window, short)) * Decimal("0.25")
                      ).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            if deadline.year < 2023:  # before SECURE 2.0 §302 (taxable years from 2023): 50%, made up or not
                excise = (short * Decimal("0.50")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            assert (line.shortfall, line.made_up, line.remaining, line.excise) == (short, made_up, left, excise)
        else:
            assert (year, True) not in lines

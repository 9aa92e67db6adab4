"""A couple that changes its filing status between years, through the product: the years before keep
the status they were filed under, the loss carried across the change goes where Treas. Reg.
§1.1212-1(c) sends it, and the reports and the engine read each year's returns. Set on the service
(the page, the API and the accounts file call it: their own tests in tests/frontend, tests/api and
tests/rebalancing)."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.engine_inputs import rebalance_inputs_load, tax_returns_of
from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import schedule_d_csv, schedules_d
from rebalancing.models import Account, Household, PastFilingStatus
from rebalancing.services.tax_returns import household_tax_set
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed

from ..rebalancing.book import make_account
from ..rebalancing.workflow import make_proposal
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


@pytest.fixture
def couple(book, pm):
    """The Okafors, filing jointly. In 2025 the first spouse (A) sells VTI for a 12,000 short-term
    loss and the second (B) sells BND for a 2,000 long-term gain: the joint return nets -10,000,
    deducts 3,000 and carries 7,000 short-term into 2026 - all of it the first spouse's loss."""
    household = Household.objects.create(name="The Okafors", external_id="HH-OK", filing_status="married_joint")
    a = make_account("OK-A", model=book["model"], household=household, holdings=[("VTI", 100, 22000, date(2025, 2, 3))])
    b = make_account("OK-B", model=book["model"], household=household, holdings=[("BND", 200, 14000, date(2020, 1, 2))])
    Account.objects.filter(pk=b.pk).update(spouse="second")
    [loss] = release(a, [sell("VTI", 100, 100.0, [("OK-A-L1", 100)])], pm=pm, as_of=date(2025, 6, 2))
    [gain] = release(b, [sell("BND", 200, 80.0, [("OK-B-L1", 200)])], pm=pm, as_of=date(2025, 6, 2))
    executions_import(source=execution_csv(fill("OK-1", loss, 100, "100", date(2025, 6, 2)),
                                           fill("OK-2", gain, 200, "80", date(2025, 6, 2))),
                      actor="custodian feed", as_of=date(2025, 6, 3))
    return {"household": household, "A": a, "B": b}


def _rows(household, year):
    return schedules_d(households=Household.objects.filter(pk=household.pk), year=year)


def test_filing_separately_from_2026_keeps_2025_joint_and_gives_the_loss_to_the_spouse_who_had_it(couple, pm):
    household = couple["household"]
    # when: from 2026 the couple files separately
    household_tax_set(user=pm, household=household, facts={"filing_status": "married_separate",
                                                            "filing_status_from": 2026})
    household = Household.objects.get(pk=household.pk)
    assert (household.filing_status, household.past_statuses) == ("married_separate", ((2025, "married_joint"),))
    assert household.filing_history_text == "Married filing jointly through 2025; Married filing separately from 2026"
    # then: 2025 is still one joint return with its 3,000 limit (not refigured as two separate ones)
    [joint] = _rows(household, 2025)
    assert (joint.filing_status, joint.spouse, joint.sheet.net, joint.sheet.limit, joint.sheet.deduction,
            joint.sheet.carried_out_short) == ("Married filing jointly", "", -10000, 3000, 3000, 7000)
    # and 2026's two returns: the 7,000 is the first spouse's, none the second's (Pub. 550)
    first, second = _rows(household, 2026)
    assert (first.filing_status, first.spouse, first.sheet.carried_in_short, first.sheet.limit) == (
        "Married filing separately", "first", 7000, 1500)
    assert (second.sheet.carried_in_short, second.sheet.carried_in_long) == (0, 0)
    assert [(s.year, s.filing_status, s.spouse) for s in first.earlier] == [(2025, "married_joint", "")]
    assert schedule_d_csv([first]).splitlines()[1].startswith("HH-OK,The Okafors,Married filing separately,first,2026,")
    assert loss_carried_into([household], 2026) == {(household.pk, "first"): (7000, 0), (household.pk, "second"): (0, 0)}
    # the engine: each spouse's account on their own return, with its own carried loss and 1,500
    returns = {i.request.account.id: [(r.id, r.carried_short, r.loss_limit) for r in i.request.account.tax_returns]
               for i in rebalance_inputs_load([couple["A"].pk, couple["B"].pk], as_of=AS_OF)}
    assert returns == {"OK-A": [("first", 7000, 1500)], "OK-B": [("second", 0, 1500)]}
    # and a year's returns as the estimates read them: 2025's one joint return, 2026's two
    for year, want in ((2025, {"OK-A": [("household", 0, 3000)], "OK-B": [("household", 0, 3000)]}),
                       (2026, {"OK-A": [("first", 7000, 1500)], "OK-B": [("second", 0, 1500)]})):
        by_pk = tax_returns_of(Household.objects.filter(pk=household.pk), year)
        assert {a.custodian_number: [(r.id, r.carried_short, r.loss_limit) for r in by_pk[a.pk]]
                for a in (couple["A"], couple["B"])} == want
    # audited: the history before and after, in words
    event = AuditEvent.objects.get(action="household.tax", object_id=str(household.pk))
    assert (event.before["filing_history"], event.after["filing_history"]) == (
        "Married filing jointly", "Married filing jointly through 2025; Married filing separately from 2026")


def test_before_the_change_the_product_refigured_2025_as_separate_returns(couple, pm):
    # The same change applied to every year (what setting the status did before statuses by year,
    # and what a correction still does): 2025 becomes two separate returns - the first spouse deducts
    # 1,500 and carries 10,500, the second pays tax on 2,000 - figures the couple never filed.
    household_tax_set(user=pm, household=couple["household"], facts={"filing_status": "married_separate",
                                                                     "filing_status_from": 1900})
    household = Household.objects.get(pk=couple["household"].pk)
    assert household.past_statuses == () and not PastFilingStatus.objects.exists()
    first, second = _rows(household, 2025)
    assert (first.sheet.deduction, first.sheet.carried_out_short, second.sheet.taxable_long) == (1500, 10500, 2000)


def test_back_to_joint_combines_what_each_spouse_carries(couple, pm):
    # 2026 separately: the first spouse's 7,000 less 1,500 -> 5,500; from 2027 jointly again: the
    # return carries in 5,500 (both spouses' carryovers together), with a 3,000 limit.
    household = couple["household"]
    household_tax_set(user=pm, household=household, facts={"filing_status": "married_separate",
                                                            "filing_status_from": 2026})
    Household.objects.filter(pk=household.pk).update(filing_status="married_joint")
    PastFilingStatus.objects.create(household=household, last_year=2026, filing_status="married_separate")
    household = Household.objects.get(pk=household.pk)
    assert household.past_statuses == ((2025, "married_joint"), (2026, "married_separate"))
    [joint] = _rows(household, 2027)
    assert (joint.spouse, joint.sheet.carried_in_short, joint.sheet.limit) == ("", 5500, 3000)
    assert [(s.year, s.spouse) for s in joint.earlier] == [(2025, ""), (2026, "first"), (2026, "second")]


@pytest.mark.parametrize("status", ["single", "head_of_household"])
def test_filing_alone_after_the_joint_year_carries_in_only_the_filers_part(couple, pm, status):
    # 2025 jointly: the 7,000 carried out is all the first spouse's (A's) loss. From 2026 the second
    # spouse (B) files alone - a divorce, or A's death (Pub. 550: a decedent's loss ends with their
    # final return): B's return carries in nothing, and the report shows A's 7,000 as not carried.
    household = couple["household"]
    household_tax_set(user=pm, household=household, facts={"filing_status": status, "filing_status_from": 2026,
                                                            "sole_filer": "second"})
    household = Household.objects.get(pk=household.pk)
    assert household.sole_filer == "second"
    [alone] = _rows(household, 2026)
    assert (alone.spouse, alone.sheet.carried_in_short, alone.sheet.not_carried_short, alone.sheet.limit) == (
        "", 0, 7000, 3000)
    assert schedule_d_csv([alone]).splitlines()[1].endswith(",3000,0,0,0,0,0,7000,0")
    assert loss_carried_into([household], 2026) == {(household.pk, ""): (0, 0)}
    returns = {i.request.account.id: [(r.id, r.carried_short, r.loss_limit) for r in i.request.account.tax_returns]
               for i in rebalance_inputs_load([couple["A"].pk, couple["B"].pk], as_of=AS_OF)}
    assert returns == {"OK-A": [("household", 0, 3000)], "OK-B": [("household", 0, 3000)]}
    event = AuditEvent.objects.filter(action="household.tax").latest("pk")
    assert (event.before["sole_filer"], event.after["sole_filer"]) == ("first", "second")
    # the first spouse filing alone keeps their 7,000
    household_tax_set(user=pm, household=household, facts={"sole_filer": "first"})
    [alone] = _rows(Household.objects.get(pk=household.pk), 2026)
    assert (alone.sheet.carried_in_short, alone.sheet.not_carried_short) == (7000, 0)


def test_a_status_without_a_year_applies_from_this_year_and_the_same_status_changes_nothing(couple, pm):
    household = couple["household"]
    household_tax_set(user=pm, household=household, facts={"filing_status": "married_joint"})
    assert not PastFilingStatus.objects.exists()
    assert not AuditEvent.objects.filter(action="household.tax").exists()
    household_tax_set(user=pm, household=household, facts={"filing_status": "single"})
    this_year = date.today().year
    assert Household.objects.get(pk=household.pk).past_statuses == ((this_year - 1, "married_joint"),)


@pytest.mark.parametrize("facts, field, says", [
    ({"filing_status_from": 2026}, "filing_status", "Say the filing status that applies from 2026"),
    ({"filing_status": "married_separate", "filing_status_from": 1899}, "filing_status_from", "from 1900 to"),
    ({"filing_status": "married_separate", "filing_status_from": 9999}, "filing_status_from", "not 9999"),
    ({"filing_status": "married_separate", "filing_status_from": "2026"}, "filing_status_from", "not '2026'"),
    ({"filing_status": "married_separate", "filing_status_from": True}, "filing_status_from", "not True"),
    # a second spouse's carryover into a single year (after the joint years before 2026)
    ({"filing_status": "single", "filing_status_from": 2026, "carryforward_year": 2026,
      "carryforward_second_short_term": D(100)}, "carryforward_second_short_term", "files single in 2026"),
    ({"filing_status": "single", "filing_status_from": 2026, "sole_filer": "third"}, "sole_filer",
     "the first or the second spouse's, not 'third'"),
])
def test_what_makes_no_sense_is_refused_by_name_and_nothing_is_written(couple, pm, facts, field, says):
    household = couple["household"]
    with pytest.raises(ValidationFailed) as refused:
        household_tax_set(user=pm, household=household, facts=facts)
    assert refused.value.detail["field"] == field and says in refused.value.message
    household = Household.objects.get(pk=household.pk)
    assert (household.filing_status, household.carryforward_year, household.past_statuses) == ("married_joint", None, ())


def _pending_gain(account, short_gain: float, estimated_tax: float):
    p = make_proposal(account, status="pending_approval", estimated_tax=str(estimated_tax))
    p.result = {"trades": [], "summary": {"realised_short_term_gain": short_gain, "realised_short_term_loss": 0,
                                          "realised_long_term_gain": 0, "realised_long_term_loss": 0,
                                          "estimated_tax": estimated_tax}}
    p.save(update_fields=["result"])
    return p


def test_a_change_of_the_returns_restates_the_open_proposals_estimates(book, pm):
    # given: filing jointly, 10,000 short-term carried into this year; the second spouse's pending
    # proposal realises a 10,000 short-term gain, which the joint carryover makes free (estimate 0)
    this_year = date.today().year
    household = Household.objects.create(name="The Abes", external_id="HH-AB", carryforward_year=this_year,
                                         carryforward_short_term=D(10000))
    b = make_account("AB-B", model=book["model"], household=household)
    Account.objects.filter(pk=b.pk).update(spouse="second")
    gain = _pending_gain(b, 10_000, 0)
    # when: the couple files separately from this year - the carryover is the first spouse's
    household_tax_set(user=pm, household=household, facts={"filing_status": "married_separate"})
    # then: the second spouse's gain meets no loss on their own return: taxed in full, and the
    # proposal says why its figure moved
    gain.refresh_from_db()
    rate = float(b.short_term_rate)
    assert float(gain.estimated_tax) == pytest.approx(10_000 * rate, abs=0.01)
    [restated] = gain.result["tax_restated"]
    assert restated["because"].startswith("the household's tax returns changed (")
    assert "filing history" in restated["because"]

"""A withdrawal or RMD sent twice (a page left open, a second tab, an API retry) is not planned twice.

An RMD is at most what is left of the year's RMD: more is refused naming what is left and the
household proposal that planned the rest (the excess is no RMD: Treas. Reg. §1.401(a)(9)-5, Q&A-2).
A withdrawal the same as one still waiting (household, amount, account) is refused as sent again
unless the user says it is a second one (``repeat``) or gives it a reference. Before, run 8 of an
audit made household proposal #6 beside #5 for one RMD, both pending: approved, the client is paid twice."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.models import CashFlow, HouseholdProposal, Proposal
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import household_proposal_decide
from rebalancing.services.rmd import account_rmd_facts_set, rmd_due
from tenants.errors import Conflict, DomainError, ValidationFailed
from tenants.roles import FirmRole

from .book import AS_OF
from .household_book import make_unit_household
from .workflow import policy

pytestmark = pytest.mark.django_db
YEAR = AS_OF.year
RMD = Decimal("4219.41")  # 100,000 / 23.7 at 76 in 2026, rounded up


@pytest.fixture
def lees(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@twice.example", FirmRole.ADVISOR)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=advisor)
        account_rmd_facts_set(user=advisor, account=made["ira"], owner_birth_date=date(1950, 6, 1),
                              spouse_birth_date=None, year_end_value=Decimal("100000"), year_end_year=YEAR - 1,
                              today=AS_OF, owner_name=None)
        yield {**made, "advisor": advisor}


def _enter(lees, kind, amount, account="ira", **more):
    return cash_flow_enter(user=lees["advisor"], household=lees["household"], kind=kind,
                           amount=None if amount is None else Decimal(amount),
                           account=lees[account] if account else None, as_of=AS_OF, **more)


def _written() -> tuple:
    return (CashFlow.objects.count(), HouseholdProposal.objects.count(), Proposal.objects.count())


def test_the_plan_it_amount_sent_again_is_refused_naming_the_plan_already_made(lees):
    # given: the RMD planned from the page's "Plan the $4,219.41 left" (its amount sent)
    first = _enter(lees, "rmd", RMD).cash_flow
    together = HouseholdProposal.objects.get(run=first.run)
    before = _written()

    # when: the same form is sent again from a page left open
    with pytest.raises(ValidationFailed) as refused:
        _enter(lees, "rmd", RMD)

    # then: refused, naming the plan and that nothing is left; nothing written
    assert refused.value.code == "rmd_planned"
    assert (f"LEE-IRA's {YEAR} RMD of $4,219.41 is already taken or planned (in household proposal "
            f"#{together.pk}, an RMD of $4,219.41 entered") in refused.value.message
    assert "pending approval): $0.00 left to plan" in refused.value.message
    assert _written() == before
    assert rmd_due(account=lees["ira"], year=YEAR).distributed == RMD


def test_an_rmd_above_what_is_left_is_refused_naming_what_is_left_and_the_rest_may_be_planned(lees):
    _enter(lees, "rmd", "1000")
    before = _written()

    with pytest.raises(ValidationFailed) as refused:
        _enter(lees, "rmd", "3500")

    assert "$3,219.41 left to plan, and $3,500.00 is more" in refused.value.message
    assert "as a withdrawal from LEE-IRA" in refused.value.message
    assert refused.value.detail == {"field": "amount", "left": "3219.41", "asked": "3500.00"}
    assert _written() == before
    # what is left, to the cent, is an RMD (the page's button after the refusal)
    assert _enter(lees, "rmd", "3219.41").created
    assert rmd_due(account=lees["ira"], year=YEAR).remaining == 0


def test_the_same_withdrawal_while_the_first_waits_is_refused_unless_said_to_be_a_second(lees):
    first = _enter(lees, "withdrawal", "500", account="joint").cash_flow
    together = HouseholdProposal.objects.get(run=first.run)
    before = _written()

    with pytest.raises(Conflict) as refused:
        _enter(lees, "withdrawal", "500", account="joint")

    assert refused.value.code == "cash_flow_repeated"
    assert refused.value.message.startswith(
        f"The same withdrawal of $500.00 from LEE-JT is already planned in household proposal #{together.pk}")
    assert refused.value.detail["cash_flow"] == first.pk
    assert _written() == before
    # another amount or account is another withdrawal; a second one said so, or with a reference, is entered
    assert _enter(lees, "withdrawal", "501", account="joint").created
    assert _enter(lees, "withdrawal", "500", account="joint", repeat=True).created
    assert _enter(lees, "withdrawal", "500", account="joint", reference="second-500").created
    assert CashFlow.objects.filter(kind="withdrawal", amount=500).count() == 3


def test_once_the_first_is_decided_the_same_withdrawal_is_a_new_one(lees):
    first = _enter(lees, "withdrawal", "500", account=None).cash_flow
    household_proposal_decide(household_proposal=HouseholdProposal.objects.get(run=first.run), user=lees["advisor"],
                              approve=False, comment="client changed her mind")

    assert _enter(lees, "withdrawal", "500", account=None).created


# --- a random day of entries against a simple reference ------------------------------------------------

ENTRY = st.one_of(
    st.tuples(st.just("rmd"), st.sampled_from([None, "1000", "2000", "4219.41", "5000"]), st.just(False)),
    st.tuples(st.just("withdrawal"), st.sampled_from(["300", "700"]), st.booleans()),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY, min_size=1, max_size=5))
def test_rmds_never_plan_more_than_the_rmd_and_a_withdrawal_sent_again_is_refused(lees, entries):
    """Reference: the RMD left falls by each RMD planned (one without an amount takes all that is
    left; none left, or more than left, is refused); a withdrawal from the joint account equal to
    one still waiting is refused unless repeated. Nothing is decided, so every plan stays waiting."""
    with transaction.atomic():
        left, waiting = RMD, set()
        for kind, amount, repeat in entries:
            if kind == "rmd":
                asked = left if amount is None else Decimal(amount)
                expected = left > 0 and asked <= left
            else:
                asked = Decimal(amount)
                expected = repeat or asked not in waiting
            try:
                entered = _enter(lees, kind, amount, account="ira" if kind == "rmd" else "joint", repeat=repeat)
            except DomainError as exc:
                assert not expected, (kind, amount, repeat, exc.message)
                assert exc.code in ("rmd_planned", "cash_flow_repeated"), exc.message
                continue
            assert expected, (kind, amount, repeat)
            assert entered.created and entered.cash_flow.amount == asked
            if kind == "rmd":
                left -= asked
            else:
                waiting.add(asked)
            line = rmd_due(account=lees["ira"], year=YEAR)
            assert line.distributed <= RMD and line.remaining == left
        planned = sum((f.amount for f in CashFlow.objects.filter(kind="rmd")), Decimal(0))
        assert planned == RMD - left
        transaction.set_rollback(True)

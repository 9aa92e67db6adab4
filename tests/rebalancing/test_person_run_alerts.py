"""The alerts of a proposal a person made (a one-off instruction, an edit solved again, one account's
or a household's) are recorded as a run's are: under its run, one per kind and account, so the
accounts page's "Needs attention" and the account's open alerts find them."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Alert, HouseholdProposal, Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.account_instructions import account_instruct
from rebalancing.services.household_revisions import AccountEdit, household_proposal_resolve
from rebalancing.services.revisions import InstructionAdded as I
from rebalancing.services.revisions import proposal_resolve
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.roles import FirmRole

from .book import AS_OF, make_book
from .household_book import make_unit_household
from .test_household_unit import _run
from .workflow import policy

pytestmark = pytest.mark.django_db
S = Proposal.Status
# T-000's 300 VTI were bought for 24,000 (a 6,000 long-term gain at 100): selling them all is above both.
LIMITS = {"enabled": True, "max_net_gain_per_run": 1000.0, "max_net_gain_per_year": 2000.0}


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@alerts.example", FirmRole.PORTFOLIO_MANAGER)


@pytest.fixture
def account(firm_a):
    """T-000 under a transition that realises at most $1,000 a run and $2,000 a year."""
    with tenant_context(firm_a):
        policy(auto_approve=False)
        book = make_book(1)
        template = book["template"]
        template.parameters = {**template.parameters, "transition": LIMITS}
        template.save()
        yield book["accounts"][0]


def _tax_limit_alert(run) -> Alert:
    return Alert.objects.get(run=run, kind=Alert.Kind.TAX_LIMIT)


def test_an_instructions_alerts_are_recorded(firm_a, account, pm):
    # Given an instruction that sells above the tax limits
    new = account_instruct(account=account, instructions=[I("sell", "VTI", buy="ITOT")], by=pm, as_of=AS_OF)
    codes = [a["code"] for a in new.result["alerts"]]
    assert codes.count("tax_limit_exceeded") == 2, codes

    # Then its run holds the alert, as a run's would, and the accounts page's filter finds the account
    alert = _tax_limit_alert(new.run)
    assert alert.account_id == account.pk and alert.resolved_at is None and alert.amount > 0
    assert "per run limit" in alert.message
    assert Account.objects.filter(alerts__kind=Alert.Kind.TAX_LIMIT, alerts__resolved_at__isnull=True).get() == account


def test_an_edits_alerts_are_recorded(firm_a, account, pm):
    # Given a run's proposal within the limits, pending approval
    run = run_start(scope=RunScope(firm=True), as_of=AS_OF)
    for chunk in run_chunks(run):
        run_process_chunk(run_id=run.pk, account_ids=chunk)
    pending = Proposal.objects.get(run=run)
    assert pending.status == S.PENDING
    assert not Alert.objects.filter(kind=Alert.Kind.TAX_LIMIT).exists()

    # When it is edited to sell all the VTI
    new = proposal_resolve(proposal=pending, instructions=[I("sell", "VTI", buy="ITOT")], by=pm)

    # Then the edit's run holds every kind of alert its result has, the tax limit's among them
    assert "tax_limit_exceeded" in {a["code"] for a in new.result["alerts"]}
    assert _tax_limit_alert(new.run).account_id == account.pk
    kinds = set(Alert.objects.filter(run=new.run).values_list("kind", flat=True))
    assert Alert.Kind.TAX_LIMIT in kinds and all(k in Alert.Kind.values for k in kinds)


def test_a_household_edits_and_a_household_instructions_alerts_are_recorded(firm_a, firm_user):
    advisor = firm_user(firm_a, "adv@alerts.example", FirmRole.ADVISOR)
    pm = firm_user(firm_a, "pm@alerts.example", FirmRole.PORTFOLIO_MANAGER)
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650)
        made = make_unit_household(advisor=advisor)
        made["template"].parameters = {**made["template"].parameters, "transition": LIMITS}
        made["template"].save()
        run = _run(RunScope(household_id=made["household"].pk))
        together = HouseholdProposal.objects.get(run=run)
        joint = made["joint"]
        assert joint.taxable and joint.lots.filter(security__symbol="VTI", acquired__lt=date(2020, 1, 1)).exists()

        # When the advisor has the joint account sell all its VTI (a gain of 12,000)
        new = household_proposal_resolve(household_proposal=together, by=advisor,
                                         edits={joint.pk: AccountEdit(instructions=[I("sell", "VTI", buy="ITOT")])})
        assert "tax_limit_exceeded" in {a["code"] for a in new.proposals.get(account=joint).result["alerts"]}
        assert _tax_limit_alert(new.run).account_id == joint.pk

        # And when a portfolio manager gives the joint account the same instruction (superseding those)
        mine = account_instruct(account=joint, instructions=[I("sell", "VTI", buy="ITOT")], by=pm, as_of=AS_OF)
        assert mine.household_proposal_id and _tax_limit_alert(mine.run).account_id == joint.pk

"""Changing the template or the model that governs an account - an assignment of accounts or of
households, or how a household is managed - supersedes its open proposals (pending approval, or
approved and not released), made under the settings it no longer has; each is audited with the
change, a household proposal's legs go together, and the caller is told how many."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, HouseholdProposal, Proposal, RebalanceRun
from rebalancing.services.assignments import accounts_assign, households_template_assign
from rebalancing.services.households import household_management_set
from tenants.audit.models import AuditEvent

from .book import AS_OF, make_account, make_model, make_securities, make_template
from .household_book import make_unit_household
from .workflow import make_proposal

pytestmark = pytest.mark.django_db
S = Proposal.Status


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@settings.example", "firm_admin")


@pytest.fixture
def firm(firm_a):
    with tenant_context(firm_a):
        make_securities()
        make_account("T-0", model=None)  # the securities exist: the Lees' book does not make them again
        yield {"model": make_model(), "other_model": make_model(code="income"),
               "standard": make_template(), "esg": make_template("esg")}


def _status(proposal) -> str:
    proposal.refresh_from_db()
    return proposal.status


def _why(proposal) -> str:
    return AuditEvent.objects.get(action="proposal.supersede", object_id=str(proposal.pk)).comment


def test_assigning_another_template_supersedes_the_accounts_open_proposals(firm, admin):
    # Given an account under "Standard" with a proposal pending, one approved, one released
    account = make_account("T-1", model=firm["model"], template=firm["standard"])
    pending, approved = make_proposal(account, status=S.PENDING), make_proposal(account, status=S.APPROVED)
    released = make_proposal(account, status=S.RELEASED)
    # When a firm admin assigns "Esg" to it
    outcome = accounts_assign(accounts=Account.objects.filter(pk=account.pk), template=firm["esg"], by=admin)
    # Then the open ones are superseded, with the change as the reason; the released one stands
    assert outcome.superseded == 2
    assert (_status(pending), _status(approved), _status(released)) == (S.SUPERSEDED, S.SUPERSEDED, S.RELEASED)
    assert _why(pending) == "the account's template changed from “Standard” to “Esg”"


def test_assigning_another_model_supersedes_and_an_unchanged_assignment_does_not(firm, admin):
    account = make_account("T-2", model=firm["model"], template=firm["standard"])
    pending = make_proposal(account, status=S.PENDING)
    same = accounts_assign(accounts=Account.objects.filter(pk=account.pk), template=firm["standard"], by=admin)
    assert same.superseded == 0 and _status(pending) == S.PENDING
    moved = accounts_assign(accounts=Account.objects.filter(pk=account.pk), model=firm["other_model"], by=admin)
    assert moved.superseded == 1 and _status(pending) == S.SUPERSEDED
    assert _why(pending) == "the account's model changed from “Balanced” to “Income”"


def test_a_households_template_supersedes_the_proposals_of_the_accounts_that_follow_it(firm, admin):
    # Given a household under "Standard": one account follows it, one has "Esg" of its own
    household = Household.objects.create(name="Follows", external_id="HH-F", template=firm["standard"])
    follower = make_account("T-3", model=firm["model"], household=household)
    own = make_account("T-4", model=firm["model"], household=household)
    Account.objects.filter(pk=own.pk).update(template=firm["esg"])
    followed, kept = make_proposal(follower, status=S.APPROVED), make_proposal(own, status=S.PENDING)
    outcome = households_template_assign(households=Household.objects.filter(pk=household.pk), template=None,
                                         by=admin)
    assert outcome.superseded == 1
    assert (_status(followed), _status(kept)) == (S.SUPERSEDED, S.PENDING)
    assert _why(followed) == "the account's template changed from “Standard” to none"


def test_a_household_managed_as_one_supersedes_its_household_proposal_legs_together(firm, admin):
    # Given the Lees, managed as one, with a household proposal waiting (a leg per account)
    lees = make_unit_household()
    run = RebalanceRun.objects.create(scope={"account_ids": [lees[k].pk for k in ("joint", "ira", "roth")]},
                                      as_of=AS_OF, total=3)
    group = HouseholdProposal.objects.create(run=run, household=lees["household"], result={})
    legs = {key: Proposal.objects.create(run=run, account=lees[key], status=S.PENDING, parameters={},
                                         inputs_fingerprint="f" * 64, result={"trades": []}, trade_count=0,
                                         household_proposal=group) for key in ("joint", "ira", "roth")}
    # When only the joint account is given a template of its own
    outcome = accounts_assign(accounts=Account.objects.filter(pk=lees["joint"].pk), template=firm["esg"], by=admin)
    # Then every leg of the household proposal gives way with it
    assert outcome.superseded == 3
    assert {_status(p) for p in legs.values()} == {S.SUPERSEDED}
    assert _why(legs["joint"]) == "the account's template changed from “Household-Lee” to “Esg”"
    assert _why(legs["ira"]) == ("with its household's proposal: LEE-JT: the account's template changed from "
                                 "“Household-Lee” to “Esg”")


def test_changing_how_a_household_is_managed_supersedes_and_says_how_many(firm, admin):
    lees = make_unit_household()
    pending = make_proposal(lees["ira"], status=S.PENDING)
    managed = household_management_set(user=admin, household=lees["household"], managed_as="household",
                                       model=firm["other_model"], template=lees["template"])
    assert managed.superseded == 1 and _status(pending) == S.SUPERSEDED
    assert _why(pending) == "the account's model changed from “Sixty-Lee” to “Income”"
    again = household_management_set(user=admin, household=lees["household"], managed_as="household",
                                     model=firm["other_model"], template=lees["template"])
    assert again.superseded == 0


def test_changing_a_templates_settings_supersedes_its_followers_open_proposals(firm, admin):
    # Given two accounts following "Standard", one proposal pending each; another under "Esg"
    from rebalancing.services.book import template_save

    followers = [make_account(f"F-{n}", model=firm["model"], template=firm["standard"]) for n in (1, 2)]
    pending = [make_proposal(a, status=S.PENDING) for a in followers]
    other = make_proposal(make_account("F-3", model=firm["model"], template=firm["esg"]), status=S.PENDING)
    standard = firm["standard"]

    # When its settings change (a screen), then its name alone
    saved = template_save(user=admin, code=standard.code, name=standard.name, template=standard,
                          parameters={**standard.parameters, "screen": {"excluded_symbols": ["VNQ"]}},
                          overridable=standard.overridable, description=standard.description)
    renamed = template_save(user=admin, code=standard.code, name="Standard (2027)", template=saved,
                            parameters=saved.parameters, overridable=saved.overridable, description="")

    assert saved.superseded == 2 and [_status(p) for p in pending] == [S.SUPERSEDED] * 2
    assert _why(pending[0]) == "the account's template “Standard” changed its settings"
    assert _status(other) == S.PENDING
    assert getattr(renamed, "superseded", 0) == 0


def test_a_new_version_of_a_model_supersedes_the_open_proposals_of_the_accounts_on_it(firm, admin):
    from decimal import Decimal

    from rebalancing.services.book import SleeveSpec, model_version_create

    on_it = make_account("V-1", model=firm["model"], template=firm["standard"])
    pending = make_proposal(on_it, status=S.PENDING)
    elsewhere = make_proposal(make_account("V-2", model=firm["other_model"], template=firm["standard"]),
                              status=S.PENDING)
    sleeves = [SleeveSpec("us_equity", Decimal("0.7"), {"VTI": Decimal(1)}),
               SleeveSpec("bonds", Decimal("0.3"), {"BND": Decimal(1)})]

    version = model_version_create(model=firm["model"], sleeves=sleeves, user=admin)

    assert version.superseded == 1 and _status(pending) == S.SUPERSEDED
    assert _why(pending) == f"the account's model “{firm['model'].name}” changed (version {version.number})"
    assert _status(elsewhere) == S.PENDING

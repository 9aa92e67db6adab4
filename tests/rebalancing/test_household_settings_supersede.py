"""A household managed as one whose own settings (tax budget, asset location, which accounts may hold
which asset classes) change after its proposal was made: the proposal gives way, as a changed
override or template makes it give way - it was solved under settings the household no longer has."""

import pytest

from rebalancing.models import Proposal
from rebalancing.selectors import RunScope
from rebalancing.services.households import household_settings_set
from tenants.audit.models import AuditEvent

from .test_household_unit import _run, lees  # noqa: F401 - the household fixture

pytestmark = pytest.mark.django_db
S = Proposal.Status


def _open_legs(run):
    return sorted(Proposal.objects.filter(run=run).values_list("status", flat=True))


def test_a_changed_household_setting_supersedes_its_open_proposal(lees):  # noqa: F811
    run = _run(RunScope(household_id=lees["household"].pk))
    assert _open_legs(run) == [S.PENDING] * 3

    saved = household_settings_set(user=lees["advisor"], household=lees["household"], settings={"tax_budget": 2500})

    assert saved.superseded == 3 and _open_legs(run) == [S.SUPERSEDED] * 3
    leg = Proposal.objects.filter(run=run).first()
    event = AuditEvent.objects.get(action="proposal.supersede", object_id=str(leg.pk))
    assert f"household {lees['household'].name}'s settings changed" in event.comment


def test_saving_the_same_settings_again_or_an_account_by_account_household_supersedes_nothing(lees):  # noqa: F811
    household_settings_set(user=lees["advisor"], household=lees["household"], settings={"tax_budget": 2500})
    run = _run(RunScope(household_id=lees["household"].pk))
    assert household_settings_set(user=lees["advisor"], household=lees["household"],
                                  settings={"tax_budget": 2500}).superseded == 0
    assert _open_legs(run) == [S.PENDING] * 3

    household = lees["household"]
    household.managed_as = household.ManagedAs.ACCOUNTS  # account by account, its settings bind no proposal
    household.save()
    assert household_settings_set(user=lees["advisor"], household=household,
                                  settings={"tax_budget": 3000}).superseded == 0

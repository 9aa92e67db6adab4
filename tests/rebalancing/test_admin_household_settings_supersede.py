"""A household managed as one is solved under its own settings (tax budget, asset location:
``household_overrides``); changed in the admin site they supersede its open proposals, as the
household page's change does (``household_settings_set``; docs/security.md: "whether changed on a
page, through the API or in the admin site"). Managed account by account, they bind no proposal."""

import json

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from rebalancing.selectors import RunScope
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from .test_household_unit import _run, lees  # noqa: F401

pytestmark = pytest.mark.django_db
S = Proposal.Status


def _household_form(household, **changes) -> dict:
    form = {"name": household.name, "external_id": household.external_id, "template": household.template_id or "",
            "overrides": json.dumps(household.overrides), "managed_as": household.managed_as,
            "model": household.model_id or "", "household_overrides": json.dumps(household.household_overrides)}
    return {**form, **changes}


@pytest.fixture
def admin_client(firm_a, firm_user, client_for):
    return client_for(firm_a, firm_user(firm_a, "admin-ui@firm-a.example", FirmRole.FIRM_ADMIN, is_superuser=True))


def test_a_unit_households_settings_changed_in_the_admin_supersede_its_open_proposals(firm_a, admin_client,
                                                                                   lees):  # noqa: F811
    # Given a household managed as one with its three accounts' proposals pending
    household = lees["household"]
    with tenant_context(firm_a):
        run = _run(RunScope(household_id=household.pk))
        assert sorted(Proposal.objects.filter(run=run).values_list("status", flat=True)) == [S.PENDING] * 3

    # When its name alone changes in the admin, nothing gives way...
    answer = admin_client.post(f"/admin/rebalancing/household/{household.pk}/change/",
                               _household_form(household, name="The Lees"))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    with tenant_context(firm_a):
        assert sorted(Proposal.objects.filter(run=run).values_list("status", flat=True)) == [S.PENDING] * 3

    # ...but its tax budget changed there supersedes every leg, each audited with why
    answer = admin_client.post(f"/admin/rebalancing/household/{household.pk}/change/",
                               _household_form(household, name="The Lees",
                                               household_overrides=json.dumps({"tax_budget": 10})))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    with tenant_context(firm_a):
        household.refresh_from_db()
        assert household.household_overrides == {"tax_budget": 10}
        proposals = list(Proposal.objects.filter(run=run).values_list("pk", "status"))
        assert [status for _, status in proposals] == [S.SUPERSEDED] * 3
        # (this run's proposals: the audit log is append-only, and integration tests commit rows to it)
        why = {e.object_id: e.comment for e in AuditEvent.objects.filter(
            action="proposal.supersede", object_type="proposal", object_id__in=[str(pk) for pk, _ in proposals])}
    assert set(why) == {str(pk) for pk, _ in proposals}
    assert all("household settings (tax budget, asset location) changed (in the admin site)" in w
               for w in why.values()), why


def test_household_settings_of_a_household_managed_account_by_account_supersede_nothing(firm_a, admin_client,
                                                                                      lees):  # noqa: F811
    # Given the Lees managed account by account, each account's proposal pending
    household = lees["household"]
    with tenant_context(firm_a):
        household.managed_as = household.ManagedAs.ACCOUNTS
        household.save(update_fields=["managed_as"])
        household.accounts.update(model=lees["model"])  # each account managed to the model on its own
        run = _run(RunScope(household_id=household.pk))
        before = sorted(Proposal.objects.filter(run=run).values_list("status", flat=True))
        assert before and set(before) == {S.PENDING}

    # When the household settings (which bind only a household managed as one) change in the admin
    answer = admin_client.post(f"/admin/rebalancing/household/{household.pk}/change/",
                               _household_form(household, household_overrides=json.dumps({"tax_budget": 10})))

    # Then they are saved and no proposal gives way (as on the household page)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    with tenant_context(firm_a):
        household.refresh_from_db()
        assert household.household_overrides == {"tax_budget": 10}
        assert sorted(Proposal.objects.filter(run=run).values_list("status", flat=True)) == before
        assert not AuditEvent.objects.filter(  # (this run's proposals: the audit log is append-only)
            action="proposal.supersede", object_type="proposal",
            object_id__in=[str(pk) for pk in Proposal.objects.filter(run=run).values_list("pk", flat=True)]).exists()

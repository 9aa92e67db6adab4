"""An open harvest alert said why a loss was not harvested while harvesting was on. Once a change of
settings stops harvesting for the account (its own overrides, its household's, its template, an
assignment), the alert is resolved in the same transaction as the change, whose audit row records
the cause; the next run says what is true under the new settings."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Alert, ParameterTemplate
from rebalancing.services.assignments import accounts_assign
from rebalancing.services.book import account_overrides_set, household_overrides_set, template_save
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole

from .book import make_book, make_template

pytestmark = pytest.mark.django_db
OFF = {"harvest": {"enabled": False}}


@pytest.fixture
def admin(firm_a, firm_user):
    return firm_user(firm_a, "admin@harvest-alerts.example", FirmRole.FIRM_ADMIN)


@pytest.fixture
def book(firm_a):
    """Two accounts under a template that harvests, each with an open harvest and drift alert."""
    with tenant_context(firm_a):
        book = make_book(2)
        template = book["template"]
        template.parameters = {**template.parameters, "harvest": {"enabled": True}}
        template.save()
        for account in book["accounts"]:
            for kind in (Alert.Kind.HARVEST, Alert.Kind.DRIFT):
                Alert.objects.create(account=account, kind=kind, message=f"{kind} of {account.custodian_number}")
        yield book


def _open(kind=Alert.Kind.HARVEST) -> set[str]:
    return set(Alert.objects.filter(kind=kind, resolved_at__isnull=True)
               .values_list("account__custodian_number", flat=True))


def test_switching_harvesting_off_for_an_account_resolves_its_harvest_alert(firm_a, book, admin):
    with tenant_context(firm_a):
        # when harvesting is switched off in T-000's own overrides
        account_overrides_set(account=book["accounts"][0], overrides=OFF, user=admin)

        # then its harvest alert is resolved, the other account's and every drift alert stay open
        assert _open() == {"T-001"}
        assert _open(Alert.Kind.DRIFT) == {"T-000", "T-001"}
        # and the change that caused it is audited
        assert AuditEvent.objects.filter(action="account.parameters", object_id=str(book["accounts"][0].pk)).exists()


def test_switching_harvesting_off_on_the_template_resolves_the_alerts_of_the_accounts_it_governs(firm_a, book, admin):
    with tenant_context(firm_a):
        template = book["template"]
        template_save(user=admin, code=template.code, name=template.name, template=template,
                      parameters={**template.parameters, "harvest": {"enabled": False}},
                      overridable=template.overridable)

        assert _open() == set()
        assert _open(Alert.Kind.DRIFT) == {"T-000", "T-001"}


def test_switching_it_off_for_a_household_or_by_assigning_a_template_resolves_too(firm_a, book, admin):
    with tenant_context(firm_a):
        first, second = book["accounts"]
        household_overrides_set(household=first.household, overrides=OFF, user=admin)
        assert _open() == {"T-001"}

        plain = make_template("plain", parameters={"cash": {"target": 0.01}})
        accounts_assign(accounts=Account.objects.filter(pk=second.pk), template=plain, by=admin)
        assert _open() == set()


def test_a_change_that_leaves_harvesting_on_resolves_nothing(firm_a, book, admin):
    with tenant_context(firm_a):
        account_overrides_set(account=book["accounts"][0], overrides={"cash": {"target": 0.02}}, user=admin)

        assert _open() == {"T-000", "T-001"}


def test_an_alert_raised_with_harvesting_already_off_is_left_to_the_next_run(firm_a, book, admin):
    # given harvesting off on the template already (the engine then still reports harvestable losses)
    with tenant_context(firm_a):
        ParameterTemplate.objects.filter(pk=book["template"].pk).update(
            parameters={**book["template"].parameters, "harvest": {"enabled": False}})

        # when another setting changes
        account_overrides_set(account=book["accounts"][0], overrides={"cash": {"target": 0.02}}, user=admin)

        # then its alert stays: the change did not stop a harvesting that applied
        assert _open() == {"T-000", "T-001"}

"""Onboarding is audited (who, which firm, its host, its first admin), and a firm's host is checked
the same way at onboarding and later: the provider's own host is refused as the provider's, not as
"another firm's"."""

import pytest
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent
from tenants.errors import Conflict, ValidationFailed
from tenants.models import Domain, Firm
from tenants.roles import ProviderRole
from tenants.services import firm_create, firm_host_add, firm_rename, user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_onboarding_records_who_the_firm_its_host_and_first_admin_in_both_trails():
    operator = user_ensure(username="pa@registry.test", email="pa@registry.test",
                           roles=[ProviderRole.PROVIDER_ADMIN], password=PASSWORD)

    firm = firm_create(name="Elm Advisors", slug="elm", admin_email="Boss@Elm.example", actor=operator).firm

    for schema in ("public", firm.schema_name):
        with schema_context(schema):
            (event,) = AuditEvent.objects.filter(action="firm.create", object_id=str(firm.pk))
            assert (event.actor, event.object_repr) == ("pa@registry.test", "Elm Advisors")
            assert event.after == {"name": "Elm Advisors", "slug": "elm", "schema": "firm_elm",
                                   "hosts": ["elm.localhost"], "first_admin": "boss@elm.example"}
    # the same request again changes nothing, and records nothing
    firm_create(name="Elm Advisors", slug="elm", admin_email="boss@elm.example", actor=operator)
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="firm.create", object_id=str(firm.pk)).count() == 1


def test_the_providers_own_host_is_refused_as_the_providers_at_onboarding():
    before = (Firm.objects.count(), Domain.objects.count())

    with pytest.raises(Conflict) as refused:
        firm_create(name="Elm Advisors", slug="elm", admin_email="boss@elm.example", domain="LocalHost")

    assert refused.value.message.startswith("'localhost' is the provider's own address (this console)")
    assert "another firm" not in refused.value.message and refused.value.detail["field"] == "domain"
    assert (Firm.objects.count(), Domain.objects.count()) == before


def test_a_host_is_checked_as_at_onboarding_and_the_provider_is_no_client_firm(firm_a):
    with pytest.raises(ValidationFailed, match="is not a valid host name"):
        firm_host_add(firm=firm_a, domain="bad host!", actor=None)
    with pytest.raises(Conflict, match="already served at 'firm-a.localhost'"):
        firm_host_add(firm=firm_a, domain="firm-a.localhost", actor=None)
    provider = Firm.objects.get(schema_name="public")
    with pytest.raises(ValidationFailed, match="no client firm"):
        firm_rename(firm=provider, name="Anything", actor=None)
    with pytest.raises(ValidationFailed, match="at most 200 characters; this one has 201"):
        firm_rename(firm=firm_a, name="N" * 201, actor=None)
    assert not firm_rename(firm=firm_a, name=f"  {firm_a.name} ", actor=None)  # the same name changes nothing

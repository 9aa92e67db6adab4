"""The provider's audit trail on the provider console (/audit/), for operators as well as admins:
onboarding (who, which firm, its hosts, its first admin invited), suspensions and the rest,
filterable by action, firm, person and dates, a page at a time. It was only in the Django admin,
which an operator cannot open."""

import re

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from tenants.audit.actions import Action
from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record
from tenants.roles import ProviderRole
from tenants.services import user_ensure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CEDAR = {"name": "Cedar Capital", "slug": "cedar", "admin_email": "Admin@Cedar.example", "domain": "",
         "admin_first_name": "Ada", "admin_last_name": "Lovelace"}


def _provider_client(role, first_name=""):
    with schema_context("public"):
        user = user_ensure(username=f"{role}@audit.test", email=f"{role}@audit.test", roles=[role],
                           password=PASSWORD, first_name=first_name)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _rows(page: str) -> list[str]:
    return re.findall(r"<tr><td class=\"nowrap\">.*?</tr>", page)


def test_onboarding_a_firm_is_in_the_providers_trail_with_its_hosts_and_its_first_admin_invited():
    admin = _provider_client(ProviderRole.PROVIDER_ADMIN, first_name="Pat")

    admin.post("/firms/new/", CEDAR)

    with schema_context("public"):
        created = AuditEvent.objects.get(action="firm.create", object_repr="Cedar Capital")
        invited = AuditEvent.objects.get(action="firm.admin_invite", object_id=created.object_id)
    assert (created.actor, created.actor_kind) == ("provider_admin@audit.test", "user")
    assert created.after == {"name": "Cedar Capital", "slug": "cedar", "schema": "firm_cedar",
                             "hosts": ["cedar.localhost"], "first_admin": "admin@cedar.example"}
    assert invited.actor == "provider_admin@audit.test"
    assert invited.after == {"admin": "admin@cedar.example", "host": "cedar.localhost", "again": False}
    assert len(mail.outbox) == 1
    with schema_context("firm_cedar"):  # the firm's own trail says who onboarded it and invited its admin
        assert AuditEvent.objects.filter(action="firm.create", actor="provider_admin@audit.test").count() == 1
        assert AuditEvent.objects.filter(action="user.invite", object_type="user").count() == 1

    # An operator reads it on the console, in words, the actor by name
    operator = _provider_client(ProviderRole.PROVIDER_OPERATOR)
    page = text(operator.get("/audit/"))
    assert "Onboarded a client firm (its schema, its host and its first admin)" in page
    assert "E-mailed a client firm&#x27;s first admin a link to choose a password" in page
    assert "Pat<br><span class=\"muted\">provider_admin@audit.test</span>" in page
    assert 'first admin: admin@cedar.example' in page and "cedar.localhost" in page


def test_the_console_and_the_staff_page_link_to_the_trail_and_operators_and_admins_open_it():
    for role in ProviderRole:
        client = _provider_client(role)
        assert 'href="/audit/"' in text(client.get("/"))
        assert client.get("/audit/").status_code == 200
    staff = text(_provider_client(ProviderRole.PROVIDER_ADMIN).get("/staff/"))
    assert "Every change is in <a href=\"/audit/\">the provider's audit trail</a>" in staff


def test_the_trail_filters_by_firm_action_person_and_dates(firm_a, firm_b):
    admin = _provider_client(ProviderRole.PROVIDER_ADMIN)
    admin.post(f"/firms/{firm_a.slug}/status/", {"status": "suspended", "reason": "Unpaid"})
    admin.post(f"/firms/{firm_b.slug}/status/", {"status": "suspended", "reason": "Closing"})
    admin.post(f"/firms/{firm_b.slug}/status/", {"status": "active"})
    operator = _provider_client(ProviderRole.PROVIDER_OPERATOR)

    of_a = text(operator.get("/audit/", {"firm": firm_a.slug}))
    assert f"The provider's audit trail: {firm_a.name}" in of_a
    assert "Unpaid" in of_a and "Closing" not in of_a
    assert f'<a href="/firms/{firm_a.slug}/">{firm_a.name}</a>' in of_a

    reactivated = _rows(text(operator.get("/audit/", {"action": "firm.reactivate"})))
    assert len(reactivated) == 1 and firm_b.name in reactivated[0]
    by_admin = _rows(text(operator.get("/audit/", {"actor": "provider_admin@audit", "action": "firm.suspend"})))
    assert len(by_admin) == 2
    assert _rows(text(operator.get("/audit/", {"actor": "nobody-such"}))) == []
    with schema_context("public"):
        today = AuditEvent.objects.filter(action="firm.suspend").first().at.date()
    assert len(_rows(text(operator.get("/audit/", {"action": "firm.suspend", "since": today.isoformat(),
                                                   "until": today.isoformat()})))) == 2
    assert "No record matches these filters." in text(operator.get("/audit/", {"until": "2000-01-01"}))


@pytest.mark.parametrize(("query", "said"), [
    ({"since": "yesterday"}, "“yesterday” is not a day: write it YYYY-MM-DD."),
    ({"since": "2026-02-01", "until": "2026-01-01"}, "From (2026-02-01) is after To (2026-01-01)"),
    ({"firm": "no-such-firm"}, "No firm has the slug “no-such-firm”"),
])
def test_a_filter_that_cannot_mean_anything_is_said_beside_it(query, said):
    response = _provider_client(ProviderRole.PROVIDER_OPERATOR).get("/audit/", query)

    assert response.status_code == 400
    page = text(response)
    assert said in page and 'aria-invalid="true"' in page and "Correct the filters marked above" in page


def test_the_trail_is_paginated_newest_first():
    with schema_context("public"):
        for n in range(55):
            audit_record(actor="tester", action=Action.USER_INVITE, object_type="user", object_id=str(n),
                         comment=f"number {n}")
    operator = _provider_client(ProviderRole.PROVIDER_OPERATOR)

    first = text(operator.get("/audit/", {"actor": "tester"}))
    second = text(operator.get("/audit/", {"actor": "tester", "page": "2"}))

    assert len(_rows(first)) == 50 and len(_rows(second)) == 5
    assert "Page 1 of 2 · 55 in all" in first and "number 54" in first and "number 0" in second
    assert 'href="?actor=tester&amp;page=2"' in first

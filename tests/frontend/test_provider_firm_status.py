"""A provider admin suspends a client firm from the console, with a reason its people read, and makes
it active again: while it is suspended no run starts in it, whoever asks."""

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from rebalancing.models import RebalanceRun
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.models import Firm
from tenants.roles import ProviderRole
from tenants.services import firm_status_set, user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import make_book

pytestmark = pytest.mark.django_db

REASON = "Contract ended 30 November; data kept for export until 31 January"


def _provider_client(role):
    with schema_context("public"):
        user = user_ensure(username=f"{role}@provider.test", email=f"{role}@provider.test", roles=[role],
                           password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)  # the session in the provider's schema, whichever a request left active
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_suspended_firm_starts_no_run_whoever_asks_and_its_people_read_why(firm_a, as_user, people):
    with tenant_context(firm_a):
        make_book(2)
    provider = _provider_client(ProviderRole.PROVIDER_ADMIN)
    console = text(provider.get("/"))
    assert f'action="/firms/{firm_a.slug}/status/"' in console and ">Suspend</button>" in console

    done = text(provider.post(f"/firms/{firm_a.slug}/status/", {"status": "suspended", "reason": f"  {REASON} "},
                              follow=True))

    assert f"{firm_a.name} is suspended: no run starts in it" in done and ">Reactivate</button>" in done
    firm_a.refresh_from_db()
    assert (firm_a.status, firm_a.status_reason) == (Firm.Status.SUSPENDED, REASON)
    assert firm_a.status_changed_at is not None
    # on the record twice: the provider's trail and the firm's own
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="firm.suspend", comment=REASON, object_id=str(firm_a.pk)).count() == 1
    with schema_context(firm_a.schema_name):
        assert AuditEvent.objects.filter(action="firm.suspend", actor__startswith="provider_admin").count() == 1

    # The firm's people read why on every page, and their run is refused with it.
    pm = as_user("pm")
    assert f"{firm_a.name} is suspended by its provider since" in text(pm.get("/")) and REASON in text(pm.get("/"))
    refused = text(pm.post("/runs/", {"scope": "firm"}, follow=True))
    assert f"{REASON}. No run starts until it is reactivated." in refused
    not_released = text(pm.post("/proposals/", {"proposal": "1"}, follow=True))
    assert f"{REASON}. No trade is released until it is reactivated." in not_released
    api = pm.post("/api/v1/runs/", {"scope": {"firm": True}}, content_type="application/json")
    assert api.status_code == 409 and api.json()["code"] == "firm_suspended" and REASON in api.json()["message"]
    assert api.json()["detail"] == {"firm": firm_a.slug}
    # The provider's own run in the firm is refused as well.
    operator = _provider_client(ProviderRole.PROVIDER_OPERATOR)
    assert "is suspended" in text(operator.post("/runs/start/", {"firm": firm_a.slug}, follow=True))
    with tenant_context(firm_a):
        assert not RebalanceRun.objects.exists()

    back = text(provider.post(f"/firms/{firm_a.slug}/status/", {"status": "active"}, follow=True))

    assert f"{firm_a.name} is active again" in back
    assert "is suspended by its provider" not in text(pm.get("/"))
    assert pm.post("/api/v1/runs/", {"scope": {"firm": True}}, content_type="application/json").status_code == 201
    with schema_context(firm_a.schema_name):
        assert AuditEvent.objects.filter(action="firm.reactivate").count() == 1


@pytest.mark.parametrize(("posted", "problem"), [
    ({"status": "suspended", "reason": "   "}, "Say why Firm A Wealth is suspended"),
    ({"status": "closed", "reason": REASON}, "A firm&#x27;s status is one of active, suspended, not &#x27;closed&#x27;"),
    ({"status": "suspended", "reason": "x" * 501}, "The reason is 501 characters; at most 500"),
])
def test_a_refused_change_names_the_problem_and_changes_nothing(firm_a, posted, problem):
    provider = _provider_client(ProviderRole.PROVIDER_ADMIN)

    page = text(provider.post(f"/firms/{firm_a.slug}/status/", posted, follow=True))

    assert problem in page
    firm_a.refresh_from_db()
    assert (firm_a.status, firm_a.status_reason, firm_a.status_changed_at) == (Firm.Status.ACTIVE, "", None)
    with schema_context("public"):
        assert not AuditEvent.objects.filter(action__in=["firm.suspend", "firm.reactivate"]).exists()


def test_a_refused_suspension_opens_that_firms_form_again_with_what_was_typed(firm_a, firm_b):
    provider = _provider_client(ProviderRole.PROVIDER_ADMIN)
    typed = "x" * 501  # too long: refused, and kept to shorten rather than type again

    page = text(provider.post(f"/firms/{firm_a.slug}/status/", {"status": "suspended", "reason": typed}, follow=True))

    assert "The reason is 501 characters; at most 500" in page
    row_a = page.split(f'id="reason-{firm_a.slug}"', 1)[1].split(">", 1)[0]
    assert f'value="{typed}"' in row_a and 'aria-invalid="true"' in row_a
    assert re.search(rf'<details class="firm-status" open><summary>Suspend…</summary> <form method="post" '
                     rf'action="/firms/{firm_a.slug}/status/"', page)
    row_b = page.split(f'id="reason-{firm_b.slug}"', 1)[1].split(">", 1)[0]
    assert "value=\"\"" in row_b and "aria-invalid" not in row_b  # another firm's form is as it was
    assert page.count("<details class=\"firm-status\" open>") == 1
    again = text(provider.get("/"))  # once: the next visit shows the form empty
    assert 'value=""' in again.split(f'id="reason-{firm_a.slug}"', 1)[1].split(">", 1)[0]


def test_only_a_provider_admin_suspends_and_the_same_status_again_changes_nothing(firm_a):
    operator = _provider_client(ProviderRole.PROVIDER_OPERATOR)
    assert "/status/" not in text(operator.get("/"))
    refused = operator.post(f"/firms/{firm_a.slug}/status/", {"status": "suspended", "reason": REASON})
    # staff in another role: told which role may, and whom to ask (not a firm admin: staff have none)
    assert refused.status_code == 403 and "Only a provider admin may do this." in text(refused)
    assert "ask a provider admin to change your role" in text(refused) and "firm admin" not in text(refused)
    assert _provider_client(ProviderRole.PROVIDER_ADMIN).post("/firms/nope/status/", {"status": "active"}).status_code == 404

    assert firm_status_set(firm=firm_a, status="suspended", reason=REASON) is True
    assert firm_status_set(firm=firm_a, status="suspended", reason="another reason") is False
    firm_a.refresh_from_db()
    assert firm_a.status_reason == REASON
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="firm.suspend").count() == 1
        with pytest.raises(ValidationFailed, match="no client firm"):
            firm_status_set(firm=Firm.objects.get(schema_name="public"), status="suspended", reason=REASON)


def test_the_console_shows_each_firms_latest_count_of_people(firm_a, firm_b, firm_user):
    from tenants.people import people_here
    from tenants.roles import FirmRole
    from tenants.services import firm_usage_record

    firm_user(firm_a, "one@a.example", FirmRole.ADVISOR)
    gone = firm_user(firm_a, "two@a.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name):
        firm_usage_record(firm=firm_a)  # an older count
        gone.is_active = False
        gone.save()
        users = people_here().count()
        latest = firm_usage_record(firm=firm_a)
    console = text(_provider_client(ProviderRole.PROVIDER_OPERATOR).get("/"))
    row_a = console.split(firm_a.name, 1)[1].split("</tr>", 1)[0]
    row_b = console.split(firm_b.name, 1)[1].split("</tr>", 1)[0]
    assert f'<td class="num">{latest.users} ({latest.active_users})<br>' in row_a and latest.users == users
    assert latest.active_users == users - 1
    assert "not yet counted" in row_b


def test_the_count_of_people_leaves_out_the_anonymous_row_and_counts_the_invited_as_not_active(firm_a, firm_user):
    """People as the firm's People page lists them: django-guardian's AnonymousUser row is nobody; someone
    invited who has not chosen a password yet is a person, not an active one (the page says "invited")."""
    from django.contrib.auth import get_user_model
    from guardian.conf import settings as guardian_settings

    from rebalancing.services.people import FIRM_PEOPLE
    from tenants.people import invite
    from tenants.roles import FirmRole
    from tenants.services import firm_usage_record

    admin = firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN)
    firm_user(firm_a, "one@a.example", FirmRole.ADVISOR)
    with schema_context(firm_a.schema_name):
        User = get_user_model()
        User.objects.get_or_create(username=guardian_settings.ANONYMOUS_USER_NAME)
        people = User.objects.exclude(username=guardian_settings.ANONYMOUS_USER_NAME).count()
        before = firm_usage_record(firm=firm_a)
        invite(FIRM_PEOPLE, email="new@a.example", first_name="New", last_name="Person", roles=[FirmRole.ADVISOR],
               by=admin, site_url="http://firm-a.localhost")
        after = firm_usage_record(firm=firm_a)
    assert before.users == people and before.active_users == people  # everyone here has signed up
    assert (after.users, after.active_users) == (people + 1, people)  # the invited one is a person, not active


def _button(page: str, label: str) -> str:
    """The opening tag of the button whose text starts with ``label``."""
    found = re.search(r"<button[^>]*>\s*" + re.escape(label), page)
    assert found, f"no button {label!r}"
    return found.group(0)


def test_a_suspended_firms_pages_disable_what_the_suspension_refuses_and_say_why(firm_a, as_user, people):
    from rebalancing.models import Proposal
    from tests.rebalancing.workflow import make_proposal

    with tenant_context(firm_a):
        account = make_book(1)["accounts"][0]
        approved = make_proposal(account, status=Proposal.Status.APPROVED)
    pm = as_user("pm")
    pages = {"/runs/": ["Start the run"], f"/accounts/{account.pk}/": ["Rebalance now", "Propose"],
             f"/households/{account.household_id}/": ["Rebalance the household", "Enter"],
             f"/proposals/{approved.pk}/": ["Release the trades"], "/proposals/?status=approved":
             ["Release the selected proposals"]}
    for url, labels in pages.items():  # active: every button works
        page = text(pm.get(url))
        assert all("disabled" not in _button(page, label) for label in labels), url

    firm_status_set(firm=firm_a, status="suspended", reason=REASON)

    for url, labels in pages.items():
        page = text(pm.get(url))
        for label in labels:
            tag = _button(page, label)
            assert " disabled " in tag and REASON in tag and "Nothing trades until it is reactivated." in tag, (url, label)
    # What the suspension leaves open stays open: approving, saving parameters, reading.
    account_page = text(pm.get(f"/accounts/{account.pk}/"))
    assert "disabled" not in _button(account_page, "Save parameters")

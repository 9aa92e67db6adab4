"""The restricted list page: compliance (and firm admins) add, change and lift entries with their
reason; every other role reads the list and is refused a change (403); a refusal names the problem
and writes nothing; the account page shows a listed security as coming from the firm's list."""

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import RestrictedSecurity
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

PAGE = "/restricted/"


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def _add(client, **values):
    today = timezone.localdate().isoformat()
    return client.post(PAGE, {"action": "add", "symbol": "VTI", "restriction": "do_not_buy",
                              "reason": "Deal team on the issuer", "starts_on": today, "until": "", **values})


def test_compliance_adds_changes_and_lifts_an_entry(firm_a, book, as_user):
    client = as_user("compliance")
    assert 'href="/restricted/"' in client.get("/").content.decode()  # in the navigation
    response = _add(client, symbol="vti")
    assert response.status_code == 302
    page = text(client.get(PAGE))
    assert "VTI is on the restricted list (do not buy)." in page and "Deal team on the issuer" in page
    with tenant_context(firm_a):
        entry = RestrictedSecurity.objects.get()
    today = timezone.localdate().isoformat()
    answer = client.post(PAGE, {"action": "change", "entry": entry.pk, "restriction": "do_not_trade",
                                "reason": "Deal team on the issuer", "starts_on": today, "until": ""}, follow=True)
    assert "The entry for VTI is saved." in text(answer)
    answer = client.post(PAGE, {"action": "lift", "entry": entry.pk, "lift_reason": "Deal announced"}, follow=True)
    page = text(answer)
    assert "VTI is lifted from the restricted list." in page and "No security is restricted." in page
    assert "Deal announced" in page  # under past entries
    with tenant_context(firm_a):
        assert list(AuditEvent.objects.filter(action__startswith="restricted.").order_by("id")
                    .values_list("action", flat=True)) == ["restricted.add", "restricted.change", "restricted.lift"]


@pytest.mark.parametrize(("values", "problem"), [
    ({"symbol": "NOPE"}, "NOPE is not a security of the firm"),
    ({"reason": ""}, "Give the reason it is restricted."),
    ({"starts_on": "2026-12-10", "until": "2026-12-01"}, "The until date Dec 1, 2026 is before the from date Dec 10, 2026."),
    ({"starts_on": "tomorrow"}, "The from date 'tomorrow' is not a date (YYYY-MM-DD)."),
], ids=["unknown-symbol", "no-reason", "until-before-from", "not-a-date"])
def test_a_refused_entry_is_said_and_nothing_is_written(firm_a, book, as_user, values, problem):
    response = _add(as_user("compliance"), **values)
    assert response.status_code == 400 and problem in text(response)
    with tenant_context(firm_a):
        assert not RestrictedSecurity.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="restricted.").exists()


@pytest.mark.parametrize("role", ["advisor", "pm"])
def test_other_roles_read_the_list_and_may_not_change_it(firm_a, book, as_user, role):
    _add(as_user("admin"))  # a firm admin may
    client = as_user(role)
    page = text(client.get(PAGE))
    assert "VTI" in page and "Deal team on the issuer" in page
    assert "Add to the restricted list" not in page and "Lift from today" not in page
    assert 'href="/restricted/"' in client.get("/").content.decode()  # they read it: the nav links it
    assert _add(client, symbol="BND").status_code == 403
    with tenant_context(firm_a):
        entry = RestrictedSecurity.objects.get()
    assert client.post(PAGE, {"action": "lift", "entry": entry.pk, "lift_reason": "x"}).status_code == 403
    with tenant_context(firm_a):
        assert RestrictedSecurity.objects.get().lifted_on is None


def test_the_account_page_shows_the_restriction_from_the_firm_list(firm_a, book, as_user):
    _add(as_user("compliance"))
    page = text(as_user("advisor").get(f"/accounts/{book['mine'][0].pk}/"))
    row = re.search(r"restrictions\.do_not_buy</code></td><td>(.*?)</td><td>(.*?)</td>", page)
    assert row is not None and "VTI" in row.group(1) and "firm restricted list" in row.group(2)


def test_past_entries_are_read_a_page_at_a_time_to_the_oldest(firm_a, book, as_user):
    # Given 30 entries that ended, each with its own reason (the list kept only the latest 100 before)
    today = timezone.localdate()
    with tenant_context(firm_a):
        vti = book["securities"]["VTI"]
        for n in range(30):
            start = today - timedelta(days=400 - 10 * n)
            RestrictedSecurity.objects.create(security=vti, restriction="do_not_buy", reason=f"Deal number {n:02d}",
                                              starts_on=start, until=start + timedelta(days=5))
    client = as_user("pm")
    # Then the first page has the latest 25 and says how many there are in all ...
    first = text(client.get(PAGE))
    assert "Deal number 29" in first and "Deal number 05" in first and "Deal number 04" not in first
    assert "Page 1 of 2 · 30 in all" in first
    # ... and the next page the oldest, reached by its link
    second = text(client.get(PAGE, {"past_page": 2}))
    assert "Deal number 04" in second and "Deal number 00" in second and "Deal number 05" not in second

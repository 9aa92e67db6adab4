"""The approvals queue's filters (advisor, household, compliance's approval, restricted security,
estimated tax, turnover): each narrows the list, a value it cannot use is a 400 said beside its
field, the pager keeps them, and bulk approval works on a filtered list and comes back to it."""

import html
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django_tenants.utils import tenant_context

from frontend.views import common
from frontend.views import proposals as proposal_views
from rebalancing.models import Proposal
from rebalancing.services.people import advisor_assign

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


# account index -> (estimated tax, turnover, needs compliance, trades a restricted security)
SIZES = {0: ("6000", 0.30, True, False), 1: ("100", 0.05, False, False), 2: ("2500", 0.20, True, True),
         3: ("0", 0.01, False, False)}


@pytest.fixture
def queue(book, firm_a):
    """The book's four pending proposals (#0, #1 the advisor's; #2, #3 the colleague's) made to differ."""
    with tenant_context(firm_a):
        out = {}
        for i, (tax, turnover, compliance, restricted) in SIZES.items():
            proposal = Proposal.objects.get(account=book["accounts"][i], status=Proposal.Status.PENDING)
            Proposal.objects.filter(pk=proposal.pk).update(estimated_tax=Decimal(tax), turnover=turnover,
                                                           requires_compliance=compliance, restricted_traded=restricted)
            out[i] = proposal.pk
        return out


def listed(queue, response) -> set[int]:
    assert response.status_code == 200, text(response)[:500]
    body = response.content.decode()
    return {i for i, pk in queue.items() if f'href="/proposals/{pk}/"' in body}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {0, 1, 2, 3}),
    ("household=f-003", {3}),
    ("household=  F-00 ", {0, 1, 2, 3}),
    ("compliance=yes", {0, 2}),
    ("compliance=no", {1, 3}),
    ("restricted=yes", {2}),
    ("restricted=no", {0, 1, 3}),
    ("min_tax=2,500", {0, 2}),
    ("min_tax=$5000", {0}),
    ("min_turnover=20", {0, 2}),
    ("min_turnover=25%", {0}),
    ("min_tax=0&min_turnover=0", {0, 1, 2, 3}),
    ("compliance=yes&min_tax=3000", {0}),
])
def test_each_filter_narrows_the_queue(queue, as_user, query, expected):
    assert listed(queue, as_user("compliance").get(f"/approvals/?view=all&{query}")) == expected


def test_the_advisor_filter_narrows_to_the_households_advisor(queue, as_user, people, book, firm_a):
    client = as_user("compliance")
    assert listed(queue, client.get(f"/approvals/?view=all&advisor={people['advisor'].pk}")) == {0, 1}
    assert listed(queue, client.get(f"/approvals/?view=all&advisor={people['colleague'].pk}&min_tax=1")) == {2}
    assert listed(queue, client.get("/approvals/?view=all&advisor=none")) == set()
    with tenant_context(firm_a):
        advisor_assign(household=book["accounts"][3].household, advisor=None, by=None)
    assert listed(queue, client.get("/approvals/?view=all&advisor=none")) == {3}
    # The page offers the firm's advisors by name
    page = text(client.get("/approvals/?view=all"))
    assert re.search(rf'<option value="{people["advisor"].pk}"\s*>Advisor \(advisor@pages.example\)</option>', page)


def test_waiting_for_me_is_filtered_too(queue, as_user):
    # Compliance's own queue is what needs compliance: #0 and #2; filtered by size, #0
    client = as_user("compliance")
    assert listed(queue, client.get("/approvals/")) == {0, 2}
    assert listed(queue, client.get("/approvals/?view=mine&min_tax=5000")) == {0}
    page = text(client.get("/approvals/?view=mine&min_tax=5000"))
    assert "1 pending proposal matches these filters." in page


@pytest.mark.parametrize(("query", "field", "message"), [
    ("advisor=abc", "advisor", "The advisor filter must name an advisor from the list (its number), not “abc”."),
    ("advisor=999999", "advisor", "No advisor of this firm has the number 999999: choose one from the list."),
    ("compliance=maybe", "compliance", "The compliance filter must be one of yes, no, not “maybe”."),
    ("restricted=1", "restricted", "The restricted filter must be one of yes, no, not “1”."),
    ("min_tax=lots", "min_tax", "The minimum estimated tax must be a number, not “lots”."),
    ("min_tax=-5", "min_tax", "The minimum estimated tax must be zero or more dollars, not “-5”."),
    ("min_tax=1e999", "min_tax", "The minimum estimated tax must be a number, not “1e999”."),
    ("min_turnover=NaN", "min_turnover", "The minimum turnover must be a number, not “NaN”."),
    ("min_turnover=150", "min_turnover", "The minimum turnover must be a percentage from 0 to 100, not “150”."),
])
def test_a_bad_filter_is_refused_beside_its_field(queue, as_user, query, field, message):
    response = as_user("compliance").get(f"/approvals/?view=all&household=F-00&{query}")
    assert response.status_code == 400
    page = text(response)
    dom_id = "q-" + field.replace("_", "-")
    assert f'id="{dom_id}-error" role="alert">{message}</div>' in page
    assert f'aria-describedby="{dom_id}-error"' in page
    assert 'value="F-00"' in page  # the other values are kept to correct the one refused
    assert "Correct the filters marked above" in page
    assert not any(f'href="/proposals/{pk}/"' in page for pk in queue.values())


def test_an_advisors_bad_advisor_filter_is_refused_too(queue, as_user):
    # An advisor is not offered the advisor filter (they see only their own households), yet a typed one is named
    response = as_user("advisor").get("/approvals/?view=all&advisor=zz")
    assert response.status_code == 400
    assert "The advisor filter must name an advisor from the list" in text(response)


def test_an_unknown_view_is_refused(queue, as_user):
    response = as_user("compliance").get("/approvals/?view=bogus")
    assert response.status_code == 400
    assert "The view filter must be one of mine, all, not “bogus”." in text(response)


def test_the_pager_and_the_queue_links_keep_the_filters(queue, as_user, monkeypatch):
    monkeypatch.setattr(proposal_views, "paginate",
                        lambda request, items: common.paginate(request, items, per_page=1))
    client = as_user("compliance")
    body = client.get("/approvals/?view=all&compliance=yes&min_turnover=10").content.decode()
    assert "Page 1 of 2" in body
    next_link = html.unescape(re.search(r'href="([^"]*)" rel="next"', body).group(1))
    assert parse_qs(urlsplit(next_link).query) == {"view": ["all"], "compliance": ["yes"], "min_turnover": ["10"],
                                                   "page": ["2"]}
    # The second page is the filtered list's second proposal (#2 after #0, largest tax first)
    assert listed(queue, client.get(f"/approvals/{next_link}")) == {2}
    # "Waiting for me" keeps the filters, from page one
    mine = html.unescape(re.search(r'href="([^"]*)" [^>]*>Waiting for me', body).group(1))
    assert parse_qs(urlsplit(mine).query) == {"view": ["mine"], "compliance": ["yes"], "min_turnover": ["10"]}


def test_bulk_approval_on_a_filtered_list(queue, as_user, firm_a):
    client = as_user("advisor")
    filtered = "/approvals/?view=mine&household=F-00&min_turnover=1"
    page = client.get(filtered).content.decode()
    assert listed(queue, client.get(filtered)) == {0, 1}
    # #1 is within policy and offered for bulk approval; #0 (needs compliance) is not
    assert f'id="sel-{queue[1]}"' in page and f'id="sel-{queue[0]}"' not in page
    assert f'name="next" value="{html.escape(filtered)}"' in page

    # The form posts what was ticked (and a crafted #0 beyond the policy) and comes back to the filtered list
    response = client.post("/approvals/bulk/", {"proposal": [queue[1], queue[0]], "next": filtered})
    assert response.status_code == 302 and response["Location"] == filtered
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=queue[1]).status == Proposal.Status.APPROVED
        assert Proposal.objects.get(pk=queue[0]).status == Proposal.Status.PENDING
    after = text(client.get(filtered))
    assert "1 of 2 approved" in after or "Bulk approval" in after
    assert listed(queue, client.get(filtered)) == {0}


def test_bulk_approval_does_not_redirect_off_site(queue, as_user):
    response = as_user("advisor").post("/approvals/bulk/", {"proposal": [queue[1]], "next": "//evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/approvals/"


def _order(queue, response) -> list[int]:
    assert response.status_code == 200, text(response)[:500]
    body = response.content.decode()
    return sorted(queue, key=lambda i: body.index(f'href="/proposals/{queue[i]}/"'))


def test_the_queue_is_ordered_as_asked_and_the_order_is_kept_by_the_filters(queue, as_user, book, firm_a):
    client = as_user("compliance")
    with tenant_context(firm_a):
        for i, harvested in {0: "10", 1: "900", 2: "300", 3: "0"}.items():
            Proposal.objects.filter(pk=queue[i]).update(harvested_losses=Decimal(harvested))
        created = Proposal.objects.get(pk=queue[0]).created_at
        for i, days in {0: 0, 1: 3, 2: 1, 3: 2}.items():  # #1 has waited longest
            Proposal.objects.filter(pk=queue[i]).update(created_at=created - timedelta(days=days))
    assert _order(queue, client.get("/approvals/?view=all")) == [0, 2, 1, 3]  # estimated tax, the default
    assert _order(queue, client.get("/approvals/?view=all&sort=turnover")) == [0, 2, 1, 3]
    assert _order(queue, client.get("/approvals/?view=all&sort=harvested")) == [1, 2, 0, 3]
    assert _order(queue, client.get("/approvals/?view=all&sort=oldest")) == [1, 3, 2, 0]
    assert _order(queue, client.get("/approvals/?view=all&sort=account")) == [0, 1, 2, 3]
    page = text(client.get("/approvals/?view=all&sort=oldest&min_tax=1"))
    assert "Waiting longest first." in page and '<option value="oldest" selected>' in page
    assert _order({i: queue[i] for i in (0, 1, 2)}, client.get("/approvals/?view=all&sort=oldest&min_tax=1")) == [1, 2, 0]

    response = client.get("/approvals/?view=all&sort=newest")
    assert response.status_code == 400
    assert ('id="q-sort-error" role="alert">The sort filter must be one of tax, turnover, harvested, oldest, '
            'account, not “newest”.</div>') in text(response)

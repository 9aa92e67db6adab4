"""Attack 10: who may see and do what, object by object. A hostile advisor walks every page and API
route that takes an id with the ids of a colleague's objects; every route must be in the tables
below (a new one fails the walk until someone says whose objects it serves), and each answer is the
product's convention: 403 when the role lacks the route's capability (decided before any lookup,
so nothing can be probed), else 404 "not found, or not yours to see" - and nothing is written."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import get_resolver
from django_tenants.utils import tenant_context

from frontend.views.common import SIGNED_IN, page_access_of
from rebalancing.api.base import READ
from rebalancing.models import (
    Alert,
    Backtest,
    CashFlow,
    HouseholdProposal,
    Order,
    Proposal,
)
from rebalancing.selectors import RunScope
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.proposals import proposal_approve, proposal_release
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.api_keys.models import ApiKey
from tenants.api_keys.scopes import scopes_of
from tenants.api_keys.services import api_key_create
from tenants.audit.models import AuditEvent
from tenants.permissions import capabilities_of
from tests.api.conftest import key_client
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy
from tests.security.test_page_access import _walk

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def colleagues(book, firm_a, people):
    """One of every kind of object that belongs to the colleague's households (or to the colleague),
    beside the advisor's own book: the ids the advisor will ask for."""
    with tenant_context(firm_a):
        policy(max_price_age_days=3650, compliance_min_estimated_tax=10**9, compliance_min_turnover=10)
        account = book["theirs"][0]
        proposal = Proposal.objects.get(account=account, run=book["run"])
        released = Proposal.objects.get(account=book["theirs"][1], run=book["run"])
        proposal_approve(proposal=released, user=people["colleague"], comment="")
        proposal_release(proposal=released, user=people["pm"], comment="", today=AS_OF)
        unit = make_unit_household(advisor=people["colleague"], external_id="HH-COL", prefix="COL")
        run = run_start(scope=RunScope(household_id=unit["household"].pk), as_of=AS_OF, label="colleague's")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        household_proposal = HouseholdProposal.objects.get(run=run)
        flow = cash_flow_enter(user=people["colleague"], household=account.household, kind="deposit",
                               amount=Decimal("100"), account=account, reference="COL-DEP").cash_flow
        alert = Alert.objects.create(account=account, kind=Alert.Kind.DRIFT, message="drift of the colleague's")
        backtest = Backtest.objects.create(name="colleague's prospect", amount=Decimal(100000), start=date(2015, 1, 2),
                                           years=5, short_term_rate=Decimal("0.4"), long_term_rate=Decimal("0.2"),
                                           created_by=people["colleague"])
        key = api_key_create(user=people["colleague"], name="colleague's key", scopes=["read"], expires_at=None,
                             by=None).key
        order = Order.objects.filter(account=book["theirs"][1]).first()
        assert order is not None, "the released proposal made orders"
        own_household = book["mine"][0].household
        own_proposal = Proposal.objects.get(account=book["mine"][0], run=book["run"])
        return {
            "account": account, "household": account.household, "proposal": proposal, "run": run,
            "household_proposal": household_proposal, "unit_household": unit["household"], "cash_flow": flow,
            "alert": alert, "backtest": backtest, "api_key": key, "order": order,
            "own_household": own_household, "own_proposal": own_proposal,
            "words": [account.custodian_number, "COL-JT", "COL family", "colleague's prospect", "colleague's key",
                      "drift of the colleague's", "COL-"],
        }


def _state(firm):
    """What a refused request must leave as it was: the audit trail, every proposal's status, keys."""
    with tenant_context(firm):
        return (AuditEvent.objects.count(), sorted(Proposal.objects.values_list("pk", "status")),
                sorted(ApiKey.objects.values_list("pk", "revoked_at")))


# --- The API -------------------------------------------------------------------------------------

# Routes whose objects belong to households, so an advisor has some and not others: the object of
# the colleague's the advisor asks for.
API_ADVISED = {
    "accounts": "account", "households": "household", "household-proposals": "household_proposal",
    "cash-flows": "cash_flow", "runs": "run", "backtests": "backtest", "proposals": "proposal",
    "orders": "order", "alerts": "alert", "api-keys": "api_key", "executions": None,
}
# The firm's reference data, the same for every role that views the book (rebalancing.api.visibility).
API_BOOK_WIDE = {"securities", "prices", "benchmarks", "models", "templates", "restricted-list"}
# Whole resources for roles an advisor does not hold (the audit trail, reconciliations, integrations,
# risk models, releases of every approved proposal): refused by capability before any lookup.
API_ROLE_GATED = {"reconciliations", "audit-events", "webhook-endpoints", "webhook-deliveries", "risk-models",
                  "risk-model-estimates", "release-batches"}

_ROUTE = re.compile(r"^api/v1/\^(?P<resource>[\w-]+)/\(\?P<(?P<key>pk|id)>[^)]*\)/(?:(?P<action>[\w-]+)/)?\$$")


def _api_object_routes() -> list[tuple]:
    routes = []
    for route, view in _walk(get_resolver("config.urls")):
        match = _ROUTE.match(route)
        if match and getattr(view, "actions", None):
            routes += [(match["resource"], match["action"] or "", method, action, view.cls)
                       for method, action in dict(view.actions).items()]
    return routes


def test_every_api_object_route_is_in_an_access_table():
    unknown = sorted({r for r, *_ in _api_object_routes()} - set(API_ADVISED) - API_BOOK_WIDE - API_ROLE_GATED)
    assert unknown == [], f"say whose objects these routes serve: {unknown}"


def _expected(cls, action: str, user, *, by_key: bool) -> int:
    """The product's convention: the action's declared rule first (capability, scope, signed in
    only), 403; then the object, 404."""
    rule = cls.rules.get(action) or cls.rules.get("*", READ)
    refused = (rule.capability is not None and rule.capability not in capabilities_of(user)
               or rule.scope not in scopes_of(user) or by_key and rule.session_only)
    return 403 if refused else 404


def _object_id(obj) -> str:
    return obj.order_id if isinstance(obj, Order) else str(obj.pk)


@pytest.mark.parametrize("auth", ["session", "api key"])
def test_an_advisor_asking_for_a_colleagues_objects_by_id_is_told_nothing(firm_a, people, colleagues, client_for,
                                                                        auth):
    advisor = people["advisor"]
    if auth == "session":
        client = client_for(firm_a, advisor)
    else:
        with tenant_context(firm_a):
            token = api_key_create(user=advisor, name="advisor's", scopes=sorted(scopes_of(advisor)),
                                   expires_at=None, by=None).token
        client = key_client(firm_a, token)
    before = _state(firm_a)
    tried = []
    for resource, action, method, name, cls in _api_object_routes():
        if resource in API_BOOK_WIDE or API_ADVISED.get(resource, "") is None:
            continue
        # A role-gated resource: any id will do, the capability is checked first.
        obj = colleagues["account"] if resource in API_ROLE_GATED else colleagues[API_ADVISED[resource]]
        path = f"{API}/{resource}/{_object_id(obj)}/" + (f"{action}/" if action else "")
        # A body the action would refuse: the object is looked up first, so it is 404 all the same.
        body = {} if method in ("get", "head") else {"not_a_field": 1}
        answer = getattr(client, method)(path, body, content_type="application/json")
        tried.append((method, path, answer.status_code, _expected(cls, name, advisor, by_key=auth == "api key")))
        text = answer.content.decode()
        assert not [w for w in colleagues["words"] if w in text], (method, path, text[:300])
    wrong = [t for t in tried if t[2] != t[3]]
    assert wrong == [], wrong
    assert len(tried) >= 30
    assert _state(firm_a) == before


# --- The pages -----------------------------------------------------------------------------------

# A page route's first id: whose object it is (the table the walk checks every route against).
PAGE_ADVISED = {"accounts": "account", "households": "household", "proposals": "proposal", "runs": "run",
                "backtests": "backtest"}
PAGE_BOOK_WIDE = {"models", "templates", "securities"}
PAGE_ROLE_GATED = {"ledger", "webhooks"}  # reconciliations (importers), webhooks (integrations)


def _page_object_routes() -> list[tuple[str, object]]:
    return [(route, view) for route, view in _walk(get_resolver("config.urls"))
            if "<int:" in route and not route.startswith(("api/", "admin/"))]


def test_every_page_object_route_is_in_an_access_table():
    unknown = sorted({r.split("/")[0] for r, _ in _page_object_routes()}
                     - set(PAGE_ADVISED) - PAGE_BOOK_WIDE - PAGE_ROLE_GATED)
    assert unknown == [], f"say whose objects these pages serve: {unknown}"


def _page_expected(view, method: str, user) -> set[int]:
    access = page_access_of(view)
    held = capabilities_of(user)

    def lacks(needs) -> bool:
        return bool(needs) and needs != (SIGNED_IN,) and not set(needs) & held

    if lacks(access.needs) or method == "post" and lacks(access.post):
        return {403}
    return {404, 405} if method == "get" else {404}  # 405: a page that only takes a POST


def _page_path(route: str, colleagues: dict, *, own_household: bool = False) -> str:
    resource = route.split("/")[0]
    first = colleagues[PAGE_ADVISED[resource]] if resource in PAGE_ADVISED else colleagues["account"]
    if "<int:proposal_pk>" in route:  # a household's proposal, under its household (or the advisor's own)
        first = colleagues["own_household"] if own_household else colleagues["unit_household"]
        route = route.replace("<int:proposal_pk>", str(colleagues["household_proposal"].pk))
    return "/" + re.sub(r"<int:pk>", str(first.pk), route)


def test_an_advisor_opening_a_colleagues_objects_pages_is_told_nothing(firm_a, people, colleagues, as_user):
    client, advisor = as_user("advisor"), people["advisor"]
    before = _state(firm_a)
    tried = []
    for route, view in _page_object_routes():
        if route.split("/")[0] in PAGE_BOOK_WIDE:
            continue
        paths = {_page_path(route, colleagues)}
        if "<int:proposal_pk>" in route:
            paths.add(_page_path(route, colleagues, own_household=True))  # a colleague's id under one's own
        for path in sorted(paths):
            for method in ("get", "post"):
                answer = getattr(client, method)(path, {"decision": "approve", "action": "approve", "comment": "x"})
                tried.append((method, path, answer.status_code, _page_expected(view, method, advisor)))
                text = answer.content.decode()
                assert not [w for w in colleagues["words"] if w in text], (method, path)
    wrong = [t for t in tried if t[2] not in t[3]]
    assert wrong == [], wrong
    assert len(tried) >= 40
    assert _state(firm_a) == before


# --- Ids in query strings and in bodies ------------------------------------------------------------

def _seen(answer) -> list[str]:
    return answer.content.decode()


def _filtered_urls(c: dict, people: dict) -> list[str]:
    """Lists, searches, reports, exports and dashboards, each narrowed to a colleague's object."""
    account, household, run = c["account"], c["household"], c["run"]
    released = c["order"].account
    return [
        f"{API}/accounts/?household={household.pk}", f"{API}/accounts/?advisor={people['colleague'].pk}",
        f"{API}/accounts/?search={account.custodian_number}", f"{API}/proposals/?account={account.pk}",
        f"{API}/proposals/?run={run.pk}", f"{API}/alerts/?account={account.pk}", f"{API}/orders/?account={released.pk}",
        f"{API}/orders/?proposal={c['order'].proposal_id}", f"{API}/household-proposals/", f"{API}/cash-flows/",
        f"{API}/backtests/", f"{API}/runs/", f"{API}/executions/", f"{API}/order-files/", f"{API}/order-files/?layout=blocks",
        f"{API}/reports/realised-gains/?account={account.custodian_number}&start=2000-01-01&end=2030-12-31",
        f"{API}/reports/harvest/?household={household.external_id}&start=2000-01-01&end=2030-12-31",
        f"{API}/reports/transition/?account={account.custodian_number}&as_of=2026-12-01",
        f"{API}/reports/schedule-d/?household={household.external_id}&year=2026", f"{API}/reports/rmds/?show=all",
        f"{API}/api-keys/",
        "/", f"/accounts/?advisor={people['colleague'].pk}", f"/accounts/?q={account.custodian_number}",
        "/accounts/?attention=any", "/households/?q=COL", "/households/rmds/?show=all",
        "/households/rmds/?show=all&download=csv", f"/reports/realised/?account={account.custodian_number}",
        f"/reports/realised/?household={household.external_id}&download=lots",
        f"/reports/harvest/?household={household.external_id}", f"/reports/transition/?account={account.custodian_number}",
        f"/ledger/orders/?q={released.custodian_number}", "/ledger/orders/?download=orders",
        "/ledger/orders/?download=blocks", "/ledger/executions/", "/approvals/?view=all", "/proposals/?status=released",
        "/proposals/?status=pending", "/runs/", "/backtests/", "/api-keys/", "/notices/",
    ]


def test_an_advisor_naming_a_colleagues_objects_in_a_query_finds_none_of_them(firm_a, people, colleagues, as_user):
    client = as_user("advisor")
    words = [*colleagues["words"], colleagues["order"].account.custodian_number]
    for url in _filtered_urls(colleagues, people):
        answer = client.get(url)
        if answer.status_code == 400 and url.startswith(f"{API}/reports/"):
            # a report filter naming none of the user's is refused by name: the same answer as for
            # one that names nothing at all, so it tells nothing of the colleague's
            ghost = client.get(re.sub(r"(account|household)=[^&]+", r"\1=NO-SUCH-1", url))
            assert (ghost.status_code, ghost.json()) == (400, answer.json()), url
            continue
        assert answer.status_code == 200, (url, answer.status_code, answer.content[:300])
        text = answer.content.decode()
        for value in QueryDict(urlsplit(url).query).values():  # the filter form shows what was asked
            text = text.replace(f'value="{value}"', "").replace(f"={value}&", "")
        assert not [w for w in words if w in text], (url, [w for w in words if w in text])
        if url.startswith(API) and "?" in url and answer["Content-Type"].startswith("application/json"):
            body = answer.json()
            rows = body.get("results", body.get("lots")) if isinstance(body, dict) else body
            assert not rows, (url, body)


def test_the_colleague_sees_what_the_advisor_does_not(colleagues, people, as_user):
    """The same URLs do show the objects to their own advisor: the attack above is not vacuous."""
    client = as_user("colleague")
    shown = sum(colleagues["account"].custodian_number in client.get(url).content.decode()
                for url in _filtered_urls(colleagues, people))
    assert shown >= 10


def test_an_advisor_naming_a_colleagues_objects_in_a_body_writes_nothing(firm_a, people, colleagues, as_user):
    client = as_user("advisor")
    own, theirs = colleagues["own_household"], colleagues["account"]
    with tenant_context(firm_a):
        classes_before = theirs.asset_classes
    before = _state(firm_a)

    bulk = client.post("/approvals/bulk/", {"proposal": [colleagues["proposal"].pk]}, follow=True)
    api_flow = client.post(f"{API}/cash-flows/", {"household": colleagues["household"].pk, "kind": "deposit",
                                                  "amount": "10", "account": theirs.pk}, content_type="application/json")
    api_flow_own = client.post(f"{API}/cash-flows/", {"household": own.pk, "kind": "deposit", "amount": "10",
                                                      "account": theirs.pk}, content_type="application/json")
    page_flow = client.post(f"/households/{own.pk}/cash-flows/", {"kind": "deposit", "amount": "10",
                                                                  "account": theirs.pk})
    rmd_facts = client.post(f"/households/{own.pk}/rmd-facts/", {"account": theirs.pk, "year_end_value": "1"})
    settings = client.post(f"/households/{own.pk}/settings/", {f"classes_shown:{theirs.pk}": "1",
                                                               f"classes:{theirs.pk}": "bonds"})
    api_settings = client.patch(f"{API}/households/{own.pk}/settings/",
                                {"settings": {}, "asset_classes": {str(theirs.pk): ["bonds"]}},
                                content_type="application/json")
    csv = f"household_id,kind,amount,account_number,reference\n{colleagues['household'].external_id},deposit,10,"
    csv += f"{theirs.custodian_number},X-1\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", csv.encode())})
    page_upload = client.post(f"/households/{own.pk}/cash-flows/upload/",
                              {"file": SimpleUploadedFile("f.csv", csv.encode())}, follow=True)

    assert "not found, or not yours to see" in bulk.content.decode()
    assert api_flow.status_code == 404 and api_flow_own.status_code == 400
    assert page_flow.status_code == 404 and rmd_facts.status_code == 404
    assert settings.status_code == 302 and api_settings.status_code == 400
    assert upload.status_code == 400 and "is not known, or not yours" in upload.content.decode()
    assert "is not known, or not yours" in page_upload.content.decode()
    with tenant_context(firm_a):
        theirs.refresh_from_db()
        assert theirs.asset_classes == classes_before
        assert not CashFlow.objects.filter(amount=Decimal("10")).exists()
    after = _state(firm_a)
    assert after[1:] == before[1:]


# --- Another firm, the same numeric ids --------------------------------------------------------------

@pytest.mark.parametrize("auth", ["session", "api key"])
def test_firm_b_asking_for_firm_a_ids_finds_only_its_own(firm_a, firm_b, firm_user, client_for, colleagues, auth):
    """Firm B holds a book of its own (so the same ids exist in both schemas): its admin, signed in or
    with a key, walking every object route with firm A's ids sees firm B's objects or nothing."""
    from rebalancing.models import Account, Household
    from tenants.roles import FirmRole
    from tests.frontend.book import make_firm_book
    from tests.rebalancing.book import make_account

    people_b = {key: firm_user(firm_b, f"{key}@b.example", role) for key, role in
                (("admin", FirmRole.FIRM_ADMIN), ("advisor", FirmRole.ADVISOR), ("colleague", FirmRole.ADVISOR))}
    with tenant_context(firm_b):
        book_b = make_firm_book(people_b)
        # Sequences are the schema's own: make firm B hold an account and household of firm A's ids.
        for model, pk in ((Household, colleagues["household"].pk), (Account, colleagues["account"].pk)):
            if not model.objects.filter(pk=pk).exists():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                                   [model._meta.db_table, pk])
        make_account("B-SAME-ID", model=book_b["model"], template=book_b["template"])
        assert Account.objects.filter(pk=colleagues["account"].pk).exists()
        token = api_key_create(user=people_b["admin"], name="b", scopes=sorted(scopes_of(people_b["admin"])),
                               expires_at=None, by=None).token
    client = client_for(firm_b, people_b["admin"]) if auth == "session" else key_client(firm_b, token)
    before = _state(firm_a)
    words = [w for w in colleagues["words"] if not w.startswith("F-")] + [firm_a.name]
    found = 0
    paths = [f"{API}/{r}/{_object_id(colleagues['account'] if r in API_ROLE_GATED or r in API_BOOK_WIDE else colleagues[API_ADVISED[r]])}/"
             + (f"{a}/" if a else "") for r, a, m, *_ in _api_object_routes() if m == "get" and API_ADVISED.get(r, "")]
    if auth == "session":
        paths += [_page_path(route, colleagues) for route, _ in _page_object_routes()
                  if route.split("/")[0] in PAGE_ADVISED]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code in (200, 400, 403, 404, 405), (path, answer.status_code)
        found += answer.status_code == 200
        text = answer.content.decode()
        assert not [w for w in words if w in text], (path, [w for w in words if w in text])
    assert found >= 3  # the same ids exist at firm B: its own objects are shown (account, its pages)
    assert _state(firm_a) == before


def test_a_run_over_a_selection_shows_an_advisor_only_their_own_accounts_ids(firm_a, book, people, colleagues,
                                                                           as_user):
    with tenant_context(firm_a):
        mine, theirs = book["mine"][0], colleagues["account"]
        run = run_start(scope=RunScope(account_ids=(theirs.pk, mine.pk)), as_of=AS_OF, label="selection")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)

    detail = as_user("advisor").get(f"{API}/runs/{run.pk}/").json()
    listed = {r["id"]: r for r in as_user("advisor").get(f"{API}/runs/").json()["results"]}
    page = as_user("advisor").get(f"/runs/{run.pk}/").content.decode()
    theirs_view = as_user("pm").get(f"{API}/runs/{run.pk}/").json()

    assert detail["scope"]["account_ids"] == [mine.pk] and listed[run.pk]["scope"]["account_ids"] == [mine.pk]
    assert "1 account" in page and "2 accounts" not in page
    assert sorted(theirs_view["scope"]["account_ids"]) == sorted([mine.pk, theirs.pk])

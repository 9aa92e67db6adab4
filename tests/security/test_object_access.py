"""Attack 10: who may see and do what, object by object. A hostile advisor walks every page and API
route that takes an id with the ids of a colleague's objects; every route must be in the tables
below (a new one fails the walk until someone says whose objects it serves), and each answer is the
product's convention: 403 when the role lacks the route's capability (decided before any lookup,
so nothing can be probed), else 404 "not found, or not yours to see" - and nothing is written."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import get_resolver
from django_tenants.utils import tenant_context

from frontend.views.common import SIGNED_IN, page_access_of
from rebalancing.api.base import READ
from rebalancing.models import (
    Alert,
    Backtest,
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
                      "drift of the colleague's"],
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
API_BOOK_WIDE = {"securities", "prices", "benchmarks", "models", "templates"}
# Whole resources for roles an advisor does not hold (the audit trail, reconciliations, integrations,
# risk models): refused by capability before any lookup.
API_ROLE_GATED = {"reconciliations", "audit-events", "webhook-endpoints", "webhook-deliveries", "risk-models",
                  "risk-model-estimates"}

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
PAGE_BOOK_WIDE = {"models", "templates"}
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

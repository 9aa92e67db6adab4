"""Attack 11: every state-changing action tried by every firm role that must not do it, in the browser
and through the API: 403 (the role's capability is checked before anything is looked up or read) and
nothing written. The table says who may; the roles' capabilities (tenants.permissions) must agree
with it, so a change to either is seen here."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from rebalancing.models import ParameterTemplate, Proposal
from tenants.api_keys.models import ApiKey
from tenants.audit.models import AuditEvent
from tests.conftest import host_of

pytestmark = pytest.mark.django_db

API = "/api/v1"
ADMIN, PM, ADVISOR, COMPLIANCE = "admin", "pm", "advisor", "compliance"
ROLES = (ADMIN, PM, ADVISOR, COMPLIANCE)

# (method, path with {account} {household} {proposal} {template} {model} {run} {user}, body, roles that may)
ACTIONS = [
    # The firm's models and templates: firm admins.
    ("post", "/templates/new/", {"code": "x", "name": "x"}, {ADMIN}),
    ("post", "/templates/{template}/", {"name": "x"}, {ADMIN}),
    ("post", "/templates/{template}/household/", {"tax_budget": "1"}, {ADMIN}),
    ("post", "/models/new/", {"code": "x", "name": "x"}, {ADMIN}),
    ("post", "/models/{model}/", {"name": "x"}, {ADMIN}),
    ("post", "/securities/equivalents/", {"symbol": "VTI", "group": "x"}, {ADMIN}),
    ("post", "/securities/substitutes/", {"symbol": "VTI", "substitute": "BND"}, {ADMIN}),
    ("post", "/accounts/assign/", {"accounts": "{account}"}, {ADMIN}),
    ("post", f"{API}/templates/", {"code": "x", "name": "x", "parameters": {}}, {ADMIN}),
    ("patch", f"{API}/templates/{{template}}/", {"name": "x"}, {ADMIN}),
    ("post", f"{API}/models/", {"code": "x", "name": "x", "sleeves": []}, {ADMIN}),
    ("post", f"{API}/models/{{model}}/versions/", {"sleeves": []}, {ADMIN}),
    # People, roles, keys for others, the approval policy, sign-in security, integrations: firm admins.
    ("post", "/people/", {"action": "roles", "user": "{user}", "role": "firm_admin"}, {ADMIN}),
    ("post", "/people/", {"action": "deactivate", "user": "{user}"}, {ADMIN}),
    ("post", "/policy/", {"auto_approve": "on"}, {ADMIN}),
    ("post", "/security/", {"action": "reset", "user": "{user}"}, {ADMIN}),
    ("post", "/households/{household}/advisors/", {"advisors": "{user}"}, {ADMIN}),
    ("post", "/webhooks/", {"url": "https://hooks.example/x"}, {ADMIN}),
    ("post", f"{API}/webhook-endpoints/", {"url": "https://hooks.example/x", "event_types": []}, {ADMIN}),
    ("post", f"{API}/api-keys/", {"name": "x", "scopes": ["read"], "user": "{user}"}, {ADMIN}),
    ("post", "/api-keys/", {"name": "x", "scope": "read", "owner": "{user}"}, {ADMIN}),
    # The firm's restricted list: compliance and firm admins.
    ("post", "/restricted/", {"action": "add", "symbol": "VTI", "restriction": "do_not_buy", "reason": "x",
                              "starts_on": "2026-01-05"}, {ADMIN, COMPLIANCE}),
    ("post", f"{API}/restricted-list/", {"symbol": "VTI", "restriction": "do_not_buy", "reason": "x",
                                         "starts_on": "2026-01-05"}, {ADMIN, COMPLIANCE}),
    # Data in, runs, the household's structure: firm admins and portfolio managers.
    ("post", "/import/", {"kind": "securities"}, {ADMIN, PM}),
    ("post", f"{API}/imports/", {"kind": "securities", "rows": []}, {ADMIN, PM}),
    ("post", "/ledger/executions/", {}, {ADMIN, PM}),
    ("post", "/ledger/reconciliations/", {}, {ADMIN, PM}),
    ("post", f"{API}/executions/", {"executions": []}, {ADMIN, PM}),
    ("post", "/runs/", {"scope": "firm"}, {ADMIN, PM}),
    ("post", "/runs/{run}/cancel/", {}, {ADMIN, PM}),
    ("post", "/accounts/{account}/rebalance/", {}, {ADMIN, PM}),
    ("post", "/households/{household}/rebalance/", {}, {ADMIN, PM}),
    ("post", f"{API}/runs/", {"scope": {"firm": True}}, {ADMIN, PM}),
    ("post", f"{API}/runs/{{run}}/cancel/", {}, {ADMIN, PM}),
    ("post", f"{API}/risk-models/estimate/", {}, {ADMIN, PM}),
    ("post", "/households/", {"name": "x"}, {ADMIN, PM}),
    ("post", "/households/{household}/management/", {"managed_as": "accounts"}, {ADMIN, PM}),
    ("post", "/households/{household}/accounts/", {"remove": "{account}"}, {ADMIN, PM}),
    # Parameters, household settings and cash flows: all but compliance (advisors: their own).
    ("post", "/accounts/{account}/", {"p__cash__target": "2"}, {ADMIN, PM, ADVISOR}),
    ("post", "/accounts/{account}/preview/", {}, {ADMIN, PM, ADVISOR}),
    ("post", "/households/{household}/settings/", {"tax_budget": "1"}, {ADMIN, PM, ADVISOR}),
    ("post", "/households/{household}/cash-flows/", {"kind": "deposit", "amount": "1"}, {ADMIN, PM, ADVISOR}),
    ("post", "/households/{household}/rmd-facts/", {"account": "{account}"}, {ADMIN, PM, ADVISOR}),
    ("patch", f"{API}/accounts/{{account}}/parameters/", {"overrides": {}}, {ADMIN, PM, ADVISOR}),
    ("patch", f"{API}/households/{{household}}/parameters/", {"overrides": {}}, {ADMIN, PM, ADVISOR}),
    ("patch", f"{API}/households/{{household}}/settings/", {"settings": {}}, {ADMIN, PM, ADVISOR}),
    ("post", f"{API}/cash-flows/", {"household": "{household}", "kind": "deposit", "amount": "1"}, {ADMIN, PM, ADVISOR}),
    # Decisions: the advisor's own household (portfolio managers: households without an advisor,
    # which this one is not); compliance only on proposals that need it (this one does not); release:
    # portfolio managers. Firm admins decide nothing.
    ("post", "/proposals/{proposal}/decide/", {"action": "approve"}, {ADVISOR}),
    ("post", "/proposals/{proposal}/decide/", {"action": "reject", "comment": "no"}, {ADVISOR}),
    ("post", "/proposals/{proposal}/resolve/", {"drop": "VTI"}, {ADVISOR}),
    ("post", f"{API}/proposals/{{proposal}}/approve/", {"comment": ""}, {ADVISOR}),
    ("post", f"{API}/proposals/{{proposal}}/reject/", {"comment": "no"}, {ADVISOR}),
    ("post", f"{API}/proposals/{{proposal}}/revise/", {"drop": ["VTI"]}, {ADVISOR}),
    ("post", f"{API}/proposals/{{proposal}}/release/", {"comment": ""}, {PM}),
    ("post", "/proposals/{proposal}/decide/", {"action": "release"}, {PM}),
    ("post", "/proposals/", {"proposal": "{proposal}"}, {PM}),
]


@pytest.fixture
def ids(book, firm_a, people):
    with tenant_context(firm_a):
        account = book["mine"][0]
        return {"account": account.pk, "household": account.household_id, "template": book["template"].pk,
                "model": book["model"].pk, "run": book["run"].pk, "user": people["colleague"].pk,
                "proposal": Proposal.objects.get(account=account, run=book["run"]).pk}


def _fill(value, ids):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]  # a whole placeholder is the id itself (an integer in JSON)
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _state(firm):
    with tenant_context(firm):
        return (AuditEvent.objects.count(), sorted(Proposal.objects.values_list("pk", "status")),
                ApiKey.objects.count(), ParameterTemplate.objects.count())


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_every_action_it_may_not_take(firm_a, people, ids, as_user, role):
    client = as_user(role)
    before = _state(firm_a)
    answers = []
    for method, path, body, may in ACTIONS:
        if role in may:
            continue
        url = path.format(**ids)
        if url.startswith(API):
            answer = getattr(client, method)(url, _fill(body, ids), content_type="application/json")
        else:
            answer = getattr(client, method)(url, _fill(body, ids))
        status = answer.status_code
        if status == 302 and url.endswith(("/decide/", "/resolve/")):
            # The page holds the role's capability and the workflow refuses this proposal: the
            # convention of the proposal pages is the service's refusal said on the page.
            said = client.get(answer["Location"]).content.decode()
            status = 403 if re.search(r"You may not (approve|decide)|Only a portfolio manager", said) else status
        answers.append((method, url, body, status))
    wrong = [a for a in answers if a[3] != 403]
    assert wrong == [], wrong
    assert _state(firm_a) == before


def test_the_table_agrees_with_the_roles_capabilities():
    """Who may in the table, against the capability each action needs (tenants.permissions): the
    table is not a copy of the code, so a role's capability changed without the table fails."""
    from tenants.permissions import ROLE_CAPABILITIES, Capability
    from tenants.roles import FirmRole

    role_of = {ADMIN: FirmRole.FIRM_ADMIN, PM: FirmRole.PORTFOLIO_MANAGER, ADVISOR: FirmRole.ADVISOR,
               COMPLIANCE: FirmRole.COMPLIANCE}
    holders = {cap: {r for r, role in role_of.items() if cap in ROLE_CAPABILITIES[role]} for cap in Capability}
    assert holders[Capability.MANAGE_MODELS] == holders[Capability.MANAGE_USERS] == {ADMIN}
    assert holders[Capability.MANAGE_INTEGRATIONS] == {ADMIN}
    assert holders[Capability.MANAGE_RESTRICTED_LIST] == {ADMIN, COMPLIANCE}
    assert holders[Capability.IMPORT_DATA] == holders[Capability.RUN_REBALANCE] == {ADMIN, PM}
    assert holders[Capability.EDIT_PARAMETERS] == {ADMIN, PM, ADVISOR}
    assert holders[Capability.APPROVE] == {PM, ADVISOR} and holders[Capability.APPROVE_COMPLIANCE] == {COMPLIANCE}
    assert holders[Capability.RELEASE] == {PM}


# --- Another firm's people, sessions and keys --------------------------------------------------------

def test_firm_a_people_are_nobody_at_firm_b(firm_a, firm_b, people, ids, as_user):
    """A firm A session at firm B's host is anonymous (sessions live in the firm's schema); firm A's
    API key is unknown there. Nothing at firm B is done by them."""
    from tenants.api_keys.services import api_key_create

    with tenant_context(firm_a):
        token = api_key_create(user=people["admin"], name="a", scopes=["read", "run", "admin"], expires_at=None,
                               by=None).token
    session = as_user("admin")
    keyed = Client(HTTP_HOST=host_of(firm_b), HTTP_AUTHORIZATION=f"Bearer {token}")
    with tenant_context(firm_b):
        before = AuditEvent.objects.count()

    page = session.get("/accounts/", HTTP_HOST=host_of(firm_b))
    post = session.post("/runs/", {"scope": "firm"}, HTTP_HOST=host_of(firm_b))
    api = [keyed.get(f"{API}/accounts/"), keyed.post(f"{API}/runs/", {"scope": {"firm": True}},
                                                     content_type="application/json")]

    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    assert post.status_code == 302 and post["Location"].startswith("/accounts/login/")
    assert [a.status_code for a in api] == [401, 401]
    assert {a.json()["code"] for a in api} == {"api_key_unknown"}
    with tenant_context(firm_b):
        assert AuditEvent.objects.count() == before


def test_provider_staff_are_nobody_on_a_firms_host_and_firm_people_nobody_on_the_providers(firm_a, as_user):
    """Provider operators serve firms from the provider's host (runs, health), never as a firm's user;
    a firm's admin is nobody on the provider's host."""
    from tenants.roles import ProviderRole
    from tenants.services import user_ensure
    from tests.conftest import PASSWORD

    operator = user_ensure(username="op@provider.example", email="op@provider.example",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
    provider = Client(HTTP_HOST="localhost")
    provider.force_login(operator)
    firm_admin = as_user("admin")  # signing in is audited: before the count
    with tenant_context(firm_a):
        before = AuditEvent.objects.count()

    on_firm = [provider.get("/accounts/", HTTP_HOST=host_of(firm_a)),
               provider.post("/runs/", {"scope": "firm"}, HTTP_HOST=host_of(firm_a)),
               provider.get("/api/v1/accounts/", HTTP_HOST=host_of(firm_a))]
    on_provider = [firm_admin.get("/", HTTP_HOST="localhost"),
                   firm_admin.post("/runs/start/", {"firm": firm_a.slug}, HTTP_HOST="localhost")]

    assert [a.status_code for a in on_firm] == [302, 302, 401]
    assert all(a.status_code == 302 and "/accounts/login/" in a["Location"] for a in on_provider)
    with tenant_context(firm_a):
        assert AuditEvent.objects.count() == before

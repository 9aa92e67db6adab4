"""API test helpers: firm users with roles, API keys, a client speaking to a firm's host."""

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from tenants.api_keys.services import api_key_create
from tenants.roles import FirmRole

from ..conftest import host_of

API = "/api/v1"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()  # request counts live in the cache; each test starts from zero
    yield
    cache.clear()


@pytest.fixture
def api_key():
    """Issue a key: api_key(firm, user, scopes=("read",), **kwargs) -> token."""

    def make(firm, user, scopes=("read",), name="test key", expires_at=None):
        with schema_context(firm.schema_name):
            return api_key_create(user=user, name=name, scopes=list(scopes), expires_at=expires_at, by=None).token

    return make


def key_client(firm, token: str) -> Client:
    return Client(HTTP_HOST=host_of(firm), HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def people(firm_a, firm_user):
    """One user of each firm role in firm A, two advisors, and a user with no role."""
    users = {
        "admin": firm_user(firm_a, "admin@a.example", FirmRole.FIRM_ADMIN),
        "pm": firm_user(firm_a, "pm@a.example", FirmRole.PORTFOLIO_MANAGER),
        "advisor": firm_user(firm_a, "adv1@a.example", FirmRole.ADVISOR),
        "colleague": firm_user(firm_a, "adv2@a.example", FirmRole.ADVISOR),
        "compliance": firm_user(firm_a, "cco@a.example", FirmRole.COMPLIANCE),
    }
    with tenant_context(firm_a):
        from tenants.services import user_ensure

        users["nobody"] = user_ensure(username="nobody@a.example", email="nobody@a.example", roles=[],
                                      password="x-pass-12345")
    return users


def error_of(response) -> dict:
    """The uniform error body, checked for shape."""
    body = response.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str) and isinstance(body["detail"], dict)
    return body


@pytest.fixture
def book(firm_a, people):
    """Firm A's small book: two accounts of the advisor, one of the colleague, a run over all three
    with a proposal each, pending approval (auto-approval off)."""
    from datetime import date

    from rebalancing.models import ApprovalPolicy, Proposal
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_chunks, run_process_chunk, run_start

    from ..rebalancing.book import AS_OF, make_account, make_book

    with tenant_context(firm_a):
        ApprovalPolicy.current()
        ApprovalPolicy.objects.update(auto_approve=False, max_price_age_days=3650)  # AS_OF is a fixed day
        made = make_book(2, advisor=people["advisor"])
        colleague_account = make_account(
            "T-COL", model=made["model"], template=made["template"], advisor=people["colleague"],
            holdings=[("VTI", 250, 20000, date(2020, 1, 2)), ("BND", 120, 9500, date(2026, 6, 1))],
        )
        run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="fixture")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        proposals = {p.account.custodian_number: p for p in Proposal.objects.filter(run=run).select_related("account")}
        assert {p.status for p in proposals.values()} == {Proposal.Status.PENDING}
        return {**made, "own": made["accounts"][0], "colleague_account": colleague_account, "run": run,
                "proposals": proposals, "own_proposal": proposals["T-000"], "colleague_proposal": proposals["T-COL"]}

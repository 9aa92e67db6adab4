"""Every role's permissions through the API, both ways, and attempts across advisors and firms by id."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun, Security
from tenants.audit.models import AuditEvent

from ..conftest import host_of
from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db

RUN_BODY = {"scope": {"firm": True}}
IMPORT_BODY = {"kind": "securities", "rows": [{"symbol": "NEW1", "name": "New fund", "asset_class": "us_equity"}]}
TEMPLATE_BODY = {"code": "api-made", "name": "Made through the API", "parameters": {"cash": {"target": 0.02}},
                 "overridable": {}}


def _json(client, method, path, body=None):
    return getattr(client, method)(f"{API}/{path}", body, content_type="application/json")


@pytest.mark.parametrize(("role", "can_run", "can_import", "can_template"), [
    ("admin", True, True, True),
    ("pm", True, True, False),
    ("advisor", False, False, False),
    ("compliance", False, False, False),
])
def test_who_may_start_runs_import_and_edit_templates(firm_a, people, book, client_for, role, can_run, can_import,
                                                      can_template):
    client = client_for(firm_a, people[role])

    run = _json(client, "post", "runs/", RUN_BODY)
    imported = _json(client, "post", "imports/", IMPORT_BODY)
    template = _json(client, "post", "templates/", TEMPLATE_BODY)

    assert run.status_code == (201 if can_run else 403), run.content
    assert imported.status_code == (201 if can_import else 403), imported.content
    assert template.status_code == (201 if can_template else 403), template.content
    for refused in [r for r in (run, imported, template) if r.status_code == 403]:
        assert error_of(refused)["code"] == "permission_denied"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.filter(kind=RebalanceRun.Kind.API).exists() == can_run
        assert Security.objects.filter(symbol="NEW1").exists() == can_import


def test_compliance_reads_the_book_but_changes_nothing(firm_a, people, book, client_for):
    client = client_for(firm_a, people["compliance"])

    reads = [client.get(f"{API}/{path}") for path in ("accounts/", "proposals/", "runs/", "securities/")]
    cancel = _json(client, "post", f"runs/{book['run'].pk}/cancel/")
    overrides = _json(client, "patch", f"accounts/{book['own'].pk}/parameters/", {"overrides": {}})

    assert [r.status_code for r in reads] == [200, 200, 200, 200]
    assert reads[0].json()["count"] == 3
    assert cancel.status_code == 403 and error_of(cancel)["detail"] == {"capability": "run_rebalance"}
    assert overrides.status_code == 403


def test_a_user_without_a_role_is_refused_everything(firm_a, people, book, client_for):
    client = client_for(firm_a, people["nobody"])

    answers = [client.get(f"{API}/{path}") for path in ("accounts/", "securities/", "audit-events/", "api-keys/")]
    start = _json(client, "post", "runs/", RUN_BODY)

    assert [r.status_code for r in answers] == [403, 403, 403, 403]
    assert start.status_code == 403
    assert {error_of(r)["code"] for r in [*answers, start]} <= {"permission_denied", "scope_missing"}


def test_an_advisor_sees_own_accounts_and_proposals_only(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])

    accounts = client.get(f"{API}/accounts/").json()
    proposals = client.get(f"{API}/proposals/").json()
    own = client.get(f"{API}/accounts/{book['own'].pk}/")

    assert sorted(a["custodian_number"] for a in accounts["results"]) == ["T-000", "T-001"]
    assert sorted(p["account_number"] for p in proposals["results"]) == ["T-000", "T-001"]
    assert own.status_code == 200


@pytest.mark.parametrize("path", [
    "accounts/{account}/", "accounts/{account}/lots/", "proposals/{proposal}/", "households/{household}/",
])
def test_an_advisor_asking_for_a_colleagues_object_by_id_finds_nothing(firm_a, people, book, client_for, path):
    ids = {"account": book["colleague_account"].pk, "proposal": book["colleague_proposal"].pk,
           "household": book["colleague_account"].household_id}
    client = client_for(firm_a, people["advisor"])

    answer = client.get(f"{API}/{path.format(**ids)}")

    assert answer.status_code == 404
    assert error_of(answer)["code"] == "not_found"


def test_an_advisor_cannot_approve_or_edit_a_colleagues_account(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])

    approve = _json(client, "post", f"proposals/{book['colleague_proposal'].pk}/approve/", {"comment": "mine now"})
    overrides = _json(client, "patch", f"accounts/{book['colleague_account'].pk}/parameters/", {"overrides": {}})

    assert approve.status_code == 404 and overrides.status_code == 404
    book["colleague_proposal"].refresh_from_db()
    assert book["colleague_proposal"].status == "pending_approval"


def test_advisors_see_only_runs_that_touched_their_accounts(firm_a, people, book, client_for):
    with tenant_context(firm_a):
        other = RebalanceRun.objects.create(scope={"account_ids": [book["colleague_account"].pk]},
                                            as_of=book["run"].as_of)

    runs = client_for(firm_a, people["advisor"]).get(f"{API}/runs/").json()
    hidden = client_for(firm_a, people["advisor"]).get(f"{API}/runs/{other.pk}/")

    assert [r["id"] for r in runs["results"]] == [book["run"].pk]
    assert hidden.status_code == 404


def test_the_audit_log_is_read_by_compliance_and_firm_admins_not_advisors(firm_a, people, book, client_for):
    by_role = {role: client_for(firm_a, people[role]).get(f"{API}/audit-events/") for role in
               ("admin", "compliance", "pm", "advisor")}

    assert by_role["admin"].status_code == 200 and by_role["compliance"].status_code == 200
    assert by_role["admin"].json()["count"] > 0  # the fixture's advisor assignments, submissions
    assert by_role["pm"].status_code == 403 and by_role["advisor"].status_code == 403
    assert error_of(by_role["advisor"])["detail"] == {"capability": "read_audit"}


def test_no_endpoint_writes_to_the_audit_log(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    with tenant_context(firm_a):
        event = AuditEvent.objects.first()
        before = AuditEvent.objects.count()

    attempts = [
        _json(client, "post", "audit-events/", {"action": "forged"}),
        _json(client, "put", f"audit-events/{event.pk}/", {"action": "forged"}),
        _json(client, "patch", f"audit-events/{event.pk}/", {"action": "forged"}),
        client.delete(f"{API}/audit-events/{event.pk}/"),
    ]
    schema = client.get(f"{API}/schema/", HTTP_ACCEPT="application/json").json()

    assert [a.status_code for a in attempts] == [405, 405, 405, 405]
    assert {error_of(a)["code"] for a in attempts} == {"method_not_allowed"}
    audit_paths = {p: set(ops) - {"parameters"} for p, ops in schema["paths"].items() if "audit" in p}
    assert audit_paths and all(ops == {"get"} for ops in audit_paths.values())
    with tenant_context(firm_a):
        assert AuditEvent.objects.count() == before


def test_a_firm_a_session_finds_nothing_at_firm_b(firm_a, firm_b, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    answer = client.get(f"{API}/accounts/", HTTP_HOST=host_of(firm_b))

    assert answer.status_code == 401
    assert error_of(answer)["code"] == "not_authenticated"


def test_firm_b_cannot_reach_firm_a_objects_by_id(firm_a, firm_b, book, firm_user, client_for, api_key):
    from tenants.roles import FirmRole

    pm_b = firm_user(firm_b, "pm@b.example", FirmRole.PORTFOLIO_MANAGER)
    session_b = client_for(firm_b, pm_b)
    key_b = key_client(firm_b, api_key(firm_b, pm_b, scopes=["read", "approve"]))
    ids = (f"accounts/{book['own'].pk}/", f"proposals/{book['own_proposal'].pk}/", f"runs/{book['run'].pk}/")

    answers = [c.get(f"{API}/{path}") for c in (session_b, key_b) for path in ids]
    approve = _json(key_b, "post", f"proposals/{book['own_proposal'].pk}/approve/", {"comment": ""})

    assert [a.status_code for a in answers] == [404] * 6
    assert approve.status_code == 404
    with tenant_context(firm_a):
        book["own_proposal"].refresh_from_db()
    assert book["own_proposal"].status == "pending_approval"

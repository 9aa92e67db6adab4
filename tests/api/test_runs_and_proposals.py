"""Runs started and followed through the API; proposals decided through the approval workflow."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun, RunOutcome
from rebalancing.services.runs import run_chunks, run_process_chunk
from tenants.audit.models import AuditEvent

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


def _post(client, path, body=None):
    return client.post(f"{API}/{path}", body or {}, content_type="application/json")


@pytest.mark.parametrize("as_of", ["0001-01-01", "2099-01-01"])
def test_a_run_on_a_day_off_the_book_is_a_400_naming_as_of_and_nothing_is_queued(firm_a, people, book, api_key, as_of):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))
    with tenant_context(firm_a):
        runs_before = RebalanceRun.objects.count()
    refused = _post(client, "runs/", {"scope": {"firm": True}, "as_of": as_of})
    assert refused.status_code == 400, refused.content
    assert error_of(refused)["detail"] == {"field": "as_of"} and "from 1900-01-01 to today" in error_of(refused)["message"]
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs_before


def test_a_run_started_through_the_api_is_queued_then_reports_progress(
        firm_a, people, book, api_key, django_capture_on_commit_callbacks):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "run"]))

    with django_capture_on_commit_callbacks() as queued:
        started = _post(client, "runs/", {"scope": {"model_code": "balanced"}, "as_of": "2026-11-20"})
    assert started.status_code == 201, started.content
    run = started.json()
    assert (run["status"], run["kind"], run["total"], run["remaining"]) == ("queued", "api", 3, 3)
    assert run["started_by"] == people["pm"].username
    assert len(queued) == 1  # the chunks go to the workers once the run is committed

    with tenant_context(firm_a):
        stored = RebalanceRun.objects.get(pk=run["id"])
        for chunk in run_chunks(stored):
            run_process_chunk(run_id=stored.pk, account_ids=chunk)
    progress = client.get(f"{API}/runs/{run['id']}/").json()

    assert (progress["status"], progress["done"], progress["failed"], progress["remaining"]) == ("completed", 3, 0, 0)
    assert progress["progress"] == 1.0 and {"load", "solve", "write"} <= set(progress["timings"])


def test_cancel_and_failures(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])
    with tenant_context(firm_a):
        RunOutcome.objects.filter(run=book["run"], account=book["own"]).update(
            outcome=RunOutcome.Outcome.FAILED, code="no_price", message="VTI has no price")
    started = _post(client, "runs/", {"scope": {"firm": True}}).json()

    cancelled = _post(client, f"runs/{started['id']}/cancel/")
    again = _post(client, f"runs/{started['id']}/cancel/")
    failures = client.get(f"{API}/runs/{book['run'].pk}/failures/").json()
    advisor_failures = client.get(f"{API}/runs/{book['run'].pk}/failures/")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409 and error_of(again)["code"] == "conflict"
    assert failures["results"] == [{"account": book["own"].pk, "account_number": "T-000", "code": "no_price",
                                    "message": "VTI has no price", "detail": {}}]
    assert advisor_failures.status_code == 200


def test_a_proposal_shows_trades_with_reasons_and_lots_sold(firm_a, people, book, client_for):
    answer = client_for(firm_a, people["advisor"]).get(f"{API}/proposals/{book['own_proposal'].pk}/").json()

    assert answer["status"] == "pending_approval" and answer["account_number"] == "T-000"
    assert answer["trades"] and all(t["reasons"] for t in answer["trades"])
    sells = [t for t in answer["trades"] if t["side"] == "sell"]
    assert sells and all(t["lots"] for t in sells)
    assert {"estimated_tax", "drift_before", "drift_after", "turnover"} <= set(answer["summary"])
    assert isinstance(answer["warnings"], list)


def test_filters_narrow_proposals(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])

    by_account = client.get(f"{API}/proposals/", {"account": book["own"].pk}).json()
    by_status = client.get(f"{API}/proposals/", {"status": "approved"}).json()
    bad = client.get(f"{API}/proposals/", {"status": "maybe"})

    assert [p["account"] for p in by_account["results"]] == [book["own"].pk]
    assert by_status["count"] == 0
    assert bad.status_code == 400 and "status" in error_of(bad)["detail"]["fields"]


def test_the_advisor_approves_then_the_pm_releases_and_orders_appear(firm_a, people, book, client_for):
    proposal = book["own_proposal"]

    approved = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/approve/", {"comment": "ok"})
    twice = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/approve/", {"comment": "again"})
    by_advisor = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/release/")
    released = _post(client_for(firm_a, people["pm"]), f"proposals/{proposal.pk}/release/", {"comment": "go"})
    orders = client_for(firm_a, people["advisor"]).get(f"{API}/orders/").json()
    colleague_orders = client_for(firm_a, people["colleague"]).get(f"{API}/orders/").json()

    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert [a["capacity"] for a in approved.json()["approvals"]] == ["advisor"]
    assert twice.status_code == 409 and error_of(twice)["code"] == "illegal_transition"
    assert by_advisor.status_code == 403
    assert released.status_code == 200 and released.json()["status"] == "released"
    trades = released.json()["trades"]
    assert [o["id"] for o in orders["results"]] == [f"P{proposal.pk}-{n}" for n in range(1, len(trades) + 1)]
    assert [(o["symbol"], o["side"], float(o["quantity"])) for o in orders["results"]] == \
        [(t["symbol"], t["side"], t["quantity"]) for t in trades]
    assert all(o["lots"] for o in orders["results"] if o["side"] == "sell")
    assert {o["status"] for o in orders["results"]} == {"open"}
    assert colleague_orders["count"] == 0
    one = client_for(firm_a, people["advisor"]).get(f"{API}/orders/P{proposal.pk}-1/")
    assert one.status_code == 200 and one.json() == orders["results"][0]
    assert client_for(firm_a, people["colleague"]).get(f"{API}/orders/P{proposal.pk}-1/").status_code == 404
    with tenant_context(firm_a):
        actions = list(AuditEvent.objects.filter(object_type="proposal", object_id=str(proposal.pk),
                                                 action__in=["proposal.approve.advisor", "proposal.release"])
                       .order_by("id").values_list("action", "actor"))
    assert actions == [("proposal.approve.advisor", people["advisor"].username),
                            ("proposal.release", people["pm"].username)]


def test_a_rejection_needs_a_reason_and_is_recorded(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])
    proposal = book["own_proposal"]

    silent = _post(client, f"proposals/{proposal.pk}/reject/", {"comment": ""})
    rejected = _post(client, f"proposals/{proposal.pk}/reject/", {"comment": "client is moving money"})

    assert silent.status_code == 400 and error_of(silent)["detail"] == {"field": "comment"}
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.REJECTED


def test_compliance_approves_only_when_required(firm_a, people, book, client_for):
    proposal = book["own_proposal"]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=proposal.pk).update(requires_compliance=True)
    compliance = client_for(firm_a, people["compliance"])

    by_compliance = _post(compliance, f"proposals/{proposal.pk}/approve/", {"comment": "fine"})
    by_advisor = _post(client_for(firm_a, people["advisor"]), f"proposals/{proposal.pk}/approve/")
    not_required = _post(compliance, f"proposals/{book['proposals']['T-001'].pk}/approve/")

    assert by_compliance.status_code == 200 and by_compliance.json()["status"] == "pending_approval"
    assert by_advisor.status_code == 200 and by_advisor.json()["status"] == "approved"
    assert not_required.status_code == 403 and error_of(not_required)["code"] == "permission_denied"


def test_an_approve_key_needs_the_approve_scope(firm_a, people, book, api_key):
    read_only = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    approver = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read", "approve"]))

    refused = _post(read_only, f"proposals/{book['own_proposal'].pk}/approve/")
    approved = _post(approver, f"proposals/{book['own_proposal'].pk}/approve/")

    assert refused.status_code == 403 and error_of(refused)["detail"] == {"scope": "approve"}
    assert approved.status_code == 200
    with tenant_context(firm_a):
        event = AuditEvent.objects.filter(action="proposal.approve.advisor").latest("id")
    assert event.actor_kind == "api_key" and "(key " in event.actor


def test_a_revised_proposal_shows_its_edit_and_the_one_it_replaced_points_to_it(firm_a, people, book, client_for):
    from rebalancing.services.revisions import proposal_resolve

    old = book["own_proposal"]
    dropped = old.result["trades"][0]
    with tenant_context(firm_a):
        new = proposal_resolve(proposal=old, drop_symbols=[dropped["symbol"]], by=people["advisor"])
    advisor = client_for(firm_a, people["advisor"])

    replaced = advisor.get(f"{API}/proposals/{old.pk}/").json()
    revised = advisor.get(f"{API}/proposals/{new.pk}/").json()
    listed = {p["id"]: p for p in advisor.get(f"{API}/proposals/", {"account": book["own"].pk}).json()["results"]}
    colleague = client_for(firm_a, people["colleague"]).get(f"{API}/proposals/{new.pk}/")

    assert (replaced["status"], replaced["revised_into"], replaced["revision"]) == ("superseded", new.pk, None)
    assert revised["revised_from"] == old.pk and revised["revised_into"] is None
    change = f"dropped the {dropped['side']} of {dropped['symbol']}"
    assert revised["revision"] == {
        "revised_from": old.pk, "revised_by": people["advisor"].username, "at": revised["created_at"],
        "dropped": [{"symbol": dropped["symbol"], "side": dropped["side"]}], "instructions": [], "changes": [change]}
    assert dropped["symbol"] not in {t["symbol"] for t in revised["trades"]}
    assert (listed[new.pk]["revised_from"], listed[old.pk]["revised_from"]) == (old.pk, None)
    assert colleague.status_code == 404  # another advisor's account: not theirs to see, edited or not


"""A proposal edited and solved again through the API (POST proposals/{id}/revise/), through the same
service as the proposal page: what it answers, what it refuses, who may, retries, who hears of it."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal, RebalanceRun
from tenants.audit.models import AuditEvent

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db
S = Proposal.Status


def _revise(client, proposal, body, **headers):
    return client.post(f"{API}/proposals/{proposal.pk}/revise/", body, content_type="application/json", **headers)


def _decide(client, proposal, decision):
    return client.post(f"{API}/proposals/{proposal.pk}/{decision}/", {}, content_type="application/json")


def _written(firm) -> tuple[int, int, int]:
    with tenant_context(firm):
        return Proposal.objects.count(), RebalanceRun.objects.count(), AuditEvent.objects.count()


def _status(firm, proposal) -> str:
    with tenant_context(firm):
        return Proposal.objects.get(pk=proposal.pk).status


def test_an_advisor_drops_a_trade_and_adds_an_instruction_with_a_key(firm_a, people, book, api_key):
    client = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read", "approve"]))
    old = book["own_proposal"]
    dropped = old.result["trades"][0]

    answer = _revise(client, old, {"drop": [dropped["symbol"].lower()],
                                   "instructions": [{"action": "do_not_buy", "symbol": "agg"}]})

    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert (new["status"], new["revised_from"], new["revised_into"]) == ("pending_approval", old.pk, None)
    assert new["revision"]["dropped"] == [{"symbol": dropped["symbol"], "side": dropped["side"]}]
    assert new["revision"]["instructions"] == ["do not buy AGG"]
    assert new["revision"]["revised_by"] == people["advisor"].username
    assert dropped["symbol"] not in {t["symbol"] for t in new["trades"]}
    assert "AGG" in new["parameters"]["restrictions"]["do_not_buy"]
    replaced = client.get(f"{API}/proposals/{old.pk}/").json()
    assert (replaced["status"], replaced["revised_into"]) == ("superseded", new["id"])
    with tenant_context(firm_a):
        event = AuditEvent.objects.get(action="proposal.revise", object_id=str(new["id"]))
    assert event.actor_kind == "api_key" and "(key " in event.actor
    assert event.after["dropped"] == [dropped["symbol"]] and event.after["instructions"] == ["do not buy AGG"]


@pytest.mark.parametrize(("body", "problem"), [
    ({"drop": ["AGG"]}, {"detail": {"symbols": ["AGG"]}, "message": "The proposal does not trade AGG."}),
    ({"instructions": [{"action": "sell", "symbol": "XYZ", "buy": "AGG"}]},
     {"detail": {"symbols": ["XYZ"]}, "message": "Instruction 1: XYZ is not in the security master."}),
    ({"instructions": [{"action": "sell", "symbol": "VNQ"}]},
     {"detail": {"symbols": ["VNQ"]}, "message": "The account holds no VNQ to sell."}),
    ({"instructions": [{"action": "raise_cash", "amount": "-500"}]},
     {"fields": {"instructions": {"0": {"amount": [
         "Give a positive number of dollars (0.01 or more): the dollars to sell or to raise."]}}}}),
    ({"instructions": [{"action": "raise_cash"}]},
     {"detail": {"field": "instructions", "row": 1}, "message": "Instruction 1: give the amount of cash to raise ($)."}),
    ({"instructions": [{"action": "buy_more", "symbol": "VTI"}]}, {"fields": {"instructions": {"0": {"action": [
        '"buy_more" is not a valid choice.']}}}}),
    ({"instructions": [{"action": "hold", "symbol": "VTI", "buy": "AGG"}]},
     {"message": "Instruction 1: only a sale buys another security with the proceeds."}),
    ({"drop": "VTI"}, {"fields": {"drop": ['Expected a list of items but got type "str".']}}),
    ({}, {"detail": {"field": "edit"}, "message": "Drop a trade or add an instruction before solving again."}),
])
def test_a_bad_edit_is_refused_naming_the_problem_and_writes_nothing(firm_a, people, book, client_for, body,
                                                                      problem):
    old = book["own_proposal"]
    advisor = client_for(firm_a, people["advisor"])  # signing in is audited: before counting
    written = _written(firm_a)

    refused = _revise(advisor, old, body)

    assert refused.status_code == 400, refused.content
    error = error_of(refused)
    assert error["code"] == "invalid"
    if "fields" in problem:
        assert error["detail"]["fields"] == problem["fields"]
    if "detail" in problem:
        assert error["detail"] == problem["detail"]
    if "message" in problem:
        assert error["message"] == problem["message"]
    assert _written(firm_a) == written and _status(firm_a, old) == S.PENDING


def test_an_infeasible_edit_is_a_400_naming_the_parameters_that_cannot_hold(firm_a, people, book, client_for):
    old = book["own_proposal"]
    advisor = client_for(firm_a, people["advisor"])
    written = _written(firm_a)

    refused = _revise(advisor, old, {"instructions": [{"action": "raise_cash", "amount": "10000000"}]})

    assert refused.status_code == 400, refused.content
    error = error_of(refused)
    assert error["code"] == "infeasible_parameters" and error["detail"]["conflicts"] == ["instructions.raise_cash"]
    assert error["message"].startswith("The edited proposal cannot be solved: cannot raise $10,000,000.00")
    assert _written(firm_a) == written and _status(firm_a, old) == S.PENDING


def test_dropping_every_trade_leaves_nothing_to_trade(firm_a, people, book, client_for):
    old = book["own_proposal"]
    advisor = client_for(firm_a, people["advisor"])
    written = _written(firm_a)

    refused = _revise(advisor, old, {"drop": [t["symbol"] for t in old.result["trades"]]})

    assert refused.status_code == 409 and error_of(refused)["code"] == "nothing_to_trade"
    assert _written(firm_a) == written and _status(firm_a, old) == S.PENDING


def test_only_a_pending_proposal_is_revised_and_a_revised_one_names_its_revision(firm_a, people, book, client_for):
    advisor = client_for(firm_a, people["advisor"])
    approved, pending = book["proposals"]["T-001"], book["own_proposal"]
    assert _decide(advisor, approved, "approve").status_code == 200
    body = {"drop": [pending.result["trades"][0]["symbol"]]}

    not_pending = _revise(advisor, approved, body)
    first = _revise(advisor, pending, body)
    again = _revise(advisor, pending, body)  # a retry without an Idempotency-Key

    assert not_pending.status_code == 409 and error_of(not_pending)["code"] == "illegal_transition"
    assert error_of(not_pending)["detail"]["status"] == _status(firm_a, approved) != S.PENDING
    assert first.status_code == 201
    assert again.status_code == 409 and error_of(again)["code"] == "illegal_transition"
    assert error_of(again)["detail"] == {"status": "superseded", "revised_into": first.json()["id"]}
    assert f"(revised into #{first.json()['id']})" in error_of(again)["message"]


@pytest.mark.parametrize(("who", "status_code", "code"), [
    ("colleague", 404, "not_found"),  # another advisor's household: not theirs to see
    ("compliance", 403, "permission_denied"),  # no compliance approval is required of this proposal
    ("pm", 403, "permission_denied"),  # the household has an advisor, who decides
    ("admin", 403, "scope_missing"),  # firm admins decide nothing
    ("nobody", 403, "scope_missing"),
])
def test_only_who_may_decide_the_proposal_may_revise_it(firm_a, people, book, client_for, who, status_code, code):
    old = book["own_proposal"]
    client = client_for(firm_a, people[who])
    written = _written(firm_a)

    refused = _revise(client, old, {"drop": [old.result["trades"][0]["symbol"]]})

    assert refused.status_code == status_code and error_of(refused)["code"] == code
    assert _written(firm_a) == written and _status(firm_a, old) == S.PENDING


def test_a_key_needs_the_approve_scope(firm_a, people, book, api_key):
    old = book["own_proposal"]
    read_only = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))

    refused = _revise(read_only, old, {"drop": [old.result["trades"][0]["symbol"]]})

    assert refused.status_code == 403 and error_of(refused)["detail"] == {"scope": "approve"}
    assert _status(firm_a, old) == S.PENDING


def test_another_firm_cannot_revise_by_id(firm_a, firm_b, people, book, firm_user, api_key):
    from tenants.roles import FirmRole

    pm_b = firm_user(firm_b, "pm@b.example", FirmRole.PORTFOLIO_MANAGER)
    key_b = key_client(firm_b, api_key(firm_b, pm_b, scopes=["read", "approve"]))
    old = book["own_proposal"]
    written = _written(firm_a)

    refused = _revise(key_b, old, {"drop": [old.result["trades"][0]["symbol"]]})

    assert refused.status_code == 404 and error_of(refused)["code"] == "not_found"
    assert _written(firm_a) == written and _status(firm_a, old) == S.PENDING


def test_a_retry_with_the_same_idempotency_key_replays_the_revision(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])
    old = book["own_proposal"]
    body = {"drop": [old.result["trades"][0]["symbol"]]}

    first = _revise(client, old, body, HTTP_IDEMPOTENCY_KEY="revise-T-000")
    second = _revise(client, old, body, HTTP_IDEMPOTENCY_KEY="revise-T-000")
    other_body = _revise(client, old, {"drop": []}, HTTP_IDEMPOTENCY_KEY="revise-T-000")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert other_body.status_code == 409 and error_of(other_body)["code"] == "idempotency_key_reused"
    with tenant_context(firm_a):
        assert Proposal.objects.filter(revised_from=old).count() == 1
        assert RebalanceRun.objects.filter(kind=RebalanceRun.Kind.REVISION).count() == 1


def test_the_revised_proposal_is_mailed_after_commit_to_its_approvers_but_the_one_who_edited_it(
        firm_a, people, book, client_for, mailoutbox, monkeypatch, django_capture_on_commit_callbacks):
    from rebalancing import dispatch
    from rebalancing.services.notifications import approvers_notify_run
    from rebalancing.services.people import household_advisors_set

    old = book["own_proposal"]
    with tenant_context(firm_a):
        household_advisors_set(household=book["own"].household, advisors=[people["advisor"], people["colleague"]],
                               by=None)
    dropped = old.result["trades"][0]
    queued = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: queued.append((task, args)))

    with django_capture_on_commit_callbacks(execute=True):
        answer = _revise(client_for(firm_a, people["advisor"]), old, {"drop": [dropped["symbol"]]})
    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert queued == [(dispatch.APPROVERS_NOTIFY, (new["run"],))]
    with tenant_context(firm_a):
        sent = approvers_notify_run(run_id=new["run"])  # what the queued task does

    to = {m.to[0]: m for m in mailoutbox}
    expected = {"adv2@a.example"} | ({"cco@a.example"} if new["requires_compliance"] else set())
    assert sent == len(mailoutbox) == len(expected) and set(to) == expected
    mail = to["adv2@a.example"]
    editor = people["advisor"].get_full_name() or people["advisor"].username
    assert mail.subject == (f"Proposal #{new['id']} for account T-000, revised by {editor}, "
                            "waits for your approval")
    assert f"edited proposal #{old.pk} for account T-000 (dropped the {dropped['side']} of {dropped['symbol']})" \
        in mail.body

"""If-Match on a change of one object (RFC 9110 §13.1.1): the server MUST evaluate it before performing the
method; a change sent with an ETag that is no longer the object's is 412 Precondition Failed (§15.5.13) and
changes nothing. The tag compared is the one a GET of the object answers now (docs/api.md, "If-Match").
Before, every GET handed out an ETag and PUT/PATCH/DELETE ignored If-Match: a lost update."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, ParameterTemplate, WebhookEndpoint

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def _patch(client, path, body, tag=None):
    extra = {"HTTP_IF_MATCH": tag} if tag is not None else {}
    return client.patch(path, body, content_type="application/json", **extra)


def test_a_stale_if_match_is_412_naming_the_current_etag_and_changes_nothing(firm_a, people, book, client_for):
    # given a template read by this client, then changed by a colleague
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"
    tag = client.get(path)["ETag"]
    assert _patch(client, path, {"description": "changed by a colleague"}).status_code == 200
    now = client.get(path)["ETag"]

    # when this client sends its change with the tag it read
    stale = _patch(client, path, {"description": "mine, from the old copy"}, tag)

    # then 412, naming the tag a GET answers now, and the colleague's change stands
    assert stale.status_code == 412, stale.content
    body = error_of(stale)
    assert body["code"] == "precondition_failed" and body["detail"]["etag"] == now and now in body["message"]
    assert stale["ETag"] == now and now != tag
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=book["template"].pk).description == "changed by a colleague"


def test_the_current_etag_or_a_star_goes_through(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"

    fresh = _patch(client, path, {"description": "mine"}, client.get(path)["ETag"])
    among = _patch(client, path, {"description": "again"}, f'"old", {client.get(path)["ETag"]}')
    star = _patch(client, path, {"description": "any"}, "*")
    without = _patch(client, path, {"description": "no header"})  # as before: no condition

    assert [r.status_code for r in (fresh, among, star, without)] == [200, 200, 200, 200]
    with tenant_context(firm_a):
        assert ParameterTemplate.objects.get(pk=book["template"].pk).description == "no header"


def test_if_match_compares_strongly(firm_a, people, book, client_for):
    # RFC 9110 §13.1.1: If-Match uses the strong comparison, so a weak W/"tag" never matches.
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"
    weak = f'W/{client.get(path)["ETag"]}'

    assert _patch(client, path, {"description": "weak"}, weak).status_code == 412
    # (a header that is no entity-tag is malformed, 400, not a changed object: test_if_match_malformed.py)
    assert _patch(client, path, {"description": "garbage"}, "not-a-tag").status_code == 400


def test_if_match_against_a_plain_reading_of_the_rule_over_random_headers(firm_a, people, book, client_for):
    # A deliberately simple second reading of §13.1.1: "*" passes (the object exists); otherwise the
    # condition holds when one listed tag is, character for character, the current strong tag.
    client = client_for(firm_a, people["admin"])
    path = f"{API}/templates/{book['template'].pk}/"
    rng = random.Random(9110)
    for case in range(16):
        now = client.get(path)["ETag"]
        pool = [now, f"W/{now}", '"0123abcd"', now.strip('"'), '"stale"']
        header = "*" if rng.random() < 0.15 else ", ".join(rng.sample(pool, rng.randint(1, 3)))
        listed = [part.strip() for part in header.split(",")]
        # A tag without its quotes makes the header malformed (400, test_if_match_malformed.py).
        expected = (200 if header == "*" else 400 if now.strip('"') in listed else 200 if now in listed else 412)

        answer = _patch(client, path, {"description": f"case {case}"}, header)

        assert answer.status_code == expected, (header, answer.content)


def test_a_detail_action_and_a_delete_compare_the_objects_get(firm_a, people, book, client_for):
    from rebalancing.webhooks.endpoints import webhook_endpoint_create

    with tenant_context(firm_a):
        endpoint = webhook_endpoint_create(url="https://hooks.example.com/in", event_types=["run.finished"],
                                           user=None, secret="whsec_test_secret_0123456789")
    admin = client_for(firm_a, people["admin"])
    household = f"{API}/households/{book['own'].household_id}/"
    hook = f"{API}/webhook-endpoints/{endpoint.pk}/"
    household_tag, hook_tag = admin.get(household)["ETag"], admin.get(hook)["ETag"]
    with tenant_context(firm_a):
        Household.objects.filter(pk=book["own"].household_id).update(name="Renamed meanwhile")
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(description="changed meanwhile")

    stale_parameters = _patch(admin, f"{household}parameters/", {"overrides": {}}, household_tag)
    stale_delete = admin.delete(hook, HTTP_IF_MATCH=hook_tag)
    fresh_parameters = _patch(admin, f"{household}parameters/", {"overrides": {}}, admin.get(household)["ETag"])
    fresh_delete = admin.delete(hook, HTTP_IF_MATCH=admin.get(hook)["ETag"])

    assert stale_parameters.status_code == 412 and stale_delete.status_code == 412
    assert fresh_parameters.status_code == 200, fresh_parameters.content
    assert fresh_delete.status_code == 204, fresh_delete.content


def test_an_object_the_user_may_not_see_is_404_before_any_precondition(firm_a, people, book, client_for):
    advisor = client_for(firm_a, people["advisor"])
    theirs = f"{API}/accounts/{book['colleague_account'].pk}/parameters/"

    answer = _patch(advisor, theirs, {"overrides": {}}, "*")

    assert answer.status_code == 404 and error_of(answer)["code"] == "not_found"


def test_the_etag_is_compared_with_the_objects_row_locked(firm_a, people, book, client_for):
    # The check and the write must not be split by another change: the test runs under SELECT ... FOR
    # UPDATE of the object's row, the lock the update takes. A 412 never reaches the update, so a lock
    # in its queries is the precondition's.
    client = client_for(firm_a, people["advisor"])
    account = book["own"]
    path = f"{API}/accounts/{account.pk}/parameters/"

    with CaptureQueriesContext(connection) as queries:
        refused = _patch(client, path, {"overrides": {}}, '"stale"')

    assert refused.status_code == 412
    table = Account._meta.db_table
    assert any("FOR UPDATE" in q["sql"] and f'"{table}"' in q["sql"].split("FOR UPDATE")[0].split("WHERE")[0]
               for q in queries.captured_queries), [q["sql"] for q in queries.captured_queries]


def test_a_decision_sent_with_a_stale_tag_of_the_proposal_is_refused(firm_a, people, book, client_for):
    from rebalancing.models import Proposal

    advisor = client_for(firm_a, people["advisor"])
    proposal = f"{API}/proposals/{book['own_proposal'].pk}/"
    tag = advisor.get(proposal)["ETag"]
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=book["own_proposal"].pk).update(risk_model_note="changed meanwhile")
    assert advisor.get(proposal)["ETag"] != tag

    refused = advisor.post(f"{proposal}approve/", {}, content_type="application/json", HTTP_IF_MATCH=tag)

    assert refused.status_code == 412, refused.content
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=book["own_proposal"].pk).status == Proposal.Status.PENDING

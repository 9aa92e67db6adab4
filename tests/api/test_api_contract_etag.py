"""Conditional GETs: every successful GET answers an ETag (a hash of its body), and If-None-Match with
it answers 304 until the object changes. Integrators polling a proposal or a run use it."""

import pytest
from django_tenants.utils import tenant_context

from ..conftest import host_of
from .conftest import API

pytestmark = pytest.mark.django_db


def test_a_proposal_polled_with_its_etag_is_not_modified_until_it_changes(firm_a, people, book, client_for):
    from rebalancing.services.proposals import proposal_approve

    client = client_for(firm_a, people["advisor"])
    url = f"{API}/proposals/{book['own_proposal'].pk}/"

    first = client.get(url)
    etag = first["ETag"]
    again = client.get(url, HTTP_IF_NONE_MATCH=etag)
    with tenant_context(firm_a):
        proposal_approve(proposal=book["own_proposal"], user=people["advisor"])
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert first.status_code == 200 and etag.startswith('"')
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert changed.status_code == 200 and changed.json()["status"] != first.json()["status"]
    assert changed["ETag"] != etag


def test_a_run_and_a_list_answer_an_etag_too(firm_a, people, book, client_for):
    client = client_for(firm_a, people["pm"])

    for url in (f"{API}/runs/{book['run'].pk}/", f"{API}/proposals/"):
        etag = client.get(url)["ETag"]
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304, url


def test_the_same_path_at_another_firm_has_its_own_etag(firm_a, firm_b, people, client_for, firm_user):
    from rebalancing.models import Benchmark
    from tenants.roles import FirmRole

    for firm, name in ((firm_a, "A's benchmark"), (firm_b, "B's benchmark")):
        with tenant_context(firm):
            Benchmark.objects.create(pk=900001, code="TOT", name=name)
    url = f"{API}/benchmarks/900001/"
    at_a = client_for(firm_a, people["pm"]).get(url)
    client_b = client_for(firm_b, firm_user(firm_b, "pm@b.example", FirmRole.PORTFOLIO_MANAGER))

    at_b = client_b.get(url, HTTP_IF_NONE_MATCH=at_a["ETag"])

    assert at_a.status_code == 200 and at_b.status_code == 200 and at_b.json()["name"] == "B's benchmark"
    assert at_b["ETag"] != at_a["ETag"]
    assert host_of(firm_a) != host_of(firm_b)


def test_an_error_is_never_not_modified_and_a_write_answers_no_etag(firm_a, people, book, client_for):
    client = client_for(firm_a, people["advisor"])
    missing = f"{API}/proposals/999999/"

    refused = client.get(missing, HTTP_IF_NONE_MATCH=client.get(missing).get("ETag", '"x"'))
    approved = client.post(f"{API}/proposals/{book['own_proposal'].pk}/approve/", {}, content_type="application/json")

    assert refused.status_code == 404  # only a 2xx answer is ever 304 (django.utils.cache)
    assert approved.status_code == 200 and not approved.has_header("ETag")


@pytest.mark.parametrize("path", ["proposals/{proposal}/", "proposals/", "runs/{run}/"])
def test_a_head_answers_the_etag_of_the_get_and_honours_if_none_match(firm_a, people, book, client_for, path):
    # Django's ConditionalGetMiddleware skips HEAD; a poller asking HEAD had no ETag to send back.
    client = client_for(firm_a, people["advisor"])
    url = f"{API}/{path.format(proposal=book['own_proposal'].pk, run=book['run'].pk)}"

    got, head = client.get(url), client.head(url)
    unchanged = client.head(url, HTTP_IF_NONE_MATCH=got["ETag"])
    other = client.head(url, HTTP_IF_NONE_MATCH='"not-the-tag"')

    assert head.status_code == 200 and head["ETag"] == got["ETag"] and head.content == b""
    assert unchanged.status_code == 304 and unchanged["ETag"] == got["ETag"]
    assert other.status_code == 200 and other["ETag"] == got["ETag"]

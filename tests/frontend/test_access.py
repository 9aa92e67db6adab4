"""Every page respects roles and firm isolation exactly as the API does: tried both ways."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from rebalancing.models import Proposal
from tests.conftest import PASSWORD, host_of
from tests.rebalancing.book import make_account, make_securities

pytestmark = pytest.mark.django_db


def test_pages_ask_an_anonymous_visitor_to_sign_in(book, firm_a):
    client = Client(HTTP_HOST=host_of(firm_a))
    for url in ["/", "/accounts/", f"/accounts/{book['accounts'][0].pk}/", "/approvals/", "/runs/", "/audit/",
                "/templates/", "/models/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_an_advisor_sees_their_own_account_and_not_a_colleagues(book, as_user):
    client = as_user("advisor")
    mine, theirs = book["mine"][0], book["theirs"][0]
    assert client.get(f"/accounts/{mine.pk}/").status_code == 200
    response = client.get(f"/accounts/{theirs.pk}/")
    assert response.status_code == 404
    assert theirs.custodian_number not in response.content.decode()
    listing = client.get("/accounts/").content.decode()
    assert mine.custodian_number in listing and theirs.custodian_number not in listing


def test_an_advisor_cannot_reach_a_colleagues_proposal_preview_or_decision(book, as_user, firm_a):
    client = as_user("advisor")
    theirs = book["theirs"][0]
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=theirs)
    assert client.get(f"/proposals/{proposal.pk}/").status_code == 404
    assert client.post(f"/proposals/{proposal.pk}/decide/", {"action": "approve"}).status_code == 404
    assert client.post(f"/accounts/{theirs.pk}/preview/", {}).status_code == 404
    assert client.post(f"/accounts/{theirs.pk}/", {"p__cash__target": "2"}).status_code == 404
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING


@pytest.mark.parametrize("who, status", [("admin", 200), ("compliance", 200), ("pm", 403), ("advisor", 403)])
def test_the_audit_log_is_for_admins_and_compliance(book, as_user, who, status):
    assert as_user(who).get("/audit/").status_code == status


@pytest.mark.parametrize("who, status", [("advisor", 200), ("pm", 200), ("compliance", 200), ("admin", 403)])
def test_the_approvals_queue_is_for_those_who_approve(book, as_user, who, status):
    assert as_user(who).get("/approvals/").status_code == status


@pytest.mark.parametrize("who, status", [("admin", 200), ("pm", 403), ("advisor", 403), ("compliance", 403)])
def test_only_firm_admins_create_templates_and_models(book, as_user, who, status):
    client = as_user(who)
    assert client.get("/templates/new/").status_code == status
    assert client.get("/models/new/").status_code == status


@pytest.mark.parametrize("who, status", [("pm", 302), ("admin", 302), ("advisor", 403), ("compliance", 403)])
def test_only_those_who_run_rebalances_start_runs(book, as_user, who, status):
    assert as_user(who).post("/runs/", {"scope": "firm"}).status_code == status


def test_compliance_reads_but_cannot_change_parameters(book, as_user, firm_a):
    client = as_user("compliance")
    account = book["accounts"][0]
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Save parameters" not in page
    assert client.post(f"/accounts/{account.pk}/", {"p__cash__target": "2"}).status_code == 403
    assert client.post(f"/templates/{book['template'].pk}/", {"name": "x"}).status_code == 403


def test_a_firm_a_session_is_worthless_at_firm_b(book, as_user, firm_b):
    response = as_user("admin").get("/accounts/", HTTP_HOST=host_of(firm_b))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_firm_bs_account_is_not_found_from_firm_a(book, firm_a, firm_b, firm_user, client_for):
    with tenant_context(firm_b):
        make_securities()
        from tests.rebalancing.book import make_model

        other = make_account("ONLY-IN-B", model=make_model())
    response = client_for(firm_a, firm_user(firm_a, "admin@pages.example")).get(f"/accounts/{other.pk}/")
    assert "ONLY-IN-B" not in response.content.decode()


def test_the_provider_console_is_for_provider_staff_and_firm_pages_are_not_on_its_host(db, django_user_model):
    from django_tenants.utils import schema_context

    from tenants.roles import ProviderRole
    from tenants.services import user_ensure

    with schema_context("public"):
        operator = user_ensure(username="op@provider.test", email="op@provider.test",
                               roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        stranger = user_ensure(username="nobody@provider.test", email="nobody@provider.test", roles=[],
                               password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(operator)
        assert client.get("/").status_code == 200
        assert client.get("/runs/").status_code == 200
        assert client.get("/accounts/").status_code == 404
        client.force_login(stranger)
        assert client.get("/").status_code == 403
        assert client.post("/runs/start/", {"firm": "firm-a"}).status_code == 403

"""People told apart in pickers, internal keys said in words, one meaning of "active":
two advisors of the same name show their e-mail beside it wherever a person is offered in a choice;
a refused run scope names the model, not ``model_code=...``; the provider's runs list names a
household as the firm's pages do; the audit log says known keys in words (JSON only for unknown
ones); the provider's firm page counts active people as the console does."""

import html
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from frontend.templatetags.formatting import changes
from frontend.templatetags.person_labels import person_choice
from rebalancing.models import RebalanceRun
from tenants.audit.services import audit_record
from tenants.people import people_here
from tenants.roles import FirmRole, ProviderRole
from tenants.services import firm_usage_record, user_ensure
from tests.conftest import PASSWORD
from tests.rebalancing.book import make_model

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


@pytest.fixture
def operator():
    with schema_context("public"):
        user = user_ensure(username="op@words.test", email="op@words.test",
                           roles=[ProviderRole.PROVIDER_OPERATOR], password=PASSWORD)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
    return client


def test_two_advisors_of_the_same_name_are_told_apart_in_every_picker(book, as_user, firm_a, firm_user):
    for address in ("dana.new@pages.example", "dana.n@pages.example"):
        firm_user(firm_a, address, FirmRole.ADVISOR, first_name="Dana", last_name="New")

    for who, path in (("admin", "/accounts/"), ("admin", "/runs/"), ("admin", "/accounts/assign/"), ("pm", "/approvals/")):
        page = text(as_user(who).get(path))
        assert ">Dana New (dana.new@pages.example)<" in page, path
        assert ">Dana New (dana.n@pages.example)<" in page, path
        assert ">Dana New<" not in page, path


def test_a_person_choice_is_the_name_and_the_address_or_the_address_alone(firm_a, firm_user):
    named = firm_user(firm_a, "dana@x.example", FirmRole.ADVISOR, first_name="Dana", last_name="New")
    bare = firm_user(firm_a, "solo@x.example", FirmRole.ADVISOR)
    assert person_choice(named) == "Dana New (dana@x.example)"
    assert person_choice(bare) == "solo@x.example"


def test_a_run_scope_matching_no_account_names_the_model_in_words(book, as_user, firm_a):
    with tenant_context(firm_a):
        make_model("h3-test")  # "H3-Test", which no account follows

    response = as_user("pm").post("/runs/", {"scope": "model", "model": "h3-test"}, follow=True)

    page = text(response)
    assert "model_code" not in page
    assert ("The run's scope covers no account: no managed account matches model H3-Test (h3-test) (an account with "
            "no model is not rebalanced).") in page


def test_the_provider_runs_list_names_a_household_as_the_firms_page_does(book, firm_a, operator, as_user):
    household = book["mine"][0].household
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"household_id": household.pk}, as_of=book["run"].as_of, total=1)

    listed = text(operator.get("/runs/"))
    detail = text(operator.get(f"/runs/{firm_a.slug}/{run.pk}/"))
    firm_page = text(as_user("pm").get(f"/runs/{run.pk}/"))

    said = f"household {household.name}".lower()  # (the run's page heads its sentence with a capital)
    assert said in firm_page.lower() and said in listed.lower() and said in detail.lower()
    assert not re.search(rf"household {household.pk}\b", listed)


def test_the_audit_log_says_known_keys_in_words_and_unknown_ones_as_stored():
    assert changes({"status": "pending_approval", "waiting_for": ["compliance"]}) == (
        "status: pending approval; waiting for compliance")
    assert changes({"scope": {"account_ids": [298]}, "kind": "manual"}) == "scope: account #298; kind: manual"
    assert changes({"scope": {"model_code": "balanced", "min_drift": 0.05, "replace_approved": True}}) == (
        "scope: model balanced, drift ≥ 5.0%, replacing approved proposals")
    assert changes({"scope": {"firm": True}}) == "scope: whole firm"
    assert changes({"roles": ["firm_admin", "advisor"], "active": False, "note": None}) == (
        "roles: Firm admin, Advisor; active: no; note: none")
    assert changes({"overrides": {"cash": {"target": 0.02}}}) == "overrides: Cash: target = 0.02"
    assert changes({"accounts": ["F-000", "F-001"]}) == "accounts: F-000, F-001"
    # a shape not known here stays as stored, whole
    assert changes({"scope": {"galaxy": 3}}) == 'scope: {"galaxy": 3}'
    assert changes({"mystery": {"x": [1]}}) == 'mystery: {"x": [1]}'


def test_the_audit_page_shows_the_words(book, as_user, firm_a, people):
    with tenant_context(firm_a):
        audit_record(actor=people["admin"], action="run.start", obj=book["run"], before=None,
                     after={"scope": {"account_ids": [298]}, "waiting_for": ["compliance"]})

    page = text(as_user("admin").get("/audit/"))

    assert "scope: account #298; waiting for compliance" in page
    assert "account_ids" not in page and "waiting_for" not in page


def test_the_provider_firm_page_counts_active_people_as_the_console_does(book, firm_a, operator):
    with tenant_context(firm_a):
        invited = user_ensure(username="new-admin@pages.example", email="new-admin@pages.example",
                              roles=[FirmRole.FIRM_ADMIN], password=PASSWORD)
        invited.password = make_password(None)  # invited: no password chosen yet
        invited.save(update_fields=["password"])
        usage = firm_usage_record(firm=firm_a)
        total = people_here().count()
        admins = people_here().filter(groups__name=FirmRole.FIRM_ADMIN).count()  # the invited one among them

    page = text(operator.get(f"/firms/{firm_a.slug}/"))

    assert usage.active_users == total - 1
    assert f"{total} ({usage.active_users} active)" in page
    # the invited firm admin is not an active one
    assert f"by role: Firm admin {admins - 1}," in page and "; 1 invited, no password chosen yet" in page

"""Destructive or wide actions ask first (app.js's data-confirm), saying what will happen with the
numbers: deactivating a person, revoking an API key, cancelling a run, releasing every approved
proposal, assigning to every account or more than the page lists, importing lots. The forms stay
plain forms: the question is an attribute, so without JavaScript they are sent as before."""

import html
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Proposal, RebalanceRun, TaxLot
from tenants.api_keys.services import api_key_create
from tests.rebalancing.book import AS_OF, make_book
from tests.rebalancing.workflow import make_proposal, policy

pytestmark = pytest.mark.django_db


def _questions(page: str) -> list[str]:
    return [html.unescape(q) for q in re.findall(r'data-confirm="([^"]*)"', page)]


def _form_with(page: str, marker: str) -> str:
    """The <form …> start tag of the form holding ``marker``."""
    forms = re.findall(r"<form [^>]*>(?:(?!</form>).)*?</form>", page, re.S)
    found = [f for f in forms if marker in f]
    assert len(found) == 1, f"{len(found)} forms hold {marker!r}"
    return found[0]


def _question_of(form: str) -> str | None:
    found = re.match(r'<form [^>]*data-confirm="([^"]*)"', form)
    return html.unescape(found.group(1)) if found else None


def test_deactivating_a_person_asks_first_naming_them_their_working_keys_and_households(firm_a, book, as_user,
                                                                                       people):
    # Given an advisor with two households, two working keys, one revoked and one expired
    advisor = people["advisor"]
    with tenant_context(firm_a):
        for name in ("nightly", "report"):
            api_key_create(user=advisor, name=name, scopes=["read"], expires_at=None, by=advisor)
        revoked = api_key_create(user=advisor, name="old", scopes=["read"], expires_at=None, by=advisor).key
        revoked.revoked_at = timezone.now()
        revoked.save()
        expired = api_key_create(user=advisor, name="gone", scopes=["read"], expires_at=None, by=advisor).key
        expired.expires_at = timezone.now() - timedelta(days=1)
        expired.save()

    # When a firm admin opens the people page
    page = as_user("admin").get("/people/").content.decode()

    # Then the advisor's Deactivate button asks first, with the name, the 2 keys and the 2 households
    form = _form_with(page, f'aria-label="Deactivate {advisor.username}"')
    assert _question_of(form) == (
        f"Deactivate Advisor ({advisor.username})? They can no longer sign in, their 2 API keys stop and their "
        "sessions end. The 2 households they advise keep them as advisor until reassigned.")
    # And a person without keys or households is asked without numbers that are not there
    compliance = _question_of(_form_with(page, f'aria-label="Deactivate {people["compliance"].username}"'))
    assert compliance == (f"Deactivate Compliance ({people['compliance'].username})? They can no longer sign in "
                          "and their sessions end (no API key of theirs works now).")
    # And the button still posts the plain form (no JavaScript needed to deactivate)
    assert 'name="action" value="deactivate"' in form


def test_revoking_an_api_key_asks_first_naming_the_key_and_its_owner(firm_a, book, as_user, people):
    with tenant_context(firm_a):
        key = api_key_create(user=people["pm"], name="Custodian upload", scopes=["read"], expires_at=None,
                             by=people["admin"]).key

    page = as_user("admin").get("/api-keys/").content.decode()

    form = _form_with(page, f'aria-label="Revoke rk_{key.prefix}"')
    assert _question_of(form) == (
        f"Revoke the key “Custodian upload” (rk_{key.prefix}_…) of Pm, last used never? Every request sent with "
        "it is refused from then on, and a revoked key cannot be restored: a system using it needs a new key.")


def test_cancelling_a_run_asks_first_with_what_it_leaves_undone(firm_a, book, as_user):
    with tenant_context(firm_a):
        run = RebalanceRun.objects.create(scope={"firm": True}, as_of=AS_OF, status=RebalanceRun.Status.RUNNING,
                                          total=40, done=12, failed=3, started_by_label="test")

    page = as_user("pm").get(f"/runs/{run.pk}/").content.decode()

    form = _form_with(page, "Cancel the run")
    assert _question_of(form) == (
        f"Cancel run {run.pk}? 25 of its 40 accounts are not rebalanced yet (as this page was loaded) and would "
        "not be; the 12 done and 3 failed stay as they are, and what it already proposed stays.")


def test_release_all_asks_first_with_the_number_it_releases(firm_a, as_user):
    with tenant_context(firm_a):
        policy(max_price_age_days=3650)
        for account in make_book(3)["accounts"]:
            make_proposal(account, status=Proposal.Status.APPROVED)

    page = as_user("pm").get("/proposals/?status=approved").content.decode()

    form = _form_with(page, "Release all 3 approved proposals</button>")
    assert _question_of(form).startswith("Release all 3 approved proposals you can see? Their trades go to the "
                                         "custodian as orders, one proposal after the other.")


def _apply_to(page: str) -> dict[str, str | None]:
    """The question of each "Apply to" choice (None: it asks nothing)."""
    out = {}
    for value in ("accounts", "households"):
        tag = re.search(rf'<input type="radio" name="apply_to" value="{value}"[^>]*>', page).group(0)
        found = re.search(r'data-confirm="([^"]*)"', tag)
        out[value] = html.unescape(found.group(1)) if found else None
    return out


def test_assigning_to_every_account_asks_first_with_the_count_and_what_is_assigned(firm_a, book, as_user):
    # Given the firm's 4 accounts in 4 households, and no filter
    page = as_user("admin").get("/accounts/assign/").content.decode()

    # Then each "apply to" choice carries its question: the counts, and the choices app.js puts in
    asked = _apply_to(page)
    assert asked["accounts"] == ("Assign to all 4 accounts of the firm (no filter)? Template: {set_template}; "
                                 "model: {set_model}. If any account's overrides do not fit the template, nothing "
                                 "is assigned.")
    assert asked["households"] == ("Assign to the 4 households of all 4 accounts of the firm (no filter)? Template: "
                                   "{set_template}; advisor: {set_advisor}. Their accounts without a template of "
                                   "their own follow it.")
    # And "leave as it is" reads as "unchanged" in the question; a template by its name
    assert page.count('<option value="" data-words="unchanged">Leave as it is</option>') == 3
    assert f'<option value="{book["template"].pk}" >' in page or f'<option value="{book["template"].pk}">' in page


def test_a_filtered_selection_the_page_lists_whole_is_assigned_in_one_click(firm_a, book, as_user, people):
    page = as_user("admin").get("/accounts/assign/", {"advisor": people["colleague"].pk}).content.decode()
    assert "2 accounts in 2 households match" in page
    assert _apply_to(page) == {"accounts": None, "households": None}


def test_a_filtered_selection_larger_than_the_page_lists_asks_first(firm_a, book, as_user):
    # Given 30 accounts a search selects, more than the 25 the page lists
    with tenant_context(firm_a):
        household = book["accounts"][0].household
        Account.objects.bulk_create(Account(custodian_number=f"BULK-{i:02d}", name=f"Bulk {i}", household=household,
                                            cash=Decimal(0)) for i in range(30))

    page = as_user("admin").get("/accounts/assign/", {"q": "BULK"}).content.decode()

    assert "(first 25 of 30)" in page
    assert _apply_to(page)["accounts"].startswith(
        "Assign to the 30 accounts the accounts page's filters select? Template: {set_template}; model: {set_model}.")
    assert _apply_to(page)["households"].startswith(
        "Assign to the 1 household of the 30 accounts the accounts page's filters select?")


def test_a_lots_import_asks_first_saying_lots_not_in_the_file_are_removed(firm_a, book, as_user):
    # Given the book's 16 lots in 4 accounts, one of them split in two by the ledger (counted once)
    with tenant_context(firm_a):
        lot = TaxLot.objects.filter(account=book["accounts"][0]).order_by("pk").first()
        TaxLot.objects.create(account=lot.account, lot_id=f"{lot.lot_id}-2", purchase_lot_id=lot.lot_id,
                              security=lot.security, quantity=Decimal(1), cost_basis=Decimal(10),
                              acquired=lot.acquired)
        assert TaxLot.objects.count() == 17
    admin = as_user("admin")

    page = admin.get("/import/").content.decode()

    # Then only the lots choice carries a question, with the book's lots and accounts
    tags = re.findall(r'<input type="radio" name="kind" value="(\w+)"[^>]*?(?:data-confirm="([^"]*)")?>', page)
    asked = {kind: html.unescape(q) for kind, q in tags if q}
    assert list(asked) == ["lots"]
    assert asked["lots"] == (
        "Replace lots with this file? For every account in the file, the book's lots become the file's: a lot of "
        "such an account that the file does not list is removed, and the summary counts it as “Replaced away”. "
        "Accounts not in the file keep theirs. The book holds 16 lots in 4 accounts now.")

    # And the form still imports without the question (no JavaScript): one account's file replaces its lots
    account = book["accounts"][0].custodian_number
    upload = io.BytesIO(f"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                        f"{account},NEW-1,VTI,10,1000,{date(2020, 1, 2)}\n".encode())
    upload.name = "lots.csv"
    answer = admin.post("/import/", {"kind": "lots", "file": upload, "as_of": str(AS_OF)})
    assert answer.status_code == 200 and "Replaced away" in answer.content.decode()


def test_the_lots_import_question_separates_thousands(firm_a, book, as_user, monkeypatch):
    # Given a book of 12,345 lots in 1,234 accounts
    monkeypatch.setattr("frontend.views.imports.lots_held", lambda: {"lots": 12345, "accounts": 1234})

    page = as_user("admin").get("/import/").content.decode()

    # Then the question writes them as the pages write numbers
    tags = re.findall(r'<input type="radio" name="kind" value="(\w+)"[^>]*?(?:data-confirm="([^"]*)")?>', page)
    question = html.unescape(dict(tags)["lots"])
    assert question.endswith("The book holds 12,345 lots in 1,234 accounts now.")


def test_the_selection_count_agrees_with_its_number(firm_a, book, as_user):
    # Given a filter that selects one account
    number = book["accounts"][0].custodian_number

    page = as_user("admin").get("/accounts/assign/", {"q": number}).content.decode()

    # Then the verb is singular, and plural for more than one
    assert "1 account in 1 household matches the accounts page's filters" in page
    many = as_user("admin").get("/accounts/assign/", {"q": "A"}).content.decode()
    assert re.search(r"\d+ accounts in \d+ households? match the accounts page's filters", many)

"""A firm admin changes one security, and one account's facts, in the browser: through the same
import as the securities and accounts files (``services.row_edits``), so the file's refusals are the
page's, in its words, beside the field, what was typed kept and nothing written; a change audited.
The account page says which template governs the account and why."""

import datetime as dt
import html
import re
from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from rebalancing.imports import ImportRejected, accounts_import, securities_import
from rebalancing.models import Account, Household, Security, TradeRecord
from rebalancing.services.row_edits import account_facts_as_typed, security_as_typed
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def file_problem(service, csv: str) -> str:
    """What the CSV import says of the file's one row (its first problem)."""
    with pytest.raises(ImportRejected) as refused:
        service(source=csv.encode())
    return refused.value.detail["problems"][0]["problem"]


def beside(page: str, field: str) -> str:
    """The error shown under ``field`` (its ``role="alert"`` element), or ""."""
    found = re.search(rf'id="f-{field}-error" role="alert">([^<]*)<', page)
    return found.group(1) if found else ""


def field_value(page: str, field: str) -> str:
    found = re.search(rf'name="{field}" value="([^"]*)"', page)
    return found.group(1) if found else ""


# -- the security master -------------------------------------------------------------------------------

def _security_post(security, **changes) -> dict:
    values = security_as_typed(security) | changes
    values = {k: v for k, v in values.items() if k not in ("is_fund", "fractional") or v == "yes"}
    return values


def test_the_list_links_each_security_to_its_page_for_an_admin_not_an_advisor(book, as_user, firm_a):
    with tenant_context(firm_a):
        xle = Security.objects.get(symbol="XLE")
    assert f'href="/securities/{xle.pk}/"' in text(as_user("admin").get("/securities/", {"q": "XLE"}))
    assert f'href="/securities/{xle.pk}/"' not in text(as_user("advisor").get("/securities/", {"q": "XLE"}))


def test_an_admin_changes_every_field_of_a_security_and_the_change_is_audited(book, as_user, firm_a):
    with tenant_context(firm_a):
        xle = Security.objects.get(symbol="XLE")
        post = _security_post(xle, name="Energy Sector SPDR", sector="Oil & Gas", tags="fossil_fuels|carbon",
                              esg_score="3.5", equivalence_group="energy_funds", is_fund="", fractional="yes")
    client = as_user("admin")
    assert field_value(text(client.get(f"/securities/{xle.pk}/")), "name") == "Energy Select Sector fund"

    response = client.post(f"/securities/{xle.pk}/", post)

    assert response.status_code == 302
    with tenant_context(firm_a):
        xle.refresh_from_db()
        assert (xle.name, xle.sector, xle.tags, xle.esg_score, xle.equivalence_group, xle.is_fund, xle.fractional) == (
            "Energy Sector SPDR", "Oil & Gas", ["fossil_fuels", "carbon"], 3.5, "energy_funds", False, True)
        event = AuditEvent.objects.get(action="import.securities", object_type="security", object_id=str(xle.pk))
        assert event.actor
        assert event.before["name"] == "Energy Select Sector fund" and event.after["name"] == "Energy Sector SPDR"
        assert event.before["is_fund"] is True and event.after["is_fund"] is False
        assert "symbol" not in event.after and "asset_class" not in event.after  # only what changed
    assert "XLE saved" in text(client.get(f"/securities/{xle.pk}/"))


def test_saving_a_security_unchanged_writes_and_audits_nothing(book, as_user, firm_a):
    with tenant_context(firm_a):
        xle = Security.objects.get(symbol="XLE")
        post = _security_post(xle)
    client = as_user("admin")
    assert client.post(f"/securities/{xle.pk}/", post).status_code == 302
    with tenant_context(firm_a):
        assert not AuditEvent.objects.filter(action="import.securities").exists()
    assert "Nothing changed for XLE" in text(client.get(f"/securities/{xle.pk}/"))


@pytest.mark.parametrize(("field", "typed", "csv_cell"), [
    ("esg_score", "101", "101"),  # a number out of range
    ("esg_score", "lots", "lots"),  # not a number
    ("name", "", ""),  # required
    ("tags", "[oops", '"[oops"'),  # a list that cannot be read
    ("sector", "Ener\u200bgy", "Ener\u200bgy"),  # a character that cannot be seen
    ("asset_class", "bonds", "bonds"),  # a model's us_equity sleeve holds XLE
])
def test_a_value_the_file_refuses_is_refused_beside_its_field_in_the_files_words(book, as_user, firm_a, field, typed,
                                                                                 csv_cell):
    with tenant_context(firm_a):
        xle = Security.objects.get(symbol="XLE")
        stored = security_as_typed(xle)
        row = {**{k: stored[k] for k in ("symbol", "name", "asset_class")}, field: csv_cell}
        words = file_problem(securities_import, ",".join(row) + "\n" + ",".join(row.values()) + "\n")
        post = _security_post(xle, **{field: typed})

    response = as_user("admin").post(f"/securities/{xle.pk}/", post)

    page = text(response)
    assert response.status_code == 400
    assert beside(page, field) == words
    assert f'aria-invalid="true" aria-describedby="f-{field}-error"' in page
    # above the form too, by the page's label (not the file's column name "esg_score")
    from frontend.views.securities import _SECURITY_FIELDS

    label = {name: label for name, label, *_ in _SECURITY_FIELDS}[field]
    assert f"Nothing was saved: {label}: {words}" in page
    assert field_value(page, field) == typed  # what was typed, kept
    with tenant_context(firm_a):
        xle.refresh_from_db()
        assert security_as_typed(xle) == stored
        assert not AuditEvent.objects.filter(action="import.securities").exists()


def test_a_wash_sale_group_shared_with_the_harvest_substitute_is_refused_as_the_file_refuses_it(book, as_user,
                                                                                                firm_a):
    with tenant_context(firm_a):
        xle, vti = Security.objects.get(symbol="XLE"), Security.objects.get(symbol="VTI")
        Security.objects.filter(pk=vti.pk).update(harvest_substitute=xle)
        words = file_problem(securities_import, "symbol,name,asset_class,equivalence_group\n"
                                                "VTI,Total market,us_equity,energy\n")
        post = _security_post(vti, equivalence_group="energy")

    response = as_user("admin").post(f"/securities/{vti.pk}/", post)

    assert response.status_code == 400 and "harvest substitute" in words
    assert beside(text(response), "equivalence_group") == words
    assert field_value(text(response), "equivalence_group") == "energy"
    with tenant_context(firm_a):
        assert Security.objects.get(symbol="VTI").equivalence_group == vti.equivalence_group


@pytest.mark.parametrize("who", ["advisor", "compliance"])
def test_only_those_who_may_import_change_a_security(book, as_user, firm_a, who):
    with tenant_context(firm_a):
        xle = Security.objects.get(symbol="XLE")
        post = _security_post(xle, name="Renamed")
    client = as_user(who)
    assert client.get(f"/securities/{xle.pk}/").status_code == 403
    assert client.post(f"/securities/{xle.pk}/", post).status_code == 403
    with tenant_context(firm_a):
        assert Security.objects.get(pk=xle.pk).name == "Energy Select Sector fund"


# -- an account's facts ---------------------------------------------------------------------------------

def _facts_post(account, **changes) -> dict:
    values = account_facts_as_typed(account) | changes
    if values.get("discretionary") != "yes":
        values.pop("discretionary", None)
    return values


def test_the_account_page_says_which_template_governs_and_why(book, as_user, firm_a):
    account = book["accounts"][0]
    client = as_user("admin")
    page = text(client.get(f"/accounts/{account.pk}/"))
    assert ("Template Standard governs this account: its household F-000 household's template (the account has "
            "none of its own).") in page
    assert f'href="/accounts/{account.pk}/facts/"' in page

    with tenant_context(firm_a):
        Household.objects.filter(pk=account.household_id).update(template=None)
    assert ("No template governs this account: neither it nor its household F-000 household has one, so the "
            "engine's defaults apply.") in text(client.get(f"/accounts/{account.pk}/"))

    with tenant_context(firm_a):
        Household.objects.filter(pk=account.household_id).update(template=book["template"])
        post = _facts_post(Account.objects.get(pk=account.pk), template="standard")
    assert client.post(f"/accounts/{account.pk}/facts/", post).status_code == 302
    assert ("Template Standard governs this account: assigned to the account itself; it overrides its household "
            "F-000 household's template Standard.") in text(client.get(f"/accounts/{account.pk}/"))


def test_an_admin_changes_every_fact_of_an_account_and_the_change_is_audited(book, as_user, firm_a):
    account, other = book["accounts"][0], book["accounts"][1]
    with tenant_context(firm_a):
        post = _facts_post(
            Account.objects.get(pk=account.pk), account_name="Joint brokerage", household_id=other.household.external_id,
            model="", template="standard", tax_status="roth", spouse="second", discretionary="no",
            short_term_rate="0.32", long_term_rate="0.15", cash="2,500.75", realised_short_term_ytd="120",
            realised_long_term_ytd="-40.5", opened_on="2015-03-02", owner_name="Ada Lovelace",
            owner_birth_date="1960-12-10", spouse_birth_date="1962-01-31", asset_classes="us_equity|bonds")
    client = as_user("admin")

    response = client.post(f"/accounts/{account.pk}/facts/", post)

    assert response.status_code == 302, text(response)[:3000]
    with tenant_context(firm_a):
        a = Account.objects.select_related("household", "template").get(pk=account.pk)
        assert (a.name, a.household_id, a.model_id, a.template.code, a.tax_status, a.spouse, a.discretionary) == (
            "Joint brokerage", other.household_id, None, "standard", "roth", "second", False)
        assert (a.short_term_rate, a.long_term_rate, a.cash) == (Decimal("0.32"), Decimal("0.15"), Decimal("2500.75"))
        assert (a.realised_short_term_ytd, a.realised_long_term_ytd) == (Decimal("120"), Decimal("-40.5"))
        assert (a.opened_on, a.owner_name, a.owner_birth_date, a.spouse_birth_date, a.asset_classes) == (
            dt.date(2015, 3, 2), "Ada Lovelace", dt.date(1960, 12, 10), dt.date(1962, 1, 31), ["us_equity", "bonds"])
        event = AuditEvent.objects.get(action="import.accounts", object_type="account", object_id=str(account.pk))
        assert event.before["name"] == "Account F-000" and event.after["name"] == "Joint brokerage"
        assert event.before["household"] == account.household_id and event.after["household"] == other.household_id
        assert event.after["tax_status"] == "roth" and "custodian_number" not in event.after


@pytest.mark.parametrize(("field", "typed"), [
    ("short_term_rate", "1.5"),  # a rate is a fraction
    ("cash", "12abc"),  # not a number
    ("opened_on", "31/12/2020"),  # not a day
    ("opened_on", "2999-01-01"),  # in the future
    ("template", "no-such-template"),  # a code the firm does not have
    ("account_name", ""),  # required
    ("spouse", "joint"),  # a traditional IRA is never joint (IRC §408(a))
])
def test_a_fact_the_file_refuses_is_refused_beside_its_field_in_the_files_words(book, as_user, firm_a, field, typed):
    account = book["accounts"][0]
    with tenant_context(firm_a):
        Account.objects.filter(pk=account.pk).update(tax_status="traditional")
        stored = account_facts_as_typed(Account.objects.select_related("household").get(pk=account.pk))
        row = {k: stored[k] for k in ("account_number", "account_name", "household_id")} | {field: typed}
        words = file_problem(accounts_import, ",".join(row) + "\n" + ",".join(row.values()) + "\n")
        post = _facts_post(Account.objects.get(pk=account.pk), **{field: typed})

    response = as_user("admin").post(f"/accounts/{account.pk}/facts/", post)

    page = text(response)
    assert response.status_code == 400
    assert beside(page, field) == words
    if field not in ("template", "spouse"):
        assert field_value(page, field) == typed  # what was typed, kept
    with tenant_context(firm_a):
        assert account_facts_as_typed(Account.objects.get(pk=account.pk)) == stored
        assert not AuditEvent.objects.filter(action="import.accounts").exists()


def test_an_opening_day_after_a_trade_in_the_ledger_is_refused_as_the_file_refuses_it(book, as_user, firm_a):
    account = book["accounts"][0]
    with tenant_context(firm_a):
        TradeRecord.objects.create(account=account, security=Security.objects.get(symbol="VTI"), side="buy",
                                   quantity=1, price=200, trade_date=dt.date(2024, 5, 6))
        words = file_problem(accounts_import, "account_number,account_name,household_id,opened_on\n"
                                              "F-000,Account F-000,HH-F-000,2024-06-01\n")
        post = _facts_post(Account.objects.get(pk=account.pk), opened_on="2024-06-01")

    response = as_user("admin").post(f"/accounts/{account.pk}/facts/", post)

    assert response.status_code == 400 and "after its first trade or fill" in words
    assert beside(text(response), "opened_on") == words
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).opened_on is None


def test_a_household_that_does_not_exist_is_refused_not_created(book, as_user, firm_a):
    account = book["accounts"][0]
    with tenant_context(firm_a):
        post = _facts_post(Account.objects.get(pk=account.pk), household_id="HH-TYPO")
    response = as_user("admin").post(f"/accounts/{account.pk}/facts/", post)
    assert response.status_code == 400
    assert "is no household of the firm" in beside(text(response), "household_id")
    # above the form by the field's label, as the import's refusals are
    assert "Nothing was saved: Household (its id): " in text(response) and "household_id:" not in text(response)
    with tenant_context(firm_a):
        assert not Household.objects.filter(external_id="HH-TYPO").exists()
        assert Account.objects.get(pk=account.pk).household_id == account.household_id


def test_a_portfolio_manager_may_change_facts_as_the_accounts_file_allows_an_advisor_may_not(book, as_user, firm_a):
    account = book["mine"][0]
    with tenant_context(firm_a):
        post = _facts_post(Account.objects.get(pk=account.pk), account_name="By the PM")
    advisor = as_user("advisor")
    assert 'href="/accounts/' + str(account.pk) + '/facts/"' not in text(advisor.get(f"/accounts/{account.pk}/"))
    assert advisor.get(f"/accounts/{account.pk}/facts/").status_code == 403
    assert advisor.post(f"/accounts/{account.pk}/facts/", post | {"account_name": "By the advisor"}).status_code == 403
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).name == f"Account {account.custodian_number}"
    assert as_user("pm").post(f"/accounts/{account.pk}/facts/", post).status_code == 302
    with tenant_context(firm_a):
        assert Account.objects.get(pk=account.pk).name == "By the PM"

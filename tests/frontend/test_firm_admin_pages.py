"""The firm admin's pages: assigning templates and models in bulk, importing CSV files, people and
roles, the approval policy and API keys. Each is checked through the page (Django's test client)
and against what it wrote (rows and audit events)."""

import re

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Household, ParameterTemplate
from tenants.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _other_template(firm):
    with tenant_context(firm):
        return ParameterTemplate.objects.create(code="esg", name="ESG: no fossil fuels",
                                                parameters={"cash": {"target": 0.02}}, overridable={})


def test_a_firm_admin_assigns_a_template_to_every_account_a_filter_selects(firm_a, book, as_user, people):
    esg = _other_template(firm_a)
    client = as_user("admin")
    selection = {"advisor": people["colleague"].pk}
    page = text(client.get("/accounts/assign/", selection))
    assert "2 accounts in 2 households match the accounts page's filters" in page
    # The accounts carry no overrides yet, so the ESG template (which allows none) may govern them.
    response = client.post("/accounts/assign/", {**selection, "apply_to": "accounts", "set_template": esg.pk})
    assert response.status_code == 302 and response["Location"] == f"/accounts/?advisor={people['colleague'].pk}"
    with tenant_context(firm_a):
        theirs = {a.pk for a in book["theirs"]}
        for account in Account.objects.all():
            assert (account.template_id == esg.pk) == (account.pk in theirs)
        events = AuditEvent.objects.filter(action="account.assign")
        assert sorted(int(e.object_id) for e in events) == sorted(theirs)
        assert {e.after["template"] for e in events} == {"esg"}
        assert {e.before["template"] for e in events} == {None}  # they followed their household's
    assert "Assigned to 2 accounts" in text(client.get(response["Location"]))


def test_an_assignment_refused_by_the_templates_limits_writes_nothing_and_names_the_accounts(firm_a, book, as_user):
    esg = _other_template(firm_a)
    with tenant_context(firm_a):
        first = Account.objects.get(pk=book["accounts"][0].pk)
        first.overrides = {"cash": {"target": 0.03}}
        first.save()
    response = as_user("admin").post("/accounts/assign/", {"apply_to": "accounts", "set_template": esg.pk})
    page = text(response)
    assert response.status_code == 400
    assert "Nothing assigned: 1 accounts have overrides the template “ESG: no fossil fuels” does not allow" in page
    assert first.custodian_number in page
    with tenant_context(firm_a):
        assert not Account.objects.filter(template=esg).exists()
        assert not AuditEvent.objects.filter(action="account.assign").exists()


def test_a_template_goes_to_the_households_of_the_selection(firm_a, book, as_user):
    esg = _other_template(firm_a)
    mine = book["mine"][0]
    response = as_user("admin").post("/accounts/assign/", {"q": mine.custodian_number, "apply_to": "households",
                                                           "set_template": esg.pk})
    assert response.status_code == 302
    with tenant_context(firm_a):
        assert list(Household.objects.filter(template=esg)) == [mine.household]
        assert AuditEvent.objects.get(action="household.template").after == {"household": mine.household.name,
                                                                              "template": "esg"}


def test_a_model_is_assigned_and_cleared_without_touching_the_template(firm_a, book, as_user):
    first = book["accounts"][0]
    client = as_user("admin")
    assert client.post("/accounts/assign/", {"q": first.custodian_number, "set_model": "none"}).status_code == 302
    with tenant_context(firm_a):
        account = Account.objects.get(pk=first.pk)
        assert account.model_id is None and account.template_id is None
        assert account.governing_template == book["template"]  # still its household's
    again = client.post("/accounts/assign/", {"q": first.custodian_number, "set_model": book["model"].pk})
    assert again.status_code == 302
    with tenant_context(firm_a):
        assert Account.objects.get(pk=first.pk).model_id == book["model"].pk


def test_only_firm_admins_assign_and_nothing_chosen_is_refused(firm_a, book, as_user):
    for role in ("advisor", "pm", "compliance"):
        assert as_user(role).get("/accounts/assign/").status_code == 403
    assert "Assign a template or model" not in text(as_user("pm").get("/accounts/"))
    assert "Assign a template or model to all 4 accounts" in text(as_user("admin").get("/accounts/"))
    page = as_user("admin").post("/accounts/assign/", {"apply_to": "accounts"})
    assert page.status_code == 400 and "Choose a template or a model to assign." in text(page)
    assert as_user("admin").post("/accounts/assign/", {"set_template": "99999"}).status_code == 400


# --- Import ---------------------------------------------------------------------------------------

def test_a_firm_admin_imports_a_csv_file_in_the_firm_pages(firm_a, people, as_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import Security

    client = as_user("admin")
    page = text(client.get("/import/"))
    assert 'href="/import/"' in page and "<code>symbol</code>, <code>name</code>, <code>asset_class</code>" in page
    csv = b"symbol,name,asset_class\nAAA,Triple A Corp,us_equity\nBBB,Double B Inc,us_equity\n"
    response = client.post("/import/", {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv, "text/csv")})
    assert response.status_code == 200 and "Imported s.csv" in text(response)
    with tenant_context(firm_a):
        assert set(Security.objects.values_list("symbol", flat=True)) == {"AAA", "BBB"}
        assert AuditEvent.objects.get(action="import.securities").actor == people["admin"].username


def test_a_bad_csv_file_is_refused_whole_with_its_line_and_column(firm_a, people, as_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rebalancing.models import Security

    csv = b"symbol,name,asset_class,esg_score\nAAA,Triple A,us_equity,50\nBBB,Double B,us_equity,lots\n"
    response = as_user("pm").post("/import/", {"kind": "securities", "file": SimpleUploadedFile("s.csv", csv)})
    page = text(response)
    assert response.status_code == 400 and "The file was refused; nothing was written" in page
    assert '<td class="num">3</td><td><code>esg_score</code></td>' in page
    missing = as_user("admin").post("/import/", {"kind": "securities"})
    assert missing.status_code == 400 and "Choose a CSV file to import." in text(missing)
    with tenant_context(firm_a):
        assert not Security.objects.exists()


def test_advisors_and_compliance_do_not_import(people, as_user):
    for role in ("advisor", "compliance"):
        assert as_user(role).get("/import/").status_code == 403
        assert 'href="/import/"' not in text(as_user(role).get("/"))

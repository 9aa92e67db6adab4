"""Households through the API: the household proposal decided as one, cash flows one at a time and
by CSV, settings, and the what-if; each scoped like every endpoint (a colleague's is not found)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Account, CashFlow, Household, HouseholdProposal, Proposal, RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_chunks, run_process_chunk, run_start
from tenants.audit.models import AuditEvent
from tests.rebalancing.book import AS_OF
from tests.rebalancing.household_book import make_unit_household
from tests.rebalancing.workflow import policy

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def lees(firm_a, people):
    with tenant_context(firm_a):
        policy(auto_approve=False, max_price_age_days=3650, compliance_min_turnover=10, compliance_min_estimated_tax=10**9)
        made = make_unit_household(advisor=people["advisor"])
        run = run_start(scope=RunScope(household_id=made["household"].pk), as_of=AS_OF, label="test")
        for chunk in run_chunks(run):
            run_process_chunk(run_id=run.pk, account_ids=chunk)
        made["proposal"] = HouseholdProposal.objects.get(run=run)
        yield made


def _json(client, method, path, body=None):
    return getattr(client, method)(f"{API}/{path}", body or {}, content_type="application/json")


def test_the_household_proposal_is_listed_with_its_accounts_and_approved_with_one_call(
        lees, people, firm_a, client_for, api_key):
    advisor = client_for(firm_a, people["advisor"])
    listed = advisor.get(f"{API}/household-proposals/").json()["results"]
    assert [hp["id"] for hp in listed] == [lees["proposal"].pk]
    assert {p["account_number"] for p in listed[0]["proposals"]} == {"LEE-JT", "LEE-IRA", "LEE-ROTH"}
    assert "bonds" in listed[0]["allocation_after"]

    colleague = client_for(firm_a, people["colleague"])
    assert colleague.get(f"{API}/household-proposals/{lees['proposal'].pk}/").status_code == 404
    assert error_of(_json(colleague, "post", f"household-proposals/{lees['proposal'].pk}/approve/"))["code"] == "not_found"
    read_only = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    refused = _json(read_only, "post", f"household-proposals/{lees['proposal'].pk}/approve/")
    assert refused.status_code == 403 and error_of(refused)["code"] == "scope_missing"

    approved = _json(advisor, "post", f"household-proposals/{lees['proposal'].pk}/approve/", {"comment": "ok"})
    assert approved.status_code == 200
    assert {p["status"] for p in approved.json()["proposals"]} <= {"approved"}
    again = _json(advisor, "post", f"household-proposals/{lees['proposal'].pk}/approve/")
    assert again.status_code == 409 and error_of(again)["code"] == "illegal_transition"


def test_a_withdrawal_through_the_api_answers_its_plan_and_a_reference_twice_changes_nothing(
        lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    body = {"household": lees["household"].pk, "kind": "withdrawal", "amount": "4000", "reference": "API-1",
            "as_of": str(AS_OF)}
    first = _json(advisor, "post", "cash-flows/", body)
    assert first.status_code == 201, first.json()
    flow = first.json()
    assert flow["plan"]["cash_used"] and Decimal(flow["tax_cost"]) is not None and flow["run"]
    second = _json(advisor, "post", "cash-flows/", body)
    assert second.status_code == 200 and second.json()["id"] == flow["id"]
    rmd_from_roth = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd",
                                                            "amount": "10", "account": lees["roth"].pk})
    assert rmd_from_roth.status_code == 400 and "traditional IRA" in error_of(rmd_from_roth)["message"]
    colleague = client_for(firm_a, people["colleague"])
    assert _json(colleague, "post", "cash-flows/", body | {"reference": "X"}).status_code == 404
    assert colleague.get(f"{API}/cash-flows/").json()["results"] == []


@pytest.mark.parametrize("changes, field, words", [
    ({"as_of": "0001-01-01"}, "as_of", "must be from 1900-01-01 to today"),
    ({"as_of": "2099-01-01"}, "as_of", "must be from 1900-01-01 to today"),
    ({"kind": "deposit", "account": "roth", "amount": "9999999999999999.99"}, "amount",
     "more than any client account holds: at most $100,000,000,000 in one cash flow"),
])
def test_a_cash_flow_the_book_cannot_take_is_a_400_naming_the_field_and_writes_nothing(
        lees, people, firm_a, client_for, changes, field, words):
    advisor = client_for(firm_a, people["advisor"])
    body = {"household": lees["household"].pk, "kind": "withdrawal", "amount": "100"} | changes
    if body.get("account") == "roth":
        body["account"] = lees["roth"].pk
    answer = _json(advisor, "post", "cash-flows/", body)
    assert answer.status_code == 400, answer.content
    assert error_of(answer)["detail"] == {"field": field} and words in error_of(answer)["message"]
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists()


def test_a_cash_flow_file_through_the_api_is_refused_whole_with_its_rows(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    text = "household_id,kind,amount,account_number\nHH-LEE,deposit,100,LEE-ROTH\nHH-NOPE,withdrawal,5,\n"
    answer = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})
    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "import_rejected"
    assert body["detail"]["problems"] == [{"row": 3, "column": "household_id",
                                           "problem": "household HH-NOPE is not known, or not yours"}]
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists()


def test_a_cash_flow_row_the_service_refuses_is_reported_in_its_column_and_nothing_is_written(
        lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    text = ("household_id,kind,amount,account_number,as_of,makes_up_year\n"
            "HH-LEE,deposit,100,,,\n"               # no account to receive it
            "HH-LEE,rmd,10,LEE-ROTH,,\n"            # a Roth has no RMD
            "HH-LEE,withdrawal,10,,1899-12-31,\n"   # before the book's first day
            "HH-LEE,withdrawal,10,,,2024\n"         # only an RMD makes up a missed one
            "HH-LEE,withdrawal,10,,,\n")            # fine: entered, then rolled back with the file
    answer = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})
    assert answer.status_code == 400 and error_of(answer)["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in error_of(answer)["detail"]["problems"]] == [
        (2, "account_number"), (3, "account_number"), (4, "as_of"), (5, "makes_up_year")]
    with tenant_context(firm_a):
        assert not CashFlow.objects.exists()


def test_settings_and_what_if_of_a_household(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    path = f"households/{lees['household'].pk}/"
    changed = _json(advisor, "patch", path + "settings/", {"settings": {"tax_budget": 3000},
                                                           "asset_classes": {str(lees["ira"].pk): ["bonds"]}})
    assert changed.status_code == 200 and changed.json()["household_overrides"] == {"tax_budget": 3000}
    assert _json(advisor, "patch", path + "settings/", {"settings": {"tax_budget": -5}}).status_code == 400
    whatif = _json(advisor, "post", path + "what-if/", {"as_of": str(AS_OF)})
    assert whatif.status_code == 200
    result = whatif.json()
    assert {a["account_id"] for a in result["accounts"]} == {"LEE-JT", "LEE-IRA", "LEE-ROTH"}
    ira = next(a for a in result["accounts"] if a["account_id"] == "LEE-IRA")
    assert {t["symbol"] for t in ira["trades"] if t["side"] == "buy"} <= {"BND"}  # the IRA holds bonds only
    with tenant_context(firm_a):
        assert Proposal.objects.count() == 3 and Household.objects.get(pk=lees["household"].pk).managed_as == "household"
    assert _json(client_for(firm_a, people["colleague"]), "post", path + "what-if/").status_code == 404


def test_an_account_of_a_household_proposal_is_not_revised_alone_by_the_api_as_on_the_page(
        lees, people, firm_a, client_for, api_key):
    """The household page decides its accounts' proposals together and offers no edit of one of them
    (the proposal page hides "Edit and solve again"); the API refuses the edit with the same service rule,
    naming the household proposal to decide instead, and writes nothing."""
    with tenant_context(firm_a):
        member = next(p for p in Proposal.objects.filter(household_proposal=lees["proposal"]).order_by("pk")
                      if (p.result or {}).get("trades"))
        symbol = member.result["trades"][0]["symbol"]
        proposals = Proposal.objects.count()
    body = {"drop": [symbol]}
    advisor = client_for(firm_a, people["advisor"])

    refused = _json(advisor, "post", f"proposals/{member.pk}/revise/", body)

    assert refused.status_code == 409
    problem = error_of(refused)
    assert problem["code"] == "household_proposal"
    assert problem["detail"] == {"household_proposal": lees["proposal"].pk}
    assert f"household proposal #{lees['proposal'].pk}" in problem["message"]
    page = advisor.get(f"/proposals/{member.pk}/").content.decode()
    assert 'id="resolve-form"' not in page  # no edit offered on the page
    on_the_page = advisor.post(f"/proposals/{member.pk}/resolve/", {"drop": [symbol]}, follow=True)
    assert problem["message"] in on_the_page.content.decode().replace("&#x27;", "'")
    # Who may not decide is refused before the household rule is told: not found, or the key's scope.
    colleague = client_for(firm_a, people["colleague"])
    assert error_of(_json(colleague, "post", f"proposals/{member.pk}/revise/", body))["code"] == "not_found"
    read_only = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    assert error_of(_json(read_only, "post", f"proposals/{member.pk}/revise/", body))["code"] == "scope_missing"
    with tenant_context(firm_a):
        assert Proposal.objects.count() == proposals
        assert not AuditEvent.objects.filter(action="proposal.revise").exists()
        assert Proposal.objects.get(pk=member.pk).status == Proposal.Status.PENDING


def test_how_a_household_is_rebalanced_inside_its_bands_is_read_and_written_with_its_source(
        lees, people, firm_a, client_for):
    admin, advisor = client_for(firm_a, people["admin"]), client_for(firm_a, people["advisor"])
    template, path = lees["template"], f"households/{lees['household'].pk}/"
    read = advisor.get(f"{API}/{path}").json()
    assert read["household_settings"]["values"]["inside_bands"] == "tax_free"
    assert read["household_settings"]["sources"]["inside_bands"] == "default"

    # The template chooses cash flows, and lets its households choose within its choices.
    changed = _json(admin, "patch", f"templates/{template.pk}/", {
        "household_parameters": {"inside_bands": "cash_flows"},
        "overridable": {**template.overridable, "household.inside_bands": {"choices": ["tax_free", "cash_flows"]}}})
    assert changed.status_code == 200 and changed.json()["household_parameters"] == {"inside_bands": "cash_flows"}
    followed = advisor.get(f"{API}/{path}").json()["household_settings"]
    assert (followed["values"]["inside_bands"], followed["sources"]["inside_bands"]) == (
        "cash_flows", f"template:{template.code}")
    bad_template = _json(admin, "patch", f"templates/{template.pk}/", {"household_parameters": {"inside_bands": "x"}})
    assert bad_template.status_code == 400 and error_of(bad_template)["detail"] == {"field": "inside_bands"}

    # The household keeps the default for itself.
    own = _json(advisor, "patch", path + "settings/", {"settings": {"inside_bands": "tax_free"}})
    assert own.status_code == 200 and own.json()["household_overrides"] == {"inside_bands": "tax_free"}
    assert own.json()["household_settings"]["sources"]["inside_bands"] == "household"
    with tenant_context(firm_a):
        event = AuditEvent.objects.filter(action="household.settings").latest("pk")
        assert event.after == {"settings": {"inside_bands": "tax_free"}}
    for bad in ("never", None, 3):
        refused = _json(advisor, "patch", path + "settings/", {"settings": {"inside_bands": bad}})
        body = error_of(refused)
        assert refused.status_code == 400 and body["detail"] == {"field": "inside_bands"}
        assert "inside_bands (how the household is rebalanced inside its drift bands) must be" in body["message"]
    with tenant_context(firm_a):
        assert Household.objects.get(pk=lees["household"].pk).household_overrides == {"inside_bands": "tax_free"}


@pytest.mark.parametrize("as_of", ["0001-01-01", "2099-01-01"])
def test_a_household_what_if_on_a_day_off_the_book_is_a_400_naming_as_of(lees, people, firm_a, client_for, as_of):
    advisor = client_for(firm_a, people["advisor"])
    answer = _json(advisor, "post", f"households/{lees['household'].pk}/what-if/", {"as_of": as_of})
    assert answer.status_code == 400, answer.content
    assert error_of(answer)["detail"] == {"field": "as_of"}


@pytest.mark.parametrize("body", [
    {"settings": {}, "asset_classes": {"ira": ["bondz"]}},  # a typo: the IRA could then buy nothing
    {"settings": {"location": {"equitiez": ["roth", "traditional", "taxable"]}}},
])
def test_an_asset_class_the_firm_does_not_have_is_refused_by_name_and_nothing_changes(
        lees, people, firm_a, client_for, body):
    if "asset_classes" in body:
        body = {**body, "asset_classes": {str(lees["ira"].pk): body["asset_classes"]["ira"]}}
    answer = _json(client_for(firm_a, people["advisor"]), "patch", f"households/{lees['household'].pk}/settings/", body)
    assert answer.status_code == 400, answer.content
    error = error_of(answer)
    # (the field where the class was given: an account's classes, or the location setting)
    assert error["detail"]["field"] == ("asset_classes" if "asset_classes" in body else "location")
    assert "Unknown asset class" in error["message"]
    assert error["detail"]["unknown"] in (["bondz"], ["equitiez"]) and "bonds" in error["message"]
    with tenant_context(firm_a):
        assert Account.objects.get(pk=lees["ira"].pk).asset_classes == []
        assert Household.objects.get(pk=lees["household"].pk).household_overrides in ({}, None)


def test_the_firms_asset_classes_are_its_securities_and_sleeves_not_its_model_of_models(lees, firm_a):
    from rebalancing.models import ModelVersion, Security, Sleeve
    from rebalancing.selectors import asset_classes_known

    with tenant_context(firm_a):
        outer = ModelVersion.objects.exclude(model=lees["model"]).first() or lees["model"].current_version
        Sleeve.objects.create(version=outer, asset_class="sixty-lee-inside", weight=Decimal("0.5"),
                              kind=Sleeve.Kind.SUBMODEL, submodel=lees["model"])
        known = asset_classes_known()
        assert set(Security.objects.values_list("asset_class", flat=True)) <= known
        assert "sixty-lee-inside" not in known


def test_a_household_proposal_is_edited_and_solved_again_through_the_api(lees, people, firm_a, client_for, api_key):
    old = lees["proposal"]
    with tenant_context(firm_a):
        ira = Proposal.objects.get(household_proposal=old, account=lees["ira"])
    dropped = ira.result["trades"][0]
    body = {"accounts": [{"account": lees["ira"].pk, "drop": [dropped["symbol"].lower()]},
                         {"account": lees["joint"].pk, "instructions": [{"action": "do_not_sell", "symbol": "vti"}]}]}
    read_only = key_client(firm_a, api_key(firm_a, people["advisor"], scopes=["read"]))
    assert error_of(_json(read_only, "post", f"household-proposals/{old.pk}/revise/", body))["code"] == "scope_missing"
    colleague = client_for(firm_a, people["colleague"])
    assert error_of(_json(colleague, "post", f"household-proposals/{old.pk}/revise/", body))["code"] == "not_found"
    advisor = client_for(firm_a, people["advisor"])

    answer = _json(advisor, "post", f"household-proposals/{old.pk}/revise/", body)

    assert answer.status_code == 201, answer.content
    new = answer.json()
    assert (new["revised_from"], new["revised_into"], new["revised_by"]) == (old.pk, None, people["advisor"].username)
    assert new["revision"]["accounts"] == {"LEE-IRA": [f"dropped the {dropped['side']} of {dropped['symbol']}"],
                                           "LEE-JT": ["do not sell VTI"]}
    assert {p["status"] for p in new["proposals"]} == {"pending_approval"}
    replaced = advisor.get(f"{API}/household-proposals/{old.pk}/").json()
    assert replaced["revised_into"] == new["id"] and {p["status"] for p in replaced["proposals"]} == {"superseded"}
    with tenant_context(firm_a):
        ira_new = Proposal.objects.get(household_proposal_id=new["id"], account=lees["ira"])
        joint_new = Proposal.objects.get(household_proposal_id=new["id"], account=lees["joint"])
    assert dropped["symbol"] not in {t["symbol"] for t in ira_new.result["trades"]}
    assert all(t["symbol"] != "VTI" or t["side"] == "buy" for t in joint_new.result["trades"])
    again = _json(advisor, "post", f"household-proposals/{old.pk}/revise/", body)
    assert again.status_code == 409 and error_of(again)["detail"]["revised_into"] == new["id"]


@pytest.mark.parametrize("body, status, words", [
    ({"accounts": []}, 400, "accounts"),
    ({"accounts": [{"account": 1, "drop": ["X"]}, {"account": 1, "drop": ["Y"]}]}, 400, "appears more than once"),
    ({"accounts": [{"account": 10**9, "drop": ["VTI"]}]}, 400, "Not an account of this household proposal"),
    ({"accounts": [{"account": "ira", "drop": ["AGG"]}]}, 400, "the proposal does not trade AGG"),
    ({"accounts": [{"account": "ira", "instructions": [{"action": "sell", "symbol": "NOPE"}]}]}, 400,
     "Instruction 1: NOPE is not in the security master"),
    ({"accounts": [{"account": "ira", "instructions": [{"action": "fly"}]}]}, 400, "instructions"),
])
def test_a_household_edit_the_api_refuses_names_the_problem_and_writes_nothing(
        lees, people, firm_a, client_for, body, status, words):
    for row in body["accounts"]:
        if row["account"] == "ira":
            row["account"] = lees["ira"].pk
    advisor = client_for(firm_a, people["advisor"])
    with tenant_context(firm_a):
        written = (Proposal.objects.count(), HouseholdProposal.objects.count(), AuditEvent.objects.count())
    refused = _json(advisor, "post", f"household-proposals/{lees['proposal'].pk}/revise/", body)
    assert refused.status_code == status, refused.content
    assert words in refused.content.decode()
    with tenant_context(firm_a):
        assert (Proposal.objects.count(), HouseholdProposal.objects.count(), AuditEvent.objects.count()) == written


# An owner of 76 in AS_OF's year with 100,000 on the 31 December before: 4,219.41 due (Uniform table 23.7).
RMD_FACTS = {"owner_birth_date": "1950-06-01", "spouse_birth_date": None, "year_end_value": "100000.00",
             "year_end_year": AS_OF.year - 1}


def test_an_iras_rmd_through_the_api_facts_then_the_amount_left_and_a_csv_row_without_an_amount(
        lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    ira = lees["ira"].pk
    facts = dict(RMD_FACTS)
    missing = advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": AS_OF.year}).json()
    assert missing["computed"] is None and "date of birth" in missing["problem"]
    no_amount = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd",
                                                       "account": ira, "as_of": str(AS_OF)})
    assert no_amount.status_code == 400 and "cannot be computed: Enter the date of birth" in error_of(no_amount)["message"]

    wrong = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", facts | {"year_end_year": None})
    assert wrong.status_code == 400 and error_of(wrong)["detail"] == {"field": "year_end_year"}
    roth = _json(advisor, "patch", f"accounts/{lees['roth'].pk}/rmd-facts/", facts)
    assert roth.status_code == 400 and "kept for traditional IRAs" in error_of(roth)["message"]
    set_ = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", facts)
    assert set_.status_code == 200, set_.content
    due = advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": AS_OF.year}).json()
    assert due["computed"]["amount"] == "4219.41" and due["computed"]["distribution_period"] == "23.7"
    assert (due["remaining"], due["year_end_value"]) == ("4219.41", "100000.00")
    assert (due["owner_accounts"], due["owner_required"], due["owner_name"]) == ([], None, "")
    # Another year's value is kept beside it; the owner's name, omitted before, is set.
    older = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/",
                  facts | {"year_end_value": "98000.00", "year_end_year": AS_OF.year - 2, "owner_name": "Kim Lee"})
    assert older.status_code == 200 and older.json()["year_end_values"] == {
        str(AS_OF.year - 2): "98000.00", str(AS_OF.year - 1): "100000.00"}
    assert older.json()["owner_name"] == "Kim Lee" and older.json()["remaining"] == "4219.41"
    # A PATCH naming only the owner leaves the dates of birth as they are (it required one)
    renamed = _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", {"owner_name": "Kim Park"})
    assert renamed.status_code == 200, renamed.content
    assert (renamed.json()["owner_name"], renamed.json()["computed"]["amount"]) == ("Kim Park", "4219.41")
    assert advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": "soon"}).status_code == 400

    text = f"household_id,kind,amount,account_number,as_of\nHH-LEE,rmd,,LEE-IRA,{AS_OF}\n"
    entered = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())},
                           HTTP_IDEMPOTENCY_KEY="rmd-upload-1")
    assert entered.status_code == 201, entered.content
    # a retry of the same upload with its key answers the first one and enters nothing again
    retried = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())},
                           HTTP_IDEMPOTENCY_KEY="rmd-upload-1")
    assert (retried.status_code, retried["Idempotent-Replayed"]) == (201, "true")
    with tenant_context(firm_a):
        assert CashFlow.objects.get().amount == Decimal("4219.41")
    after = advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": AS_OF.year}).json()
    assert (after["distributed"], after["remaining"]) == ("4219.41", "0.00")
    empty = "household_id,kind,amount,account_number\nHH-LEE,withdrawal,,\n"
    refused = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", empty.encode())})
    assert error_of(refused)["detail"]["problems"][0]["column"] == "amount"
    colleague = client_for(firm_a, people["colleague"])
    assert colleague.get(f"{API}/accounts/{ira}/rmd/").status_code == 404
    assert _json(colleague, "patch", f"accounts/{ira}/rmd-facts/", facts).status_code == 404


def test_an_iras_rmd_is_read_on_a_day_so_a_plan_still_waiting_after_its_year_leaves_it_missed(
        lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    ira = lees["ira"].pk
    facts = dict(RMD_FACTS)
    assert _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", facts).status_code == 200
    # given: the year's RMD planned on AS_OF, its sales still waiting for a decision
    planned = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd",
                                                     "account": ira, "as_of": str(AS_OF)})
    assert planned.status_code == 201, planned.content
    path = f"{API}/accounts/{ira}/rmd/"
    # when: read on the day it was planned, then on 5 January of the next year, the plan still waiting
    on_the_day = advisor.get(path, {"year": AS_OF.year, "as_of": str(AS_OF)}).json()
    january = advisor.get(path, {"year": AS_OF.year, "as_of": str(date(AS_OF.year + 1, 1, 5))}).json()
    # then: counted on the day; in January nothing has left the IRA by its deadline, so the year is
    # missed, as the household's and the book's RMD pages say (before: the endpoint took no reading
    # day and showed it taken)
    assert (on_the_day["distributed"], on_the_day["missed"]) == ("4219.41", False)
    assert (january["distributed"], january["remaining"], january["missed"]) == ("0.00", "4219.41", True)
    assert january["excise"] is not None
    # the reading day defaults to today, and its year to the reading day's
    assert advisor.get(path, {"as_of": str(AS_OF)}).json()["year"] == AS_OF.year
    bad = advisor.get(path, {"as_of": "9999-01-01"})
    assert bad.status_code == 400 and "as_of" in str(error_of(bad)["detail"])


def test_a_spouses_date_of_birth_omitted_from_an_rmd_facts_patch_is_kept_and_null_clears_it(
        lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    path = f"accounts/{lees['ira'].pk}/rmd-facts/"
    # A spouse, sole beneficiary, 20 years younger: the Joint and Last Survivor Table, not carried.
    first = _json(advisor, "patch", path, {"owner_birth_date": "1950-06-01", "spouse_birth_date": "1970-06-01"})
    assert first.status_code == 200 and first.json()["computed"] is None

    # Given a new 31 December value only: the spouse stays, and so does the refusal to compute.
    value = _json(advisor, "patch", path, {"owner_birth_date": "1950-06-01", "year_end_value": "100000.00",
                                           "year_end_year": AS_OF.year - 1})
    assert value.status_code == 200 and value.json()["spouse_birth_date"] == "1970-06-01"
    assert value.json()["computed"] is None and "Joint and Last Survivor" in value.json()["problem"]

    cleared = _json(advisor, "patch", path, {"owner_birth_date": "1950-06-01", "spouse_birth_date": None})
    assert cleared.status_code == 200 and cleared.json()["spouse_birth_date"] is None
    assert cleared.json()["computed"]["distribution_period"] == "23.7"
    with tenant_context(firm_a):
        assert Account.objects.get(pk=lees["ira"].pk).spouse_birth_date is None


def test_a_households_open_rmds_through_the_api_a_deferred_first_beside_the_years(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    ira, url = lees["ira"].pk, f"{API}/households/{lees['household'].pk}/rmds/"
    for value, year in (("100000.00", 2024), ("102000.00", 2025)):  # 73 in 2025: the first year
        assert _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", {
            "owner_name": "Kim Lee", "owner_birth_date": "1952-10-01", "year_end_value": value,
            "year_end_year": year}).status_code == 200
    lines = advisor.get(url, {"as_of": "2026-02-02"}).json()
    assert [(r["account_number"], r["year"], r["first"], r["computed"]["amount"], r["remaining"],
             r["computed"]["deadline"]) for r in lines] == [
        ("LEE-IRA", 2025, True, "3773.59", "3773.59", "2026-04-01"),
        ("LEE-IRA", 2026, False, "4000.00", "4000.00", "2026-12-31")]
    # Past 1 April the first is missed: open until made up, with its excise (25% of 3,773.59)
    after = advisor.get(url, {"as_of": "2026-04-02"}).json()
    assert [(r["year"], r["missed"], r["shortfall"], r["excise"], r["window_end"]) for r in after] == [
        (2025, True, "3773.59", "943.40", "2028-12-31"), (2026, False, "0.00", None, None)]
    made_up = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd", "account": ira,
                                                     "as_of": "2026-04-02", "taken_outside": True,
                                                     "amount": "3773.59", "makes_up_year": 2025})
    assert made_up.status_code == 201, made_up.content
    assert made_up.json()["makes_up_year"] == 2025
    assert [(r["year"], r["remaining"]) for r in advisor.get(url, {"as_of": "2026-04-02"}).json()] == [
        (2026, "4000.00")]  # made up for 2025 only: 2026's is whole
    again = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd", "account": ira,
                                                   "makes_up_year": 2025})
    assert again.status_code == 400 and error_of(again)["detail"]["field"] == "makes_up_year"
    assert advisor.get(url, {"as_of": "soon"}).status_code == 400
    colleague = client_for(firm_a, people["colleague"])
    assert colleague.get(url).status_code == 404


def test_a_distribution_taken_at_the_custodian_through_the_api_and_by_csv(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    ira = lees["ira"].pk
    assert _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", {
        "owner_birth_date": "1950-06-01", "year_end_value": "100000.00", "year_end_year": AS_OF.year - 1}
    ).status_code == 200
    made = _json(advisor, "post", "cash-flows/", {"household": lees["household"].pk, "kind": "rmd", "account": ira,
                                                  "amount": "1000.00", "as_of": str(AS_OF), "taken_outside": True})
    assert made.status_code == 201, made.content
    assert (made.json()["taken_outside"], made.json()["run"], made.json()["tax_cost"]) == (True, None, "0.00")
    text = (f"household_id,kind,amount,account_number,as_of,taken_outside\n"
            f"HH-LEE,withdrawal,200,LEE-IRA,{AS_OF},yes\n")
    entered = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})
    assert entered.status_code == 201, entered.content
    due = advisor.get(f"{API}/accounts/{ira}/rmd/", {"year": AS_OF.year}).json()
    assert (due["distributed"], due["remaining"]) == ("1200.00", "3019.41")  # 4,219.41 less what was taken
    empty = "household_id,kind,amount,account_number,taken_outside\nHH-LEE,rmd,,LEE-IRA,yes\n"
    refused = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", empty.encode())})
    assert refused.status_code == 400 and "enter the amount" in str(error_of(refused))
    with tenant_context(firm_a):
        assert CashFlow.objects.count() == 2 and not Proposal.objects.filter(run__kind="cash_flow").exists()


def test_a_missed_rmd_made_up_by_csv_and_a_make_up_year_that_is_not_a_year_refused_naming_the_cell(
        lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    ira = lees["ira"].pk
    for value, year in (("80000.00", AS_OF.year - 2), ("100000.00", AS_OF.year - 1)):
        assert _json(advisor, "patch", f"accounts/{ira}/rmd-facts/", {
            "owner_birth_date": "1950-06-01", "year_end_value": value, "year_end_year": year}).status_code == 200
    bad = (f"household_id,kind,amount,account_number,as_of,taken_outside,makes_up_year\n"
           f"HH-LEE,rmd,100,LEE-IRA,{AS_OF},yes,last year\n")
    refused = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", bad.encode())})
    problem = error_of(refused)["detail"]["problems"][0]
    assert refused.status_code == 400 and problem["column"] == "makes_up_year" and "is not a year from 1900 to" in str(problem)
    # 80,000 / 24.6 (75 in 2025) = 3,252.04 missed; made up at the custodian, recorded for 2025 only
    text = (f"household_id,kind,amount,account_number,as_of,taken_outside,makes_up_year\n"
            f"HH-LEE,rmd,,LEE-IRA,{AS_OF},yes,{AS_OF.year - 1}\n")
    refused = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})
    assert refused.status_code == 400 and "enter the amount" in str(error_of(refused))  # a record needs its amount
    text = text.replace(",,LEE-IRA", ",3252.04,LEE-IRA")
    entered = advisor.post(f"{API}/cash-flows/upload/", {"file": SimpleUploadedFile("f.csv", text.encode())})
    assert entered.status_code == 201, entered.content
    lines = advisor.get(f"{API}/households/{lees['household'].pk}/rmds/", {"as_of": str(AS_OF)}).json()
    assert [(r["year"], r["missed"], r["remaining"]) for r in lines] == [(AS_OF.year, False, "4219.41")]
    with tenant_context(firm_a):
        assert CashFlow.objects.get().makes_up_year == AS_OF.year - 1


def test_the_books_rmds_through_the_api(lees, people, firm_a, client_for):
    advisor = client_for(firm_a, people["advisor"])
    url = f"{API}/reports/rmds/"
    assert [r["accounts"] for r in advisor.get(url, {"show": "missing"}).json()] == [["LEE-IRA"]]
    assert _json(advisor, "patch", f"accounts/{lees['ira'].pk}/rmd-facts/", {
        "owner_name": "Kim Lee", "owner_birth_date": "1950-06-01", "year_end_value": "100000.00",
        "year_end_year": AS_OF.year - 1}).status_code == 200
    [row] = advisor.get(url, {"as_of": str(AS_OF)}).json()
    assert (row["household_external_id"], row["owner"], row["accounts"], row["year"], row["required"],
            row["remaining"], row["deadline"]) == ("HH-LEE", "Kim Lee", ["LEE-IRA"], AS_OF.year, "4219.41",
                                                   "4219.41", f"{AS_OF.year}-12-31")
    assert advisor.get(url, {"show": "missing"}).json() == []
    assert advisor.get(url, {"show": "later"}).status_code == 400
    assert client_for(firm_a, people["colleague"]).get(url).json() == []  # not the colleague's book


@pytest.mark.parametrize("body", [{}, {"accounts": "all"}, {"accounts": [{"account": 1, "drop": ["VTI"]}]}])
def test_compliance_is_refused_a_household_revision_whatever_the_body_as_for_one_proposal(
        lees, people, firm_a, client_for, body):
    # The body was read first: {} answered 400 "accounts: This field is required" where proposals/ said 403.
    old = lees["proposal"]
    with tenant_context(firm_a):
        Proposal.objects.filter(household_proposal=old).update(requires_compliance=True)
        runs = RebalanceRun.objects.count()

    refused = _json(client_for(firm_a, people["compliance"]), "post", f"household-proposals/{old.pk}/revise/", body)

    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
    assert error_of(refused)["detail"]["capacity"] == "compliance"
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == runs
        assert set(Proposal.objects.filter(household_proposal=old).values_list("status", flat=True)) == {
            Proposal.Status.PENDING}


def test_allowed_classes_that_leave_a_model_class_in_no_account_are_refused_naming_the_class(
        lees, people, firm_a, client_for):
    # Found by an audit (2026-12-07): saved silently, then every run left the household off its model
    # by the class's whole weight, with a warning naming no class.
    held = ["us_equity", "bonds"]  # not real_estate, in the household's model at 10%
    body = {"settings": {}, "asset_classes": {str(lees[k].pk): held for k in ("joint", "ira", "roth")}}
    answer = _json(client_for(firm_a, people["advisor"]), "patch", f"households/{lees['household'].pk}/settings/", body)
    assert answer.status_code == 400, answer.content
    error = error_of(answer)
    assert "No account of the household may hold real_estate (10.0% of the model)" in error["message"]
    assert error["detail"] == {"field": "asset_classes", "classes": ["real_estate"]}
    with tenant_context(firm_a):
        assert all(a.asset_classes == [] for a in Account.objects.filter(household=lees["household"]))
    # one account allowed it (or left empty: any) is enough
    body["asset_classes"][str(lees["roth"].pk)] = [*held, "real_estate"]
    answer = _json(client_for(firm_a, people["advisor"]), "patch", f"households/{lees['household'].pk}/settings/", body)
    assert answer.status_code == 200, answer.content

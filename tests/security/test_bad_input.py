"""Attacks 6 and 7: the five causes of the server errors the attack suite found, each now a 400 with a
message (and an over-size upload a 413 refused before it is read)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django_tenants.utils import tenant_context

from rebalancing.models import Execution, Proposal, Security
from tenants.audit.models import AuditEvent
from tests.conftest import host_of

pytestmark = pytest.mark.django_db


def _page_text(response) -> str:
    return response.content.decode()


# --- 1. Non-numeric ids in page filters ----------------------------------------------------------

@pytest.mark.parametrize("query", ["advisor=abc", "model=abc", "template=abc", "advisor=%C2%B2", "model=-3",
                                   "template=99999999999999999999999", "advisor=1.5", "model=" + "9" * 5000])
def test_a_filter_id_that_is_not_a_number_is_a_400_naming_it(book, as_user, query):
    response = as_user("admin").get(f"/accounts/?{query}")

    name = query.split("=")[0]
    assert response.status_code == 400
    assert f"The {name} filter must name {'an' if name == 'advisor' else 'a'} {name} from the list" in _page_text(response)


def test_real_filter_ids_and_none_still_filter(book, as_user, people):
    client = as_user("admin")
    assert client.get(f"/accounts/?advisor={people['advisor'].pk}").status_code == 200
    assert client.get("/accounts/?advisor=none").status_code == 200
    assert client.get(f"/accounts/?model={book['model'].pk}&template={book['template'].pk}").status_code == 200


@pytest.mark.parametrize("query", ["min_drift=abc", "min_cash=sNaN", "min_loss=1e999", "min_drift=inf"])
def test_a_number_filter_that_is_not_a_finite_number_is_a_400(book, as_user, query):
    response = as_user("admin").get(f"/accounts/?{query}")

    assert response.status_code == 400 and "must be a number" in _page_text(response)


# --- 2. NUL bytes in query parameters, form fields and uploaded files -------------------------

@pytest.mark.parametrize("url", ["/accounts/?q=a%00b", "/audit/?object_id=%00", "/accounts/?x%00y=1",
                                 "/reports/realised/?household=%00", "/ledger/orders/?q=%00"])
def test_a_nul_in_a_page_query_is_a_400(book, as_user, url):
    response = as_user("admin").get(url)

    assert response.status_code == 400 and "contains a NUL character" in _page_text(response)


def test_a_nul_in_an_api_query_is_a_400_in_the_error_body(book, as_user):
    response = as_user("admin").get("/api/v1/schema/?format=%00")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "NUL" in response.json()["message"]


def test_a_nul_on_the_provider_host_is_a_400(db):
    assert Client(HTTP_HOST="localhost").get("/accounts/login/?next=%00").status_code == 400


def test_a_nul_in_a_form_field_is_a_400_and_changes_nothing(book, as_user, firm_a):
    client = as_user("advisor")  # signing in is audited too
    with tenant_context(firm_a):
        proposal = Proposal.objects.get(account=book["mine"][0])
        events = AuditEvent.objects.count()

    response = client.post(f"/proposals/{proposal.pk}/decide/", {"action": "reject", "comment": "x\x00y"})

    assert response.status_code == 400 and "The field “comment” contains a NUL character" in _page_text(response)
    with tenant_context(firm_a):
        assert Proposal.objects.get(pk=proposal.pk).status == Proposal.Status.PENDING
        assert AuditEvent.objects.count() == events


def test_a_nul_inside_an_uploaded_csv_is_refused_naming_the_line(book, as_user, firm_a):
    upload = SimpleUploadedFile("fills.csv", b"external_id,order_id,quantity,price,trade_date\nX-1,P1-1,1\x00,1,2026-11-20\n",
                                content_type="text/csv")

    response = as_user("pm").post("/ledger/executions/", {"file": upload})

    assert response.status_code == 400
    assert "row 2, whole line: the line contains a NUL character" in _page_text(response)
    with tenant_context(firm_a):
        assert not Execution.objects.exists()


def test_a_nul_inside_a_csv_sent_to_the_api_is_an_import_rejected(book, as_user, firm_a):
    upload = SimpleUploadedFile("securities.csv", b"symbol,name,asset_class\nNEW,New\x00 fund,us_equity\n",
                                content_type="text/csv")

    response = as_user("admin").post("/api/v1/imports/", {"kind": "securities", "file": upload})

    assert response.status_code == 400 and response.json()["code"] == "import_rejected"
    [problem] = response.json()["detail"]["problems"]
    assert problem["row"] == 2 and "NUL" in problem["problem"]
    with tenant_context(firm_a):
        assert not Security.objects.filter(symbol="NEW").exists()


def test_a_file_that_is_not_text_is_refused_naming_the_line_and_the_byte(book, as_user, firm_a):
    # 0x81 is neither UTF-8 here nor a Windows-1252 character: the second line is where it is
    upload = SimpleUploadedFile("securities.csv", b"symbol,name,asset_class\nNEW,Bad \x81\x8d fund,us_equity\n",
                                content_type="text/csv")

    response = as_user("admin").post("/api/v1/imports/", {"kind": "securities", "file": upload})

    assert response.status_code == 400 and response.json()["code"] == "import_rejected"
    [problem] = response.json()["detail"]["problems"]
    assert problem["row"] == 2 and "byte 0x81 on this line (the file's byte 33) cannot be read" in problem["problem"]
    with tenant_context(firm_a):
        assert not Security.objects.filter(symbol="NEW").exists()


def test_a_utf16_file_is_read_as_text(book, firm_a):
    from rebalancing.imports import book_import

    data = "symbol,name,asset_class\nU16,Wide fund,us_equity\n".encode("utf-16")
    with tenant_context(firm_a):
        summary = book_import(kind="securities", source=data)
        assert summary.created == 1 and Security.objects.get(symbol="U16").name == "Wide fund"


# --- 3. Years out of range on ledger pages ------------------------------------------------------

@pytest.mark.parametrize("year", ["-1", "0", "10000", "99999999999999999999", "abc", "2026.5"])
def test_a_year_out_of_range_is_a_400_on_every_ledger_page(book, as_user, year):
    client = as_user("admin")
    for url in (f"/accounts/{book['mine'][0].pk}/ledger/", "/reports/realised/", "/reports/harvest/"):
        response = client.get(f"{url}?year={year}")

        assert response.status_code == 400, url
        assert "The tax year must be from 1900 to " in _page_text(response), url  # reports.report_year_check


def test_a_real_year_still_shows(book, as_user):
    client = as_user("admin")
    for url in (f"/accounts/{book['mine'][0].pk}/ledger/", "/reports/realised/", "/reports/harvest/"):
        assert client.get(f"{url}?year=2026").status_code == 200, url
        assert client.get(f"{url}?year=1900").status_code == 200, url


# --- 4. JSON nested 10,000 levels deep on the API -------------------------------------------------

def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("url", ["/api/v1/whatif/", "/api/v1/imports/", "/api/v1/runs/", "/api/v1/executions/",
                                 "/api/v1/templates/", "/api/v1/api-keys/"])
@pytest.mark.parametrize("levels", [65, 10_000, 100_000])
def test_json_nested_too_deep_is_a_400(book, as_user, url, levels):
    response = as_user("admin").post(url, _nested(levels), content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "malformed_request"
    assert "nested more than 64 levels" in response.json()["message"]


def test_json_within_the_depth_limit_is_validated_as_usual(book, as_user):
    response = as_user("admin").post("/api/v1/imports/", _nested(64), content_type="application/json")

    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_template_form_reads_no_json_so_deep_json_goes_nowhere(book, as_user, firm_a):
    from django_tenants.utils import tenant_context

    # The limits are a table of ordinary inputs (frontend.parameter_forms.overridable_from_post).
    response = as_user("admin").post(f"/templates/{book['template'].pk}/", {
        "name": "x", "overridable": _nested(5000), "ov__p__cash__target": "yes", "ov_max__p__cash__target": "4"})

    assert response.status_code == 302
    with tenant_context(firm_a):
        book["template"].refresh_from_db()
        assert book["template"].overridable == {"cash.target": {"max": 0.04}}


# --- Other page inputs that reached the database or the int parser --------------------------------

@pytest.mark.parametrize("data", [{"rows": "abc"}, {"rows": "1000000000"}, {"rows": "-1"}])
def test_a_model_form_with_a_bad_row_count_is_a_400(book, as_user, data):
    response = as_user("admin").post(f"/models/{book['model'].pk}/", data)

    assert response.status_code == 400 and "number of sleeve rows" in _page_text(response)


def test_a_model_form_with_an_unreadable_holding_weight_says_so(book, as_user):
    response = as_user("admin").post(f"/models/{book['model'].pk}/", {
        "rows": "1", "s0-asset_class": "us_equity", "s0-weight": "100", "s0-kind": "holdings", "s0-holdings": "VTI 1.2.3"})

    assert response.status_code == 400 and "“1.2.3” is not a number" in _page_text(response)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_a_parameter_that_is_not_a_finite_number_is_a_field_error(book, as_user, value):
    response = as_user("advisor").post(f"/accounts/{book['mine'][0].pk}/", {"p__cash__target": value})

    assert response.status_code == 400 and "is not a number" in _page_text(response)


@pytest.mark.parametrize("ids", [["²"], ["abc"], ["1" * 40]])
def test_bulk_approval_with_ids_that_are_not_numbers_is_a_400(book, as_user, ids):
    assert as_user("advisor").post("/approvals/bulk/", {"proposal": ids}).status_code == 400


def test_a_reconciliation_decision_for_an_account_that_is_not_a_number_is_a_400(as_user, firm_a, people):
    from rebalancing.ledger.reconciliation import reconciliation_import
    from tests.rebalancing.book import make_account, make_model, make_securities

    with tenant_context(firm_a):
        make_securities()
        make_account("R-1", model=make_model(), holdings=[("VTI", 1, 100, "2020-01-02")])
        rec = reconciliation_import(source=b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                                           b"R-1,R-1-L1,VTI,2,100,2020-01-02\n", actor="t", file_name="p.csv")

    response = as_user("pm").post(f"/ledger/reconciliations/{rec.pk}/decide/", {"decision": "accept", "account": "²"})

    assert response.status_code == 400


def test_a_run_form_with_an_infinite_drift_or_a_bad_advisor_changes_nothing(book, as_user, firm_a):
    from rebalancing.models import RebalanceRun

    with tenant_context(firm_a):
        before = RebalanceRun.objects.count()
    client = as_user("admin")

    drift = client.post("/runs/", {"scope": "firm", "min_drift": "inf"})
    advisor = client.post("/runs/", {"scope": "advisor", "advisor": "99999999999999999999999"})

    assert drift.status_code == 302 and advisor.status_code == 400
    with tenant_context(firm_a):
        assert RebalanceRun.objects.count() == before


# --- Attack 7: the upload limit ---------------------------------------------------------------------

class _Unreadable(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def read(self, *args):
        raise AssertionError("the body of an over-size upload was read")

    readline = readinto = read


@pytest.mark.parametrize("url", ["/ledger/executions/", "/api/v1/imports/", "/admin/rebalancing/security/import/"])
def test_an_upload_over_the_limit_is_refused_before_it_is_read(book, firm_a, people, url):
    client = Client(HTTP_HOST=host_of(firm_a))
    client.force_login(people["pm"])

    fifty_mb = 50 * 1024 * 1024
    response = client.generic("POST", url, b"", content_type="multipart/form-data; boundary=x",
                              CONTENT_LENGTH=str(fifty_mb), **{"wsgi.input": _Unreadable()})

    assert response.status_code == 413
    message = response.json()["message"] if url.startswith("/api/") else _page_text(response)
    assert "The upload is 50.0 MB; the limit is 25.0 MB (UPLOAD_MAX_MB)" in message
    if url.startswith("/api/"):
        assert response.json()["code"] == "upload_too_large"
        assert response.json()["detail"] == {"bytes": fifty_mb, "limit_bytes": 25 * 1024 * 1024}


@override_settings(UPLOAD_MAX_BYTES=4096)
def test_the_limit_is_a_setting_and_a_file_under_it_is_read(book, as_user, firm_a):
    small = SimpleUploadedFile("s.csv", b"symbol,name,asset_class\nSMALL,Small fund,us_equity\n")
    big = SimpleUploadedFile("b.csv", b"symbol,name,asset_class\n" + b"BIG,Big fund,us_equity\n" * 400)

    assert as_user("admin").post("/api/v1/imports/", {"kind": "securities", "file": small}).status_code == 201
    assert as_user("admin").post("/api/v1/imports/", {"kind": "securities", "file": big}).status_code == 413
    with tenant_context(firm_a):
        assert Security.objects.filter(symbol="SMALL").exists() and not Security.objects.filter(symbol="BIG").exists()

"""Imports through the API: a CSV file or JSON rows, through the same import service."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import Price, Security

from .conftest import API, error_of, key_client

pytestmark = pytest.mark.django_db

SECURITIES_CSV = b"symbol,name,asset_class,tags,is_fund\nVXUS,Total intl,intl_equity,,yes\nESGV,ESG US,us_equity,esg|large,yes\n"


def test_json_rows_are_imported(firm_a, people, api_key):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read", "import"]))
    rows = [{"symbol": "VXUS", "name": "Total intl", "asset_class": "intl_equity", "is_fund": True,
             "tags": ["esg", "intl"], "esg_score": 71.5}]

    answer = client.post(f"{API}/imports/", {"kind": "securities", "rows": rows}, content_type="application/json")

    assert answer.status_code == 201, answer.content
    assert answer.json() | {"notes": []} == {"kind": "securities", "rows": 1, "created": 1, "updated": 0,
                                             "unchanged": 0, "deleted": 0, "notes": []}
    with tenant_context(firm_a):
        security = Security.objects.get(symbol="VXUS")
    assert security.is_fund and security.tags == ["esg", "intl"] and security.esg_score == 71.5


def test_a_csv_file_is_imported_and_again_changes_nothing(firm_a, people, client_for):
    client = client_for(firm_a, people["admin"])

    def upload():
        return client.post(f"{API}/imports/", {"kind": "securities",
                                               "file": SimpleUploadedFile("sec.csv", SECURITIES_CSV, "text/csv")})

    first, again = upload(), upload()

    assert first.status_code == 201 and first.json()["created"] == 2
    assert again.status_code == 201 and again.json()["unchanged"] == 2 and again.json()["created"] == 0


def test_a_bad_json_row_refuses_the_whole_import_with_a_row_level_report(firm_a, people, book, client_for):
    rows = [{"symbol": "VTI", "date": "2026-11-19", "close": "101.5"},
            {"symbol": "NOPE", "date": "2026-11-19", "close": "10"},
            {"symbol": "BND", "date": "2026-11-19", "close": "-3"}]
    with tenant_context(firm_a):
        prices_before = Price.objects.count()

    answer = client_for(firm_a, people["pm"]).post(f"{API}/imports/", {"kind": "prices", "rows": rows},
                                                   content_type="application/json")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "import_rejected"
    problems = body["detail"]["problems"]
    assert [(p["row"], p["index"], p["column"]) for p in problems] == [(3, 1, "symbol"), (4, 2, "close")]
    assert all(p["problem"] for p in problems)
    with tenant_context(firm_a):
        assert Price.objects.count() == prices_before


def test_a_list_or_object_where_a_single_value_belongs_is_refused_not_stored_as_text(firm_a, people, client_for):
    rows = [{"symbol": "OK1", "name": "Fine", "asset_class": "us_equity", "tags": ["esg"]},
            {"symbol": ["Z"], "name": {"a": 1}, "asset_class": "us_equity"}]

    answer = client_for(firm_a, people["pm"]).post(f"{API}/imports/", {"kind": "securities", "rows": rows},
                                                   content_type="application/json")

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "import_rejected"
    assert [(p["row"], p["index"], p["column"], p["problem"]) for p in body["detail"]["problems"]] == [
        (3, 1, "symbol", "is a list, not a single value"), (3, 1, "name", "is an object, not a single value")]
    with tenant_context(firm_a):
        assert not Security.objects.filter(symbol__in=["OK1", '["Z"]']).exists()


def test_a_bad_csv_file_is_refused_naming_row_and_column(firm_a, people, client_for):
    bad = b"symbol,name,asset_class,esg_score\nOK1,Fine,us_equity,50\nBAD1,Bad,us_equity,250\n"

    answer = client_for(firm_a, people["pm"]).post(
        f"{API}/imports/", {"kind": "securities", "file": SimpleUploadedFile("bad.csv", bad, "text/csv")})

    body = error_of(answer)
    assert answer.status_code == 400 and body["code"] == "import_rejected"
    assert [(p["row"], p["column"]) for p in body["detail"]["problems"]] == [(3, "esg_score")]
    with tenant_context(firm_a):
        assert not Security.objects.filter(symbol__in=["OK1", "BAD1"]).exists()


def test_an_unknown_kind_or_column_is_refused(firm_a, people, client_for):
    client = client_for(firm_a, people["pm"])

    kind = client.post(f"{API}/imports/", {"kind": "pets", "rows": [{"a": 1}]}, content_type="application/json")
    column = client.post(f"{API}/imports/", {"kind": "prices", "rows": [{"symbol": "VTI", "date": "2026-11-19",
                                                                         "close": "1", "colour": "red"}]},
                         content_type="application/json")

    assert kind.status_code == 400 and error_of(kind)["detail"]["fields"].keys() == {"kind"}
    assert column.status_code == 400 and error_of(column)["code"] == "import_rejected"
    assert error_of(column)["detail"]["problems"][0]["column"] == "colour"

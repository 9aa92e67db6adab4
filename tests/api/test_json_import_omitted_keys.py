"""POST imports/ with JSON rows: ``imports.from_rows.rows_to_csv`` builds one header from the keys that *any* row names
and writes an empty cell wherever a row leaves a key out, and an empty cell clears an optional field
(docs/csv-formats.md "Empty cells"). So a row's stored values depend on the keys of the *other* rows:
a securities row for VTI sent beside one for AGG that names ``equivalence_group`` loses VTI's
equivalence group (the wash-sale "substantially identical" group, IRC §1091) and sector; an accounts
row for T-000 sent beside a new account that names ``model`` loses T-000's model and template. All
answered 201 ``updated``. The CSV rule is that "an optional column left out of the file leaves that
field alone on every stored row"; a JSON object leaving a key out says the same of its row (generated
clients leave unset fields out). Either keep the field, or refuse the row naming the missing key -
never clear it silently."""

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import Account, Security

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


def test_a_securities_row_leaving_out_a_key_another_row_names_keeps_its_stored_value(
        firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    with tenant_context(firm_a):
        Security.objects.filter(symbol="VTI").update(sector="broad market")

    answer = client.post(f"{API}/imports/", {"kind": "securities", "rows": [
        {"symbol": "AGG", "name": "AGG fund", "asset_class": "bonds", "equivalence_group": "us_agg_core",
         "sector": "aggregate"},
        {"symbol": "VTI", "name": "Vanguard Total", "asset_class": "us_equity"},
    ]}, content_type="application/json")

    with tenant_context(firm_a):
        vti, agg = Security.objects.get(symbol="VTI"), Security.objects.get(symbol="AGG")
    assert answer.status_code == 201, answer.content[:300]
    assert answer.json()["rows"] == 2 and answer.json()["updated"] == 2
    # make_securities' group and the sector set above, which the VTI row never mentioned
    assert (vti.name, vti.equivalence_group, vti.sector) == ("Vanguard Total", "us_total", "broad market")
    assert (agg.equivalence_group, agg.sector) == ("us_agg_core", "aggregate")


def test_a_null_or_empty_value_still_clears_the_field(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    answer = client.post(f"{API}/imports/", {"kind": "securities", "rows": [
        {"symbol": "AGG", "name": "AGG fund", "asset_class": "bonds", "equivalence_group": None},
        {"symbol": "VTI", "name": "VTI fund", "asset_class": "us_equity", "equivalence_group": "", "sector": "x"},
    ]}, content_type="application/json")

    with tenant_context(firm_a):
        groups = dict(Security.objects.filter(symbol__in=["AGG", "VTI"]).values_list("symbol", "equivalence_group"))
    assert answer.status_code == 201, answer.content[:300]
    assert groups == {"AGG": "", "VTI": ""}


def test_a_refused_row_in_one_set_of_keys_writes_nothing_of_the_others(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])

    answer = client.post(f"{API}/imports/", {"kind": "securities", "rows": [
        {"symbol": "AGG", "name": "AGG renamed", "asset_class": "bonds"},
        {"symbol": "VTI", "name": "VTI renamed", "asset_class": "us_equity", "esg_score": "not a score"},
        {"symbol": "NEWX", "name": "New fund", "asset_class": "bonds"},
    ]}, content_type="application/json")

    with tenant_context(firm_a):
        names = dict(Security.objects.filter(symbol__in=["AGG", "VTI", "NEWX"]).values_list("symbol", "name"))
    assert answer.status_code == 400, answer.content[:300]
    body = error_of(answer)
    assert body["code"] == "import_rejected"
    assert [(p["row"], p["index"], p["column"]) for p in body["detail"]["problems"]] == [(3, 1, "esg_score")]
    assert names == {"AGG": "AGG fund", "VTI": "VTI fund"}


def test_rows_of_one_account_naming_different_keys_are_refused_by_row_and_key(firm_a, people, book, client_for):
    """An account's lots are a snapshot replaced whole: imported apart, the second set of rows would
    replace the first. Refused naming the row and the key, nothing written."""
    client = client_for(firm_a, people["admin"])
    own = book["own"]
    with tenant_context(firm_a):
        before = sorted(own.lots.values_list("lot_id", "quantity"))

    answer = client.post(f"{API}/imports/", {"kind": "lots", "rows": [
        {"account_number": own.custodian_number, "lot_id": "N1", "symbol": "VTI", "quantity": "1",
         "cost_basis": "100", "acquired": "2020-01-02"},
        {"account_number": own.custodian_number, "lot_id": "N2", "symbol": "BND", "quantity": "1",
         "cost_basis": "80", "acquired": "2020-01-02", "inherited": True},
    ]}, content_type="application/json")

    with tenant_context(firm_a):
        after = sorted(own.lots.values_list("lot_id", "quantity"))
    assert answer.status_code == 400, answer.content[:300]
    body = error_of(answer)
    assert [(p["row"], p["index"], p["column"]) for p in body["detail"]["problems"]] == [(3, 1, "inherited")]
    assert after == before


def test_an_accounts_row_leaving_out_model_and_template_keeps_the_accounts_model(firm_a, people, book, client_for):
    client = client_for(firm_a, people["admin"])
    own = book["own"]
    with tenant_context(firm_a):
        # make_book gives the account its model and its household the template: give it its own too,
        # so that both are there to lose.
        Account.objects.filter(pk=own.pk).update(template=book["template"])

    answer = client.post(f"{API}/imports/", {"kind": "accounts", "rows": [
        {"account_number": "NEW-1", "account_name": "New", "household_id": "HH-NEW", "model": book["model"].code,
         "template": book["template"].code},
        {"account_number": own.custodian_number, "account_name": own.name, "household_id": own.household.external_id},
    ]}, content_type="application/json")

    with tenant_context(firm_a):
        stored = Account.objects.select_related("model", "template").get(pk=own.pk)
        created = Account.objects.filter(custodian_number="NEW-1").first()
    assert answer.status_code == 201, answer.content[:300]
    assert (stored.model_id, stored.template_id) == (book["model"].pk, book["template"].pk)
    assert created is not None and (created.model_id, created.template_id) == (book["model"].pk, book["template"].pk)

"""The audit log's filters say what they cannot mean beside the field, keeping what was typed (before:
a 400 page that lost the filters, or a silent "No record matches"), and name objects in words."""

import re

import pytest
from django_tenants.utils import tenant_context

from tenants.audit.services import audit_record

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_from_day_after_the_to_day_is_named_and_both_are_kept(book, as_user):
    response = as_user("compliance").get("/audit/", {"since": "2026-12-06", "until": "2026-12-01", "actor": "admin"})

    page = text(response)
    assert response.status_code == 400 and "From (2026-12-06) is after To (2026-12-01)" in page
    assert 'id="a-since" name="since" value="2026-12-06"' in page and 'value="2026-12-01"' in page
    assert 'value="admin"' in page and "No record matches" not in page


def test_a_day_that_is_not_one_is_named_beside_its_field_on_the_audit_page(book, as_user):
    response = as_user("compliance").get("/audit/", {"since": "2026-13-01", "action": "household.advisor"})

    page = text(response)
    assert response.status_code == 400 and "<h1>Audit log</h1>" in page
    # kept as typed, in a text input (a date input would show it empty)
    assert '<input type="text" id="a-since" name="since" value="2026-13-01"' in page
    assert 'aria-describedby="a-since-error"' in page and "“2026-13-01” is not a day: write it YYYY-MM-DD." in page
    assert '<option value="household.advisor" selected>' in page
    assert "Download CSV" not in page


def test_a_bad_day_in_a_csv_link_gives_the_page_not_a_file(book, as_user):
    response = as_user("compliance").get("/audit/", {"until": "yesterday", "download": "csv"})

    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert "“yesterday” is not a day" in text(response)


def test_an_object_id_no_record_has_is_named_but_an_exports_name_is_an_id(book, as_user):
    client = as_user("compliance")

    refused = client.get("/audit/", {"object_id": "abc"})
    client.get("/audit/", {"download": "csv"})  # an export, recorded with the id "audit"
    export = client.get("/audit/", {"object_id": "audit"})

    assert refused.status_code == 400 and "No record has the object id “abc”" in text(refused)
    assert 'name="object_id" value="abc" aria-invalid="true"' in text(refused)
    assert export.status_code == 200 and "Export" in text(export) and "No record has" not in text(export)


def test_object_types_are_listed_in_words(book, as_user, firm_a, people):
    with tenant_context(firm_a):
        for object_type in ("householdproposal", "riskmodelversion"):
            audit_record(actor=people["admin"], action="household_proposal.approve", object_type=object_type,
                         object_id="1")

    page = text(as_user("compliance").get("/audit/"))

    assert '<option value="householdproposal" >Household proposal</option>' in page
    assert '<option value="riskmodelversion" >Risk model version</option>' in page
    assert "Householdproposal" not in page and "Riskmodelversion" not in page


@pytest.mark.parametrize("typed", ["Alex", "alex admin", "  Alex   Admin ", "ADMIN", "aa@who"])
def test_who_finds_a_person_by_the_name_the_page_shows_as_well_as_the_user_name(firm_a, firm_user, as_user, typed):
    """The "Who" column shows "Alex Admin" beside the user name: typing the first, last or full name
    (any case, any spaces) finds their records, as the user name does; nobody else's."""
    from tenants.roles import FirmRole

    alex = firm_user(firm_a, "aa@who.example", FirmRole.FIRM_ADMIN, first_name="Alex", last_name="Admin")
    other = firm_user(firm_a, "sam@who.example", FirmRole.FIRM_ADMIN, first_name="Sam", last_name="Other")
    with tenant_context(firm_a):
        audit_record(actor=alex, action="household_proposal.approve", object_type="account", object_id="7001")
        audit_record(actor=other, action="household_proposal.approve", object_type="account", object_id="7002")

    page = text(as_user("compliance").get("/audit/", {"actor": typed}))

    assert "#7001" in page and "#7002" not in page and "No record matches" not in page

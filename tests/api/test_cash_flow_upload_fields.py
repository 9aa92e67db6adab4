"""POST cash-flows/upload/ reads only ``file`` from its multipart body and ignores every other field:
an ``as_of`` sent as at imports/ (where it is a field) or a typo is dropped without a word and the file
entered (201) - its deposits dated today, not the day sent. docs/api.md: "a body's field the endpoint
does not have ... is refused by name, never ignored"; imports/, executions/ and reconciliations/
refuse such a multipart field (400 ``invalid`` naming it: "is not a field of this request; the
fields are file, as_of")."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import CashFlow

from .conftest import API, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("extra", [{"as_of": "2026-11-02"}, {"colour": "red"}, {"kind": "deposit"}])
def test_a_multipart_field_the_upload_does_not_take_is_refused_by_name(firm_a, people, book, client_for, extra):
    client = client_for(firm_a, people["admin"])
    own = book["own"]
    csv = f"household_id,kind,amount,account_number\n{own.household.external_id},deposit,100,{own.custodian_number}\n"
    with tenant_context(firm_a):
        before = CashFlow.objects.count()

    answer = client.post(f"{API}/cash-flows/upload/",
                         {"file": SimpleUploadedFile("flows.csv", csv.encode(), "text/csv"), **extra})

    assert answer.status_code == 400, answer.content[:300]
    body = error_of(answer)
    assert body["code"] == "invalid" and next(iter(extra)) in str(body["detail"])
    with tenant_context(firm_a):
        assert CashFlow.objects.count() == before

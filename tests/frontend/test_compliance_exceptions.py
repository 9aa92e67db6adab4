"""Compliance's exceptions page (/exceptions/): one list, for a period, of what the firm's approval
policy and the tax rules single out - proposals sent to compliance and how each was decided,
restricted securities traded, wash sales allowed by a setting (proposed and executed), tax-limit,
wash-sale and missed-RMD alerts, instructions that set the tax budget aside - with its filters,
its CSV (the same rows, audited) and who may open it (READ_AUDIT: compliance and firm admins)."""

import csv
import html
import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.models import (
    Alert,
    Execution,
    Order,
    Proposal,
    RealisedLot,
    RestrictedSecurity,
)
from rebalancing.services.exceptions import ExceptionFilters, exception_keys, exception_rows
from rebalancing.services.proposals import proposal_approve
from tenants.audit.models import AuditEvent
from tenants.audit.services import audit_record

pytestmark = pytest.mark.django_db

OLD = timezone.make_aware(datetime(2025, 1, 15, 10, 0))  # outside this month's period


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def _rows(response) -> list[tuple[str, str]]:
    """(kind, the row's text) of each row of the page's table."""
    body = response.content.decode()
    return [(kind, html.unescape(re.sub(r"<[^>]+>|\s+", " ", row)))
            for kind, row in re.findall(r'<tr data-kind="(\w+)">(.*?)</tr>', body, re.S)]


def _kinds(response) -> list[str]:
    return [kind for kind, _ in _rows(response)]


def _traded_symbol(proposal: Proposal) -> tuple[str, str]:
    trade = next(t for t in proposal.result["trades"] if Decimal(str(t["quantity"])) > 0)
    return trade["symbol"], trade["side"]


@pytest.fixture
def seeded(book, firm_a, people):
    """One case of every kind in this month, and an alert of last year."""
    with tenant_context(firm_a):
        accounts = book["accounts"]
        pending = {i: Proposal.objects.get(account=accounts[i], status=Proposal.Status.PENDING) for i in range(4)}
        # Sent to compliance by the policy (the reasons recorded as on submission), then approved by
        # its advisor and by compliance.
        sent = pending[0]
        Proposal.objects.filter(pk=sent.pk).update(requires_compliance=True, estimated_tax=Decimal("30000"))
        audit_record(actor=None, action="proposal.submit", obj=sent, before={"status": "draft"},
                     after={"status": "pending_approval"}, comment="estimated tax 30,000.00 ≥ 25,000.00")
        sent.refresh_from_db()
        proposal_approve(proposal=sent, user=people["advisor"], comment="fine by me")
        proposal_approve(proposal=sent, user=people["compliance"], comment="checked the gains",
                         today=book["run"].as_of)
        # Trading a security of the firm's list in force on its run's day; pending.
        restricted = pending[2]
        symbol, _ = _traded_symbol(restricted)
        RestrictedSecurity.objects.create(security=book["securities"][symbol], restriction="do_not_trade",
                                          reason="Deal team on the issuer", starts_on=book["run"].as_of - timedelta(days=5))
        Proposal.objects.filter(pk=restricted.pk).update(restricted_traded=True)
        # Wash sales allowed by its parameters, a loss disallowed.
        washed = pending[1]
        Proposal.objects.filter(pk=washed.pk).update(
            parameters={**washed.parameters, "wash_sale": {**(washed.parameters.get("wash_sale") or {}), "allow": True}},
            result={**washed.result, "summary": {**washed.result["summary"], "disallowed_losses": 1234.5},
                    "alerts": [*(washed.result.get("alerts") or ()), {
                        "code": "wash_sale_disallowed", "symbol": None, "amount": 1234.5,
                        "message": "1,234.50 of losses are disallowed by wash sales (allowed by wash_sale.allow)"}, {
                        "code": "wash_sale_disallowed", "symbol": "VTI", "amount": 100.0,
                        "message": "buying VTI disallows 100.00 of the loss sold on 2026-11-02 (wash sale, "
                                   "allowed by wash_sale.allow)"}]})
        # Allowing wash sales, but no loss washed: not an exception.
        Proposal.objects.filter(pk=restricted.pk).update(
            parameters={**restricted.parameters, "wash_sale": {"allow": True}})
        # The tax budget set aside by an instruction (asked by the portfolio manager).
        aside = pending[3]
        Proposal.objects.filter(pk=aside.pk).update(
            parameters={**aside.parameters, "instructions": [{"kind": "bring_to_model"}]}, revised_by=people["pm"])
        # Alerts: tax above its limit (open), a wash sale (resolved), a missed RMD, an RMD only due
        # (not an exception), and a tax-limit alert of last year.
        run = book["run"]
        Alert.objects.filter(account__in=accounts).delete()
        Alert.objects.create(account=accounts[0], run=run, kind=Alert.Kind.TAX_LIMIT, amount=Decimal("4100"),
                             message="estimated tax 4,100.00 is above the limit of 2,000.00")
        Alert.objects.create(account=accounts[1], run=run, kind=Alert.Kind.WASH_SALE, amount=Decimal("300"),
                             message="VTI: a loss of $300.00 washed", resolved_at=timezone.now())
        Alert.objects.create(account=accounts[2], run=run, kind=Alert.Kind.RMD, amount=Decimal("5000"),
                             message="2025 RMD missed: $5,000.00 was not taken by 31 December 2025")
        Alert.objects.create(account=accounts[3], run=run, kind=Alert.Kind.RMD, amount=Decimal("800"),
                             message="2026 RMD of $800.00 from F-003: not yet planned, due by 31 December 2026")
        old = Alert.objects.create(account=accounts[3], kind=Alert.Kind.TAX_LIMIT, amount=Decimal("99"),
                                   message="an old tax limit alert")
        Alert.objects.filter(pk=old.pk).update(created_at=OLD)
        # An executed sale of the proposal allowing wash sales, its loss disallowed; one of last year too.
        vti = book["securities"]["VTI"]
        order = Order.objects.create(order_id=f"P{washed.pk}-1", proposal=washed, account=accounts[1], security=vti,
                                     side="sell", quantity=10, reference_price=100, block_id="B1",
                                     released_on=date.today())
        today = timezone.localdate()
        for n, sold in enumerate((today, date(2025, 1, 10))):
            execution = Execution.objects.create(external_id=f"X-EXC-{n}", order=order, kind="fill", quantity=5,
                                                 price=90, trade_date=sold, applied_by="ops@firm")
            RealisedLot.objects.create(account=accounts[1], execution=execution, lot_id=f"L-{n}", security=vti,
                                       quantity=5, proceeds=Decimal("450"), cost_basis=Decimal("600"),
                                       gain=Decimal("-150"), term="short", acquired=date(2024, 12, 1),
                                       purchased=date(2024, 12, 1), sold=sold, disallowed_loss=Decimal("150"))
        return {"sent": sent, "restricted": restricted, "symbol": symbol, "washed": washed, "aside": aside}


def test_each_kind_appears_with_its_facts(seeded, as_user, people):
    response = as_user("compliance").get("/exceptions/")
    assert response.status_code == 200, text(response)[:500]
    rows = dict((kind, row) for kind, row in reversed(_rows(response)))  # the newest of each kind

    assert sorted(_kinds(response)) == sorted(["compliance", "restricted", "wash_allowed", "budget_aside", "tax_limit",
                                               "wash_alert", "rmd_missed", "wash_executed"])
    compliance = rows["compliance"]
    assert "estimated tax $30,000.00 ≥ $25,000.00" in compliance and "approved" in compliance  # read in dollars
    assert "Approved by Compliance (compliance)" in compliance and "checked the gains" in compliance
    assert "Approved by Advisor (advisor)" in compliance and f"Proposal #{seeded['sent'].pk}" in compliance
    assert f"Trades {seeded['symbol']} (do not trade" in rows["restricted"]
    assert "Deal team on the issuer" in rows["restricted"] and "pending its advisor's approval" in rows["restricted"]
    assert "$1,234.50 of losses are disallowed by wash sales" in rows["wash_allowed"]
    assert "buying VTI disallows $100.00 of the loss sold on 2026-11-02" in rows["wash_allowed"]
    assert "bring back to the model" in rows["budget_aside"] and "asked by Pm" in rows["budget_aside"]
    assert "above the limit" in rows["tax_limit"] and "open" in rows["tax_limit"]
    assert "resolved" in rows["wash_alert"]
    assert "2025 RMD missed" in rows["rmd_missed"]
    assert "$150.00 of the loss disallowed" in rows["wash_executed"] and "ops@firm" in rows["wash_executed"]
    body = response.content.decode()
    assert f'href="/proposals/{seeded["sent"].pk}/"' in body and "/ledger/" in body
    assert "an old tax limit alert" not in body and "2026 RMD of $800.00" not in body


def test_newest_first_and_only_the_period(seeded, as_user, firm_a):
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=seeded["restricted"].pk).update(created_at=OLD)
    client = as_user("compliance")

    now = _kinds(client.get("/exceptions/"))
    then = client.get("/exceptions/", {"from": "2025-01-01", "to": "2025-01-31"})

    assert "restricted" not in now
    assert sorted(_kinds(then)) == ["restricted", "tax_limit", "wash_executed"]
    assert "an old tax limit alert" in text(then)
    times = re.findall(r'<tr data-kind="\w+"><td class="nowrap">([\d: -]+)</td>', client.get("/exceptions/").content.decode())
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(("query", "expected"), [
    ({"kind": ["compliance", "rmd_missed"]}, {"compliance", "rmd_missed"}),
    ({"kind": "wash_executed"}, {"wash_executed"}),
    ({"state": "pending"}, {"restricted", "wash_allowed", "budget_aside", "tax_limit", "rmd_missed"}),
    ({"state": "decided"}, {"compliance", "wash_alert", "wash_executed"}),
    ({"household": "F-002 household"}, {"restricted", "rmd_missed"}),
    ({"household": "hh-f-003"}, {"budget_aside"}),
])
def test_filters(seeded, as_user, query, expected):
    response = as_user("compliance").get("/exceptions/", query)
    assert response.status_code == 200
    assert set(_kinds(response)) == expected


def test_the_widest_period_the_pages_allow_is_read(seeded, as_user):
    response = as_user("compliance").get("/exceptions/", {"from": "1900-01-01", "to": "9999-12-31"})
    assert response.status_code == 200
    assert len(_kinds(response)) == 10  # this month's eight, last year's alert and sale


def test_advisor_filter(seeded, as_user, people):
    client = as_user("admin")
    mine = set(_kinds(client.get("/exceptions/", {"advisor": people["advisor"].pk})))
    theirs = set(_kinds(client.get("/exceptions/", {"advisor": people["colleague"].pk})))
    nobody = _kinds(client.get("/exceptions/", {"advisor": "none"}))

    assert mine == {"compliance", "wash_allowed", "tax_limit", "wash_alert", "wash_executed"}
    assert theirs == {"restricted", "budget_aside", "rmd_missed"}
    assert nobody == []


@pytest.mark.parametrize(("query", "field", "words"), [
    ({"from": "2026-13-01"}, "from", "must be a day written YYYY-MM-DD"),
    ({"to": "0001-01-01"}, "to", "in the years 1900 to 9999"),
    ({"from": "2026-12-05", "to": "2026-12-01"}, "from", "is after To"),
    ({"kind": ["compliance", "bogus"]}, "kind", "“bogus” is not a kind of exception"),
    ({"advisor": "abc"}, "advisor", "must name an advisor"),
    ({"advisor": "999999"}, "advisor", "No advisor of this firm has the number 999999"),
    ({"state": "maybe"}, "state", "must be one of pending, decided"),
])
def test_bad_filter_values_are_refused_beside_their_field_values_kept(seeded, as_user, query, field, words):
    response = as_user("compliance").get("/exceptions/", query)
    body = text(response)
    assert response.status_code == 400
    error = re.search(rf'<div class="error" id="x-{field}-error" role="alert">(.*?)</div>', body)
    assert error and words in error.group(1), body[:2000]
    typed = query[field][-1] if isinstance(query[field], list) else query[field]
    assert f'value="{typed}"' in body
    assert "<tr data-kind" not in body


def test_the_csv_holds_the_pages_rows_and_is_audited(seeded, as_user, firm_a, people):
    client = as_user("compliance")
    query = {"state": "pending"}
    page = client.get("/exceptions/", query)
    assert 'href="?state=pending&amp;download=csv"' in page.content.decode()

    response = client.get("/exceptions/", {**query, "download": "csv"})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["kind"] for r in rows] == _kinds(page)
    shown = _rows(page)
    for row, (_, words) in zip(rows, shown, strict=True):
        assert row["account"] in words and row["what"] in words and row["state"] in words
    by_kind = {r["kind"]: r for r in rows}
    assert by_kind["wash_allowed"]["amount"] == "1334.50"
    assert by_kind["restricted"]["link"] == f"/proposals/{seeded['restricted'].pk}/"
    with tenant_context(firm_a):
        download = AuditEvent.objects.filter(action="export.download").latest("at")
    assert download.actor == people["compliance"].username and download.after["what"] == "exceptions"
    assert download.after["filters"]["state"] == "pending" and download.after["lines"] == len(rows)


@pytest.mark.parametrize("role", ["advisor", "pm"])
def test_an_advisor_and_a_portfolio_manager_are_refused_and_see_no_link(seeded, as_user, role):
    client = as_user(role)
    assert client.get("/exceptions/").status_code == 403
    assert client.get("/exceptions/", {"download": "csv"}).status_code == 403
    assert 'href="/exceptions/"' not in client.get("/").content.decode()


@pytest.mark.parametrize("role", ["compliance", "admin"])
def test_compliance_and_firm_admins_find_it_in_their_navigation_and_dashboard(book, as_user, role):
    home = as_user(role).get("/").content.decode()
    assert 'href="/exceptions/"' in home and 'data-testid="exceptions-link"' in home
    assert as_user(role).get("/exceptions/").status_code == 200


def _many(firm_a, book, n: int) -> None:
    """``n`` more proposals sent to compliance and ``n`` more alerts, in distinct accounts' names."""
    with tenant_context(firm_a):
        template = Proposal.objects.filter(account__in=book["accounts"]).first()
        for i in range(n):
            account = book["accounts"][i % 4]
            run = type(book["run"]).objects.create(scope={}, as_of=book["run"].as_of - timedelta(days=i + 1),
                                                   started_by_label="test")
            Proposal.objects.create(run=run, account=account, status=Proposal.Status.REJECTED,
                                    parameters=template.parameters, inputs_fingerprint="x", result=template.result,
                                    requires_compliance=True, restricted_traded=True)
            Alert.objects.create(account=account, run=run, kind=Alert.Kind.TAX_LIMIT, message=f"limit {i}")


def test_the_queries_do_not_grow_with_the_rows(seeded, firm_a, book, people, as_user,
                                               django_assert_max_num_queries):
    filters = ExceptionFilters(start=timezone.localdate().replace(day=1), end=timezone.localdate())
    counts = []
    for more in (2, 12):
        _many(firm_a, book, more)
        with tenant_context(firm_a), CaptureQueriesContext(connection) as captured:
            rows = exception_rows(exception_keys(people["compliance"], filters))
        counts.append(len(captured))
        assert len(rows) >= 8 + 2 * more
    assert counts[0] == counts[1]
    client = as_user("compliance")  # (signing in is not the page's)
    with django_assert_max_num_queries(34):  # sign-in checks, one per kind, then the page's rows read whole
        assert client.get("/exceptions/").status_code == 200


def test_a_run_sent_proposal_without_recorded_reasons_says_the_policys_today(seeded, as_user, firm_a):
    # A run's bulk submission records no reasons (services.proposals._submitted): the policy's
    # thresholds today are said instead, and so named.
    with tenant_context(firm_a):
        Proposal.objects.filter(pk=seeded["aside"].pk).update(requires_compliance=True, estimated_tax=Decimal("-1224"),
                                                              turnover=0.4)
    rows = [row for kind, row in _rows(as_user("compliance").get("/exceptions/", {"kind": "compliance"}))
            if f"Proposal #{seeded['aside'].pk}" in row]

    assert len(rows) == 1
    assert "turnover 40.0% ≥ 25.0% (by the policy's thresholds today)" in rows[0]
    assert "estimated tax -$1,224.00" in rows[0]


def test_a_missed_rmds_amount_is_what_is_left_to_make_up_not_the_years_still_owed(seeded, as_user, firm_a):
    # One alert of an IRA says each year it owes: a missed 2025 RMD and the 2026 one, due by 31 December.
    # The row's amount was the alert's total (both years); the exception is the missed year's shortfall.
    from types import SimpleNamespace

    from rebalancing.services.runs import _rmd_alert_text

    missed = SimpleNamespace(missed=True, year=2025, shortfall=Decimal("15024.40"), remaining=Decimal("15024.40"),
                             excise=Decimal("3756.10"), window_end=date(2027, 12, 31),
                             required=SimpleNamespace(deadline=date(2025, 12, 31)))
    owed = SimpleNamespace(missed=False, year=2026, owner_accounts=(), is_first=False, remaining=Decimal("16835.45"),
                           account=SimpleNamespace(custodian_number="F-002"),
                           required=SimpleNamespace(amount=Decimal("16835.45"), deadline=date(2026, 12, 31)))
    with tenant_context(firm_a):
        alert = Alert.objects.filter(kind=Alert.Kind.RMD, message__contains="RMD missed").get()
        alert.message = "; ".join(_rmd_alert_text(d) for d in (missed, owed))
        alert.amount = Decimal("31859.85")
        alert.save()

    response = as_user("compliance").get("/exceptions/", {"kind": "rmd_missed", "download": "csv"})

    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["amount"] == "15024.40"

"""The ledger's pages: orders and their CSV layouts, the executions upload, an account's ledger,
reconciliations, and the realised-gains, harvest and transition reports; who sees what."""

import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reconciliation import reconciliation_import
from rebalancing.models import Account, BasisAdjustment, Execution, RealisedLot, ReconciliationAccount, TaxLot
from tenants.roles import FirmRole
from tests.ledger.helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
YEAR = "year=2026"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def apply(*rows):
    executions_import(source=execution_csv(*rows), actor="test", as_of=AS_OF)


@pytest.fixture
def ledger(book, people):
    """F-000 (the advisor's): a harvested short-term BND loss of 500, 200 of it washed by 20 BND
    bought back, and a long-term VTI gain of 2,000. F-002 (a colleague's): a VTI gain; an open
    order in each. A reconciliation in which F-000 and F-002 differ."""
    pm = people["pm"]
    mine, theirs = book["mine"][0], book["theirs"][0]
    [harvested] = release(mine, [sell("BND", 50, 80.0, [("F-000-L3", 50)], reasons=("harvest",))], pm=pm,
                          as_of=date(2026, 10, 1))
    apply(fill("S-1", harvested, 50, "80", date(2026, 10, 1)))
    [bought] = release(mine, [buy("BND", 20, 81.0)], pm=pm, as_of=date(2026, 10, 15))
    apply(fill("B-1", bought, 20, "81", date(2026, 10, 15)))
    [trimmed] = release(mine, [sell("VTI", 50, 100.0, [("F-000-L1", 50)])], pm=pm, as_of=date(2026, 10, 20))
    apply(fill("S-2", trimmed, 50, "100", date(2026, 10, 20)))
    [colleague] = release(theirs, [sell("VTI", 10, 100.0, [("F-002-L1", 10)])], pm=pm, as_of=date(2026, 10, 20))
    apply(fill("S-3", colleague, 10, "100", date(2026, 10, 20)))
    [open_mine] = release(mine, [buy("VNQ", 5, 100.0)], pm=pm, as_of=AS_OF)
    [open_theirs] = release(theirs, [buy("VNQ", 7, 100.0)], pm=pm, as_of=AS_OF)
    positions = (b"account_number,lot_id,symbol,quantity,cost_basis,acquired\n"
                 b"F-000,F-000-L1,VTI,999,18000,2019-03-04\n"
                 b"F-002,F-002-L1,VTI,1,100,2019-03-04\n")
    reconciliation = reconciliation_import(source=positions, actor="test", as_of=AS_OF, file_name="positions.csv")
    return {"mine": mine, "theirs": theirs, "open_mine": open_mine, "open_theirs": open_theirs,
            "colleague_order": colleague, "reconciliation": reconciliation}


def test_the_orders_page_shows_released_orders_by_account_and_by_block(ledger, as_user):
    page = text(as_user("admin").get("/ledger/orders/"))
    for order in (ledger["open_mine"], ledger["open_theirs"], ledger["colleague_order"]):
        assert order.order_id in page
    assert "Partially filled" not in page and "Filled" in page and "Open" in page
    assert "F-000-L3: 50" in page  # the lot a sale names

    blocks = text(as_user("admin").get("/ledger/orders/?view=block"))
    assert ledger["open_mine"].block_id in blocks and "2 orders" in blocks

    only_open = text(as_user("admin").get("/ledger/orders/?status=open"))
    assert ledger["open_mine"].order_id in only_open and ledger["colleague_order"].order_id not in only_open


def test_an_advisor_sees_only_their_accounts_orders(ledger, as_user):
    page = text(as_user("advisor").get("/ledger/orders/"))
    assert ledger["open_mine"].order_id in page
    assert ledger["open_theirs"].order_id not in page and ledger["colleague_order"].order_id not in page
    csv = as_user("advisor").get("/ledger/orders/?download=orders").content.decode()
    assert ledger["open_mine"].order_id in csv and "F-002" not in csv


def test_order_files_download_as_csv_in_both_layouts(ledger, as_user):
    orders = as_user("pm").get("/ledger/orders/?download=orders")
    assert orders["Content-Type"].startswith("text/csv")
    lines = orders.content.decode().splitlines()
    assert lines[0] == ("order_id,block_id,account_number,symbol,side,quantity,open_quantity,order_type,limit_price,"
                        "reference_price,time_in_force,lot_method,lots")
    assert len(lines) == 3  # the two open orders; filled ones are not sent again
    blocks = as_user("pm").get("/ledger/orders/?download=blocks")
    assert blocks["Content-Type"].startswith("text/csv")
    assert blocks.content.decode().splitlines()[0] == (
        "block_id,symbol,side,block_quantity,reference_price,order_id,account_number,quantity,lots")


def test_uploading_executions_applies_them_and_shows_the_summary(ledger, as_user):
    order = ledger["open_mine"]
    upload = SimpleUploadedFile("fills.csv", execution_csv(fill("B-9", order, 5, "101", AS_OF)), "text/csv")
    response = as_user("pm").post("/ledger/executions/", {"file": upload, "as_of": AS_OF.isoformat()})
    assert response.status_code == 200
    page = text(response)
    assert "Executions applied from fills.csv" in page and "1 order filled" in page
    assert Execution.objects.filter(external_id="B-9").exists()
    order.refresh_from_db()
    assert order.status == "filled"


def test_a_bad_execution_file_shows_the_problems_and_writes_nothing(ledger, as_user):
    before = Execution.objects.count()
    bad = execution_csv(fill("B-9", ledger["open_mine"], 5, "101", AS_OF),
                        {"external_id": "B-10", "order_id": "P999-1", "kind": "fill", "quantity": "abc", "price": "1",
                         "trade_date": AS_OF.isoformat()})
    response = as_user("admin").post("/ledger/executions/", {
        "file": SimpleUploadedFile("bad.csv", bad, "text/csv"), "as_of": AS_OF.isoformat()})
    assert response.status_code == 400
    page = text(response)
    assert "The file was refused; nothing was written" in page
    assert re.search(r"<td class=\"num\">3</td><td><code>(quantity|order_id)</code>", page)
    assert Execution.objects.count() == before
    assert not Execution.objects.filter(external_id="B-9").exists()


def test_without_the_import_capability_no_upload_and_no_decision(ledger, as_user):
    upload = SimpleUploadedFile("fills.csv", execution_csv(fill("B-9", ledger["open_mine"], 5, "101", AS_OF)))
    for who in ("advisor", "compliance"):
        client = as_user(who)
        assert client.post("/ledger/executions/", {"file": upload}).status_code == 403
        assert "Upload an execution file" not in text(client.get("/ledger/executions/"))
        pk = ledger["reconciliation"].pk
        assert client.post(f"/ledger/reconciliations/{pk}/decide/", {
            "decision": "accept", "account": ledger["mine"].pk}).status_code == 403
        # Compliance reads the position files (and decides none); an advisor does not see them.
        assert client.get("/ledger/reconciliations/").status_code == (200 if who == "compliance" else 403)
    assert not Execution.objects.filter(external_id="B-9").exists()
    assert not ReconciliationAccount.objects.exclude(decision__in=["pending", "matched"]).exists()


def test_the_executions_page_lists_applied_executions(ledger, as_user):
    page = text(as_user("advisor").get("/ledger/executions/"))
    assert "S-1" in page and "B-1" in page and "S-2" in page
    assert "S-3" not in page  # the colleague's account


def test_the_account_ledger_shows_lots_adjustments_and_realised_lots(ledger, as_user):
    mine = ledger["mine"]
    adjustment = BasisAdjustment.objects.get(account=mine)
    assert adjustment.disallowed_loss == 200
    page = text(as_user("advisor").get(f"/accounts/{mine.pk}/ledger/?year=2026"))
    assert "Ledger of Account F-000" in page
    assert adjustment.reason.split()[0] in page and adjustment.lot_id in page
    assert "2026-10-15" in page  # the replacement shares' purchase date
    assert "moved" in page  # their holding period starts earlier than the purchase
    assert "Lots sold in 2026" in page and "F-000-L3" in page and ">W<" in page
    assert "Long-term" in page and "Short-term" in page
    assert RealisedLot.objects.filter(account=mine).count() == 2


def test_a_colleagues_account_ledger_is_not_found(ledger, as_user):
    assert as_user("advisor").get(f"/accounts/{ledger['theirs'].pk}/ledger/").status_code == 404
    assert as_user("colleague").get(f"/accounts/{ledger['theirs'].pk}/ledger/").status_code == 200


def test_reconciliations_are_listed_and_decided_per_account(ledger, as_user):
    rec = ledger["reconciliation"]
    admin = as_user("admin")
    listing = text(admin.get("/ledger/reconciliations/"))
    assert f"Reconciliation {rec.pk}" in listing and "positions.csv" in listing
    detail = text(admin.get(f"/ledger/reconciliations/{rec.pk}/"))
    assert "F-000" in detail and "F-002" in detail and "Waiting for a decision" in detail
    assert "999" in detail  # the custodian's quantity
    response = admin.post(f"/ledger/reconciliations/{rec.pk}/decide/", {
        "decision": "accept", "account": ledger["mine"].pk, "comment": "custodian is right"})
    assert response.status_code == 302
    assert ReconciliationAccount.objects.get(reconciliation=rec, account=ledger["mine"]).decision == "accepted"
    assert TaxLot.objects.get(account=ledger["mine"], lot_id="F-000-L1").quantity == 999
    assert TaxLot.objects.filter(account=ledger["mine"]).count() == 1  # the custodian's lots replaced the ledger's
    admin.post(f"/ledger/reconciliations/{rec.pk}/decide/", {"decision": "reject", "account": ledger["theirs"].pk})
    assert ReconciliationAccount.objects.get(reconciliation=rec, account=ledger["theirs"]).decision == "rejected"
    page = text(admin.get(f"/ledger/reconciliations/{rec.pk}/"))
    assert "Accepted: the custodian" in page and "Rejected: the ledger was kept" in page and "Closed" in page


def test_the_realised_gains_report_totals_per_account_and_household(ledger, as_user):
    page = text(as_user("admin").get(f"/reports/realised/?{YEAR}"))
    assert "Per household" in page and "Per account" in page
    assert "F-000" in page and "F-002" in page and "HH-F-000" in page
    assert "$200.00" in page  # the loss the wash sale disallowed
    assert "+$2,000.00" in page  # F-000's long-term gain
    assert "−$300.00" in page  # F-000's short-term loss after the adjustment
    lots = as_user("admin").get(f"/reports/realised/?{YEAR}&download=lots")
    assert lots["Content-Type"].startswith("text/csv")
    assert lots.content.decode().splitlines()[0].startswith("account_number,household,term,description,symbol")
    totals = as_user("admin").get(f"/reports/realised/?{YEAR}&download=totals")
    assert totals.content.decode().splitlines()[0].startswith("level,key,name,short_term_proceeds")
    assert "Schedule D 2026 per return" in page and "Lost for good" in page
    schedule = as_user("admin").get(f"/reports/realised/?{YEAR}&download=schedule-d")
    assert schedule.content.decode().splitlines()[0].startswith("household,name,filing_status,spouse,year,short_term")
    empty = text(as_user("admin").get("/reports/realised/?start=2025-01-01&end=2025-12-31"))
    assert "No lot was sold from 2025-01-01 to 2025-12-31" in empty


@pytest.mark.parametrize("page", ["/reports/realised/", "/reports/harvest/"])
def test_a_period_that_ends_before_it_starts_is_named_and_never_downloaded_as_another(ledger, as_user, page):
    admin = as_user("admin")
    shown = text(admin.get(f"{page}?start=2026-12-01&end=2026-01-01"))
    assert "The period starts after it ends; the whole year is shown." in shown
    download = "csv" if "harvest" in page else "lots"
    refused = admin.get(f"{page}?start=2026-12-01&end=2026-01-01&download={download}")
    assert refused.status_code == 400 and "The period starts after it ends." in text(refused)
    unread = admin.get(f"{page}?start=2026-13-01&download={download}")
    assert unread.status_code == 400 and "A date could not be read (YYYY-MM-DD)." in text(unread)


def test_an_advisor_reports_only_their_accounts(ledger, as_user):
    page = text(as_user("advisor").get(f"/reports/realised/?{YEAR}"))
    assert "F-000" in page and "F-002" not in page
    csv = as_user("advisor").get(f"/reports/realised/?{YEAR}&download=totals").content.decode()
    assert "F-000" in csv and "F-002" not in csv
    harvest = as_user("advisor").get(f"/reports/harvest/?{YEAR}&download=csv").content.decode()
    assert "F-002" not in harvest


def test_the_harvest_report_and_its_csv(ledger, as_user):
    page = text(as_user("admin").get(f"/reports/harvest/?{YEAR}"))
    assert "2026-10" in page and "Year 2026" in page and "$500.00" in page and "$300.00" in page
    assert 'data-chart="chart-harvest"' in page
    response = as_user("admin").get(f"/reports/harvest/?{YEAR}&download=csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "account_number,period,harvested_losses,wash_sale_disallowed,net_harvested,tax_value,tracking_error"
    assert lines[1].startswith("F-000,2026-10,500,200,300,")


def test_the_transition_report_and_its_csv(ledger, as_user):
    assert "No account has a tax-sensitive transition" in text(as_user("admin").get("/reports/transition/"))
    Account.objects.filter(pk=ledger["mine"].pk).update(
        overrides={"transition": {"enabled": True, "max_net_gain_per_year": 3000}})
    page = text(as_user("admin").get(f"/reports/transition/?as_of={AS_OF}"))
    assert "<td>F-000<br>" in page and "<td>F-002<br>" not in page and "$3,000" in page
    response = as_user("admin").get(f"/reports/transition/?as_of={AS_OF}&download=csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("account_number,name,started,drift_start") and lines[1].startswith("F-000,")


def test_every_ledger_page_renders_for_a_firm_admin(ledger, as_user):
    client = as_user("admin")
    for url in ("/ledger/orders/", "/ledger/orders/?view=block", "/ledger/executions/", "/ledger/reconciliations/",
                f"/ledger/reconciliations/{ledger['reconciliation'].pk}/", f"/accounts/{ledger['mine'].pk}/ledger/",
                "/reports/realised/", "/reports/harvest/", "/reports/transition/"):
        response = client.get(url)
        assert response.status_code == 200, url
        current = "Accounts" if "/accounts/" in url else "Ledger &amp; reports"
        assert f'aria-current="page">{current}</a>' in response.content.decode(), url


def test_firm_b_sees_none_of_firm_as_ledger(ledger, firm_b, firm_user, client_for):
    admin_b = firm_user(firm_b, "admin@b-ledger.example", FirmRole.FIRM_ADMIN)
    client = client_for(firm_b, admin_b)
    orders = text(client.get("/ledger/orders/"))
    assert ledger["open_mine"].order_id not in orders and "No order has been released yet" in orders
    assert "S-1" not in text(client.get("/ledger/executions/"))
    assert "F-000" not in text(client.get(f"/reports/realised/?{YEAR}"))
    assert "No position file has been compared" in text(client.get("/ledger/reconciliations/"))
    assert client.get(f"/ledger/reconciliations/{ledger['reconciliation'].pk}/").status_code == 404
    assert "order_id" in client.get("/ledger/orders/?download=orders").content.decode()
    assert "F-000" not in client.get("/ledger/orders/?download=orders").content.decode()
    with tenant_context(firm_b):
        assert not Execution.objects.exists()


def test_the_realised_report_lists_returns_with_figures_fifty_at_a_time(ledger, as_user, firm_a):
    from rebalancing.models import Household
    from tests.rebalancing.book import make_account

    page = text(as_user("admin").get(f"/reports/realised/?{YEAR}"))
    # F-001 and F-003 sold nothing in 2026 and carry nothing in: every line of their returns is 0.
    assert 'data-return="HH-F-000"' in page and 'data-return="HH-F-002"' in page
    assert 'data-return="HH-F-001"' not in page and 'data-return="HH-F-003"' not in page
    assert "2 returns of the households shown have no sale in 2026 and no loss carried in" in page
    assert "HH-F-001" in as_user("admin").get(f"/reports/realised/?{YEAR}&download=schedule-d").content.decode()

    with tenant_context(firm_a):  # 55 more returns with a loss carried into 2026: 57 with figures
        for i in range(55):
            account = make_account(f"C-{i:03d}", model=None)
            Household.objects.filter(pk=account.household_id).update(
                carryforward_year=2026, carryforward_short_term=5000 + i)

    first = text(as_user("admin").get(f"/reports/realised/?{YEAR}"))
    second = text(as_user("admin").get(f"/reports/realised/?{YEAR}&returns_page=2"))

    returns = lambda p: set(re.findall(r'data-return="([^"]+)"', p))  # noqa: E731
    assert len(returns(first)) == 50 and len(returns(second)) == 7 and not returns(first) & returns(second)
    assert "Page 1 of 2 · 57 in all" in first and 'href="?year=2026&amp;returns_page=2"' in first
    assert "HH-F-000" in returns(first) | returns(second)


@pytest.mark.parametrize("url", ["/reports/realised/?year=2026", "/reports/harvest/?year=2026", "/reports/transition/"])
def test_the_reports_scope_offers_the_households_and_names_an_unknown_one(ledger, as_user, monkeypatch, url):
    from frontend.views import ledger as ledger_views

    page = text(as_user("admin").get(url))
    for n in range(4):  # every household the admin sees, by name
        assert f'<option value="HH-F-{n:03d}" >F-{n:03d} household (HH-F-{n:03d})</option>' in page  # (ID: names repeat)
    assert "Among those you can see" not in page

    unknown = text(as_user("advisor").get(f"{url}&household=HH-F-002&account=NOPE-1".replace("/&", "/?")))
    assert ("Among those you can see there is no household with the ID entered and no account with the number "
            "entered.") in unknown  # HH-F-002 is a colleague's: for this advisor it does not exist
    if url == "/reports/transition/":  # and the empty table says so, not that no account has a transition
        assert "Nothing to report: among those you can see there is no household" in unknown
        assert "has a tax-sensitive transition enabled" not in unknown

    monkeypatch.setattr(ledger_views, "SCOPE_CHOICES_MAX", 3)  # a book too large to list: found by ID
    searched = text(as_user("admin").get(f"{url}&household=HH-F-000".replace("/&", "/?")))
    assert '<input type="search" id="r-household" name="household" value="HH-F-000"' in searched
    assert "<option value=\"HH-F-001\"" not in searched and "Among those you can see" not in searched


def test_the_transition_page_figures_its_page_of_accounts_by_account_number(ledger, as_user, firm_a, monkeypatch):
    from rebalancing.ledger import reports
    from tests.rebalancing.book import make_account

    Account.objects.filter(pk=ledger["mine"].pk).update(overrides={"transition": {"enabled": True}})
    with tenant_context(firm_a):
        for n in range(26):  # 27 accounts in a transition: two pages of 25, by account number
            make_account(f"T-{n:03d}", model=ledger["mine"].model, overrides={"transition": {"enabled": True}},
                         holdings=[("VTI", 10, 900, date(2020, 1, 2))])
    figured = []
    rows = reports.transition_rows
    monkeypatch.setattr(reports, "transition_rows",
                        lambda enrolled, **kw: figured.append(len(enrolled)) or rows(enrolled, **kw))

    first = text(as_user("admin").get(f"/reports/transition/?as_of={AS_OF}"))
    second = text(as_user("admin").get(f"/reports/transition/?as_of={AS_OF}&page=2"))
    csv = as_user("admin").get(f"/reports/transition/?as_of={AS_OF}&download=csv").content.decode().splitlines()

    numbers = lambda page: re.findall(r"<td>([A-Z]-\d{3})<br>", page)  # noqa: E731
    assert numbers(first) == ["F-000"] + [f"T-{n:03d}" for n in range(24)]
    assert numbers(second) == ["T-024", "T-025"] and "Page 2 of 2 · 27 in all" in second
    assert [line.split(",")[0] for line in csv[1:]] == numbers(first) + numbers(second)
    assert figured == [25, 2, 27]  # each page's rows only; the CSV every row


@pytest.mark.parametrize("page", ["/reports/realised/", "/reports/harvest/"])
@pytest.mark.parametrize("asked", ["start=2026-01-01&end=9999-12-31", "start=2026-12-01&end=2026-01-01",
                                   "start=2026-13-01"])
def test_a_page_showing_the_whole_year_in_place_of_a_refused_period_downloads_that_year(ledger, as_user, page, asked):
    """Found in the browser (2026-12-07): the page fell back to the whole year and said so, but its
    download buttons kept the refused period, and each answered 400."""
    admin = as_user("admin")
    html = admin.get(f"{page}?{asked}").content.decode()
    assert "the whole year is shown" in html
    links = [a.split('"', 1)[0].replace("&amp;", "&") for a in html.split('class="button" href="')[1:] if "download=" in a.split('"', 1)[0]]
    assert links
    for link in links:
        assert "start=2026-01-01" in link and "end=2026-12-31" in link, link
        answer = admin.get(f"{page}{link}")
        assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv"), (link, answer.status_code)

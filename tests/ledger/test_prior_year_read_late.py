"""Figures of a year read late: a custodian file dated in an earlier year than the account's
figures (a December fill or purchase read after January's files). A return nets all of its year's
sales (IRC §1211(b), §1212(b)) and a purchase within 30 days before a sale disallows its loss (IRC
§1091(a); for good when an IRA bought, Rev. Rul. 2008-5): the account's year-to-date figures, the
ones kept of past years, and each year's Schedule D follow, whatever order the files arrive in.
(Found by a tax audit: the December file's gains went nowhere and its correction of January's loss
was dropped, leaving a phantom "before the ledger" line.)"""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import schedules_d
from rebalancing.models import Account, Household, RealisedLot
from tests.ledger.helpers import buy, execution_csv, fill, release, sell
from tests.rebalancing.book import make_account

pytestmark = pytest.mark.django_db


def _household(book, status="single"):
    household = Household.objects.create(name="Audit", external_id="HH-AUD", filing_status=status)
    t1 = make_account("T-1", model=book["model"], household=household, holdings=[
        ("VTI", 50, 5500, date(2020, 1, 2)),   # T-1-L1: 110 a share, long-term
        ("VTI", 50, 6500, date(2025, 3, 3)),   # T-1-L2: 130 a share, short-term in Dec 2025
    ])
    ira = make_account("IRA", model=book["model"], household=household)
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    ira.refresh_from_db()
    return household, t1, ira


@pytest.mark.parametrize("buyer", ["T-1", "IRA"])
def test_a_december_purchase_read_after_a_january_loss_sale_keeps_the_january_figures(book, pm, buyer):
    """A January loss sale booked (as of its day); the custodian's fill of a purchase on 2025-12-20
    (within the 30 days before the sale) arrives later in a file as of 2025-12-31. The January loss
    is disallowed (IRC 1091(a): acquired within 30 days BEFORE the sale; for good when the IRA bought,
    Rev. Rul. 2008-5), and the 2026 figures - the account's year-to-date (what every estimate nets)
    and Schedule D 2026, whose 'before the ledger' line is those figures less the ledger's lots -
    must follow: 2026 short-term 0, nothing before the ledger."""
    household, t1, ira = _household(book)
    [sale] = release(t1, [sell("VTI", 50, 100.0, [("T-1-L2", 50)])], pm=pm, as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("J-S1", sale, 50, "100", date(2026, 1, 10))),
                      actor="custodian feed", as_of=date(2026, 1, 10))
    t1.refresh_from_db()
    assert t1.realised_ytd(2026) == (D("-1500.00"), D(0))
    account = t1 if buyer == "T-1" else ira
    [dec] = release(account, [buy("VTI", 50, 101.0)], pm=pm, as_of=date(2025, 12, 20))
    executions_import(source=execution_csv(fill("J-DEC", dec, 50, "101", date(2025, 12, 20))),
                      actor="custodian feed", as_of=date(2025, 12, 31))
    [r] = RealisedLot.objects.filter(account=t1)
    assert r.disallowed_loss == D("1500.00")
    t1.refresh_from_db()
    [row] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    s = row.sheet
    got = (t1.realised_ytd(2026), s.short_term, s.before_ledger_short, s.net_short)
    assert got == ((D(0), D(0)), D(0), D(0), D(0)), got


def test_a_lots_file_as_of_december_showing_an_ira_purchase_keeps_the_january_figures(book, pm):
    """The same through a lots file (``import_book``/lots import ``--as-of 2025-12-31``): the IRA's lot
    bought 2025-12-20 washes the 2026-01-10 loss for good; 2026's figures must drop the loss."""
    from rebalancing.imports import lots_import

    household, t1, ira = _household(book)
    [sale] = release(t1, [sell("VTI", 50, 100.0, [("T-1-L2", 50)])], pm=pm, as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("K-S1", sale, 50, "100", date(2026, 1, 10))),
                      actor="custodian feed", as_of=date(2026, 1, 10))
    lots_import(source=b"account_number,lot_id,symbol,quantity,cost_basis,acquired\nIRA,I1,VTI,50,5050,2025-12-20\n",
                as_of=date(2025, 12, 31))
    [r] = RealisedLot.objects.filter(account=t1)
    assert (r.disallowed_loss, r.disallowed_permanently) == (D("1500.00"), D("1500.00"))
    t1.refresh_from_db()
    [row] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    got = (t1.realised_ytd(2026), row.sheet.before_ledger_short, row.sheet.net_short)
    assert got == ((D(0), D(0)), D(0), D(0)), got


def test_a_late_december_fill_read_as_of_its_year_after_january_fills_stays_on_that_years_schedule_d(book, pm):
    """2025-12-15: T-1 sells 50 of T-1-L2 at 100 (-1,500 short), read as of that day. 2026-01-10: it
    sells 10 of T-1-L1 at 100 (-100 long), read as of that day (the 2026 figures start, 2025's kept).
    The custodian's fill of 2025-12-30 (20 of T-1-L1 at 150: +800 long) then arrives in a file dated
    as of 2025-12-31. A return nets ALL its year's sales (IRC 1211(b), 1212(b)): Schedule D 2025 is
    short -1,500, long +800, nothing before the ledger; the carryover follows."""
    household, t1, ira = _household(book)
    [s1] = release(t1, [sell("VTI", 50, 100.0, [("T-1-L2", 50)])], pm=pm, as_of=date(2025, 12, 15))
    executions_import(source=execution_csv(fill("M-1", s1, 50, "100", date(2025, 12, 15))),
                      actor="custodian feed", as_of=date(2025, 12, 15))
    [s3] = release(t1, [sell("VTI", 20, 150.0, [("T-1-L1", 20)])], pm=pm, as_of=date(2025, 12, 30))
    [s2] = release(t1, [sell("VTI", 10, 100.0, [("T-1-L1", 10)])], pm=pm, as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("M-2", s2, 10, "100", date(2026, 1, 10))),
                      actor="custodian feed", as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("M-3", s3, 20, "150", date(2025, 12, 30))),
                      actor="custodian feed", as_of=date(2025, 12, 31))
    [row] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2025)
    s = row.sheet
    got = (s.short_term, s.long_term, s.before_ledger_short, s.before_ledger_long, s.net)
    assert got == (D("-1500.00"), D("800.00"), D(0), D(0), D("-700.00")), got


def test_the_schedule_d_api_shows_the_late_december_fill_taken_back(book, pm, firm_a, client_for):
    """The API's view of the case above (GET /api/v1/reports/schedule-d/?year=2025)."""
    household, t1, ira = _household(book)
    [s1] = release(t1, [sell("VTI", 50, 100.0, [("T-1-L2", 50)])], pm=pm, as_of=date(2025, 12, 15))
    executions_import(source=execution_csv(fill("N-1", s1, 50, "100", date(2025, 12, 15))),
                      actor="custodian feed", as_of=date(2025, 12, 15))
    [s3] = release(t1, [sell("VTI", 20, 150.0, [("T-1-L1", 20)])], pm=pm, as_of=date(2025, 12, 30))
    [s2] = release(t1, [sell("VTI", 10, 100.0, [("T-1-L1", 10)])], pm=pm, as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("N-2", s2, 10, "100", date(2026, 1, 10))),
                      actor="custodian feed", as_of=date(2026, 1, 10))
    executions_import(source=execution_csv(fill("N-3", s3, 20, "150", date(2025, 12, 30))),
                      actor="custodian feed", as_of=date(2025, 12, 31))
    client = client_for(firm_a, pm)
    [schedule] = client.get("/api/v1/reports/schedule-d/", {"year": "2025", "household": "HH-AUD"}).json()
    sheet = schedule["sheet"]
    got = (sheet["net"], sheet["deduction"])
    assert got == ("-700.00", "700.00"), sheet

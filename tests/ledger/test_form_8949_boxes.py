"""Form 8949's box for each sale (Instructions for Form 8949: Part I Box A/B/C, Part II Box D/E/F)
and the Schedule D line of each box's total (lines 1a/1b/2/3, 8a/8b/9/10), from the covered-security
dates of Treas. Reg. §1.6045-1(a)(15): stock 2011-01-01, a fund's shares 2012-01-01."""

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.engine.tax import inherited_start
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.form_8949 import box_of, schedule_d_line
from rebalancing.ledger.reports import realised_boxes_csv, realised_gains, realised_lots_csv
from rebalancing.models import Account, Price, Security, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


# --- The rule, worked example by worked example ---------------------------------------------------

@pytest.mark.parametrize(("fund", "bought", "short", "long"), [
    (False, date(2010, 12, 31), "B", "E"),  # stock the day before its applicable date: noncovered
    (False, date(2011, 1, 1), "A", "D"),  # stock on it: covered
    (True, date(2011, 12, 31), "B", "E"),  # a fund's shares (a bond fund alike: stock of a RIC)
    (True, date(2012, 1, 1), "A", "D"),
    (True, date(2011, 1, 1), "B", "E"),  # a fund bought when stock was already covered: not yet
])
def test_bought_in_the_account_the_applicable_date_decides_the_box(fund, bought, short, long):
    for term, letter in (("short", short), ("long", long)):
        box = box_of(term=term, fund=fund, bought=bought, in_account=True, gift=False, inherited=False)
        assert box.letter == letter and box.known
        assert box.basis_reported is (letter in "AD")


def test_a_lot_from_the_custodians_file_goes_in_box_b_or_e_and_says_why_unless_its_date_settles_it():
    before = box_of(term="long", fund=False, bought=date(2010, 12, 31), in_account=False, gift=False, inherited=False)
    after = box_of(term="long", fund=False, bought=date(2011, 1, 1), in_account=False, gift=False, inherited=False)
    assert (before.letter, before.basis_reported) == ("E", False)  # not covered, whatever its history
    assert (after.letter, after.basis_reported) == ("E", None)  # covered only if bought here or moved in covered
    assert "lots file" in after.reason and "check the 1099-B" in after.reason


def test_a_gift_is_covered_only_as_the_donors_shares_were():
    old = box_of(term="long", fund=False, bought=date(2009, 5, 1), in_account=False, gift=True, inherited=False)
    new = box_of(term="short", fund=True, bought=date(2026, 2, 2), in_account=False, gift=True, inherited=False)
    assert (old.letter, old.basis_reported) == ("E", False) and "the donor bought them on 2009-05-01" in old.reason
    assert (new.letter, new.basis_reported) == ("B", None) and "transfer statement" in new.reason


def test_inherited_shares_go_in_box_e_the_decedents_purchase_being_unknown():
    box = box_of(term="long", fund=False, bought=date(2026, 10, 1), in_account=False, gift=False, inherited=True)
    assert (box.letter, box.basis_reported) == ("E", None) and "decedent" in box.reason


@pytest.mark.parametrize(("letter", "adjusted", "line"), [
    ("A", False, "1a"), ("A", True, "1b"), ("B", False, "2"), ("B", True, "2"), ("C", False, "3"),
    ("D", False, "8a"), ("D", True, "8b"), ("E", False, "9"), ("F", True, "10"),
])
def test_the_schedule_d_line_of_each_box(letter, adjusted, line):
    assert schedule_d_line(letter, adjusted=adjusted) == line


# --- Through the ledger and the report -----------------------------------------------------------

@pytest.fixture
def year_of_sales(book, pm):
    """S-1 holds stock XYZ (bought 2010-12-31 and 2011-01-01, from the custodian's file), BND
    (a bond fund: 2011-12-31 and 2012-01-01), a gift of VTI and inherited VTI; the ledger buys XYZ
    twice on 2026-03-02, then sells lots of several boxes in one order, washes a loss, and sells
    the rest."""
    xyz = Security.objects.create(symbol="XYZ", name="XYZ Corp", asset_class="us_equity", is_fund=False)
    Price.objects.create(security=xyz, date=AS_OF, close=D(100))
    account = make_account("S-1", model=book["model"], holdings=[
        ("XYZ", 10, 500, date(2010, 12, 31)), ("XYZ", 10, 600, date(2011, 1, 1)),
        ("BND", 10, 700, date(2011, 12, 31)), ("BND", 10, 800, date(2012, 1, 1)),
    ])
    TaxLot.objects.create(account=account, lot_id="S-1-G1", security=book["securities"]["VTI"], quantity=10,
                          cost_basis=500, acquired=date(2015, 3, 2), gift_date=date(2025, 5, 1),
                          gift_unit_value=D(80))
    TaxLot.objects.create(account=account, lot_id="S-1-H1", security=book["securities"]["VTI"], quantity=10,
                          cost_basis=900, acquired=inherited_start(date(2026, 10, 1)), purchased=date(2026, 10, 1),
                          inherited=True)

    def trade(orders, fills, day):
        executions_import(source=execution_csv(*(fill(f"{ext}", o, q, p, day) for (ext, q, p), o in
                                                 zip(fills, orders, strict=True))), actor="t", as_of=AS_OF)

    bought = release(account, [buy("XYZ", 10, 100.0), buy("XYZ", 5, 100.0)], pm=pm, as_of=date(2026, 3, 2))
    trade(bought, [("B-1", 10, "100"), ("B-2", 5, "100")], date(2026, 3, 2))
    # One sale of an old noncovered lot (long-term) and the ledger's covered lot (short-term, at a loss).
    mixed = release(account, [sell("XYZ", 20, 90.0, [("S-1-L1", 10), ("B-1", 10)])], pm=pm, as_of=date(2026, 6, 1))
    trade(mixed, [("S-1", 20, "90")], date(2026, 6, 1))
    again = release(account, [buy("XYZ", 10, 91.0)], pm=pm, as_of=date(2026, 6, 10))  # washes B-1's loss
    trade(again, [("B-3", 10, "91")], date(2026, 6, 10))
    rest = release(account, [sell("XYZ", 15, 120.0, [("S-1-L2", 10), ("B-2", 5)]),
                             sell("BND", 20, 80.0, [("S-1-L3", 10), ("S-1-L4", 10)]),
                             sell("VTI", 20, 100.0, [("S-1-G1", 10), ("S-1-H1", 10)])], pm=pm,
                   as_of=date(2026, 11, 2))
    trade(rest, [("S-2", 15, "120"), ("S-3", 20, "80"), ("S-4", 20, "100")], date(2026, 11, 2))
    return account


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_each_sold_lot_has_its_box_and_line_and_a_mixed_sale_is_split_by_box(year_of_sales):
    report = realised_gains(accounts=Account.objects.filter(pk=year_of_sales.pk), start=YEAR[0], end=YEAR[1])
    rows = {r["lot_id"]: r for r in _rows(realised_lots_csv(report))}

    got = {lot: (r["term"], r["box"], r["schedule_d_line"], r["basis_reported_to_irs"], r["code"], r["adjustment"])
           for lot, r in rows.items()}
    assert got == {
        "S-1-L1": ("long", "E", "9", "no", "", "0"),  # stock bought 2010-12-31: noncovered
        "B-1": ("short", "A", "1b", "yes", "W", "100"),  # the ledger's purchase, its loss washed: code W kept
        "S-1-L2": ("long", "E", "9", "unknown", "", "0"),  # stock from the file, 2011-01-01: not known
        "B-2": ("short", "A", "1a", "yes", "", "0"),  # covered, nothing to adjust: line 1a
        "S-1-L3": ("long", "E", "9", "no", "", "0"),  # bond fund bought 2011-12-31: noncovered
        "S-1-L4": ("long", "E", "9", "unknown", "", "0"),  # bond fund from the file, 2012-01-01
        "S-1-G1": ("long", "E", "9", "unknown", "", "0"),  # a gift: the donor's statement is not known
        "S-1-H1": ("long", "E", "9", "unknown", "", "0"),  # inherited
    }
    # The one order of 2026-06-01 is two Form 8949 lines, in two boxes.
    assert rows["S-1-L1"]["date_sold"] == rows["B-1"]["date_sold"] == "2026-06-01"
    assert rows["B-1"]["gain_or_loss"] == "0"  # -100 loss + 100 disallowed
    assert "not a covered security" in rows["S-1-L1"]["box_reason"]
    assert "a fund's shares are covered when acquired from 2012-01-01 on" in rows["S-1-L3"]["box_reason"]
    assert all("," not in r["box_reason"] for r in rows.values())  # a naive split of a line still works


def test_box_totals_are_per_household_and_schedule_d_line(year_of_sales):
    report = realised_gains(accounts=Account.objects.filter(pk=year_of_sales.pk), start=YEAR[0], end=YEAR[1])
    totals = [(r["box"], r["schedule_d_line"], r["lines"], r["lines_basis_reporting_unknown"], r["proceeds"],
               r["cost_basis"], r["adjustment"], r["gain_or_loss"]) for r in _rows(realised_boxes_csv(report))]
    assert totals == [
        ("A", "1a", "1", "0", "600", "500", "0", "100"),
        ("A", "1b", "1", "0", "900", "1000", "100", "0"),
        # L1 900-500, L2 1200-600, L3 800-700, L4 800-800, G1 1000-500, H1 1000-900
        ("E", "9", "6", "4", "5700", "4000", "0", "1700"),
    ]
    # The box totals add up to the terms' totals.
    [household] = report.households
    assert household.short.gain_or_loss == D(100) and household.long.gain_or_loss == D(1700)


def test_the_page_shows_the_box_of_each_line_and_the_totals(year_of_sales, pm, firm_a, client_for):
    client = client_for(firm_a, pm)
    page = client.get("/reports/realised/?year=2026").content.decode()
    assert '<td data-box="A">A <span class="muted">(line 1a)</span>' in page
    assert '<td data-box="E">E <span class="muted">(line 9)</span><details><summary>not known: why</summary>' in page
    assert 'data-box-total="HH-S-1:9"' in page and "Part II, Box E" in page and "Form 8949 boxes and Schedule D lines" in page
    boxes = client.get("/reports/realised/?year=2026&download=boxes")
    assert boxes["Content-Type"].startswith("text/csv")
    assert boxes.content.decode().splitlines()[0].startswith("household,name,part,box,schedule_d_line,lines")

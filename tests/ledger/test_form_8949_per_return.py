"""Form 8949's box totals per return: a household filing jointly (or single) has one Form 8949; a
married couple filing separately in a year has two, each spouse reporting the sales of their own
accounts and their part - half - of a joint account's (IRS Pub. 550 "Capital Losses"; Instructions
for Form 8949). Each return's boxes add up to its Schedule D lines (``reports.schedules_d``), the
halves of a joint line to the cent, the first spouse taking an odd cent as ``schedule_d.joint_halves``
does. A worked example through the real ledger, the page, the CSVs and the API; random rows against
a plain reading written here; random households against Schedule D."""

import csv
import io
from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import (
    RealisedRow,
    box_totals,
    realised_boxes_csv,
    realised_gains,
    realised_lots_csv,
    schedules_d,
)
from rebalancing.models import Account, Execution, Household, PastFilingStatus, RealisedLot, Security

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))
API = "/api/v1"
CENT = D("0.01")


# --- The worked example ---------------------------------------------------------------------------

@pytest.fixture
def okafors(book, pm):
    """Filing separately in 2026. Her account OK-A (the first spouse's) sells 100 VTI bought for 8,000
    in 2020 at 100: a 2,000 long-term gain. His, OK-B (the second's), sells 200 BND bought for 17,000
    in February at 80: a 1,000 short-term loss. The joint account OK-J sells 10 VTI (basis 500.01,
    2020) at 100, a 499.99 long-term gain, and 10 BND (basis 900.03, February) at 80, a 100.03
    short-term loss. Every lot is from the custodian's file, bought after its applicable date:
    whether the basis was reported is not known (Box B or E, lines 2 and 9)."""
    household = Household.objects.create(name="The Okafors", external_id="HH-OK", filing_status="married_separate")
    her = make_account("OK-A", model=book["model"], household=household,
                       holdings=[("VTI", 100, 8000, date(2020, 1, 2))])
    his = make_account("OK-B", model=book["model"], household=household,
                       holdings=[("BND", 200, 17000, date(2026, 2, 2))])
    joint = make_account("OK-J", model=book["model"], household=household,
                         holdings=[("VTI", 10, "500.01", date(2020, 1, 2)), ("BND", 10, "900.03", date(2026, 2, 2))])
    Account.objects.filter(pk=his.pk).update(spouse="second")
    Account.objects.filter(pk=joint.pk).update(spouse="joint")
    day = date(2026, 6, 1)
    [a] = release(her, [sell("VTI", 100, 100.0, [("OK-A-L1", 100)])], pm=pm, as_of=day)
    [b] = release(his, [sell("BND", 200, 80.0, [("OK-B-L1", 200)])], pm=pm, as_of=day)
    j1, j2 = release(joint, [sell("VTI", 10, 100.0, [("OK-J-L1", 10)]), sell("BND", 10, 80.0, [("OK-J-L2", 10)])],
                     pm=pm, as_of=day)
    executions_import(source=execution_csv(fill("OK-1", a, 100, "100", day), fill("OK-2", b, 200, "80", day),
                                           fill("OK-3", j1, 10, "100", day), fill("OK-4", j2, 10, "80", day)),
                      actor="custodian feed", as_of=AS_OF)
    return household


def _boxes(report) -> list[tuple]:
    return [(t.year, t.spouse, t.box, t.line, t.lines, t.unknown, t.proceeds, t.cost_basis, t.adjustment,
             t.gain_or_loss) for t in report.boxes]


def test_worked_example_each_spouse_has_their_own_box_totals_with_half_the_joint_lines(okafors):
    # when
    report = realised_gains(accounts=Account.objects.filter(household=okafors), start=YEAR[0], end=YEAR[1])
    # then: her return: her gain and half the joint lines; his: his loss and the other half. Column (h)
    # of a joint line is halved as Schedule D halves it (the second's half toward zero, the first
    # taking the odd cent): 499.99 -> 250.00 + 249.99, -100.03 -> -50.02 + -50.01; proceeds halve
    # evenly, and the cost basis is what makes (h) = (d) - (e) + (g).
    assert _boxes(report) == [
        (2026, "first", "B", "2", 1, 1, D("400.00"), D("450.02"), D(0), D("-50.02")),
        (2026, "first", "E", "9", 2, 2, D("10500.00"), D("8250.00"), D(0), D("2250.00")),
        (2026, "second", "B", "2", 2, 2, D("16400.00"), D("17450.01"), D(0), D("-1050.01")),
        (2026, "second", "E", "9", 1, 1, D("500.00"), D("250.01"), D(0), D("249.99")),
    ]
    assert {t.name for t in report.boxes} == {"The Okafors"}
    # each return's boxes are its Schedule D lines
    first, second = schedules_d(households=Household.objects.filter(pk=okafors.pk), year=2026)
    assert (first.spouse, first.sheet.short_term, first.sheet.long_term) == ("first", D("-50.02"), D("2250.00"))
    assert (second.spouse, second.sheet.short_term, second.sheet.long_term) == ("second", D("-1050.01"), D("249.99"))
    # the per-lot lines stay one per sale, and say whose return(s) they go on
    assert sorted((r.account_number, r.symbol, r.spouse, r.returns) for r in report.lots) == [
        ("OK-A", "VTI", "first", ("first",)), ("OK-B", "BND", "second", ("second",)),
        ("OK-J", "BND", "joint", ("first", "second")), ("OK-J", "VTI", "joint", ("first", "second"))]
    lots = list(csv.DictReader(io.StringIO(realised_lots_csv(report))))
    assert sorted((r["account_number"], r["lot_id"], r["spouse"]) for r in lots) == [
        ("OK-A", "OK-A-L1", "first"), ("OK-B", "OK-B-L1", "second"), ("OK-J", "OK-J-L1", "joint"),
        ("OK-J", "OK-J-L2", "joint")]
    boxes = list(csv.DictReader(io.StringIO(realised_boxes_csv(report))))
    assert [(r["year"], r["spouse"], r["schedule_d_line"], r["lines"], r["proceeds"], r["cost_basis"],
             r["gain_or_loss"]) for r in boxes] == [
        ("2026", "first", "2", "1", "400", "450.02", "-50.02"), ("2026", "first", "9", "2", "10500", "8250", "2250"),
        ("2026", "second", "2", "2", "16400", "17450.01", "-1050.01"),
        ("2026", "second", "9", "1", "500", "250.01", "249.99")]


def test_worked_example_filing_jointly_the_same_sales_are_one_returns(okafors):
    # given: the same household filing jointly
    Household.objects.filter(pk=okafors.pk).update(filing_status="married_joint")
    # when
    report = realised_gains(accounts=Account.objects.filter(household=okafors), start=YEAR[0], end=YEAR[1])
    # then: one return, every line whole
    assert _boxes(report) == [
        (2026, "", "B", "2", 2, 2, D("16800.00"), D("17900.03"), D(0), D("-1100.03")),
        (2026, "", "E", "9", 2, 2, D("11000.00"), D("8500.01"), D(0), D("2499.99")),
    ]
    assert {r.spouse for r in report.lots} == {""}
    [sheet] = schedules_d(households=Household.objects.filter(pk=okafors.pk), year=2026)
    assert (sheet.sheet.short_term, sheet.sheet.long_term) == (D("-1100.03"), D("2499.99"))
    assert [r["spouse"] for r in csv.DictReader(io.StringIO(realised_boxes_csv(report)))] == ["", ""]


def test_the_page_and_the_api_say_which_return_each_total_is(okafors, firm_a, pm, client_for):
    client = client_for(firm_a, pm)
    # the page: a Return column, and whose return(s) each lot goes on
    page = client.get("/reports/realised/?year=2026").content.decode()
    assert page.count('data-box-return="HH-OK:first"') == 2 and page.count('data-box-return="HH-OK:second"') == 2
    assert "2026 · first spouse, filing separately" in page and "2026 · second spouse, filing separately" in page
    assert page.count('data-spouse="joint"') == 2 and "half on each spouse's return" in page
    downloaded = client.get("/reports/realised/?year=2026&download=boxes").content.decode()
    assert [(r["spouse"], r["gain_or_loss"]) for r in csv.DictReader(io.StringIO(downloaded))] == [
        ("first", "-50.02"), ("first", "2250"), ("second", "-1050.01"), ("second", "249.99")]
    # the API: the same totals, the household's name, the year and the return
    body = client.get(f"{API}/reports/realised-gains/", {"start": "2026-01-01", "end": "2026-12-31"}).json()
    assert [(b["name"], b["year"], b["spouse"], b["line"], b["lines"], b["cost_basis"], b["gain_or_loss"])
            for b in body["boxes"]] == [
        ("The Okafors", 2026, "first", "2", 1, "450.02", "-50.02"),
        ("The Okafors", 2026, "first", "9", 2, "8250.00", "2250.00"),
        ("The Okafors", 2026, "second", "2", 2, "17450.01", "-1050.01"),
        ("The Okafors", 2026, "second", "9", 1, "250.01", "249.99")]
    assert sorted((lot["lot_id"], lot["spouse"]) for lot in body["lots"]) == [
        ("OK-A-L1", "first"), ("OK-B-L1", "second"), ("OK-J-L1", "joint"), ("OK-J-L2", "joint")]


# --- Random rows against a plain reading -----------------------------------------------------------

def _half_toward_zero(cents: int) -> int:
    return -((-cents) // 2) if cents < 0 else cents // 2


def reference_returns(rows) -> dict[tuple, dict]:
    """A deliberately plain reading, in whole cents: each line goes whole on its return, or, from a
    joint account filing separately, half on each spouse's; per (household, year, return, term) the
    exact Schedule D figure - own lines, plus half of the joint lines' sum of the term with the
    second spouse's half toward zero and the first taking the rest; per (household, year, return,
    line) the exact halves of the joint lines' columns, and the lines counted."""
    out: dict[tuple, dict] = {}

    def entry(key):
        return out.setdefault(key, {"lines": 0, "d": 0, "e": 0, "g": 0, "h": 0, "joint": [0, 0, 0, 0]})

    joint_terms: dict[tuple, int] = {}
    for r in rows:
        cents = [int(v * 100) for v in (r.proceeds, r.form_8949_cost_basis, r.form_8949_adjustment)]
        h = cents[0] - cents[1] + cents[2]
        year, line = r.sold.year, r.schedule_d_line
        if r.spouse == "joint":
            for spouse in ("first", "second"):
                e = entry((r.household, year, spouse, line))
                e["lines"] += 1
                e["joint"] = [a + b for a, b in zip(e["joint"], [*cents, h], strict=True)]
            joint_terms[r.household, year, r.term] = joint_terms.get((r.household, year, r.term), 0) + h
        else:
            e = entry((r.household, year, r.spouse, line))
            e["lines"] += 1
            for k, v in zip("degh", [*cents, h], strict=True):
                e[k] += v
    terms: dict[tuple, int] = {}
    for (household, year, spouse, line), e in out.items():
        term = "short" if line in ("1a", "1b", "2", "3") else "long"
        terms[household, year, spouse, term] = terms.get((household, year, spouse, term), 0) + e["h"]
    for (household, year, term), h in joint_terms.items():
        second = _half_toward_zero(h)
        for spouse, share in (("first", h - second), ("second", second)):
            terms[household, year, spouse, term] = terms.get((household, year, spouse, term), 0) + share
    return {"lines": out, "terms": terms}


DAYS = st.sampled_from([date(2009, 3, 2), date(2020, 5, 4), date(2026, 2, 2)])
MONEY = st.integers(min_value=0, max_value=5_000_000).map(lambda c: D(c) / 100)


@st.composite
def rows(draw):
    proceeds, basis = draw(MONEY), draw(MONEY)
    loss = max(basis - proceeds, D(0))
    adjustment = draw(st.sampled_from([D(0), loss, (loss / 3).quantize(CENT)]))
    bought = draw(DAYS)
    wash = draw(st.sampled_from([D(0), D("1.01")]))
    return RealisedRow(
        account_number="A", household=draw(st.sampled_from(["H-1", "H-2"])), symbol="X", lot_id="L",
        quantity=D(1), acquired=bought, purchased=bought, sold=date(draw(st.sampled_from([2025, 2026])), 6, 1),
        term=draw(st.sampled_from(["short", "long"])), proceeds=proceeds, cost_basis=basis, adjustment=adjustment,
        fund=draw(st.booleans()), bought_in_account=draw(st.booleans()), gifted=draw(st.booleans()),
        wash_basis=wash, basis_unknown_to_broker=draw(st.sampled_from([D(0), wash])),
        spouse=draw(st.sampled_from(["", "first", "second", "joint", "joint"])),
    )


def _one_filing_a_year(lines: list[RealisedRow]) -> list[RealisedRow]:
    """A household files one way a year: its first line of the year says which; the others follow
    (a spouse's line of a year filed as one return is the return's, and the other way a joint one)."""
    separate: dict[tuple, bool] = {}
    out = []
    for r in lines:
        if separate.setdefault((r.household, r.sold.year), r.spouse != "") != (r.spouse != ""):
            r = replace(r, spouse="joint" if r.spouse == "" else "")
        out.append(r)
    return out


def _joint(line_of: str, cents: int) -> RealisedRow:
    """A joint account's line filing separately, on line 1a (bought by the ledger's fill, covered) or 2."""
    return RealisedRow(account_number="J", household="H-1", symbol="X", lot_id="L", quantity=D(1),
                       acquired=date(2020, 5, 4), purchased=date(2020, 5, 4), sold=date(2026, 6, 1), term="short",
                       proceeds=D(100 + cents) / 100, cost_basis=D(1), adjustment=D(0),
                       bought_in_account=line_of == "1a", spouse="joint")


@settings(max_examples=400, deadline=None)
@given(st.lists(rows(), max_size=25).map(_one_filing_a_year))
# Two joint lines of a term in two boxes, an odd cent each: halved box by box the second spouse's
# would be 0 + 0, but Schedule D halves their 0.02 into 0.01 each.
@example([_joint("1a", 1), _joint("2", 1)])
def test_box_totals_per_return_agree_with_a_plain_reading(lines):
    totals = box_totals(lines, {"H-1": "One", "H-2": "Two"})
    want = reference_returns(lines)
    got = {(t.household, t.year, t.spouse, t.line): t for t in totals}
    assert set(got) == set(want["lines"]) and len(got) == len(totals)
    # each return's boxes of a term add up to its Schedule D figure exactly
    terms: dict[tuple, int] = {}
    for t in totals:
        key = (t.household, t.year, t.spouse, "short" if t.part == "I" else "long")
        terms[key] = terms.get(key, 0) + int(t.gain_or_loss * 100)
    assert terms == {k: v for k, v in want["terms"].items() if k in terms}
    assert all(v == 0 for k, v in want["terms"].items() if k not in terms)
    for key, t in got.items():
        e = want["lines"][key]
        assert (t.lines, t.name) == (e["lines"], {"H-1": "One", "H-2": "Two"}[t.household])
        assert t.box in ("AD" if t.line in ("1a", "8a") else "ABCDEF")
        # a line's figures: its own lines whole, and within a cent or two of half the joint lines'
        for column, k, slack in (("proceeds", "d", 0.5), ("adjustment", "g", 0.5), ("gain_or_loss", "h", 1),
                                 ("cost_basis", "e", 2)):
            exact = e[k] + e["joint"]["degh".index(k)] / 2
            assert abs(int(getattr(t, column) * 100) - exact) <= slack, (key, column, t, e)
        assert t.gain_or_loss == t.proceeds - t.cost_basis + t.adjustment
    # the two halves of every joint line add up to the whole: each column of a line summed over its
    # returns is the sum of its rows
    for (household, year, _, line) in got:
        mine = [r for r in lines if (r.household, r.sold.year, r.schedule_d_line) == (household, year, line)]
        theirs = [t for t in totals if (t.household, t.year, t.line) == (household, year, line)]
        for column, of_row in (("proceeds", "proceeds"), ("cost_basis", "form_8949_cost_basis"),
                               ("adjustment", "form_8949_adjustment")):
            assert sum((getattr(t, column) for t in theirs), D(0)) == sum((getattr(r, of_row) for r in mine), D(0))
    # by household, year, return (first, then second) and the form's order
    order = ("1a", "1b", "2", "3", "8a", "8b", "9", "10")
    keys = [(t.household, t.year, ("", "first", "second").index(t.spouse), order.index(t.line)) for t in totals]
    assert keys == sorted(keys)


# --- Random households through the database against Schedule D ------------------------------------

SPOUSE_OF = {"R-F": "first", "R-S": "second", "R-J": "joint"}
STATUSES = ("married_joint", "married_separate", "single")


@st.composite
def histories(draw):
    sales = draw(st.lists(st.tuples(
        st.sampled_from(["R-F", "R-S", "R-J", "R-J"]), st.sampled_from([2025, 2026]), st.sampled_from(("short", "long")),
        st.integers(1, 2_000_000), st.integers(1, 2_000_000), st.booleans(), st.booleans(), st.booleans()),
        max_size=12))
    return draw(st.sampled_from(STATUSES)), draw(st.sampled_from(STATUSES)), sales


@pytest.fixture
def random_book(book, pm):
    """Three taxable accounts of one household, the first spouse's, the second's and a joint one,
    an IRA, and one real sale's execution the random realised lots hang on."""
    household = Household.objects.create(name="Random", external_id="HH-R", filing_status="married_separate")
    accounts = {n: make_account(n, model=book["model"], household=household) for n in (*SPOUSE_OF, "R-IRA")}
    for number, spouse in SPOUSE_OF.items():
        Account.objects.filter(pk=accounts[number].pk).update(spouse=spouse)
    Account.objects.filter(pk=accounts["R-IRA"].pk).update(tax_status="traditional")
    [order] = release(book["account"], [sell("VTI", 1, 100.0, [("A-1-L1", 1)])], pm=pm, as_of=date(2026, 1, 5))
    executions_import(source=execution_csv(fill("R-X", order, 1, "100", date(2026, 1, 5))), actor="t", as_of=AS_OF)
    return household, accounts, Execution.objects.get(external_id="R-X")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(history=histories())
# Filing separately in 2026, two joint lines of a term in two boxes (1a and 2), an odd cent each.
@example(history=("married_joint", "married_separate", [("R-J", 2026, "short", 101, 100, False, True, False),
                                                        ("R-J", 2026, "short", 101, 100, False, False, False)]))
def test_each_returns_box_totals_are_its_schedule_d_lines(random_book, history):
    household, accounts, execution = random_book
    status_2025, status_2026, sales = history
    vti = Security.objects.get(symbol="VTI")
    savepoint = transaction.savepoint()
    try:
        # given: the household's status of each year, and its sales (some washed, some bought by the
        # ledger's fill, some before the applicable date: several boxes and lines of a term)
        Household.objects.filter(pk=household.pk).update(filing_status=status_2026)
        if status_2025 != status_2026:
            PastFilingStatus.objects.create(household=household, last_year=2025, filing_status=status_2025)
        lots = []
        for i, (number, year, term, proceeds, basis, washed, in_account, old) in enumerate(sales):
            gain = D(proceeds - basis) / 100
            disallowed = (-gain / 2).quantize(CENT) if washed and gain < 0 else D(0)
            bought = date(2009, 3, 2) if old else date(year - 2, 1, 1)
            lots.append(RealisedLot(
                account=accounts["R-IRA" if i % 7 == 6 else number],  # an IRA's sales are on no return
                execution=execution, lot_id=f"R-{i}", security=vti, quantity=1, proceeds=D(proceeds) / 100,
                cost_basis=D(basis) / 100, gain=gain, disallowed_loss=disallowed, term=term, acquired=bought,
                purchased=bought, sold=date(year, 6, 1), origin=execution if in_account else None))
        RealisedLot.objects.bulk_create(lots)
        # when: one report over both years
        report = realised_gains(accounts=Account.objects.filter(household=household), start=date(2025, 1, 1),
                                end=date(2026, 12, 31))
        # then: each year's returns have their own boxes, and each return's add up to its Schedule D
        for year, status in ((2025, status_2025), (2026, status_2026)):
            sheets = schedules_d(households=Household.objects.filter(pk=household.pk), year=year)
            spouses = {row.spouse for row in sheets}
            assert spouses == ({"first", "second"} if status == "married_separate" else {""})
            boxes = [t for t in report.boxes if t.year == year]
            assert {t.spouse for t in boxes} <= spouses
            for row in sheets:
                mine = [t for t in boxes if t.spouse == row.spouse]
                assert sum((t.gain_or_loss for t in mine if t.part == "I"), D(0)) == row.sheet.short_term, row
                assert sum((t.gain_or_loss for t in mine if t.part == "II"), D(0)) == row.sheet.long_term, row
            # the returns' lines of a box add up to the household's whole, column by column
            for line in {t.line for t in boxes}:
                whole = [r for r in report.lots if r.sold.year == year and r.schedule_d_line == line]
                of_line = [t for t in boxes if t.line == line]
                assert sum((t.proceeds for t in of_line), D(0)) == sum((r.proceeds for r in whole), D(0))
                assert sum((t.cost_basis for t in of_line), D(0)) == sum((r.form_8949_cost_basis for r in whole), D(0))
                assert sum((t.adjustment for t in of_line), D(0)) == sum((r.form_8949_adjustment for r in whole), D(0))
                # a joint line is on both spouses' forms
                assert sum(t.lines for t in of_line) == sum(len(r.returns) for r in whole)
        # the per-lot lines: one per taxable sale, whose return(s) the year's status says
        assert len(report.lots) == len([i for i in range(len(sales)) if i % 7 != 6])
        for r in report.lots:
            separate = (status_2025 if r.sold.year == 2025 else status_2026) == "married_separate"
            assert r.spouse == (SPOUSE_OF[r.account_number] if separate else "")
    finally:
        transaction.savepoint_rollback(savepoint)

"""Form 8949 codes B and T for wash-sale basis and holding period the broker's 1099-B does not show.

A broker adjusts basis and holding period only for a wash sale of the identical security in the same
account (Treas. Reg. §1.6045-1(d)(6)(iii)). Otherwise the Instructions for Form 8949 want, in Box
A/D, column (e) = the 1099-B's basis, code B and the correction in column (g) (an increase of basis
is a negative adjustment); code T where the 1099-B's term is wrong, the line in the part of the true
term; codes in alphabetical order, amounts netted. Column (h) and Schedule D do not change."""

import csv
import io
from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.form_8949 import WashIn, as_reported, columns_of, wash_in
from rebalancing.ledger.reports import realised_boxes_csv, realised_gains, realised_lots_csv, schedules_d
from rebalancing.models import Account, Household, RealisedLot, TaxLot

from ..rebalancing.book import make_account
from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


def _trade(account, trade: dict, ext: str, price: str, day: date, pm) -> None:
    [order] = release(account, [trade], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill(ext, order, trade["quantity"], price, day)), actor="feed", as_of=AS_OF)


def _spouse(book, number: str, holdings=()) -> Account:
    """Another account of A-1's household: the second spouse's."""
    account = make_account(number, model=book["model"], household=book["account"].household, holdings=holdings)
    Account.objects.filter(pk=account.pk).update(spouse="second")
    return account


def _lines(accounts) -> dict[tuple[str, str], dict]:
    report = realised_gains(accounts=accounts, start=YEAR[0], end=YEAR[1])
    return {(r["account_number"], r["lot_id"]): r for r in csv.DictReader(io.StringIO(realised_lots_csv(report)))}


def _columns(line: dict) -> tuple:
    return (line["term"], line["box"], line["schedule_d_line"], line["cost_basis"], line["code"], line["adjustment"],
            line["gain_or_loss"])


def _unchanged(household: Household) -> None:
    """Column (h), the box totals and Schedule D are the ledger's gains, whatever (e) and (g) say."""
    report = realised_gains(accounts=Account.objects.filter(household=household), start=YEAR[0], end=YEAR[1])
    sold = RealisedLot.objects.filter(account__household=household, account__taxable=True)
    by_term = {t: sum((r.reportable_gain for r in sold if r.term == t), D(0)) for t in ("short", "long")}
    for row in report.lots:
        assert row.gain_or_loss == row.proceeds - row.form_8949_cost_basis + row.form_8949_adjustment
        assert row.gain_or_loss == row.proceeds - row.cost_basis + row.adjustment
    boxes = list(csv.DictReader(io.StringIO(realised_boxes_csv(report))))
    for term, part in (("short", "I"), ("long", "II")):
        assert sum((D(b["gain_or_loss"]) for b in boxes if b["part"] == part), D(0)) == by_term[term]
    [sheet] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    assert (sheet.sheet.short_term, sheet.sheet.long_term) == (by_term["short"], by_term["long"])


# --- Worked examples through the ledger ----------------------------------------------------------

def test_the_spouses_loss_washed_by_a_purchase_then_sold_is_code_b_with_the_1099b_basis(book, pm):
    """Spouse one sells A-1-L2 (50 VTI bought at 120) at 100: a 1,000 loss; spouse two buys 50 VTI
    at 100 nine days later (the wash) and sells them at 110. Spouse two's broker never saw the loss:
    its 1099-B says basis 5,000, a 500 gain; the true basis is 6,000, a 500 loss."""
    a1 = book["account"]
    a2 = _spouse(book, "A-2")
    _trade(a1, sell("VTI", 50, 100.0, [("A-1-L2", 50)]), "S-1", "100", date(2026, 7, 1), pm)
    _trade(a2, buy("VTI", 50, 100.0), "B-1", "100", date(2026, 7, 10), pm)
    _trade(a2, sell("VTI", 50, 110.0, [("B-1", 50)]), "S-2", "110", date(2026, 9, 1), pm)

    lines = _lines(Account.objects.filter(household=a1.household))
    # The replacement: covered (bought in A-2 by the ledger), Box A; (e) the 1099-B's 5,000, code B,
    # (g) -1,000; (h) -500 as before; line 1b, never 1a.
    assert _columns(lines[("A-2", "B-1")]) == ("short", "A", "1b", "5000", "B", "-1000", "-500")
    # The loss sale keeps code W with its disallowed loss.
    assert _columns(lines[("A-1", "A-1-L2")])[4:] == ("W", "1000", "0")
    [line] = [r for r in realised_gains(accounts=Account.objects.filter(pk=a2.pk), start=YEAR[0], end=YEAR[1]).lots]
    assert (line.basis_on_1099b, line.cost_basis, line.term_on_1099b) == (D(5000), D(6000), "short")
    _unchanged(a1.household)


def test_a_substantially_identical_security_is_code_b_in_the_same_account_too(book, pm):
    """A-1 sells VTI at a loss and buys ITOT (the same equivalence group, another CUSIP) within 30
    days: the broker does not wash across securities, so ITOT's 1099-B basis leaves the loss out."""
    a1 = book["account"]
    _trade(a1, sell("VTI", 50, 100.0, [("A-1-L2", 50)]), "S-1", "100", date(2026, 7, 1), pm)
    _trade(a1, buy("ITOT", 50, 100.0), "B-1", "100", date(2026, 7, 20), pm)
    _trade(a1, sell("ITOT", 50, 130.0, [("B-1", 50)]), "S-2", "130", date(2026, 10, 1), pm)

    lines = _lines(Account.objects.filter(pk=a1.pk))
    assert _columns(lines[("A-1", "B-1")]) == ("short", "A", "1b", "5000", "B", "-1000", "500")
    _unchanged(a1.household)


def test_the_identical_security_in_the_same_account_is_the_brokers_own_wash_no_code(book, pm):
    """The broker knows this one: its 1099-B shows the adjusted basis; nothing to correct, so the
    line may be summed onto Schedule D line 1a (Exception 1)."""
    a1 = book["account"]
    _trade(a1, sell("VTI", 50, 100.0, [("A-1-L2", 50)]), "S-1", "100", date(2026, 7, 1), pm)
    _trade(a1, buy("VTI", 50, 100.0), "B-1", "100", date(2026, 7, 20), pm)
    _trade(a1, sell("VTI", 50, 130.0, [("B-1", 50)]), "S-2", "130", date(2026, 10, 1), pm)

    lines = _lines(Account.objects.filter(pk=a1.pk))
    assert _columns(lines[("A-1", "B-1")]) == ("short", "A", "1a", "6000", "", "0", "500")
    _unchanged(a1.household)


def test_a_holding_period_tacked_from_the_spouses_long_term_loss_is_code_t_in_part_ii(book, pm):
    """A-1 sells A-1-L1 (bought 2020 at 80) at 70: a long-term loss; spouse two buys 100 VTI at 70
    two weeks later and sells them at 75 in September. Tacked, they were held since 2020: long-term,
    Part II, Box D; the 1099-B says short-term and basis 7,000: codes B and T, line 8b."""
    a1 = book["account"]
    a2 = _spouse(book, "A-2")
    # (After 2026-07-01: A-1-L2, bought 2026-06-01, would replace half the loss.)
    _trade(a1, sell("VTI", 100, 70.0, [("A-1-L1", 100)]), "S-1", "70", date(2026, 7, 6), pm)
    _trade(a2, buy("VTI", 100, 70.0), "B-1", "70", date(2026, 7, 15), pm)
    _trade(a2, sell("VTI", 100, 75.0, [("B-1", 100)]), "S-2", "75", date(2026, 9, 1), pm)

    lines = _lines(Account.objects.filter(pk=a2.pk))
    assert _columns(lines[("A-2", "B-1")]) == ("long", "D", "8b", "7000", "BT", "-1000", "-500")
    [line] = realised_gains(accounts=Account.objects.filter(pk=a2.pk), start=YEAR[0], end=YEAR[1]).lots
    assert (line.term, line.term_on_1099b, line.acquired_on_1099b) == ("long", "short", date(2026, 7, 15))
    _unchanged(a1.household)


def test_a_lot_replacing_losses_of_both_accounts_splits_column_g(book, pm):
    """One purchase in A-1 replaces A-1's own loss shares (the broker's wash) and the spouse's (not
    the broker's): only the spouse's part is corrected in (g), whatever lines the lot is split into."""
    a1 = book["account"]
    a2 = _spouse(book, "A-2", holdings=[("VTI", 50, 6000, date(2026, 5, 1))])
    _trade(a1, sell("VTI", 50, 100.0, [("A-1-L2", 50)]), "S-1", "100", date(2026, 7, 10), pm)
    _trade(a2, sell("VTI", 50, 100.0, [("A-2-L1", 50)]), "S-2", "100", date(2026, 7, 10), pm)
    _trade(a1, buy("VTI", 100, 100.0), "B-1", "100", date(2026, 7, 15), pm)
    pieces = [(lot.lot_id, float(lot.quantity)) for lot in TaxLot.objects.filter(account=a1, lot_id__startswith="B-1")]
    assert len(pieces) == 2  # one piece per loss it replaced
    _trade(a1, sell("VTI", 100, 130.0, pieces), "S-3", "130", date(2026, 10, 1), pm)

    report = realised_gains(accounts=Account.objects.filter(pk=a1.pk), start=YEAR[0], end=YEAR[1])
    sold = [r for r in report.lots if r.sold == date(2026, 10, 1)]
    assert sum((r.wash_basis for r in sold), D(0)) == D(2000)  # both losses are in the lot's basis
    assert sum((r.basis_unknown_to_broker for r in sold), D(0)) == D(1000)  # the spouse's is not on the 1099-B
    assert sum((r.form_8949_cost_basis for r in sold), D(0)) == D(11000)
    assert sum((r.form_8949_adjustment for r in sold), D(0)) == D(-1000)
    assert sum((r.gain_or_loss for r in sold), D(0)) == D(1000)  # 13,000 - (10,000 + 2,000)
    assert {r.code for r in sold} <= {"", "B"} and any(r.code == "B" for r in sold)
    _unchanged(a1.household)


def test_the_page_and_the_api_show_the_1099b_figures(book, pm, firm_a, client_for):
    a1 = book["account"]
    a2 = _spouse(book, "A-2")
    # (After 2026-07-01: A-1-L2, bought 2026-06-01, would replace half the loss.)
    _trade(a1, sell("VTI", 100, 70.0, [("A-1-L1", 100)]), "S-1", "70", date(2026, 7, 6), pm)
    _trade(a2, buy("VTI", 100, 70.0), "B-1", "70", date(2026, 7, 15), pm)
    _trade(a2, sell("VTI", 100, 75.0, [("B-1", 100)]), "S-2", "75", date(2026, 9, 1), pm)

    client = client_for(firm_a, pm)
    page = client.get("/reports/realised/?year=2026").content.decode()
    assert 'data-code="BT"' in page and "1099-B: short-term, basis $7,000.00" in page
    body = client.get("/api/v1/reports/realised-gains/?start=2026-01-01&end=2026-12-31").json()
    [line] = [r for r in body["lots"] if r["lot_id"] == "B-1"]
    assert (line["code"], line["cost_basis"], line["basis_on_1099b"], line["term_on_1099b"]) == (
        "BT", "8000.00", "7000.00", "short")
    assert (line["form_8949_cost_basis"], line["form_8949_adjustment"], line["gain_or_loss"]) == (
        "7000.00", "-1000.00", "-500.00")
    assert line["adjustment"] == "0.00"  # the wash-sale loss disallowed (code W): none on this sale


# --- The rule alone --------------------------------------------------------------------------------

def test_box_b_and_e_keep_the_correct_basis_in_column_e_with_code_b_and_nothing_for_it_in_g():
    """Instructions for Form 8949, code B: Box B/E - the correct basis in (e), -0- in (g)."""
    e = columns_of(letter="E", cost_basis=D(8000), disallowed=D(0), unknown=D(1000), term="long", reported_term="long")
    assert (e.cost_basis, e.code, e.adjustment) == (D(8000), "B", D(0))
    d = columns_of(letter="D", cost_basis=D(8000), disallowed=D(300), unknown=D(1000), term="long",
                   reported_term="short")
    assert (d.cost_basis, d.code, d.adjustment) == (D(7000), "BTW", D(-700))


def test_a_chain_carries_what_the_first_broker_did_not_know():
    """A spouse's 1,000 loss went into A-2's lot (unknown to A-2's broker); that lot, sold at a 600
    loss (1,000 of basis the broker did not see: to it, a 400 gain), was washed into another A-2 lot.
    A-2's broker washed nothing there: the second lot's 600 is unknown too."""
    first = wash_in(added=D(1000), same_account=False, identical=True, source_loss=D(500), source_unknown=D(0),
                    bought=date(2026, 7, 10), source_sold=date(2026, 7, 1), source_start=date(2026, 6, 1))
    assert first == WashIn(D(1000), D(0), None)
    second = wash_in(added=D(600), same_account=True, identical=True, source_loss=D(600), source_unknown=D(1000),
                     bought=date(2026, 9, 5), source_sold=date(2026, 9, 1), source_start=date(2026, 7, 10))
    assert second == WashIn(D(600), D(0), None)
    half = wash_in(added=D(600), same_account=True, identical=True, source_loss=D(1200), source_unknown=D(600),
                   bought=date(2026, 9, 5), source_sold=date(2026, 9, 1), source_start=date(2026, 7, 10))
    assert half == WashIn(D(600), D(300), date(2026, 9, 5) - (date(2026, 9, 1) - date(2026, 7, 10)))
    seen = as_reported(acquired=date(2026, 6, 1), purchased=date(2026, 9, 5), wash_basis=D(1200),
                       washes=[second, half])
    assert (seen.unknown, seen.start) == (D(900), half.start)

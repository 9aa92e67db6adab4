"""Schedule D nets ALL the year's capital gains and losses (IRC §1211(b), §1212(b); Pub. 550 "Capital
Losses"): the ledger's sales (its Form 8949 lines) and those realised before its records, which the
custodian reported only as year-to-date figures (``Account.realised_ytd``, which the ledger then adds
each sale it books to). The latter are a line of their own (``before_ledger_*``): the figures less the
ledger's sales of their year, so nothing is counted twice and the year nets what every estimate of it
nets; the limit and the carryover, keeping its character, follow from the whole. A tax-deferred
account's figures never count. Worked examples, the API, CSV and next year's estimates agreeing, and
random households against a plain reading written here."""

import csv
import io
import random
from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.engine_inputs import tax_returns_of
from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import schedule_d_csv, schedules_d
from rebalancing.models import Account, Execution, Household, RealisedLot, Security

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
API = "/api/v1"
AS_OF = date(2026, 11, 20)


def _custodian_figures(account, year: int, short="0", long="0") -> None:
    """The accounts file's year-to-date figures of ``year`` (what the import writes)."""
    Account.objects.filter(pk=account.pk).update(realised_short_term_ytd=D(short), realised_long_term_ytd=D(long),
                                                 realised_ytd_year=year)


def _sold(account, lot_id: str, quantity: int, price: str, day: date, *, pm, external_id: str, symbol="VTI") -> None:
    """A sale booked by the ledger (released, then filled from the custodian's file)."""
    [order] = release(account, [sell(symbol, quantity, float(price), [(lot_id, quantity)])], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill(external_id, order, quantity, price, day)), actor="custodian feed",
                      as_of=AS_OF)


def _worked_example(book, pm) -> Household:
    """A-1 (one return, filed jointly): the custodian reports a 5,000 short-term loss realised in
    2026 before the ledger; the ledger then books 50 VTI of A-1-L1 (basis 80.00 a share, 2020) sold
    at 100.00: a 1,000 long-term gain, which the ledger adds to the figures (-5,000, 1,000)."""
    account = book["account"]
    _custodian_figures(account, 2026, short="-5000")
    _sold(account, "A-1-L1", 50, "100", date(2026, 10, 1), pm=pm, external_id="S-1")
    account.refresh_from_db()
    assert account.realised_ytd(2026) == (D(-5000), D(1000))  # the ledger added its sale onto the figure
    return account.household


def test_worked_example_a_custodian_loss_before_the_ledger_nets_with_the_ledgers_gain(book, pm):
    # given: -5,000 short-term before the ledger, +1,000 long-term booked by the ledger
    household = _worked_example(book, pm)
    # when
    [row] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    # then: line 7 = 0 (the ledger's short-term) + -5,000 (before the ledger) = -5,000; line 15 =
    # 1,000; line 16 = -4,000: 3,000 deducted (IRC §1211(b)). Worksheet line 8: the short-term loss
    # 5,000 less the long-term gain 1,000 and the deduction 3,000 = 1,000 short-term carried; no
    # long-term loss to carry.
    s = row.sheet
    assert (s.net_short, s.net_long, s.net, s.deduction) == (D(-5000), D(1000), D(-4000), D(3000))
    assert (s.carried_out_short, s.carried_out_long, s.taxable_short, s.taxable_long) == (D(1000), 0, 0, 0)
    # the ledger's Form 8949 lines are unchanged; the figures before them are a line of their own
    assert (s.short_term, s.before_ledger_short, s.long_term, s.before_ledger_long) == (0, D(-5000), D(1000), 0)
    assert row.has_figures
    # the 2027 sheet carries it in, short-term; the engine nets 2027's proposals against it
    [next_year] = schedules_d(households=Household.objects.filter(pk=household.pk), year=2027)
    assert (next_year.sheet.carried_in_short, next_year.sheet.carried_in_long) == (D(1000), 0)
    assert loss_carried_into([household], 2027) == {(household.pk, ""): (D(1000), D(0))}


def test_married_filing_separately_each_spouse_nets_their_own_figures_and_an_ira_never_counts(book, pm):
    # given: a household filing separately. The first spouse's F: the custodian reports a 4,000
    # long-term loss before the ledger. The second spouse's S: 3,000 short-term gain before the
    # ledger, then the ledger books a 1,000 short-term loss (figures 2,000). A joint account J:
    # -1,000.01 short-term before the ledger, half on each return (-500.01 first, -500.00 second).
    # The first spouse's IRA: a 10,000 short-term loss the custodian reports, on no return.
    household = Household.objects.create(name="The Okafors", external_id="HH-OK", filing_status="married_separate")
    first = make_account("OK-F", model=book["model"], household=household)
    second = make_account("OK-S", model=book["model"], household=household,
                          holdings=[("VTI", 10, 2000, date(2026, 3, 2))])
    joint = make_account("OK-J", model=book["model"], household=household)
    ira = make_account("OK-IRA", model=book["model"], household=household)
    Account.objects.filter(pk=second.pk).update(spouse="second")
    Account.objects.filter(pk=joint.pk).update(spouse="joint")
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional")
    _custodian_figures(first, 2026, long="-4000")
    _custodian_figures(second, 2026, short="3000")
    _custodian_figures(joint, 2026, short="-1000.01")
    _custodian_figures(ira, 2026, short="-10000")
    _sold(second, "OK-S-L1", 10, "100", date(2026, 9, 1), pm=pm, external_id="S-2")  # 1,000 - 2,000: -1,000
    # when
    mine, theirs = schedules_d(households=Household.objects.filter(pk=household.pk), year=2026)
    # then, the first spouse: line 7 -500.01, line 15 -4,000, line 16 -4,500.01: 1,500 deducted
    # (married filing separately), taken from the short-term loss first (500.01), the rest of it
    # (999.99) from the long-term: 4,000 - 999.99 = 3,000.01 long-term carried.
    a = mine.sheet
    assert (a.net, a.limit, a.deduction, a.carried_out_short, a.carried_out_long) == (
        D("-4500.01"), D(1500), D(1500), 0, D("3000.01"))
    assert (mine.spouse, a.before_ledger_short, a.before_ledger_long, a.short_term, a.long_term) == (
        "first", D("-500.01"), D(-4000), 0, 0)
    # the second spouse: the ledger's -1,000 and 3,000 before it (not 2,000 again), -500.00 of the
    # joint account's: 1,500.00 short-term gain, taxed as ordinary income
    b = theirs.sheet
    assert (b.net, b.taxable_short, b.deduction, b.carried_out_short, b.carried_out_long) == (D(1500), D(1500), 0, 0, 0)
    assert (theirs.spouse, b.short_term, b.before_ledger_short, b.net_short) == (
        "second", D(-1000), D("2500.00"), D("1500.00"))
    # 2027: each spouse's own carryover
    assert loss_carried_into([household], 2027) == {(household.pk, "first"): (D(0), D("3000.01")),
                                                   (household.pk, "second"): (D(0), D(0))}


def test_the_api_the_csv_and_next_years_estimates_agree(firm_a, client_for, book, pm):
    # given: the worked example
    household = _worked_example(book, pm)
    client = client_for(firm_a, pm)
    # when
    [answer] = client.get(f"{API}/reports/schedule-d/", {"year": "2026", "household": "HH-A-1"}).json()
    download = client.get("/reports/realised/", {"year": "2026", "download": "schedule-d", "household": "HH-A-1"})
    [line] = [r for r in csv.DictReader(io.StringIO(download.content.decode())) if r["household"] == "HH-A-1"]
    page = client.get("/reports/realised/", {"year": "2026", "household": "HH-A-1"}).content.decode()
    # then: the API and the CSV show the line, apart from the ledger's, and the same netting
    sheet = answer["sheet"]
    assert (sheet["short_term"], sheet["net_short"], sheet["net"], sheet["deduction"], sheet["carried_out_short"],
            sheet.get("before_ledger_short")) == ("0.00", "-5000.00", "-4000.00", "3000.00", "1000.00", "-5000.00")
    assert (line["short_term"], line["net_short_term"], line["net"], line["deducted_from_ordinary_income"],
            line["short_term_carried_out"], line.get("short_term_realised_before_ledger")) == (
        "0", "-5000", "-4000", "3000", "1000", "-5000")
    # the page's Schedule D shows the line and says what it is
    row = page[page.index('data-return="HH-A-1"'):]
    row = row[:row.index("</tr>")]
    cell = row[row.index('data-testid="before-ledger-short"'):]
    assert "−$5,000.00" in cell[:cell.index("</td>")] and "Before the ledger, short" in page
    assert "those realised before the ledger's records" in page
    # the estimates of 2026 net the same year (the figures the account page shows) ...
    with tenant_context(firm_a):
        [this_year] = tax_returns_of([household], 2026)[book["account"].pk]
        [next_year] = tax_returns_of([household], 2027)[book["account"].pk]
    assert (this_year.short_term_ytd, this_year.long_term_ytd) == (-5000.0, 1000.0)
    # ... and 2027's are charged against the 1,000 short-term the return carries out of 2026
    assert (next_year.carried_short, next_year.carried_long) == (float(sheet["carried_out_short"]), 0.0)


# --- Random households against a plain reading ----------------------------------------------------

def _plain_carryover(short: int, long: int, limit: int) -> tuple[int, int, int]:
    """Schedule D read plainly, in cents (Pub. 550 "Capital Losses"): ``short``/``long`` the year's
    net by term after the loss carried in. A net loss: at most ``limit`` deducted, taken from a
    short-term loss first; what is left carries over as the character it is."""
    net = short + long
    if net >= 0:
        return 0, 0, 0
    deducted = min(limit, -net)
    if short < 0 and long < 0:  # both losses: the deduction takes the short-term first
        from_short = min(deducted, -short)
        return deducted, -short - from_short, -long - (deducted - from_short)
    if short < 0:  # the long-term gain used part of the short-term loss
        return deducted, -net - deducted, 0
    return deducted, 0, -net - deducted


def test_random_households_net_the_figures_and_the_ledger_as_a_plain_reading_does(book, pm):
    # given: 40 households (one return each: single or filing jointly, some with an opening
    # carryover into last year), each with two taxable accounts and an IRA. Each account has
    # year-to-date figures of last year, this year or no stated year (this year's), and realised
    # lots in both years; the figures are the custodian's, unrelated to the lots.
    this_year = timezone.localdate().year
    last_year = this_year - 1
    rng = random.Random(20261206)
    [order] = release(book["account"], [sell("VTI", 1, 100.0, [("A-1-L1", 1)])], pm=pm, as_of=date(2026, 1, 5))
    executions_import(source=execution_csv(fill("R-X", order, 1, "100", date(2026, 1, 5))), actor="t", as_of=AS_OF)
    execution, vti = Execution.objects.get(external_id="R-X"), Security.objects.get(symbol="VTI")
    RealisedLot.objects.filter(execution=execution).delete()
    cases = {}
    lots = []
    for h in range(40):
        status = rng.choice(["single", "married_joint"])
        opening = (rng.choice([0, rng.randint(0, 800_000)]), rng.choice([0, rng.randint(0, 800_000)]))
        household = Household.objects.create(
            name=f"R{h}", external_id=f"HH-R{h}", filing_status=status, carryforward_year=last_year,
            carryforward_short_term=D(opening[0]) / 100, carryforward_long_term=D(opening[1]) / 100)
        accounts = []
        for n, tax_status in enumerate(["taxable", "taxable", "traditional"]):
            account = make_account(f"R{h}-{n}", model=book["model"], household=household)
            figures = (rng.randint(-900_000, 600_000), rng.randint(-900_000, 600_000))
            year = rng.choice([last_year, this_year, None])
            Account.objects.filter(pk=account.pk).update(
                tax_status=tax_status, realised_short_term_ytd=D(figures[0]) / 100,
                realised_long_term_ytd=D(figures[1]) / 100, realised_ytd_year=year)
            # (no sale of a year after the figures': the ledger's first sale of a new year starts
            # the figures afresh, Account.realised_ytd_added)
            years = [last_year] if year == last_year else [last_year, this_year]
            sales = [(rng.choice(years), rng.choice(["short", "long"]), rng.randint(-500_000, 400_000))
                     for _ in range(rng.randint(0, 4))]
            lots += [RealisedLot(account=account, execution=execution, lot_id=f"R{h}-{n}-{i}", security=vti, quantity=1,
                                 proceeds=D(10**7 + c) / 100, cost_basis=D(10**7) / 100, gain=D(c) / 100, term=t,
                                 acquired=date(y - 2, 1, 1), purchased=date(y - 2, 1, 1), sold=date(y, 6, 1))
                     for i, (y, t, c) in enumerate(sales)]
            accounts.append((tax_status, year or this_year, figures, sales))
        cases[household.pk] = (status, opening, accounts)
    RealisedLot.objects.bulk_create(lots)

    # the plain reading: each taxable account's year is its figures where they are that year's (what
    # the estimates net), else its lots; netted per term with the loss carried in
    want, year_totals = {}, {}
    for pk, (_status, opening, accounts) in cases.items():
        limit = 300_000  # single or filing jointly
        carried = opening
        for year in (last_year, this_year):
            short = long = 0
            for tax_status, figures_year, figures, sales in accounts:
                if tax_status != "taxable":
                    continue
                if figures_year == year:
                    short, long = short + figures[0], long + figures[1]
                else:
                    short += sum(c for y, t, c in sales if (y, t) == (year, "short"))
                    long += sum(c for y, t, c in sales if (y, t) == (year, "long"))
            year_totals[(pk, year)] = (short, long)
            net_short, net_long = short - carried[0], long - carried[1]
            deducted, *carried = _plain_carryover(net_short, net_long, limit)
            want[(pk, year)] = (net_short + net_long, deducted, *carried)

    # when / then: every year's sheet, and the loss the estimates carry into next year
    households = Household.objects.filter(pk__in=list(cases))
    for year in (last_year, this_year):
        for row in schedules_d(households=households, year=year):
            s = row.sheet
            pk = Household.objects.get(external_id=row.household).pk
            got = tuple(int(v * 100) for v in (s.net, s.deduction, s.carried_out_short, s.carried_out_long))
            assert got == want[(pk, year)], (row.household, year, got, want[(pk, year)])
    carried = loss_carried_into(list(households), this_year + 1)
    for pk in cases:
        assert tuple(int(v * 100) for v in carried[(pk, "")]) == want[(pk, this_year)][2:]
    # this year's estimates net the same year's results on each return
    returns = tax_returns_of(list(households), this_year)
    for pk in cases:
        [account] = Account.objects.filter(household_id=pk, custodian_number__endswith="-0")
        [estimate] = returns[account.pk]
        assert (round(estimate.short_term_ytd * 100), round(estimate.long_term_ytd * 100)) == year_totals[(pk, this_year)]
    # the CSV writes the same sheets
    text = schedule_d_csv(schedules_d(households=households, year=this_year))
    assert len(text.splitlines()) == 41

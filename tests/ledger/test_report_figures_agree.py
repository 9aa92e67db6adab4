"""Figures the pages and reports show agree with each other and with how the IRS rounds: whole
dollars half up (Form 1040 instructions, "Rounding off to whole dollars"), the account's ledger page's
Form 8949 columns are the realised report's, and the harvest report's months add up to its year."""

import re
from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import realised_gains
from rebalancing.models import Account

from ..rebalancing.book import make_account
from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def _sold(account, lot_id, quantity, price, day, *, pm, external_id, symbol="VTI"):
    [order] = release(account, [sell(symbol, quantity, float(price), [(lot_id, quantity)])], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill(external_id, order, quantity, price, day)), actor="feed", as_of=AS_OF)


def test_the_account_ledger_page_shows_the_same_form_8949_code_as_the_report(firm_a, client_for, book, pm):
    """A lot whose basis a loss in the spouse's account raised (a cross-account wash sale, which the
    broker's 1099-B does not show: Treas. Reg. §1.6045-1(d)(6)(iii)) sold at a gain: the realised
    report's Form 8949 line has code B (column (f)); the account's ledger page, whose "Code" column
    the page says is Form 8949's, shows no code for the same sale."""
    from .helpers import buy

    a1 = book["account"]
    a2 = make_account("A-2", model=book["model"], household=a1.household,
                      holdings=[("ITOT", 10, 1200, date(2026, 3, 2))])
    _sold(a2, "A-2-L1", 10, "100", date(2026, 10, 1), pm=pm, external_id="S-1", symbol="ITOT")  # -200, washed
    [b] = release(a1, [buy("VTI", 10, 100.0)], pm=pm, as_of=date(2026, 10, 5))
    executions_import(source=execution_csv(fill("B-1", b, 10, "100", date(2026, 10, 5))), actor="f", as_of=AS_OF)
    lot_id = "B-1"
    _sold(a1, lot_id, 10, "130", date(2026, 11, 2), pm=pm, external_id="S-2")
    report = realised_gains(accounts=Account.objects.filter(pk=a1.pk), start=date(2026, 1, 1), end=date(2026, 12, 31))
    [row] = report.lots
    assert (row.code, row.form_8949_cost_basis, row.form_8949_adjustment, row.gain_or_loss) == (
        "B", D(1000), D(-200), D(100))
    page = client_for(firm_a, pm).get(f"/accounts/{a1.pk}/ledger/", {"year": "2026"}).content.decode()
    body = page[page.index('id="realised"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    codes = [c.split("</td>")[0] for c in body.split("<td>")[1:] if c.split("</td>")[0] in ("", "W", "B", "BW", "T")]
    assert "B" in codes, body
    # Columns (e) and (g) as the report's: the basis the 1099-B shows, and the correction.
    cells = re.sub(r">\s+<", "><", body)
    assert '<td class="num">$1,000.00</td><td>B</td><td class="num">\u2212$200.00</td>' in cells, cells


def test_whole_dollar_figures_round_half_up_as_the_irs_rounds(firm_a, client_for, book, pm):
    """Form 1040 instructions, "Rounding off to whole dollars": drop amounts under 50 cents and
    increase amounts from 50 to 99 cents to the next dollar ($2.50 becomes $3). The account and
    household pages show the year's realised gains in whole dollars (``money0``), which formats a
    Decimal with banker's rounding: 1,234.50 shows as $1,234 and -0.50 as $0, while 1,235.50 shows
    as $1,236."""
    from frontend.templatetags.formatting import money0

    filtered = [money0(D(v)) for v in ("2.50", "3.50", "1234.50", "-2.50")]
    a = book["account"]
    Account.objects.filter(pk=a.pk).update(realised_short_term_ytd=D("1234.50"), realised_long_term_ytd=D("-0.50"),
                                           realised_ytd_year=date.today().year)
    page = client_for(firm_a, pm).get(f"/accounts/{a.pk}/").content.decode()
    shown = page[page.index('data-testid="realised-ytd"'):]
    shown = shown[:shown.index("</div>")]
    assert (filtered, "short-term $1,235, long-term \u2212$1" in shown) == (["$3", "$4", "$1,235", "\u2212$3"], True), (
        filtered, shown)


def test_the_harvest_reports_months_add_up_to_its_year(book, pm):
    """The harvest report gives, per account, a row per month and a row per year; each row's tax value
    is rounded to the cent on its own (``cents(sum)``), so the months' rows do not add up to the year's
    row: two losses of 1.50 at 37% save 0.555 each - 0.56 + 0.56 = 1.12 in the months, 1.11 in the
    year. (Sum the rounded month values, or round each sale's value, so the rows agree.)"""
    from rebalancing.ledger.reports import harvest

    a = book["account"]
    for i, day in enumerate((date(2026, 10, 1), date(2026, 11, 2))):
        [o] = release(a, [sell("VTI", 1, 118.5, [("A-1-L2", 1)], reasons=("harvest",))], pm=pm, as_of=day)
        executions_import(source=execution_csv(fill(f"H-{i}", o, 1, "118.50", day)), actor="f", as_of=AS_OF)
    rows = {r.period: r for r in harvest(accounts=Account.objects.all(), start=date(2026, 1, 1), end=date(2026, 12, 31))}
    assert (rows["2026-10"].harvested, rows["2026-11"].harvested, rows["2026"].harvested) == (D("1.5"), D("1.5"), D(3))
    assert rows["2026-10"].tax_value + rows["2026-11"].tax_value == rows["2026"].tax_value, (
        rows["2026-10"].tax_value, rows["2026-11"].tax_value, rows["2026"].tax_value)

"""Money figures of the account, household and report pages (a browser QA round): one unpriced
holding does not empty an account's holdings, and the gains realised so far this tax year are shown
where estimates are read and counted where the reports budget or list the year's sales."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from rebalancing.ledger.executions import executions_import
from rebalancing.models import Account, Security, TaxLot
from tests.ledger.helpers import execution_csv, fill, release, sell
from tests.rebalancing.book import AS_OF, make_account

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def _unpriced(account) -> None:
    """ZZTEST imported without a price, and 10 shares of it in ``account``."""
    zz = Security.objects.create(symbol="ZZTEST", name="ZZ Test Corp", asset_class="us_large_cap")
    TaxLot.objects.create(account=account, lot_id=f"{account.custodian_number}-ZZ", security=zz,
                          quantity=Decimal(10), cost_basis=Decimal(1000), acquired=date(2025, 1, 2))


def _ytd(account, short, long, year=None) -> None:
    Account.objects.filter(pk=account.pk).update(
        realised_short_term_ytd=Decimal(short), realised_long_term_ytd=Decimal(long),
        realised_ytd_year=timezone.localdate().year if year is None else year)


# --- One unpriced holding ------------------------------------------------------------------------

def test_an_unpriced_holding_is_listed_and_flagged_and_the_rest_valued(book, as_user):
    # Given F-000 (VTI 300 x 100, XLE 120 x 90, BND 150 x 80, VNQ 40 x 90, cash 2,000; a proposal)
    # and 10 shares of a security with no price
    account = book["mine"][0]
    priced = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    assert "<dd>$58,400</dd>" in priced and "no price: not valued" not in priced
    assert 'data-chart="chart-drift"' in priced and "Tax lots <span class=\"muted\">(4)</span>" in priced
    _unpriced(account)
    # When its page is shown
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    # Then the priced holdings are valued (58,400 with the cash), the unpriced one listed and flagged
    assert "cannot be rebalanced right now" in page  # the engine's refusal is still said
    assert "No holdings to show." not in page and "all cash" not in page
    assert "<dd>$58,400<br>" in page and "excludes ZZTEST (no price: not valued)" in page
    assert 'data-testid="unpriced-position">no price: not valued' in page and "ZZ Test Corp" in page
    assert "VTI <span" in page and "$30,000" in page  # VTI's value
    # ...and every lot is listed: 4 priced, 1 not valued
    assert "Tax lots <span class=\"muted\">(5)</span>" in page
    assert 'data-testid="unpriced-lots">1 lot of ZZTEST has no price' in page
    assert f"{account.custodian_number}-ZZ" in page


def test_without_a_proposal_an_unpriced_holding_shows_values_and_no_made_up_targets(book, as_user):
    # Given an account with no proposal (the engine's targets unknown) holding an unpriced security
    account = make_account("F-NEW", model=book["model"], template=book["template"], cash="500",
                           holdings=[("VTI", 10, 800, date(2020, 1, 2))])
    _unpriced(account)
    page = text(as_user("admin").get(f"/accounts/{account.pk}/"))
    # Then VTI's 1,000 and the cash are valued, targets and drift are not invented
    assert "<dd>$1,500<br>" in page and "excludes ZZTEST" in page
    assert "No targets: they come from the engine's inputs" in page
    assert 'data-chart="chart-drift"' not in page
    assert "Tax lots <span class=\"muted\">(2)</span>" in page


# --- Realised so far this year ---------------------------------------------------------------------

def test_the_account_page_shows_this_years_realised_gains(book, as_user):
    account = book["mine"][0]
    _ytd(account, "975.45", "32848.19")
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    year = timezone.localdate().year
    assert f"Realised this year ({year})</dt><dd>short-term $975, long-term $32,848</dd>" in page


def test_last_years_realised_figures_are_not_this_years(book, as_user):
    account = book["mine"][0]
    _ytd(account, "975.45", "32848.19", year=timezone.localdate().year - 1)
    page = text(as_user("advisor").get(f"/accounts/{account.pk}/"))
    assert "short-term $0, long-term $0" in page and "$32,848" not in page


def test_the_household_page_totals_its_taxable_accounts_realised_gains(book, as_user):
    # Given F-000's household with a second taxable account and an IRA, each with figures this year
    account = book["mine"][0]
    second = make_account("F-000-B", model=book["model"], household=account.household)
    ira = make_account("F-000-IRA", model=book["model"], household=account.household)
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional", taxable=False)
    _ytd(account, "975.45", "32848.19")
    _ytd(second, "-500", "1000")
    _ytd(ira, "9999", "9999")
    last_year = make_account("F-000-C", model=book["model"], household=account.household)
    _ytd(last_year, "7777", "7777", year=timezone.localdate().year - 1)
    page = text(as_user("advisor").get(f"/households/{account.household_id}/"))
    # Then the total is the taxable accounts' of this year only (the IRA's sales are not taxed)
    assert "short-term $475, long-term $33,848" in page


# --- The transition report -----------------------------------------------------------------------

def test_the_transition_path_counts_the_gains_realised_so_far_this_year(book, as_user):
    # Given F-000 in a transition with a 10,000 yearly budget, 6,170 realised this year, and a
    # legacy ITOT holding (500 x 50 = 25,000 for a cost of 5,000: a 20,000 gain)
    account = book["mine"][0]
    itot = book["securities"]["ITOT"]
    TaxLot.objects.create(account=account, lot_id="F-000-LEGACY", security=itot, quantity=Decimal(500),
                          cost_basis=Decimal(5000), acquired=date(2015, 1, 2))
    Account.objects.filter(pk=account.pk).update(
        overrides={"transition": {"enabled": True, "max_net_gain_per_year": 10000}})
    _ytd(account, "1170", "5000", year=AS_OF.year)
    page = text(as_user("admin").get(f"/reports/transition/?as_of={AS_OF}"))
    # Then this year has 3,830 of the budget left, as the engine's cap (budget - realised so far)
    assert "2026: realise $3,830" in page and "2027: realise $10,000" in page and "2028: realise $6,170" in page
    assert "$6,170 realised so far in 2026, counted" in page


# --- The realised gains report -------------------------------------------------------------------

def _sell_vti(account, pm) -> None:
    """50 VTI of lot L1 (cost 60 a share) sold at 100 on 2026-10-20: a 2,000 long-term gain."""
    [order] = release(account, [sell("VTI", 50, 100.0, [(f"{account.custodian_number}-L1", 50)])], pm=pm,
                      as_of=date(2026, 10, 20))
    executions_import(source=execution_csv(fill(f"S-{account.pk}", order, 50, "100", date(2026, 10, 20))),
                      actor="test", as_of=AS_OF)


def test_the_realised_report_names_year_to_date_gains_no_lot_holds(book, people, as_user):
    year = timezone.localdate().year
    booked, imported, matching, old = book["mine"][0], book["mine"][1], book["theirs"][0], book["theirs"][1]
    # Given F-000: 1,000 long-term imported, then a 2,000 long-term sale booked (its YTD 3,000);
    # F-001: only imported figures; F-002: a booked sale alone; F-003: last year's figures
    _ytd(booked, "0", "1000", year=year)
    _sell_vti(booked, people["pm"])
    _ytd(imported, "975.45", "32848.19", year=year)
    _sell_vti(matching, people["pm"])
    _ytd(old, "500", "500", year=year - 1)
    booked.refresh_from_db()
    assert booked.realised_long_term_ytd == Decimal("3000.00")  # the ledger added its sale
    page = text(as_user("admin").get(f"/reports/realised/?year={year}"))
    # Then each account whose figures differ from its lots is named with what is missing
    assert 'data-testid="ytd-apart"' in page
    assert (f"F-001: the custodian reports $975.45 short-term and $32,848.19 long-term realised in {year}; "
            "the ledger's lots of the year come to $0.00 short-term and $0.00 long-term: the rest - $975.45 "
            "short-term, $32,848.19 long-term, gains or losses - was realised in sales before the ledger: not among "
            "the lots below, netted on Schedule D's line for it") in page
    assert (f"F-000: the custodian reports $0.00 short-term and $3,000.00 long-term realised in {year}; "
            "the ledger's lots of the year come to $0.00 short-term and $2,000.00 long-term: the rest - $0.00 "
            "short-term, $1,000.00 long-term") in page
    assert 'data-account="F-002"' not in page and 'data-account="F-003"' not in page
    assert "do not match" not in page
    # ...and last year's report compares last year's figures only (F-003's), never this year's
    earlier = text(as_user("admin").get(f"/reports/realised/?year={year - 1}"))
    assert (f"F-003: the custodian reports $500.00 short-term and $500.00 long-term realised in {year - 1}"
            in earlier)
    assert 'data-account="F-000"' not in earlier and 'data-account="F-001"' not in earlier


def test_an_advisor_sees_only_their_accounts_year_to_date_notes(book, as_user):
    year = timezone.localdate().year
    _ytd(book["mine"][1], "975.45", "0", year=year)
    _ytd(book["theirs"][0], "123.45", "0", year=year)
    page = text(as_user("advisor").get(f"/reports/realised/?year={year}"))
    assert 'data-account="F-001"' in page and 'data-account="F-002"' not in page


def test_the_accounts_list_and_household_page_name_an_unpriced_holding_instead_of_valuing_it_at_0(book, as_user):
    account = book["mine"][0]
    _unpriced(account)

    listed = text(as_user("advisor").get("/accounts/", {"q": account.custodian_number}))
    household = text(as_user("advisor").get(f"/households/{account.household_id}/"))

    assert '<td class="num">$58,400<br><span class="badge warn" data-testid="unpriced"' in listed
    assert "without ZZTEST" in listed
    assert 'data-testid="household-unpriced">excludes ZZTEST (no price: not valued)' in household


def test_losses_realised_before_the_ledger_are_named_as_such_not_as_bad_figures(book, people, as_user):
    year = timezone.localdate().year
    _ytd(book["mine"][1], "-3426", "150", year=year)

    page = text(as_user("admin").get(f"/reports/realised/?year={year}"))

    assert (f"F-001: the custodian reports −$3,426.00 short-term and $150.00 long-term realised in {year}; the "
            "ledger's lots of the year come to $0.00 short-term and $0.00 long-term: the rest - −$3,426.00 "
            "short-term, $150.00 long-term, gains or losses - was realised in sales before the ledger") in page

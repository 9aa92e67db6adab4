"""A year's realised figures outlive the year: when the first fill (or accounts file) of a new year
replaces them, the account keeps them (``Account.realised_past_years``), so that year's Schedule D -
which nets what was realised before the ledger's records (``before_ledger_*``) - and the loss it
carries into the new year stay what they were; a correction of the old year's sale booked after the
new year began goes onto the kept figures too."""

from datetime import date
from decimal import Decimal as D

import pytest

from rebalancing.imports import accounts_import
from rebalancing.ledger.carryover import loss_carried_into
from rebalancing.ledger.executions import executions_import
from rebalancing.ledger.reports import schedules_d
from rebalancing.models import Account, Household

from .helpers import execution_csv, fill, release, sell
from .test_schedule_d_before_ledger import _custodian_figures

pytestmark = pytest.mark.django_db


def _sheet(household, year: int):
    [row] = schedules_d(households=Household.objects.filter(pk=household.pk), year=year)
    return row.sheet


def _booked(account, quantity: int, day: date, *, pm, external_id: str) -> None:
    """The ledger books ``quantity`` VTI of A-1-L1 (basis 80.00 a share, 2020) sold at 100.00."""
    [order] = release(account, [sell("VTI", quantity, 100.0, [("A-1-L1", quantity)])], pm=pm, as_of=day)
    executions_import(source=execution_csv(fill(external_id, order, quantity, "100", day)), actor="custodian feed",
                      as_of=date(2026, 11, 20))


def test_the_first_fill_of_a_new_year_keeps_last_years_figures_and_their_carryover(book, pm):
    # given 2025: -5,000 short-term before the ledger (the custodian's figure), +1,000 long-term booked
    account = book["account"]
    household = account.household
    _custodian_figures(account, 2025, short="-5000")
    _booked(account, 50, date(2025, 10, 1), pm=pm, external_id="S-2025")
    before = (_sheet(household, 2025), loss_carried_into([household], 2026))
    assert (before[0].before_ledger_short, before[0].carried_out_short) == (D(-5000), D(1000)), before[0]
    # when the first fill of 2026 is booked (+200 long-term)
    _booked(account, 10, date(2026, 1, 5), pm=pm, external_id="S-2026")
    # then 2025's figures are kept, and its Schedule D and carryover are what they were
    account.refresh_from_db()
    assert account.realised_ytd(2026) == (0, D(200))
    assert account.realised_past_years == {"2025": ["-5000.00", "1000.00"]}
    assert (_sheet(household, 2025), loss_carried_into([household], 2026)) == before
    assert _sheet(household, 2026).carried_in_short == D(1000)


def test_a_correction_of_last_years_sale_booked_in_the_new_year_goes_onto_its_kept_figures(book):
    account = book["account"]
    _custodian_figures(account, 2027, short="10")
    Account.objects.filter(pk=account.pk).update(realised_past_years={"2026": ["-5000.00", "1000.00"]})

    Account.objects.filter(pk=account.pk).realised_add({(account.pk, 2026): {"short": D("-12.50"), "long": D("0.25")},
                                                        (account.pk, 2025): {"short": D(7), "long": D(0)}}, year=2027)

    account.refresh_from_db()
    assert account.realised_ytd(2027) == (D(10), 0)
    assert {y: (D(s), D(lt)) for y, (s, lt) in account.realised_past_years.items()} == {
        "2026": (D("-5012.50"), D("1000.25"))}  # 2025 has no figures kept: nothing to add it to


def test_an_accounts_file_of_a_new_year_keeps_the_years_it_replaces(book):
    account = book["account"]
    _custodian_figures(account, 2026, short="-5000", long="1000")
    header = b"account_number,account_name,household_id,household_name,realised_short_term_ytd\n"
    # (the file gives the new year's short-term figure only: its long-term one is the new year's too, 0)
    row = f"{account.custodian_number},{account.name},{account.household.external_id},{account.household.name},"

    accounts_import(source=header + (row + "300\n").encode(), as_of=date(2027, 2, 1))
    accounts_import(source=header + (row + "450\n").encode(), as_of=date(2027, 3, 1))  # the same year again

    account.refresh_from_db()
    assert (account.realised_ytd_year, account.realised_short_term_ytd) == (2027, D(450))
    assert account.realised_past_years == {"2026": ["-5000.00", "1000.00"]}
    assert account.realised_by_year(2027) == {2026: (D(-5000), D(1000)), 2027: (D(450), D(0))}


def test_a_fill_of_last_year_booked_this_year_is_added_to_last_years_figures_not_cancelled(book, pm):
    """A fill of 1 October 2025 booked in 2026 (the file came late): before, only fills of the
    book's year grew the figures, so Schedule D's line before the ledger (figures less the ledger's
    sales) took the sale back out - a 1,000 gain reported as none."""
    account = book["account"]
    household = account.household
    _custodian_figures(account, 2025, short="-5000")

    _booked(account, 50, date(2025, 10, 1), pm=pm, external_id="S-LATE")  # read on 2026-11-20

    account.refresh_from_db()
    assert account.realised_by_year(2026) == {2025: (D(-5000), D(1000))}
    sheet = _sheet(household, 2025)
    assert (sheet.long_term, sheet.before_ledger_long, sheet.net_long, sheet.before_ledger_short) == (
        D(1000), 0, D(1000), D(-5000))

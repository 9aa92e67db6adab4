"""The accounts file carries whose return each account is on (``spouse``) and its household's
returns (filing status, the opening carryover, each spouse's when married filing separately);
what makes no sense is refused naming the row and nothing is written."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from rebalancing.imports import ImportRejected, accounts_import
from rebalancing.models import Account, Household

from .test_csv_import import fixture_book_import, problems_of

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 26)
FIXTURES = Path(__file__).parent / "fixtures" / "csv"


@pytest.fixture
def book(firm_a):
    """A-100 (Smith Joint, taxable) and A-101 (Smith IRA) in H-1; A-200 (Trust) in H-2."""
    with schema_context(firm_a.schema_name):
        fixture_book_import()
        yield firm_a


def test_the_file_sets_whose_each_account_is_and_each_spouses_carryover(book):
    summary = accounts_import(source=(
        b"account_number,account_name,household_id,spouse,filing_status,carryforward_year,carryforward_short_term,"
        b"carryforward_long_term,carryforward_second_short_term,carryforward_second_long_term\n"
        b"A-100,Smith Joint,H-1,joint,married_separate,2026,\"4,000\",0,1250.50,300\n"
        b"A-101,Smith IRA,H-1,Second spouse,,,,,,\n"), as_of=AS_OF)

    assert dict(Account.objects.filter(household__external_id="H-1").values_list("custodian_number", "spouse")) == {
        "A-100": "joint", "A-101": "second"}
    h = Household.objects.get(external_id="H-1")
    assert (h.filing_status, h.carryforward_year, h.carryforward_short_term, h.carryforward_long_term,
            h.carryforward_second_short_term, h.carryforward_second_long_term) == (
        "married_separate", 2026, Decimal(4000), 0, Decimal("1250.50"), Decimal(300))
    assert "households: 1 with new tax returns (filing status, carryover)" in summary.notes
    # A file without the columns keeps them; an empty cell keeps what is stored.
    accounts_import(source=b"account_number,account_name,household_id,spouse\nA-100,Smith Joint,H-1,\n", as_of=AS_OF)
    assert Account.objects.get(custodian_number="A-100").spouse == "joint"
    assert Household.objects.get(external_id="H-1").filing_status == "married_separate"


def test_the_file_says_whose_return_a_single_year_after_married_ones_is(book):
    accounts_import(source=(b"account_number,account_name,household_id,filing_status,sole_filer\n"
                            b"A-100,Smith Joint,H-1,single,Second spouse\n"), as_of=AS_OF)
    assert Household.objects.get(external_id="H-1").sole_filer == "second"
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=b"account_number,account_name,household_id,sole_filer\nA-100,Smith Joint,H-1,both\n",
                        as_of=AS_OF)
    assert problems_of(excinfo) == [(2, "sole_filer", "'both' is not whose return a single or head-of-household year "
                                                      "after married years is; write first or second")]
    assert Household.objects.get(external_id="H-1").sole_filer == "second"


def test_the_file_sets_a_filing_status_from_a_year_and_a_new_households_for_every_year(book):
    summary = accounts_import(source=(
        b"account_number,account_name,household_id,filing_status,filing_status_from\n"
        b"A-100,Smith Joint,H-1,married_separate,2024\n"
        b"A-900,New,H-9,single,\n"), as_of=AS_OF)
    h1, h9 = Household.objects.get(external_id="H-1"), Household.objects.get(external_id="H-9")
    assert (h1.filing_status, h1.past_statuses) == ("married_separate", ((2023, "married_joint"),))
    assert (h9.filing_status, h9.past_statuses) == ("single", ())  # new: the status of every year
    assert "households: 2 with new tax returns (filing status, carryover)" in summary.notes
    # the same again changes nothing; without a year an existing household's status is from as_of's year
    assert not any("tax returns" in n for n in accounts_import(source=(
        b"account_number,account_name,household_id,filing_status,filing_status_from\n"
        b"A-100,Smith Joint,H-1,married_separate,2024\n"), as_of=AS_OF).notes)
    accounts_import(source=b"account_number,account_name,household_id,filing_status\nA-900,New,H-9,married_joint\n",
                    as_of=AS_OF)
    assert Household.objects.get(external_id="H-9").past_statuses == ((2025, "single"),)
    # a year without a status, or out of range, is refused naming the row; nothing is written
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=(b"account_number,account_name,household_id,filing_status,filing_status_from\n"
                                b"A-100,Smith Joint,H-1,,2025\nA-200,Trust,H-2,single,2027\n"), as_of=AS_OF)
    assert problems_of(excinfo) == [
        (2, "filing_status", "is empty: say the filing status that applies from 2025"),
        (3, "filing_status_from", "'2027' is not a year from 1900 to 2026")]
    assert Household.objects.get(external_id="H-2").filing_status == "married_joint"


def test_a_file_that_changes_the_returns_restates_the_open_proposals_estimates(book):
    from .workflow import make_proposal

    # A-100's pending proposal realises 10,000 short-term, estimated at its 37%: 3,700
    account = Account.objects.get(custodian_number="A-100")
    proposal = make_proposal(account, status="pending_approval", estimated_tax="3700")
    proposal.result = {"trades": [], "summary": {"realised_short_term_gain": 10_000, "realised_short_term_loss": 0,
                                                 "realised_long_term_gain": 0, "realised_long_term_loss": 0,
                                                 "estimated_tax": 3700.0}}
    proposal.save(update_fields=["result"])
    # a file without tax columns restates nothing; one that sets the return's rate to 45% does
    accounts_import(source=b"account_number,account_name,household_id\nA-100,Smith Joint,H-1\n", as_of=AS_OF)
    proposal.refresh_from_db()
    assert proposal.estimated_tax == Decimal(3700) and "tax_restated" not in proposal.result
    accounts_import(source=b"account_number,account_name,household_id,short_term_rate\nA-100,Smith Joint,H-1,0.45\n",
                    as_of=AS_OF)
    proposal.refresh_from_db()
    assert proposal.estimated_tax == Decimal(4500)
    assert proposal.result["tax_restated"][0]["because"] == "the accounts file changed the household's tax returns"


def test_what_makes_no_sense_is_refused_naming_the_row_and_nothing_changes(book):
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=(
            b"account_number,account_name,household_id,spouse,filing_status,carryforward_year,"
            b"carryforward_short_term,carryforward_second_short_term\n"
            b"A-100,Smith Joint,H-1,both,married_separate,2026,-5,\n"
            b"A-101,Smith IRA,H-1,joint,married_joint,,,\n"
            b"A-200,Trust,H-2,first,married_joint,,100,50\n"
            b"A-300,New,H-3,first,married,2027,,\n"), as_of=AS_OF)

    assert problems_of(excinfo) == [
        (2, "spouse", "'both' is not whose the account is; write first, second or joint"),
        (2, "carryforward_short_term", "-5 must not be negative"),
        (3, "filing_status", "H-1 has the filing_status 'married_separate' in row 2"),
        (3, "spouse", "an IRA or Roth IRA cannot be joint: an individual retirement account is one person's "
                      "(IRC §408(a)); mark it the first or the second spouse's"),
        (4, "carryforward_year", "Say the year the opening loss is carried into (the year before it is the last "
                                 "year of the returns it comes from)."),
        (5, "filing_status", "'married' is not a filing status; write single, married_joint, married_separate, "
                             "head_of_household"),
        (5, "carryforward_year", "'2027' is not a year from 1900 to 2026"),
    ]
    assert set(Account.objects.values_list("spouse", flat=True)) == {"first"}
    assert set(Household.objects.values_list("filing_status", flat=True)) == {"married_joint"}
    assert not Household.objects.filter(external_id="H-3").exists()


def test_an_ira_turned_joint_or_a_joint_account_turned_ira_is_refused(book):
    accounts_import(source=b"account_number,account_name,household_id,spouse\nA-100,Smith Joint,H-1,joint\n",
                    as_of=AS_OF)
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=b"account_number,account_name,household_id,tax_status\nA-100,Smith Joint,H-1,roth\n",
                        as_of=AS_OF)
    [(row, column, problem)] = problems_of(excinfo)
    assert (row, column) == (2, "tax_status") and problem.startswith("an IRA or Roth IRA cannot be joint")
    assert problem.endswith("(it is marked joint)")
    assert Account.objects.get(custodian_number="A-100").tax_status == "taxable"


def test_a_second_spouses_carryover_into_a_single_year_is_refused(book):
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=(b"account_number,account_name,household_id,filing_status,carryforward_year,"
                                b"carryforward_second_long_term\nA-200,Trust,H-2,single,2026,10\n"), as_of=AS_OF)
    [(row, column, problem)] = problems_of(excinfo)
    assert (row, column) == (2, "carryforward_second_short_term")
    assert problem.startswith("A second spouse's own carryover is for a year filed as a married couple")
    assert "files single in 2026" in problem

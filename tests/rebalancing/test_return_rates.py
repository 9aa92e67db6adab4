"""A tax return is one taxpayer's, taxed at one set of marginal rates: set per return
(``services.tax_returns``: the household page, the API) and written to every taxable account on it;
the accounts file may not leave one return's accounts at different rates."""

import random
import re
from datetime import date
from decimal import Decimal as D

import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from rebalancing.imports import ImportRejected, accounts_import
from rebalancing.models import Account, Household
from rebalancing.services.tax_returns import household_tax_set
from tenants.audit.models import AuditEvent
from tenants.errors import ValidationFailed
from tenants.roles import FirmRole

from .book import make_account, make_model, make_securities

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 26)


@pytest.fixture
def pm(firm_a, firm_user):
    return firm_user(firm_a, "pm@rates.example", FirmRole.PORTFOLIO_MANAGER)


@pytest.fixture
def ngs(firm_a):
    """The Ngs: two taxable accounts at different rates (as an old accounts file left them), an IRA."""
    with schema_context(firm_a.schema_name):
        make_securities()
        model = make_model()
        household = Household.objects.create(name="Ng family", external_id="HH-NG")
        accounts = {n: make_account(n, model=model, household=household) for n in ("NG-1", "NG-2", "NG-IRA")}
        Account.objects.filter(pk=accounts["NG-2"].pk).update(short_term_rate=D("0.35"), long_term_rate=D("0.15"))
        Account.objects.filter(pk=accounts["NG-IRA"].pk).update(tax_status="traditional", short_term_rate=D("0.1"),
                                                                long_term_rate=D("0.1"))
        yield household


def rates() -> dict[str, tuple]:
    return {n: (st, lt) for n, st, lt in Account.objects.values_list("custodian_number", "short_term_rate",
                                                                      "long_term_rate")}


def test_the_returns_rates_go_on_every_taxable_account_on_it(ngs, pm):
    household_tax_set(user=pm, household=ngs, facts={"short_term_rate": "0.408", "long_term_rate": D("0.238")})

    assert rates() == {"NG-1": (D("0.408"), D("0.238")), "NG-2": (D("0.408"), D("0.238")),
                       "NG-IRA": (D("0.1"), D("0.1"))}  # an IRA's sales go on no return
    event = AuditEvent.objects.get(action="household.tax", object_id=str(ngs.pk))
    assert event.before["rates"] == {"NG-1": "0.3700 / 0.2000", "NG-2": "0.3500 / 0.1500"}
    assert event.after["rates"] == {"NG-1": "0.4080 / 0.2380", "NG-2": "0.4080 / 0.2380"}


def test_filing_separately_each_spouse_has_their_own_and_a_joint_account_needs_them_equal(ngs, pm):
    Account.objects.filter(custodian_number="NG-2").update(spouse="second")
    household_tax_set(user=pm, household=ngs, facts={
        "filing_status": "married_separate", "short_term_rate": "0.37", "long_term_rate": "0.20",
        "second_short_term_rate": "0.24", "second_long_term_rate": "0.15"})
    assert rates()["NG-1"] == (D("0.37"), D("0.2")) and rates()["NG-2"] == (D("0.24"), D("0.15"))

    before = rates()
    joint = Account.objects.get(custodian_number="NG-1")
    with pytest.raises(ValidationFailed, match="Account NG-1 is joint: half its sales go on each spouse's return"):
        household_tax_set(user=pm, household=ngs, facts={"short_term_rate": "0.37", "second_short_term_rate": "0.24"},
                          spouses={joint.pk: "joint"})
    assert rates() == before and Account.objects.get(custodian_number="NG-1").spouse == "first"


@pytest.mark.parametrize("facts, says", [
    ({"second_short_term_rate": "0.3"}, "A second spouse's rates are for a household filing separately"),
    ({"short_term_rate": "1.2"}, "The return's short-term rate is a fraction from 0 to 1 (0.408 for 40.8%), not 1.2"),
    ({"long_term_rate": "twenty"}, "The return's long-term rate must be a number from 0 to 1, not 'twenty'"),
    ({"long_term_rate": "0.23805"}, "has more than four decimal places"),
    ({"short_term_rate": "NaN"}, "is a fraction from 0 to 1"),
])
def test_rates_that_make_no_sense_are_refused_and_nothing_changes(ngs, pm, facts, says):
    before = rates()
    with pytest.raises(ValidationFailed, match=re.escape(says)):
        household_tax_set(user=pm, household=ngs, facts=facts)
    assert rates() == before


def test_a_change_of_who_files_what_may_not_leave_a_return_at_two_rates(ngs, pm):
    household_tax_set(user=pm, household=ngs, facts={"short_term_rate": "0.37", "long_term_rate": "0.2"})
    household_tax_set(user=pm, household=ngs, facts={"filing_status": "married_separate"})  # both on the first's
    Account.objects.filter(custodian_number="NG-2").update(short_term_rate=D("0.24"))  # an old file's doing
    second = Account.objects.get(custodian_number="NG-2")
    household_tax_set(user=pm, household=ngs, spouses={second.pk: "second"})  # now each return agrees
    with pytest.raises(ValidationFailed, match="This change would leave one return's accounts at different rates"):
        household_tax_set(user=pm, household=ngs, facts={"filing_status": "married_joint"})
    assert Household.objects.get(pk=ngs.pk).filing_status == "married_separate"
    # Giving the one return's rates with the change is the way through.
    household_tax_set(user=pm, household=ngs, facts={"filing_status": "married_joint", "short_term_rate": "0.37"})
    assert {rates()["NG-1"], rates()["NG-2"]} == {(D("0.37"), D("0.2"))}


def test_a_household_already_at_two_rates_keeps_its_carryover_edits(ngs, pm):
    household_tax_set(user=pm, household=ngs, facts={"carryforward_year": 2026, "carryforward_short_term": "100"})
    assert Household.objects.get(pk=ngs.pk).carryforward_short_term == 100  # flagged on its page, not blocked


def _on_return(account: dict, spouse: str, separately: bool) -> bool:
    """Deliberately plain: taxable accounts only; filing separately, a spouse's own and the joint ones."""
    if account["status"] != "taxable":
        return False
    return not separately or account["spouse"] in (spouse, "joint")


def test_random_households_end_with_each_return_at_the_rates_given_or_are_refused_untouched(firm_a, pm):
    rng = random.Random(20261205)
    with schema_context(firm_a.schema_name):
        make_securities()
        model = make_model()
        for case in range(40):
            household = Household.objects.create(name=f"H{case}", external_id=f"HR-{case}",
                                                 filing_status=rng.choice(["married_joint", "married_separate"]))
            plain = {}
            for n in range(rng.randint(1, 4)):
                status = rng.choice(["taxable", "taxable", "traditional", "roth"])
                spouse = rng.choice(["first", "second"] + (["joint"] if status == "taxable" else []))
                number = f"R{case}-{n}"
                account = make_account(number, model=model, household=household)
                st = D(rng.choice(["0.37", "0.35", "0.24"]))
                Account.objects.filter(pk=account.pk).update(tax_status=status, spouse=spouse, short_term_rate=st,
                                                             long_term_rate=D("0.2"))
                plain[number] = {"status": status, "spouse": spouse, "rates": (st, D("0.2"))}
            facts = {}
            for field in ("short_term_rate", "long_term_rate", "second_short_term_rate", "second_long_term_rate"):
                if rng.random() < 0.6:
                    facts[field] = rng.choice(["0.408", "0.37", "0.238"])
            separately = household.filing_status == "married_separate"
            before = rates()
            planned = _planned(plain, facts, separately)
            try:
                with transaction.atomic():
                    household_tax_set(user=pm, household=household, facts=dict(facts))
            except ValidationFailed:
                assert rates() == before
                # Refused only for a reason the rule names: a second spouse's rates on one return,
                # a joint account given two rates, or a return left at two rates.
                second_on_one = not separately and any(f.startswith("second_") for f in facts)
                joint_torn = separately and any(
                    a["status"] == "taxable" and a["spouse"] == "joint" and facts.get(f"{leg}_term_rate")
                    and facts.get(f"second_{leg}_term_rate")
                    and D(facts[f"{leg}_term_rate"]) != D(facts[f"second_{leg}_term_rate"])
                    for a in plain.values() for leg in ("short", "long"))
                assert second_on_one or joint_torn or _apart(plain, planned, separately), (case, facts, plain)
                continue
            assert not (not separately and any(f.startswith("second_") for f in facts))
            assert rates() == {**before, **planned}, (case, facts, plain)
            if facts:
                assert not _apart(plain, planned, separately), (case, facts, plain)


_LEGS = ("short", "long")


def _returns(separately: bool):
    return (("first", ""), ("second", "second_")) if separately else (("first", ""),)


def _planned(plain: dict, facts: dict, separately: bool) -> dict:
    """Each account's rates after the facts: a taxable account takes the rates given for any return
    it is on (an IRA or Roth none); the rest stay."""
    out = {}
    for number, a in plain.items():
        r = list(a["rates"])
        for spouse, prefix in _returns(separately):
            if _on_return(a, spouse, separately):
                for i, leg in enumerate(_LEGS):
                    if facts.get(f"{prefix}{leg}_term_rate"):
                        r[i] = D(facts[f"{prefix}{leg}_term_rate"])
        out[number] = tuple(r)
    return out


def _apart(plain: dict, planned: dict, separately: bool) -> bool:
    """Would a return's taxable accounts carry two rates?"""
    return any(len({planned[n] for n, a in plain.items() if _on_return(a, spouse, separately)}) > 1
               for spouse, _ in _returns(separately))


# --- the accounts file ---------------------------------------------------------------------------

def test_the_accounts_file_may_not_set_two_rates_on_one_return(ngs):
    before = rates()
    with pytest.raises(ImportRejected) as excinfo:
        accounts_import(source=b"account_number,account_name,household_id,short_term_rate,long_term_rate\n"
                               b"NG-1,Ng one,HH-NG,0.408,0.238\n", as_of=AS_OF)
    [problem] = excinfo.value.detail["problems"]
    assert (problem["row"], problem["column"]) == (2, "short_term_rate")
    assert problem["problem"].startswith("household HH-NG: On the household's return the accounts carry different "
                                         "tax rates (short-term / long-term: NG-1 40.8% / 23.8%, NG-2 35.0% / 15.0%)")
    assert rates() == before

    # Every account of the return at the same rates: accepted.
    accounts_import(source=b"account_number,account_name,household_id,short_term_rate,long_term_rate\n"
                           b"NG-1,Ng one,HH-NG,0.408,0.238\nNG-2,Ng two,HH-NG,0.408,0.238\n", as_of=AS_OF)
    assert rates()["NG-1"] == rates()["NG-2"] == (D("0.408"), D("0.238"))


def test_the_accounts_file_gives_each_spouse_filing_separately_their_own_rates(ngs):
    accounts_import(source=b"account_number,account_name,household_id,spouse,filing_status,short_term_rate,"
                           b"long_term_rate\n"
                           b"NG-1,Ng one,HH-NG,first,married_separate,0.37,0.2\n"
                           b"NG-2,Ng two,HH-NG,second,married_separate,0.24,0.15\n", as_of=AS_OF)
    assert rates()["NG-1"] == (D("0.37"), D("0.2")) and rates()["NG-2"] == (D("0.24"), D("0.15"))
    # Moved onto the first spouse's return at the second's rates: refused.
    with pytest.raises(ImportRejected, match="the first spouse's return the accounts carry different tax rates"):
        accounts_import(source=b"account_number,account_name,household_id,spouse,short_term_rate\n"
                               b"NG-2,Ng two,HH-NG,first,0.24\n", as_of=AS_OF)


def test_an_account_joining_a_return_takes_its_rates(ngs, pm, firm_a):
    household_tax_set(user=pm, household=ngs, facts={"short_term_rate": "0.408", "long_term_rate": "0.238"})
    # A new account from the file, without rates: the return's, said in the summary.
    summary = accounts_import(source=b"account_number,account_name,household_id\nNG-3,Ng three,HH-NG\n", as_of=AS_OF)
    assert rates()["NG-3"] == (D("0.408"), D("0.238"))
    assert "accounts: 1 joining a tax return at its rates (NG-3)" in summary.notes
    # With rates of its own that differ: refused, as any file leaving a return at two rates.
    with pytest.raises(ImportRejected, match="different tax rates"):
        accounts_import(source=b"account_number,account_name,household_id,short_term_rate\nNG-4,Ng four,HH-NG,0.3\n",
                        as_of=AS_OF)
    # Moved in on the household page: the same.
    from rebalancing.services.households import household_account_move

    stranger = make_account("OT-1", model=None)
    Account.objects.filter(pk=stranger.pk).update(short_term_rate=D("0.24"), long_term_rate=D("0.15"))
    household_account_move(user=pm, account=Account.objects.get(pk=stranger.pk), household=ngs)
    assert rates()["OT-1"] == (D("0.408"), D("0.238"))
    event = AuditEvent.objects.filter(action="household.members").latest("pk")
    assert (event.before["rates"], event.after["rates"]) == ("0.2400 / 0.1500", "0.4080 / 0.2380")
    # An IRA keeps its own (its sales go on no return).
    ira = make_account("OT-IRA", model=None)
    Account.objects.filter(pk=ira.pk).update(tax_status="traditional", short_term_rate=D("0.1"))
    household_account_move(user=pm, account=Account.objects.get(pk=ira.pk), household=ngs)
    assert rates()["OT-IRA"][0] == D("0.1")

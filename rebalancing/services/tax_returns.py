"""A household's tax returns: its filing status, the capital losses carried into its first ledger
year (the household's, or each spouse's part into a married couple's year, joint or separate), each
return's marginal rates (one taxpayer's: every taxable account on the return is taxed at them) and
whose return each account's sales go on (``Account.spouse``). The Schedule D report, the carryover
chain and the engine's carried loss read them (``ledger.carryover``). And each filed return's taxable
income of a year (``ReturnTaxableIncome``), the Capital Loss Carryover Worksheet's line 1."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from rebalancing.access import households_visible_to, require
from rebalancing.household_parameters import accounts_on_return, rates_apart_on_returns
from rebalancing.ledger.filing_years import (
    FIRST_YEAR,
    MARRIED,
    SECOND,
    SEPARATE,
    PastStatuses,
    returns_of,
    status_in,
    statuses_set,
)
from rebalancing.models import Account, Household, PastFilingStatus, ReturnTaxableIncome
from rebalancing.services.tax_estimates import open_estimates_restate
from rebalancing.typed_numbers import DOLLARS, TypedNumberProblem, typed_number
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import NotFound, ValidationFailed, fields_refused
from tenants.permissions import Capability

__all__ = ["CARRYOVER_FIELDS", "CARRYOVER_WORDS", "RATE_FACTS", "SOLE_FILERS", "TAXABLE_INCOME_RETURNS",
           "filing_status_from_check", "filing_statuses_write", "household_tax_check", "household_tax_set",
           "return_words", "sole_filer_check", "taxable_incomes_apart"]

SOLE_FILERS = ("first", "second")  # Household.sole_filer

# The opening carryover: the household's (the first spouse's part into a married couple's year), the second's.
CARRYOVER_FIELDS = ("carryforward_short_term", "carryforward_long_term", "carryforward_second_short_term",
                    "carryforward_second_long_term")
# Each field as a refusal names it, after "The " (the page's labels say the same).
CARRYOVER_WORDS = {
    "carryforward_short_term": "short-term loss carried in (the household's, or the first spouse's part when married)",
    "carryforward_long_term": "long-term loss carried in (the household's, or the first spouse's part when married)",
    "carryforward_second_short_term": "second spouse's part of the short-term loss carried in",
    "carryforward_second_long_term": "second spouse's part of the long-term loss carried in"}
_FIRST_BOOK_YEAR = FIRST_YEAR
# A return's marginal rates (fractions): the household's one return, or the first spouse's when
# filing separately; the second spouse's. Stored on the return's taxable accounts, kept equal.
RATE_FACTS = {"short_term_rate": ("first", "short"), "long_term_rate": ("first", "long"),
              "second_short_term_rate": ("second", "short"), "second_long_term_rate": ("second", "long")}


def _amount(field: str, value) -> Decimal:
    try:  # typed as every page reads an amount (typed_numbers): "1,500.00" and "$1,500", not "1.500,00"
        amount = typed_number(str(value), unit=DOLLARS) if str(value).strip() else Decimal(0)
    except TypedNumberProblem as problem:
        raise ValidationFailed(f"The {CARRYOVER_WORDS[field]} must be an amount in dollars: {problem}.",
                               detail={"field": field}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(f"The {CARRYOVER_WORDS[field]} is a loss written as a positive amount (0 for none), not {value}.",
                               detail={"field": field})
    # What the column holds (as the API's DecimalField says): a larger amount cannot be quantized.
    digits = Household._meta.get_field(field)
    if amount.adjusted() >= digits.max_digits - digits.decimal_places:
        raise ValidationFailed(f"The {CARRYOVER_WORDS[field]} is too large: at most {digits.max_digits - digits.decimal_places} "
                               f"digits before the point ({digits.max_digits} in all), not {str(value)[:40]}.",
                               detail={"field": field})
    # The accounts file's plausibility bound, here so that the API and the page meet it too: a loss of
    # $100 trillion carried is a column mix-up (cents, an account number), and Schedule D would net it.
    from rebalancing.imports.cells import MAX_AMOUNT  # imports.accounts imports this module: read when called

    if amount > MAX_AMOUNT:
        raise ValidationFailed(f"The {CARRYOVER_WORDS[field]}, ${amount:,.2f}, is more than any client's loss could "
                               f"be: at most ${int(MAX_AMOUNT):,} (as the accounts file allows).", detail={"field": field})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(f"The {CARRYOVER_WORDS[field]} has more than two decimal places: {value}.", detail={"field": field})
    return amount


@transaction.atomic
def household_tax_set(*, user, household: Household, facts: dict | None = None,
                      spouses: dict[int, str] | None = None, taxable_incomes: list[dict] | None = None) -> Household:
    """Set a household's filing status, opening carryover and returns' rates (``facts``: any of
    ``filing_status``, ``filing_status_from``, ``carryforward_year``, ``CARRYOVER_FIELDS``,
    ``sole_filer`` and ``RATE_FACTS``; those not given are kept) and whose return each of its accounts is on
    (``spouses``: account id -> "first", "second" or "joint"). A filing status applies from
    ``filing_status_from`` (a tax year; this year when not given) on: the years before keep the
    status they were filed under (``filing_statuses_write``). A return's rates are written to every
    taxable account on it. Refused whole, naming the problem, when anything makes no sense: an
    unknown status, a negative loss, a carryover without its year, a second spouse's carryover into
    a single or head-of-household year, a second spouse's rates on one return, a rate outside 0-1,
    an IRA or Roth marked joint (IRC §408(a)), an account of another household, a joint account
    between spouses given different rates, or a change that leaves a return's accounts at different
    rates.

    ``taxable_incomes``: a filed return's taxable income of a year each (``year``, ``spouse``: "" for
    the household's one return, "first"/"second" for a spouse's own in a year filed separately,
    ``amount``: dollars, negative when deductions exceed income; None or "" removes it); the others
    are kept. Refused as a whole, naming the entry, for a year after this one, an amount the books
    cannot hold or with more than cents, a spouse's own for a year not filed separately (or none for
    one that is), the same return twice, or a change of status that leaves a stored one on a return
    its year no longer has."""
    require(user, Capability.EDIT_PARAMETERS)
    found = households_visible_to(user).filter(pk=household.pk).first()
    if found is None:
        raise NotFound("No such household.")
    household = Household.objects.select_for_update(of=("self",)).get(pk=found.pk)
    facts, spouses = dict(facts or {}), dict(spouses or {})
    rates = {f: _rate(f, facts.pop(f)) for f in RATE_FACTS if f in facts}
    unknown = sorted(set(facts) - {"filing_status", "filing_status_from", "carryforward_year", "sole_filer",
                                   *CARRYOVER_FIELDS})
    if unknown:
        raise ValidationFailed(f"Unknown tax fact {unknown[0]!r}.", detail={"field": unknown[0]})
    fields = ("filing_status", "carryforward_year", *CARRYOVER_FIELDS, "sole_filer")
    before = {f: getattr(household, f) for f in fields}
    history_before = household.filing_history_text
    past = household.past_statuses
    if "filing_status_from" in facts and "filing_status" not in facts:
        raise ValidationFailed(f"Say the filing status that applies from {facts['filing_status_from']}.",
                               detail={"field": "filing_status"})
    if "filing_status" in facts:
        status = facts["filing_status"]
        if status not in Household.FilingStatus.values:
            raise ValidationFailed(f"The filing status must be one of {', '.join(Household.FilingStatus.values)}, "
                                   f"not {status!r}.", detail={"field": "filing_status"})
        from_year = filing_status_from_check(facts.get("filing_status_from"))
        past, household.filing_status = statuses_set(past, household.filing_status, status, from_year)
    if "carryforward_year" in facts:
        year = facts["carryforward_year"]
        this_year = timezone.localdate().year
        if year is not None and (not isinstance(year, int) or not _FIRST_BOOK_YEAR <= year <= this_year):
            raise ValidationFailed(f"The year the loss is carried into must be from {_FIRST_BOOK_YEAR} to {this_year}, "
                                   f"not {year!r}.", detail={"field": "carryforward_year"})
        household.carryforward_year = year
    for field in CARRYOVER_FIELDS:
        if field in facts:
            setattr(household, field, _amount(field, facts[field]))
    if "sole_filer" in facts:
        household.sole_filer = sole_filer_check(facts["sole_filer"])
    if all(getattr(household, f) == before[f] for f in CARRYOVER_FIELDS):
        _opening_carried_across(household, was=status_in(household.carryforward_year or 0, before["filing_status"],
                                                         household.past_statuses), past=past)
    incomes_before = household.taxable_income_by_return
    incomes = _taxable_incomes_given(household, past, taxable_incomes or [])
    household_tax_check(household, past)
    try:
        household.full_clean()
    except DjangoValidationError as exc:
        raise fields_refused(exc, "The household") from None
    household.save(update_fields=list(fields))
    filing_statuses_write(household, past)
    incomes_after = _taxable_incomes_write(household, incomes_before, incomes)
    after = {f: getattr(household, f) for f in fields}
    changed_accounts = _spouses_set(household, spouses)
    changed_rates = _rates_set(household, rates, check=bool(rates or changed_accounts)
                               or before["filing_status"] != household.filing_status)
    before_text = {f: str(v) if v is not None else None for f, v in before.items() if before[f] != after[f]}
    after_text = {f: str(v) if v is not None else None for f, v in after.items() if before[f] != after[f]}
    if changed_accounts:
        before_text["spouse"] = {n: b for n, (b, _a) in changed_accounts.items()}
        after_text["spouse"] = {n: a for n, (_b, a) in changed_accounts.items()}
    if changed_rates:
        before_text["rates"] = {n: b for n, (b, _a) in changed_rates.items()}
        after_text["rates"] = {n: a for n, (_b, a) in changed_rates.items()}
    if incomes_after != incomes_before:
        changed_returns = sorted(set(incomes_before) ^ set(incomes_after)
                                 | {k for k in incomes_before if incomes_after.get(k) != incomes_before[k]})
        before_text["taxable_income"] = {_return_key_text(k): _money_text(incomes_before.get(k)) for k in changed_returns}
        after_text["taxable_income"] = {_return_key_text(k): _money_text(incomes_after.get(k)) for k in changed_returns}
    history_after = household.filing_history_text
    if history_after != history_before:
        before_text["filing_history"], after_text["filing_history"] = history_before, history_after
    if after_text:
        audit_record(actor=user, action=Action.HOUSEHOLD_TAX, obj=household, before=before_text, after=after_text)
        # The open proposals were estimated on the returns as they were: restated on these.
        open_estimates_restate([household.pk], actor=user, because="the household's tax returns changed ("
                               + ", ".join(sorted(after_text)).replace("_", " ") + ")")
    return household


TAXABLE_INCOME_RETURNS = ("", "first", "second")  # ReturnTaxableIncome.spouse
_RETURN_WORDS = {"": "the household's return", "first": "the first spouse's return", "second": "the second spouse's return"}


def return_words(spouse: str) -> str:
    """A return as a sentence names it: "the household's return", "the first spouse's return"."""
    return _RETURN_WORDS[spouse]


def _return_key_text(key: tuple[int, str]) -> str:
    year, spouse = key
    return f"{year} {spouse}" if spouse else str(year)


def _money_text(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _taxable_income_amount(entry: dict, index: int, value) -> Decimal | None:
    """A taxable income as typed: dollars, negative written -1,200 or (1,200) as the worksheet puts a
    loss; empty (or None) removes it."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    negative = text.startswith("(") and text.endswith(")")
    where = f"The taxable income of {entry['year']}'s return" if isinstance(entry.get("year"), int) else "The taxable income"
    try:  # the API's is a number already; the page's as typed (typed_numbers)
        amount = value if isinstance(value, Decimal) else typed_number(text[1:-1] if negative else text, unit=DOLLARS)
    except TypedNumberProblem as problem:
        raise ValidationFailed(f"{where} must be an amount in dollars (negative when deductions exceed income): "
                               f"{problem}.", detail={"field": "taxable_income", "entry": index}) from None
    amount = -amount if negative else amount
    digits = ReturnTaxableIncome._meta.get_field("amount")
    if not amount.is_finite() or abs(amount).adjusted() >= digits.max_digits - digits.decimal_places:
        raise ValidationFailed(f"{where} is too large: at most {digits.max_digits - digits.decimal_places} digits "
                               f"before the point, not {text[:40]}.", detail={"field": "taxable_income", "entry": index})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(f"{where} has more than two decimal places: {text[:40]}.",
                               detail={"field": "taxable_income", "entry": index})
    return amount


def _taxable_incomes_given(household: Household, past: PastStatuses,
                           entries: list[dict]) -> dict[tuple[int, str], Decimal | None]:
    """(year, return key) -> amount (None: remove) of each entry, checked against the year's status as
    it will be (``past``, ``household.filing_status``)."""
    this_year = timezone.localdate().year
    out: dict[tuple[int, str], Decimal | None] = {}
    for index, entry in enumerate(entries):
        year, spouse = entry.get("year"), entry.get("spouse") or ""
        if isinstance(year, bool) or not isinstance(year, int) or not _FIRST_BOOK_YEAR <= year <= this_year:
            raise ValidationFailed(f"The year of a return's taxable income must be a filed year, from {_FIRST_BOOK_YEAR} "
                                   f"to {this_year}, not {str(year)[:40]!r}.",
                                   detail={"field": "taxable_income_year", "entry": index})
        if spouse not in TAXABLE_INCOME_RETURNS:
            raise ValidationFailed(f"Whose return the taxable income of {year} is must be the household's (empty), the "
                                   f"first or the second spouse's, not {str(spouse)[:40]!r}.",
                                   detail={"field": "taxable_income_spouse", "entry": index})
        amount = _taxable_income_amount(entry, index, entry.get("amount"))
        status = status_in(year, household.filing_status, past)
        if spouse not in returns_of(status) and amount is not None:
            label = Household.FilingStatus(status).label.lower()
            raise ValidationFailed(
                f"{household.name} files {label} in {year}: " + (
                    "two returns, one per spouse; say whose return's taxable income it is (the first or the second "
                    "spouse's)." if status == SEPARATE else
                    "one return; a spouse's own taxable income is for a year filed separately: give the return's."),
                detail={"field": "taxable_income_spouse", "entry": index})
        if (year, spouse) in out:
            raise ValidationFailed(f"The taxable income of {year}, {return_words(spouse)}, is given twice.",
                                   detail={"field": "taxable_income_year", "entry": index})
        out[year, spouse] = amount
    return out


def taxable_incomes_apart(household: Household, incomes: dict[tuple[int, str], Decimal],
                          past: PastStatuses | None = None) -> list[str]:
    """Each stored taxable income on a return its year does not have (a spouse's own in a year not
    filed separately, the household's one in a year that is), said as a sentence: such an amount is
    used by no Schedule D."""
    past = household.past_statuses if past is None else past
    out = []
    for (year, spouse), _amount_of in sorted(incomes.items()):
        status = status_in(year, household.filing_status, past)
        if spouse not in returns_of(status):
            out.append(f"The taxable income of {year} is {return_words(spouse)}'s, but {year} is filed "
                       f"{Household.FilingStatus(status).label.lower()}: enter it for "
                       f"{' and '.join(return_words(k) for k in returns_of(status))} and remove this one.")
    return out


def _taxable_incomes_write(household: Household, before: dict[tuple[int, str], Decimal],
                           given: dict[tuple[int, str], Decimal | None]) -> dict[tuple[int, str], Decimal]:
    """Store the entries given (None removes); refused when a stored one no longer fits its year's
    status after this change (the status is saved by then: the transaction is rolled back whole).
    The incomes as they now are."""
    after = {k: v for k, v in before.items() if k not in given} | {k: v for k, v in given.items() if v is not None}
    apart = taxable_incomes_apart(household, {k: v for k, v in after.items() if k not in given})
    if apart:
        raise ValidationFailed(f"This change of filing status leaves a taxable income on a return its year no longer "
                               f"has. {apart[0]}", detail={"field": "filing_status"})
    for (year, spouse), amount in given.items():
        if amount is None:
            ReturnTaxableIncome.objects.filter(household=household, year=year, spouse=spouse).delete()
        elif before.get((year, spouse)) != amount:
            ReturnTaxableIncome.objects.update_or_create(household=household, year=year, spouse=spouse,
                                                        defaults={"amount": amount})
    getattr(household, "_prefetched_objects_cache", {}).pop("taxable_incomes", None)
    return after


def _opening_carried_across(household: Household, *, was: str, past: PastStatuses) -> None:
    """The opening carryover, stored as each spouse's part while its year was a married couple's
    (jointly or separately), left as it was by a change that makes that year one person's return:
    carried as the rule for the new status says (what the form shows and sends back unchanged then
    saves as meant). A single or head-of-household return after married years is the sole filer's
    and carries only that spouse's part, the other's being theirs to carry (Treas. Reg. §1.1212-1(c);
    IRS Pub. 550; ``ledger.filing_years``). Between joint and separate each part stays its spouse's:
    a joint return takes their sum, separate returns each their own."""
    if household.carryforward_year is None or was not in MARRIED:
        return
    if status_in(household.carryforward_year, household.filing_status, past) in MARRIED:
        return
    first = (household.carryforward_short_term, household.carryforward_long_term)
    second = (household.carryforward_second_short_term, household.carryforward_second_long_term)
    household.carryforward_short_term, household.carryforward_long_term = (
        second if household.sole_filer == SECOND else first)
    household.carryforward_second_short_term = household.carryforward_second_long_term = Decimal(0)


def sole_filer_check(spouse) -> str:
    """Whose return a single or head-of-household year after married ones is: first or second."""
    if spouse not in SOLE_FILERS:
        raise ValidationFailed("Whose return a single or head-of-household year is after married years must be the "
                               f"first or the second spouse's, not {spouse!r}.", detail={"field": "sole_filer"})
    return spouse


def filing_status_from_check(year) -> int:
    """The first tax year a new filing status applies to: this year when not given; refused unless
    a year from 1900 to this one (1900 corrects every year: the status was never another)."""
    this_year = timezone.localdate().year
    if year is None:
        return this_year
    if isinstance(year, bool) or not isinstance(year, int) or not _FIRST_BOOK_YEAR <= year <= this_year:
        raise ValidationFailed(f"The first year of the filing status must be from {_FIRST_BOOK_YEAR} to {this_year}, "
                               f"not {year!r}.", detail={"field": "filing_status_from"})
    return year


def filing_statuses_write(household: Household, past: PastStatuses) -> None:
    """Store the household's past statuses (``filing_years.statuses_set``'s); its current status is
    the household's own field, saved by the caller."""
    if past == household.past_statuses:
        return
    PastFilingStatus.objects.filter(household=household).delete()
    PastFilingStatus.objects.bulk_create([PastFilingStatus(household=household, last_year=last, filing_status=status)
                                          for last, status in past])
    getattr(household, "_prefetched_objects_cache", {}).pop("past_filing_statuses", None)


def household_tax_check(household: Household, past: PastStatuses | None = None) -> None:
    """Refuse a household's tax facts that make no sense together (the page, the API and the
    accounts file): a carryover without the year it is carried into, a second spouse's own part of
    the carryover into a year that is one person's return, single or head of household (``past``:
    its past statuses as they will be, else as stored). Into a married couple's year each spouse's
    part is their own: a joint return carries in their sum, and after it each keeps their own on a
    separate return (Treas. Reg. §1.1212-1(c)(1)(iii))."""
    carried = {f: getattr(household, f) for f in CARRYOVER_FIELDS}
    if household.carryforward_year is None and any(carried.values()):
        raise ValidationFailed("Say the year the opening loss is carried into (the year before it is the last year "
                               "of the returns it comes from).", detail={"field": "carryforward_year"})
    if household.carryforward_year is None:
        return
    past = household.past_statuses if past is None else past
    status = status_in(household.carryforward_year, household.filing_status, past)
    if status not in MARRIED and (carried["carryforward_second_short_term"]
                                  or carried["carryforward_second_long_term"]):
        label = Household.FilingStatus(status).label.lower()
        filer = "second" if household.sole_filer == SECOND else "first"
        raise ValidationFailed(
            f"A second spouse's own carryover is for a year filed as a married couple (jointly or separately); "
            f"{household.name} files {label} in {household.carryforward_year}, one return: a {label} return after "
            f"married years is the sole filer's (the {filer} spouse's) and carries in only that spouse's part, the "
            f"other's being theirs to carry (IRS Pub. 550): enter the {filer} spouse's part as the household's, and "
            "0 for the second spouse's.", detail={"field": "carryforward_second_short_term"})


def _spouses_set(household: Household, spouses: dict[int, str]) -> dict[str, tuple[str, str]]:
    """Whose return each account is on; custodian number -> (before, after) of those changed."""
    if not spouses:
        return {}
    members = {a.pk: a for a in Account.objects.select_for_update().filter(household=household)}
    strangers = sorted(set(spouses) - set(members))
    if strangers:
        raise ValidationFailed("Whose return an account is on may be set only for the household's own accounts.",
                               detail={"accounts": strangers})
    changed = {}
    for pk, spouse in sorted(spouses.items()):
        account = members[pk]
        problem = Account.spouse_problem(spouse=spouse, tax_status=account.tax_status)
        if problem:
            raise ValidationFailed(f"Account {account.custodian_number}: {problem}.",
                                   detail={"field": "spouse", "account": account.custodian_number})
        if account.spouse != spouse:
            changed[account.custodian_number] = (account.spouse, spouse)
            account.spouse = spouse
            account.save(update_fields=["spouse"])
    return changed


def _rate(field: str, value) -> Decimal:
    whose, leg = RATE_FACTS[field]
    words = f"{'the second spouse' if whose == 'second' else 'the return'}'s {leg}-term rate"
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(f"{words[0].upper()}{words[1:]} must be a number from 0 to 1, not {value!r}.",
                               detail={"field": field}) from None
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise ValidationFailed(f"{words[0].upper()}{words[1:]} is a fraction from 0 to 1 (0.408 for 40.8%), "
                               f"not {value}.", detail={"field": field})
    if rate != rate.quantize(Decimal("0.0001")):
        raise ValidationFailed(f"{words[0].upper()}{words[1:]} has more than four decimal places: {value} "
                               "(0.4085 is 40.85%).", detail={"field": field})
    return rate


def _rates_set(household: Household, rates: dict[str, Decimal], *, check: bool) -> dict[str, tuple[str, str]]:
    """Each return's rates written to its taxable accounts; custodian number -> (before, after) as
    "short / long" of those changed. ``check``: refuse a result whose returns' accounts disagree
    (something changed who files what, or the rates); a household whose accounts already disagreed
    and only has its carryover edited is left as it is, flagged on its page."""
    if not rates and not check:
        return {}
    accounts = list(Account.objects.select_for_update().filter(household=household).order_by("custodian_number"))
    if not household.files_separately and any(RATE_FACTS[f][0] == "second" for f in rates):
        raise ValidationFailed(
            f"A second spouse's rates are for a household filing separately; {household.name} files "
            f"{household.get_filing_status_display().lower()}, one return: give the household's rates.",
            detail={"field": next(f for f in rates if RATE_FACTS[f][0] == "second")})
    wanted: dict[int, dict[str, tuple[str, Decimal]]] = {}
    for field, rate in rates.items():
        whose, leg = RATE_FACTS[field]
        for account in accounts_on_return(household, accounts, whose if household.files_separately else ""):
            name = f"{leg}_term_rate"
            given = wanted.setdefault(account.pk, {}).get(name)
            if given is not None and given[1] != rate:
                raise ValidationFailed(
                    f"Account {account.custodian_number} is joint: half its sales go on each spouse's return, and "
                    f"an account is taxed at one {leg}-term rate. Give both spouses the same {leg}-term rate, or "
                    "make the account one spouse's.", detail={"field": field, "account": account.custodian_number})
            wanted[account.pk][name] = (field, rate)
    changed = {}
    for account in accounts:
        before = f"{account.short_term_rate:.4f} / {account.long_term_rate:.4f}"
        for name, (_field, rate) in wanted.get(account.pk, {}).items():
            setattr(account, name, rate)
        after = f"{Decimal(account.short_term_rate):.4f} / {Decimal(account.long_term_rate):.4f}"
        if after != before:
            account.save(update_fields=["short_term_rate", "long_term_rate"])
            changed[account.custodian_number] = (before, after)
    if check:
        apart = rates_apart_on_returns(household, accounts)
        if apart:
            raise ValidationFailed(f"This change would leave one return's accounts at different rates. {apart[0]}",
                                   detail={"field": "short_term_rate"})
    return changed

"""A household's tax returns: its filing status, the capital losses carried into its first ledger
year (the household's, or each spouse's when married filing separately) and whose return each
account's sales go on (``Account.spouse``). The Schedule D report, the carryover chain and the
engine's carried loss read them (``ledger.carryover``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from rebalancing.access import households_visible_to, require
from rebalancing.models import Account, Household
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import NotFound, ValidationFailed, fields_refused
from tenants.permissions import Capability

__all__ = ["CARRYOVER_FIELDS", "household_tax_check", "household_tax_set"]

# The opening carryover: the household's (the first spouse's when filing separately), the second's.
CARRYOVER_FIELDS = ("carryforward_short_term", "carryforward_long_term", "carryforward_second_short_term",
                    "carryforward_second_long_term")
_WORDS = {"carryforward_short_term": "short-term loss carried in", "carryforward_long_term": "long-term loss carried in",
          "carryforward_second_short_term": "the second spouse's short-term loss carried in",
          "carryforward_second_long_term": "the second spouse's long-term loss carried in"}
_FIRST_BOOK_YEAR = 1900


def _amount(field: str, value) -> Decimal:
    try:
        amount = Decimal(str(value).replace(",", "").replace("$", "").strip() or "0")
    except InvalidOperation:
        raise ValidationFailed(f"The {_WORDS[field]} must be an amount in dollars, not {value!r}.",
                               detail={"field": field}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(f"The {_WORDS[field]} is a loss written as a positive amount (0 for none), not {value}.",
                               detail={"field": field})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(f"The {_WORDS[field]} has more than two decimal places: {value}.", detail={"field": field})
    return amount


@transaction.atomic
def household_tax_set(*, user, household: Household, facts: dict | None = None,
                      spouses: dict[int, str] | None = None) -> Household:
    """Set a household's filing status and opening carryover (``facts``: any of ``filing_status``,
    ``carryforward_year`` and ``CARRYOVER_FIELDS``; those not given are kept) and whose return each
    of its accounts is on (``spouses``: account id -> "first", "second" or "joint"). Refused whole,
    naming the problem, when anything makes no sense: an unknown status, a negative loss, a
    carryover without its year, a second spouse's carryover on one return, an IRA or Roth marked
    joint (IRC §408(a)), an account of another household."""
    require(user, Capability.EDIT_PARAMETERS)
    found = households_visible_to(user).filter(pk=household.pk).first()
    if found is None:
        raise NotFound("No such household.")
    household = Household.objects.select_for_update(of=("self",)).get(pk=found.pk)
    facts, spouses = dict(facts or {}), dict(spouses or {})
    unknown = sorted(set(facts) - {"filing_status", "carryforward_year", *CARRYOVER_FIELDS})
    if unknown:
        raise ValidationFailed(f"Unknown tax fact {unknown[0]!r}.", detail={"field": unknown[0]})
    fields = ("filing_status", "carryforward_year", *CARRYOVER_FIELDS)
    before = {f: getattr(household, f) for f in fields}
    if "filing_status" in facts:
        status = facts["filing_status"]
        if status not in Household.FilingStatus.values:
            raise ValidationFailed(f"The filing status must be one of {', '.join(Household.FilingStatus.values)}, "
                                   f"not {status!r}.", detail={"field": "filing_status"})
        household.filing_status = status
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
    household_tax_check(household)
    try:
        household.full_clean()
    except DjangoValidationError as exc:
        raise fields_refused(exc, "The household") from None
    household.save(update_fields=list(fields))
    after = {f: getattr(household, f) for f in fields}
    changed_accounts = _spouses_set(household, spouses)
    before_text = {f: str(v) if v is not None else None for f, v in before.items() if before[f] != after[f]}
    after_text = {f: str(v) if v is not None else None for f, v in after.items() if before[f] != after[f]}
    if changed_accounts:
        before_text["spouse"] = {n: b for n, (b, _a) in changed_accounts.items()}
        after_text["spouse"] = {n: a for n, (_b, a) in changed_accounts.items()}
    if after_text:
        audit_record(actor=user, action=Action.HOUSEHOLD_TAX, obj=household, before=before_text, after=after_text)
    return household


def household_tax_check(household: Household) -> None:
    """Refuse a household's tax facts that make no sense together (the page, the API and the
    accounts file): a carryover without the year it is carried into, a second spouse's own
    carryover on a household with one return."""
    carried = {f: getattr(household, f) for f in CARRYOVER_FIELDS}
    if household.carryforward_year is None and any(carried.values()):
        raise ValidationFailed("Say the year the opening loss is carried into (the year before it is the last year "
                               "of the returns it comes from).", detail={"field": "carryforward_year"})
    if not household.files_separately and (carried["carryforward_second_short_term"]
                                           or carried["carryforward_second_long_term"]):
        raise ValidationFailed(
            f"A second spouse's own carryover is for a household filing separately; {household.name} files "
            f"{household.get_filing_status_display().lower()}, one return: enter the loss carried into it as the "
            "household's (a joint return takes both spouses' separate carryovers together, Treas. Reg. "
            "§1.1212-1(c)) and 0 for the second spouse's.", detail={"field": "carryforward_second_short_term"})


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

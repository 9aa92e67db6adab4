"""One security or one account changed on a page, through the import of its file.

The security master and an account's facts have one set of rules: the securities and accounts
files' (``rebalancing.imports``). A page's form is written as that file's one row (its columns, the
cells as typed) and imported: a value the file refuses is refused with the file's words, beside the
column it names, nothing written; what the file does on a change (an account moved to another
household matched again for wash sales, open proposals' tax restated, an asset class a model's
sleeve holds kept) the page does too. Only the columns the person changed are written: a column the
row leaves out keeps what is stored, as in a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from rebalancing.access import require
from rebalancing.imports import ImportRejected, accounts_import, securities_import
from rebalancing.imports.from_rows import rows_to_csv
from rebalancing.models import Account, Household, Security
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

__all__ = [
    "ACCOUNT_COLUMNS", "SECURITY_COLUMNS", "RowRefused", "account_facts_as_typed", "account_facts_edit",
    "security_as_typed", "security_edit",
]

# The columns of each file a page edits, in the form's order (the key columns first).
SECURITY_COLUMNS = ("symbol", "name", "asset_class", "sector", "tags", "esg_score", "equivalence_group", "is_fund",
                    "fractional")
ACCOUNT_COLUMNS = (
    "account_number", "account_name", "household_id", "model", "template", "tax_status", "spouse", "discretionary",
    "short_term_rate", "long_term_rate", "cash", "realised_short_term_ytd", "realised_long_term_ytd", "opened_on",
    "owner_name", "owner_birth_date", "spouse_birth_date", "asset_classes",
)
_SECURITY_KEYS = ("symbol", "name", "asset_class")  # required by the file
_ACCOUNT_KEYS = ("account_number", "account_name", "household_id")


class RowRefused(ValidationFailed):
    """The row's file refused it. ``detail``: ``{"field": the first column named, "fields": {column:
    problem}, "problems": the file's report}``; the message says every problem in the file's words,
    by column (its row number left out)."""

    code = "import_rejected"


def _text(value) -> str:
    """A stored value as the file writes it (and the form shows it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, float):
        return repr(value).removesuffix(".0")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "|".join(value)
    return str(value)


def security_as_typed(security: Security) -> dict[str, str]:
    """The security's row of the securities file, as text."""
    return {column: _text(getattr(security, column)) for column in SECURITY_COLUMNS}


def account_facts_as_typed(account: Account, *, as_of: date | None = None) -> dict[str, str]:
    """The account's row of the accounts file, as text (the realised figures: this tax year's)."""
    short, long = account.realised_ytd((as_of or timezone.localdate()).year)
    return {column: _text(value) for column, value in {
        "account_number": account.custodian_number, "account_name": account.name,
        "household_id": account.household.external_id, "model": account.model.code if account.model_id else "",
        "template": account.template.code if account.template_id else "", "tax_status": account.tax_status,
        "spouse": account.spouse, "discretionary": account.discretionary, "short_term_rate": account.short_term_rate,
        "long_term_rate": account.long_term_rate, "cash": account.cash, "realised_short_term_ytd": short,
        "realised_long_term_ytd": long, "opened_on": account.opened_on, "owner_name": account.owner_name,
        "owner_birth_date": account.owner_birth_date, "spouse_birth_date": account.spouse_birth_date,
        "asset_classes": account.asset_classes,
    }.items()}


def _row(stored: Mapping[str, str], typed: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """The file's row: its key columns always, another column only when typed differently from what is
    stored (a column left out keeps the stored value, as in a file)."""
    row = {}
    for column, was in stored.items():
        value = typed.get(column, was) if column not in keys[:1] else was  # the key is never retyped
        if column in keys or value.strip() != was:
            row[column] = value
    return row


def _import_one(service: Callable, kind: str, row: Mapping[str, str], as_of: date | None):
    """Import the one row; a refusal is raised as ``RowRefused`` naming each column's problem."""
    try:
        return service(source=rows_to_csv(kind, [dict(row)]), as_of=as_of)
    except ImportRejected as exc:
        problems = exc.detail.get("problems", [])
        fields: dict[str, str] = {}
        for p in problems:
            fields.setdefault(p["column"] or "", p["problem"])
        said = "; ".join(f"{p['column']}: {p['problem']}" if p["column"] else p["problem"] for p in problems)
        first = problems[0]["column"] if problems else None
        raise RowRefused(f"Nothing was saved: {(said or exc.message).rstrip('.')}.",
                         detail={"field": first or "", "fields": fields, "problems": problems}) from None


def _changed(before: dict, after: dict) -> tuple[dict, dict]:
    names = sorted(name for name in after if before.get(name) != after[name])
    return {n: before.get(n) for n in names}, {n: after[n] for n in names}


def _facts(obj, names) -> dict:
    values = model_to_dict(obj, fields=names)
    return {k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in values.items()}


_SECURITY_FIELDS = ("name", "asset_class", "sector", "tags", "esg_score", "equivalence_group", "is_fund", "fractional")
_ACCOUNT_FIELDS = ("name", "household", "model", "template", "tax_status", "spouse", "discretionary", "short_term_rate",
                   "long_term_rate", "cash", "realised_short_term_ytd", "realised_long_term_ytd", "realised_ytd_year",
                   "realised_past_years", "opened_on", "owner_name", "owner_birth_date", "spouse_birth_date",
                   "asset_classes")


@transaction.atomic
def security_edit(*, security: Security, typed: Mapping[str, str], by) -> dict:
    """Change one security as the securities file's row ``typed`` (column -> text; the symbol is the
    security's own) would. Refused as the file refuses it (``RowRefused``), nothing written; a change
    is audited as the file's import is (``import.securities``), with the fields before and after.
    Returns the fields changed (empty: nothing changed)."""
    require(by, Capability.IMPORT_DATA)
    security = Security.objects.select_for_update().get(pk=security.pk)
    return _edited(security, _SECURITY_FIELDS, lambda: _import_one(
        securities_import, "securities", _row(security_as_typed(security), typed, _SECURITY_KEYS), None),
        by=by, action=Action.IMPORT_SECURITIES, comment=f"{security.symbol} changed on its page")


def _edited(obj, fields, imported: Callable, *, by, action, comment: str) -> dict:
    """Run the one row's import on ``obj`` and audit what it changed of ``fields``, before and after;
    returns the fields changed (empty: nothing changed)."""
    before = _facts(obj, fields)
    imported()
    obj.refresh_from_db()
    was, now = _changed(before, _facts(obj, fields))
    if now:
        audit_record(actor=by, action=action, obj=obj, before=was, after=now, comment=comment)
    return now


@transaction.atomic
def account_facts_edit(*, account: Account, typed: Mapping[str, str], by, as_of: date | None = None) -> dict:
    """Change one account's facts as the accounts file's row ``typed`` (column -> text; the account
    number is the account's own) would: the file's checks and consequences (a move to another
    household matches its wash sales again, a tax change restates open proposals' estimates). A
    household id that names no household is refused here (the file would create one: on a page a
    typing slip). Audited as the file's import (``import.accounts``), with the fields before and
    after. Returns the fields changed (empty: nothing changed)."""
    require(by, Capability.IMPORT_DATA)
    account = Account.objects.select_for_update(of=("self",)).select_related("household", "model", "template").get(
        pk=account.pk)
    stored = account_facts_as_typed(account, as_of=as_of)
    row = _row(stored, typed, _ACCOUNT_KEYS)
    household = row["household_id"].strip()
    if household and household != stored["household_id"] and not Household.objects.filter(
            external_id=household).exists():
        problem = f"{household!r} is no household of the firm; create it on the Households page first"
        # Said as the import's refusals are (one problem of the row's column), so the page names its field.
        raise RowRefused(f"Nothing was saved: household_id: {problem}.",
                         detail={"field": "household_id", "fields": {"household_id": problem},
                                 "problems": [{"row": 2, "column": "household_id", "problem": problem}]})
    return _edited(account, _ACCOUNT_FIELDS, lambda: _import_one(accounts_import, "accounts", row, as_of),
                   by=by, action=Action.IMPORT_ACCOUNTS, comment=f"{account.custodian_number}'s facts changed on its page")

"""The cash-flow file: households' deposits, withdrawals and RMDs, one a row, each entered through
``services.cash_flows.cash_flow_enter`` (the engine chooses what funds a withdrawal). The file is
checked whole; a row the engine cannot fund refuses the file too, naming the row, in the same
refusal as other rows' unreadable cells; nothing is half-written. A row whose ``reference`` was entered before changes nothing (import twice: no-op).
A row without a reference repeating a cash flow entered today (household, kind, amount, account and
day) is refused unless its ``repeat`` cell says yes: the same file imported twice would enter its
money twice. The same ``yes`` lets through a withdrawal matching one still waiting for a decision
(``cash_flow_enter``'s resubmission rule), as the household page's "a second one" box does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import transaction
from django.utils import timezone

from rebalancing.models import Account, CashFlow, Household
from rebalancing.services.cash_flows import cash_flow_enter, deposits_invest
from tenants.errors import DomainError

from .cells import (
    CellProblem,
    boolean_cells,
    column_parse,
    date_cells,
    decimal_cells,
    duplicates_report,
    ended_year_cells,
    required_cells,
    text_cells,
)
from .report import ImportSummary
from .sheet import Source, sheet_read

__all__ = ["cash_flows_import"]

KIND = "cash_flows"
REQUIRED = ("household_id", "kind", "amount")
OPTIONAL = ("account_number", "reference", "as_of", "taken_outside", "makes_up_year", "repeat")
# The service names the field it refuses (``detail.field``); the report names the file's column.
_COLUMN_OF_FIELD = {"household": "household_id", "kind": "kind", "amount": "amount", "account": "account_number",
                    "reference": "reference", "as_of": "as_of", "makes_up_year": "makes_up_year"}
# What one file may hold, entered inside the request (a proxy gives up at about 30 s and the import
# would still commit behind it). Measured on the 2-core machine: a deposit row 0.016 s (500: 8 s), a
# withdrawal or RMD planned 0.1 s on a three-account household, 0.77 s on the demo's (20: 15 s).
MAX_ROWS = 500
MAX_PLANNED = 20  # withdrawals and RMDs to plan (each solved by the engine); recorded ones are cheap
_KINDS = {"deposit": "deposit", "withdrawal": "withdrawal", "rmd": "rmd",
          "required minimum distribution": "rmd"}


def _kind(text: str) -> str:
    found = _KINDS.get(" ".join(text.lower().split()))
    if found is None:
        raise CellProblem(f"{text!r} is not a kind of cash flow; write deposit, withdrawal or rmd")
    return found


@transaction.atomic
def cash_flows_import(*, source: Source, user, households=None, as_of: date | None = None,
                      only: Household | None = None) -> ImportSummary:
    """Enter every row of the file for ``user``; ``households``: those the user may see (rows
    naming another are refused as unknown); ``only``: the file must be about this household."""
    today = timezone.localdate()
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
    if sheet.rows > MAX_ROWS:
        sheet.problems.add(1, None, f"the file has {sheet.rows:,} rows: at most {MAX_ROWS} rows per file; split it "
                                    "and import the parts one after the other")
        sheet.problems.reject_if_any()
    household_ids = text_cells(sheet, "household_id", field=Household._meta.get_field("external_id"), required=True)
    kinds = required_cells(sheet, "kind", column_parse(sheet, "kind", _kind), "deposit, withdrawal or rmd")
    # An RMD's amount may be left empty: what is left of the year's RMD (services.rmd).
    # Its plausibility bound is the service's (the same for the API and the page), said on the row.
    amounts = decimal_cells(sheet, "amount", field=CashFlow._meta.get_field("amount"), positive=True, required=False)
    needs_amount = kinds.map(lambda k: k != "rmd").astype(bool)
    required_cells(sheet, "amount", amounts[needs_amount], "a number (empty only for an rmd: the year's RMD left)")
    numbers = (text_cells(sheet, "account_number", field=Account._meta.get_field("custodian_number"))
               if sheet.has("account_number") else None)
    references = (text_cells(sheet, "reference", field=CashFlow._meta.get_field("reference"))
                  if sheet.has("reference") else None)
    # The first day is checked as each row is entered (book_day_check), so that one report lists it
    # with the other rows' refusals found there.
    days = date_cells(sheet, "as_of", required=False, not_after=today, not_before=None) if sheet.has("as_of") else None
    # yes: already taken from the IRA at the custodian, recorded for its RMD (nothing sold)
    taken = boolean_cells(sheet, "taken_outside") if sheet.has("taken_outside") else None
    # an earlier year: this RMD makes up that year's missed one (services.cash_flows)
    makes_up = ended_year_cells(sheet, "makes_up_year", last=today.year - 1) if sheet.has("makes_up_year") else None
    # yes: a row without a reference that repeats one entered today is a new cash flow all the same
    repeats = boolean_cells(sheet, "repeat") if sheet.has("repeat") else None
    if references is not None:
        # A reference names one cash flow of a household: the second row with it would be taken as
        # "entered before" and silently dropped, whatever its amount.
        given = references.map(lambda r: isinstance(r, str) and r != "").astype(bool)
        duplicates_report(sheet, {"household_id": household_ids[given], "reference": references[given]},
                          "household and reference")
    scope = households if households is not None else Household.objects.all()
    known = {h.external_id: h for h in scope.filter(external_id__in=[h for h in household_ids if isinstance(h, str)])}
    accounts = {a.custodian_number: a for a in Account.objects.filter(
        household__in=list(known.values()), custodian_number__in=[n for n in (numbers if numbers is not None else [])
                                                                   if isinstance(n, str) and n])}
    # The households' row locks first (the order of their ids, as every writer of a household takes
    # them one at a time), then what was entered today, read in this transaction once they are held:
    # the same file uploaded twice at once waits here for the first upload to commit, and then sees
    # its cash flows and is refused as a repeat rather than entering the money twice.
    list(Household.objects.select_for_update().filter(pk__in=[h.pk for h in known.values()]).order_by("pk")
         .values_list("pk", flat=True))
    entered_today = _entered_today(known.values(), today)
    rows = []
    for line in sheet.frame.index:
        hid = household_ids[line]
        household = known.get(hid) if isinstance(hid, str) else None
        if isinstance(hid, str) and household is None:
            sheet.problems.add(line, "household_id", f"household {hid} is not known, or not yours")
        elif household is not None and only is not None and household.pk != only.pk:
            sheet.problems.add(line, "household_id", f"this file is for household {only.external_id}, not {hid}")
        number = numbers[line] if numbers is not None else None
        account = None
        if number and household is not None:
            account = accounts.get(number)
            if account is None or account.household_id != household.pk:
                sheet.problems.add(line, "account_number", f"account {number} is not in household {hid}")
        reference = (references[line] if references is not None else None) or ""
        day = days[line] if days is not None else None
        outside = taken[line] is True if taken is not None else False
        year = makes_up[line] if makes_up is not None else None
        repeat = repeats[line] is True if repeats is not None else False
        if household is not None and not reference and not repeat and amounts[line] is not None:
            key = (household.pk, kinds[line], amounts[line], account.pk if account else None, day or as_of or today)
            if key in entered_today:
                sheet.problems.add(line, "reference", _repeat_words(entered_today[key], account))
        rows.append((line, household, kinds[line], amounts[line], account, reference, day, outside, year, repeat))
    planned = [line for line, _, kind, *_, outside, _, _ in rows if kind in ("withdrawal", "rmd") and not outside]
    if len(planned) > MAX_PLANNED:
        sheet.problems.add(1, None, f"the file has {len(planned)} withdrawals and RMDs to plan: at most {MAX_PLANNED} "
                                    "per file (the engine plans each); split it and import the parts one after the "
                                    "other")
        sheet.problems.reject_if_any()
    # One refusal lists every row's problem: the rows whose cells are readable are entered too (and
    # rolled back with the file), so that a row the household cannot fund, or an RMD from a Roth, is
    # named beside another row's unknown household rather than only once that one is fixed.
    unreadable = sheet.problems.rows()
    if unreadable - set(sheet.frame.index):
        sheet.problems.reject_if_any()  # a problem of the file, not of a row

    created = unchanged = 0
    # Deposits invested by one run per household and day, started once the file is entered - or
    # before a withdrawal of that household, which is planned on the book as a run per row left it.
    investing: dict[tuple[int, date], list[CashFlow]] = defaultdict(list)
    for line, household, kind, amount, account, reference, day, outside, year, repeat in rows:
        if line in unreadable:
            continue
        if kind != CashFlow.Kind.DEPOSIT:
            for key in [k for k in investing if k[0] == household.pk]:
                deposits_invest(investing.pop(key), user=user)
        try:
            entered = cash_flow_enter(user=user, household=household, kind=kind, amount=amount, account=account,
                                      reference=reference, as_of=day or as_of, taken_outside=outside,
                                      makes_up_year=year, invest_later=True, repeat=repeat)
        except DomainError as exc:  # its own savepoint rolled back; the file is refused below
            sheet.problems.add(line, _COLUMN_OF_FIELD.get((exc.detail or {}).get("field")), exc.message)
            continue
        created += entered.created
        unchanged += not entered.created
        flow = entered.cash_flow
        if entered.created and flow.kind == CashFlow.Kind.DEPOSIT and not entered.not_invested:
            investing[household.pk, flow.as_of].append(flow)
    sheet.problems.reject_if_any()
    for flows in investing.values():
        deposits_invest(flows, user=user)
    return ImportSummary(KIND, len(rows), created, 0, unchanged)


def _entered_today(households, today: date) -> dict[tuple, CashFlow]:
    """The households' cash flows entered today (before this file), by what a row without a
    reference says: household, kind, amount, account, day."""
    return {(f.household_id, f.kind, f.amount, f.account_id, f.as_of): f for f in CashFlow.objects.filter(
        household__in=list(households), created_at__date=today).select_related("account").order_by("created_at")}


def _repeat_words(found: CashFlow, account: Account | None) -> str:
    """A row without a reference repeating a cash flow entered today: the same file imported twice
    would enter its money twice, so the row is refused unless it says it is a new one."""
    where = f" {'to' if found.kind == CashFlow.Kind.DEPOSIT else 'from'} {account.custodian_number}" if account else ""
    return (f"repeats the {found.get_kind_display().lower()} of ${found.amount:,.2f}{where} entered today "
            f"(cash flow {found.pk}{f', reference {found.reference}' if found.reference else ''}): is this file "
            "imported twice? Give each cash flow a reference (one entered before is then skipped), or write yes "
            "in a repeat column to enter it again")

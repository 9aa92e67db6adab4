"""The account file: accounts upserted by custodian number, their households by household id (and
the households' tax returns: filing status and opening carryover, each spouse's when married
filing separately; ``services.tax_returns``)."""

import math
from collections import defaultdict
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
from django.db import models, transaction
from django.utils import timezone

from rebalancing.household_parameters import joining_rates, rates_apart_on_returns
from rebalancing.ledger.account_opening import first_trade_days, opened_after_trades_problem
from rebalancing.ledger.adjustments import LEDGER_LOCK, wash_sales_recompute
from rebalancing.ledger.filing_years import FIRST_YEAR, PastStatuses, statuses_set
from rebalancing.models import (
    Account,
    Household,
    ModelPortfolio,
    ParameterTemplate,
    Proposal,
    TaxLot,
    TradeRecord,
)
from rebalancing.services.assignments import (
    model_unpriced_words,
    settings_change_words,
    settings_changed_supersede,
)
from rebalancing.services.proposals import OPEN
from rebalancing.services.tax_estimates import open_estimates_restate
from rebalancing.services.tax_returns import (
    CARRYOVER_FIELDS,
    SOLE_FILERS,
    filing_statuses_write,
    household_tax_check,
    taxable_incomes_apart,
)
from tenants.errors import ValidationFailed

from .cells import (
    MAX_AMOUNT,
    CellProblem,
    ascii_cells,
    boolean_cells,
    column_parse,
    consistent_values,
    date_cells,
    decimal_cells,
    distinct,
    duplicates_report,
    ended_year_cells,
    references_map,
    tag_cells,
    tax_status_cells,
    text_cells,
)
from .report import ImportSummary
from .rows import changes_apply, changes_plan, ids_by, import_begin, records
from .sheet import Source, sheet_read

__all__ = ["accounts_import"]

KIND = "accounts"
REQUIRED = ("account_number", "account_name", "household_id")
OPTIONAL = (
    "household_name", "model", "template", "tax_status", "taxable", "discretionary", "short_term_rate",
    "long_term_rate", "cash", "realised_short_term_ytd", "realised_long_term_ytd", "opened_on", "asset_classes",
    "owner_name", "owner_birth_date", "spouse_birth_date", "year_end_value", "year_end_year",  # RMDs (services.rmd)
    "spouse",  # whose return the account is on when its household files separately
    # The household's returns, the same on each of its rows (services.tax_returns)
    "filing_status", "filing_status_from", "carryforward_year", *CARRYOVER_FIELDS, "sole_filer",
)
# Fields with no empty value: an empty cell keeps what is stored (a new account gets the default).
_KEEP_WHEN_EMPTY = (
    "tax_status", "discretionary", "short_term_rate", "long_term_rate", "cash", "realised_short_term_ytd",
    "realised_long_term_ytd", "spouse",
)
_field = Account._meta.get_field
_YEAR_END_VALUE = models.DecimalField(max_digits=18, decimal_places=2)  # an entry of Account.year_end_values


def _tax_status_cells(sheet) -> pd.Series | None:
    """``tax_status``; or the older ``taxable`` yes/no (no = a traditional IRA); both must agree."""
    status = tax_status_cells(sheet, "tax_status") if sheet.has("tax_status") else None
    if not sheet.has("taxable"):
        return status
    flag = boolean_cells(sheet, "taxable")
    from_flag = flag.map(lambda v: v if v is None or not isinstance(v, bool) else ("taxable" if v else "traditional"))
    if status is None:
        return from_flag
    for line, s, f in zip(status.index, status.tolist(), flag.tolist(), strict=True):
        if isinstance(s, str) and isinstance(f, bool) and (s == "taxable") != f:
            sheet.problems.add(line, "taxable", f"says {'yes' if f else 'no'} but tax_status is {s}")
    return status.where(status.map(lambda v: v is not None), from_flag)


def _parse_spouse(text: str) -> str:
    """``first``, ``second`` or ``joint`` ("first spouse", "second spouse" too)."""
    words = " ".join(text.lower().split()).removesuffix(" spouse")
    if words not in Account.Spouse.values:
        raise CellProblem(f"{text!r} is not whose the account is; write first, second or joint")
    return words


def _parse_filing_status(text: str) -> str:
    words = "_".join(text.lower().replace("-", " ").split())
    labels = {label.lower().replace(" ", "_"): value for value, label in Household.FilingStatus.choices}
    found = words if words in Household.FilingStatus.values else labels.get(words)
    if found is None:
        raise CellProblem(f"{text!r} is not a filing status; write {', '.join(Household.FilingStatus.values)}")
    return found


def _parse_sole_filer(text: str) -> str:
    words = text.strip().lower().removesuffix(" spouse")
    if words not in SOLE_FILERS:
        raise CellProblem(f"{text!r} is not whose return a single or head-of-household year after married years is; "
                          "write first or second")
    return words


def _spouses_check(sheet, columns: dict) -> None:
    """An IRA or Roth cannot be joint (IRC §408(a)): the row's tax status and spouse, each as the
    file gives it or else as stored (a new account: taxable, first)."""
    numbers = columns["custodian_number"]
    stored = {n: (t, s) for n, t, s in Account.objects.filter(custodian_number__in=distinct(numbers))
              .values_list("custodian_number", "tax_status", "spouse")}
    statuses = columns.get("tax_status", pd.Series([None] * len(numbers), index=numbers.index, dtype=object))
    spouses = columns.get("spouse", pd.Series([None] * len(numbers), index=numbers.index, dtype=object))
    for line, number, status, spouse in zip(numbers.index, numbers.tolist(), statuses.tolist(), spouses.tolist(),
                                            strict=True):
        stored_status, stored_spouse = stored.get(number, (Account.TaxStatus.TAXABLE, Account.Spouse.FIRST))
        if not isinstance(status, str | None) or not isinstance(spouse, str | None):
            continue  # a cell already reported
        problem = Account.spouse_problem(spouse=stored_spouse if spouse is None else spouse,
                                         tax_status=stored_status if status is None else status)
        if problem:
            column, stored_note = ("spouse", "") if spouse is not None else ("tax_status", " (it is marked joint)")
            sheet.problems.add(line, column, problem + stored_note)


def _unpriced_models_check(sheet, columns: dict) -> None:
    """A row giving an account a model (a new account, or another model than it has) that holds a
    security with no price is refused, as assigning that model is (every run of the account would fail)."""
    numbers, models_given = columns["custodian_number"], columns["model_id"]
    has = dict(Account.objects.filter(custodian_number__in=distinct(numbers)).values_list("custodian_number", "model_id"))
    words = {m.pk: model_unpriced_words(m) for m in ModelPortfolio.objects.filter(
        pk__in=[m for m in distinct(models_given) if isinstance(m, int)])}
    for line, number, model_id in zip(numbers.index, numbers.tolist(), models_given.tolist(), strict=True):
        if words.get(model_id) and (number not in has or has[number] != model_id):
            sheet.problems.add(line, "model", f"{words[model_id]}, then import the file again")


def _opened_after_trades_check(sheet, columns: dict) -> None:
    """An opening day after a trade or fill already booked in the account (``ledger.account_opening``)."""
    numbers, opened = columns["custodian_number"], columns["opened_on"]
    ids = ids_by(Account, "custodian_number", [n for n in distinct(numbers) if isinstance(n, str)])
    first = first_trade_days(ids.values())
    for line, number, day in zip(numbers.index, numbers.tolist(), opened.tolist(), strict=True):
        if isinstance(day, date) and number in ids and (problem := opened_after_trades_problem(
                account=number, opened_on=day, first_trade=first.get(ids[number]))):
            sheet.problems.add(line, "opened_on", problem)


# Columns that change what a household's open proposals owe on their returns.
_TAX_COLUMNS = {"filing_status", "filing_status_from", "carryforward_year", *CARRYOVER_FIELDS, "sole_filer", "spouse",
                "tax_status",
                "taxable", "short_term_rate", "long_term_rate", "realised_short_term_ytd", "realised_long_term_ytd"}


def _household_tax_cells(sheet, households: pd.Series, as_of: date) -> dict[str, dict]:
    """household id -> the tax facts its rows give (each the same on all of them; empty cells give
    nothing, so a fact not given is kept)."""
    facts: dict[str, dict] = {}
    parsed = {}
    if sheet.has("filing_status"):
        parsed["filing_status"] = column_parse(sheet, "filing_status", _parse_filing_status)
    if sheet.has("sole_filer"):
        parsed["sole_filer"] = column_parse(sheet, "sole_filer", _parse_sole_filer)
    def year(text: str) -> int:  # the year the loss is carried into, or a status's first: this year at the latest
        if not (text.isascii() and text.isdigit()) or not FIRST_YEAR <= int(text) <= as_of.year:
            raise CellProblem(f"{text!r} is not a year from {FIRST_YEAR} to {as_of.year}")
        return int(text)
    for name in ("filing_status_from", "carryforward_year"):
        if sheet.has(name):
            parsed[name] = column_parse(sheet, name, year)
    for name in CARRYOVER_FIELDS:
        if sheet.has(name):  # a loss carried, written as a positive amount
            parsed[name] = decimal_cells(sheet, name, field=Household._meta.get_field(name), required=False,
                                         minimum=Decimal(0), plausible=(MAX_AMOUNT, "dollars of loss carried"))
    for name, values in parsed.items():
        for household, value in consistent_values(sheet, households, values, name, f"the {name}").items():
            facts.setdefault(household, {})[name] = value
    return facts


def _status_first_year(given: dict, as_of: date, *, new: bool) -> int:
    """The first year the file's ``filing_status`` applies to: its ``filing_status_from``, else
    ``as_of``'s year for a household that exists and every year for one the file creates."""
    return given.get("filing_status_from", FIRST_YEAR if new else as_of.year)


def _statuses_planned(household: Household, given: dict, as_of: date) -> PastStatuses:
    """The household's past statuses once the file's ``filing_status`` applies, its current status
    set on it (unsaved)."""
    past = household.past_statuses
    if "filing_status" in given:
        past, household.filing_status = statuses_set(past, household.filing_status, given["filing_status"],
                                                     _status_first_year(given, as_of, new=household.pk is None))
    return past


def _household_tax_plan(sheet, households: pd.Series, facts: dict[str, dict], as_of: date) -> None:
    """Each household as its facts would leave it, checked (``household_tax_check``); a problem is
    said on the household's first row."""
    stored = {h.external_id: h for h in Household.objects.filter(external_id__in=list(facts))
              .prefetch_related("past_filing_statuses", "taxable_incomes")}
    first_line = {}
    for line, household in zip(households.index, households.tolist(), strict=True):
        first_line.setdefault(household, line)
    for external_id, given in facts.items():
        if "filing_status_from" in given and "filing_status" not in given:
            sheet.problems.add(first_line[external_id], "filing_status",
                               f"is empty: say the filing status that applies from {given['filing_status_from']}")
            continue
        household = stored.get(external_id) or Household(external_id=external_id, name=external_id)
        for name, value in given.items():
            if name not in ("filing_status", "filing_status_from"):
                setattr(household, name, value)
        past = _statuses_planned(household, given, as_of)
        try:
            household_tax_check(household, past)
        except ValidationFailed as exc:
            sheet.problems.add(first_line[external_id], exc.detail.get("field", "filing_status"), exc.message)
        # A filed year's taxable income stays on a return its year still has (``household_tax_set``'s rule).
        if "filing_status" in given and (apart := taxable_incomes_apart(household, household.taxable_income_by_return,
                                                                          past)):
            sheet.problems.add(first_line[external_id], "filing_status", "this change of filing status leaves a "
                               f"taxable income on a return its year no longer has. {apart[0]}")


def _rates_plan(sheet, columns: dict, households: pd.Series, facts: dict[str, dict]) -> list[str]:
    """A return is one taxpayer's, taxed at one set of marginal rates. A taxable account the file
    brings onto a return (new, or moved from another household) without rates takes the ones its
    return's accounts agree on; a file that sets an account's rates must leave every taxable account
    on that account's return at the same ones (the file's accounts as it leaves them, the household's
    others as stored), else each row that sets a rate there is refused. Returns notes for the summary."""
    numbers = columns["custodian_number"]
    given = [columns[n] for n in ("short_term_rate", "long_term_rate") if n in columns]
    sets_rate = (pd.concat(given, axis=1).notna().any(axis=1) if given
                 else pd.Series(False, index=numbers.index, dtype=bool))
    stored = {a.custodian_number: a for a in Account.objects.filter(custodian_number__in=distinct(numbers))
              .select_related("household")}
    joining = {line: number for line, number, household, s in zip(numbers.index, numbers.tolist(), households.tolist(),
                                                                   sets_rate.tolist(), strict=True)
               if not s and (number not in stored or stored[number].household.external_id != household)}
    touched = {h for h, s, line in zip(households.tolist(), sets_rate.tolist(), numbers.index, strict=True)
               if s or line in joining}
    if not touched:
        return []
    stored |= {a.custodian_number: a for a in Account.objects.filter(household__external_id__in=touched)
               .select_related("household")}
    planned: dict[str, dict[str, SimpleNamespace]] = defaultdict(dict)
    for number, a in stored.items():
        planned[a.household.external_id][number] = SimpleNamespace(
            custodian_number=number, taxable=a.taxable, spouse=a.spouse, short_term_rate=a.short_term_rate,
            long_term_rate=a.long_term_rate, Spouse=Account.Spouse)

    def cell(name: str, line, default):
        value = columns[name].get(line) if name in columns else None
        return default if value is None or (isinstance(value, float) and math.isnan(value)) else value

    setting: dict[str, list] = defaultdict(list)
    for line, number, household in zip(numbers.index, numbers.tolist(), households.tolist(), strict=True):
        old = stored.get(number)
        if old is not None:
            planned[old.household.external_id].pop(number, None)
        status = cell("tax_status", line, old.tax_status if old else Account.TaxStatus.TAXABLE)
        planned[household][number] = SimpleNamespace(
            custodian_number=number, taxable=status == Account.TaxStatus.TAXABLE,
            spouse=cell("spouse", line, old.spouse if old else Account.Spouse.FIRST),
            short_term_rate=Decimal(cell("short_term_rate", line, old.short_term_rate if old else Decimal("0.37"))),
            long_term_rate=Decimal(cell("long_term_rate", line, old.long_term_rate if old else Decimal("0.20"))),
            Spouse=Account.Spouse)
        if sets_rate[line]:
            setting[household].append(line)
    known = {h.external_id: h for h in Household.objects.filter(external_id__in=touched)}
    returns = {}
    for external_id in touched:
        returns[external_id] = known.get(external_id) or Household(external_id=external_id, name=external_id)
        returns[external_id].filing_status = facts.get(external_id, {}).get("filing_status",
                                                                           returns[external_id].filing_status)
    joined = []
    for line, number in joining.items():
        external_id = households[line]
        others = [a for n, a in planned[external_id].items() if n not in joining.values()]
        rates = joining_rates(returns[external_id], planned[external_id][number], others)
        if rates is None:
            continue
        for name, rate in zip(("short_term_rate", "long_term_rate"), rates, strict=True):
            if name not in columns:
                columns[name] = pd.Series([None] * len(numbers), index=numbers.index, dtype=object)
            columns[name][line] = rate
            setattr(planned[external_id][number], name, rate)
        joined.append(number)
    for external_id in sorted(setting):
        apart = rates_apart_on_returns(returns[external_id], sorted(planned[external_id].values(),
                                                                    key=lambda a: a.custodian_number))
        for line in setting[external_id] if apart else ():
            sheet.problems.add(line, "short_term_rate", f"household {external_id}: {apart[0]}")
    if not joined:
        return []
    return [f"accounts: {len(joined)} joining a tax return at its rates ({', '.join(sorted(joined)[:5])}"
            f"{', ...' if len(joined) > 5 else ''})"]


def _household_tax_apply(household_ids: dict[str, int], facts: dict[str, dict], as_of: date,
                         created: set[str]) -> int:
    """Write the households' tax facts (a filing status from its first year on, the years before
    keeping theirs: ``services.tax_returns.filing_statuses_write``); how many households changed."""
    changed = 0
    for external_id, given in facts.items():
        fields = {k: v for k, v in given.items() if k != "filing_status_from"}
        if "filing_status" in given:
            household = Household.objects.select_for_update().get(pk=household_ids[external_id])
            past_before = household.past_statuses
            past, fields["filing_status"] = statuses_set(
                past_before, household.filing_status, given["filing_status"],
                _status_first_year(given, as_of, new=external_id in created))
            filing_statuses_write(household, past)
            if past != past_before:
                changed += 1
                Household.objects.filter(pk=household.pk).update(**fields)
                continue
        changed += Household.objects.filter(pk=household_ids[external_id]).exclude(**fields).update(**fields)
    return changed


def _household_ids_case_check(sheet, households: pd.Series) -> None:
    """A new household id equal but for capitals to another's (or to another new one in the file) is
    refused on its lines, as the household page refuses it (``services.households.household_ids_clashing``;
    the database's unique index on the upper-cased id would otherwise stop the file with no line named)."""
    # (imported here: services.households imports this package)
    from rebalancing.services.households import household_ids_clashing

    clashing = household_ids_clashing(distinct(households))
    for line, external_id in households.items():
        if external_id in clashing:
            sheet.problems.add(line, "household_id", f"“{external_id}” differs only in capitals from the household id "
                               f"“{clashing[external_id]}”: ids are told apart ignoring capitals; give that id as it "
                               "is, or another one")


def _households_upsert(numbers: list[str], names: dict[str, str]) -> tuple[dict[str, int], tuple[str, ...]]:
    """Households by external id: created when new (named by the file, else by the id); renamed when
    the file names them differently."""
    existing = list(Household.objects.filter(external_id__in=numbers).order_by().values("id", "external_id", "name"))
    stored = {row["external_id"] for row in existing}
    rows = [
        {"external_id": number, "name": names.get(number, number)}
        for number in numbers if number in names or number not in stored
    ]
    changes = changes_plan(rows=rows, existing=existing, key=("external_id",))
    changes_apply(Household, changes)
    ids = ids_by(Household, "external_id", numbers)
    notes = [f"households: {len(changes.create)} created, {len(changes.update)} renamed"] \
        if changes.create or changes.update else []
    return ids, tuple(notes)


def _year_end_cells(sheet, columns: dict, as_of: date) -> None:
    """The value on 31 December and its year, given together or not at all (one means nothing alone):
    ``_year_end`` holds ``(year, value)`` or None (empty: the values stored are kept)."""
    has_value, has_year = sheet.has("year_end_value"), sheet.has("year_end_year")
    if not (has_value or has_year):
        return
    if has_value != has_year:
        missing = "year_end_year" if has_value else "year_end_value"
        sheet.problems.add_rows(sheet.frame.index, missing, "is a missing column: the value on 31 December and its "
                                "year go together")
        return
    value = decimal_cells(sheet, "year_end_value", field=_YEAR_END_VALUE, required=False, minimum=Decimal(0),
                          plausible=(MAX_AMOUNT, "dollars in one account"))
    year = ended_year_cells(sheet, "year_end_year", last=as_of.year - 1)
    pairs = []
    for line, v, y in zip(sheet.frame.index, value.tolist(), year.tolist(), strict=True):
        if (v is None) != (y is None):
            sheet.problems.add(line, "year_end_year" if y is None else "year_end_value",
                               "is empty: the value on 31 December and its year go together")
        pairs.append(None if v is None or y is None or not isinstance(y, int) or not isinstance(v, Decimal)
                     else (y, v))
    columns["_year_end"] = pd.Series(pairs, index=sheet.frame.index, dtype=object)


def _year_end_merge(rows: list[dict]) -> None:
    """A row's 31 December value joins the values the account keeps for other years."""
    given = {row["custodian_number"]: row.pop("_year_end") for row in rows if "_year_end" in row}
    stored = dict(Account.objects.filter(custodian_number__in=[n for n, pair in given.items() if pair])
                  .values_list("custodian_number", "year_end_values"))
    for row in rows:
        pair = given.get(row["custodian_number"])
        if pair:
            values = {**stored.get(row["custodian_number"], {}), str(pair[0]): f"{pair[1]:.2f}"}
            row["year_end_values"] = dict(sorted(values.items()))


def _realised_past_merge(rows: list[dict]) -> None:
    """Figures of a later year than the account's keep its earlier year's (``Account.realised_past_with``):
    that year's Schedule D still nets them."""
    given = {row["custodian_number"]: row["realised_ytd_year"] for row in rows if row.get("realised_ytd_year")}
    stored = {number: (year, short, long, past) for number, year, short, long, past in Account.objects.filter(
        custodian_number__in=list(given), realised_ytd_year__isnull=False).values_list(
        "custodian_number", "realised_ytd_year", "realised_short_term_ytd", "realised_long_term_ytd",
        "realised_past_years")}
    for row in rows:
        year, short, long, past = stored.get(row["custodian_number"], (None, 0, 0, {}))
        if year is not None and year < given.get(row["custodian_number"], year):
            row["realised_past_years"] = Account.realised_past_with(past, year, short, long)
            for name in ("realised_short_term_ytd", "realised_long_term_ytd"):  # a column the file leaves
                if row.get(name) is None:  # out is the new year's too: nothing realised in it yet
                    row[name] = Decimal(0)


def _moved_between_households(existing: list[dict], rows: list[dict]) -> dict[int, tuple[int, int]]:
    """Accounts the file moved to another household (account id -> (from, to)), their wash sales
    matched again in both households: a purchase washes a loss within a household (IRS Pub. 550),
    as ``household_account_move`` does for a move made on the people's page."""
    was = {e["custodian_number"]: (e["id"], e["household_id"]) for e in existing}
    moved = {was[r["custodian_number"]][0]: (was[r["custodian_number"]][1], r["household_id"]) for r in rows
             if r["custodian_number"] in was and was[r["custodian_number"]][1] != r["household_id"]}
    if moved:
        import_begin(LEDGER_LOCK)
        securities = set(TaxLot.objects.filter(account_id__in=moved).values_list("security_id", flat=True))
        securities |= set(TradeRecord.objects.filter(account_id__in=moved).values_list("security_id", flat=True))
        wash_sales_recompute(household_ids={h for pair in moved.values() for h in pair}, security_ids=securities,
                             year=timezone.localdate().year, trigger="accounts file moved accounts between households")
    return moved


def _with_settings(numbers: list[str]):
    """The file's stored accounts that have open proposals, with what ``_settings_changed`` reads
    (their own and their household's template and model)."""
    return (Account.objects.filter(custodian_number__in=numbers,
                                   pk__in=Proposal.objects.filter(status__in=OPEN).values("account_id"))
            .with_governing_template().select_related("model", "household__model"))


def _managed_model(account: Account) -> ModelPortfolio | None:
    return account.household.model if account.household.is_unit else account.model


def _classes_words(classes: list[str]) -> str:
    return ", ".join(sorted(classes)) if classes else "any"


def _settings_changed(before: Account, after: Account) -> str:
    """Why ``after``'s open proposals give way: what the file changed of what they were solved under
    (the template that governs it, the model it is managed to, its household - its wash sales and
    returns -, its tax status) or decided under (discretionary: auto-approval); the asset classes it
    may hold bind only a household managed as one (``household_settings_set``). Empty: nothing they
    depend on changed. A return's facts (rates, whose return, filing status, carryover) restate the
    open proposals' estimates instead, as the household page's change does (``household_tax_set``)."""
    words = [settings_change_words(template_before=before.governing_template, template_after=after.governing_template,
                                   model_before=_managed_model(before), model_after=_managed_model(after))]
    if before.household_id != after.household_id:
        words.append(f"the account moved from household “{before.household.name}” to “{after.household.name}”")
    if before.tax_status != after.tax_status:
        words.append(f"its tax status changed from {before.tax_status} to {after.tax_status}")
    if before.discretionary != after.discretionary:
        words.append(f"it became {'discretionary' if after.discretionary else 'non-discretionary'}")
    if after.household.is_unit and sorted(before.asset_classes or []) != sorted(after.asset_classes or []):
        words.append(f"the asset classes it may hold changed from {_classes_words(before.asset_classes)} "
                     f"to {_classes_words(after.asset_classes)}")
    words = [w for w in words if w]
    return f"the accounts file changed its settings: {'; '.join(words)}" if words else ""


@transaction.atomic
def accounts_import(*, source: Source, as_of: date | None = None) -> ImportSummary:
    """Create or update accounts by custodian number, and the households they belong to.

    ``model`` and ``template`` are codes that must exist (an empty cell clears them); rates are in
    [0, 1]; ``opened_on`` must not be after ``as_of`` (default today), nor after a trade or fill
    already booked in the account.
    """
    as_of = as_of or timezone.localdate()
    import_begin(KIND)
    sheet = sheet_read(source, kind=KIND, required=REQUIRED, optional=OPTIONAL)
    households = text_cells(sheet, "household_id", field=Household._meta.get_field("external_id"), required=True)
    columns = {
        "custodian_number": ascii_cells(sheet, "account_number", text_cells(
            sheet, "account_number", field=_field("custodian_number"), required=True), "an account number"),
        "name": text_cells(sheet, "account_name", field=_field("name"), required=True),
    }
    household_names = {}
    if sheet.has("household_name"):
        given = text_cells(sheet, "household_name", field=Household._meta.get_field("name"))
        household_names = consistent_values(sheet, households, given, "household_name", "the name")
    if sheet.has("discretionary"):
        columns["discretionary"] = boolean_cells(sheet, "discretionary")
    tax_status = _tax_status_cells(sheet)
    if tax_status is not None:
        columns["tax_status"] = tax_status
    if sheet.has("asset_classes"):  # "US Bonds|REITs"; empty: any
        columns["asset_classes"] = tag_cells(sheet, "asset_classes").map(lambda v: [] if v is None else v)
    for name in ("short_term_rate", "long_term_rate"):
        if sheet.has(name):
            columns[name] = decimal_cells(
                sheet, name, field=_field(name), required=False, minimum=Decimal(0), maximum=Decimal(1),
                unit="a rate is a fraction: 0.37 for 37%")
    # Signed (a debit balance, a realised loss) and bounded as the lots' and cash flows' dollars are
    # (MAX_AMOUNT): cash of $200bn is an account number in the wrong column, not a balance.
    for name, what in (("cash", "dollars of cash in one account"), ("realised_short_term_ytd", "dollars of gain in a year"),
                       ("realised_long_term_ytd", "dollars of gain in a year")):
        if sheet.has(name):
            columns[name] = decimal_cells(sheet, name, field=_field(name), required=False, plausible=(MAX_AMOUNT, what))
    ytd = [columns[n] for n in ("realised_short_term_ytd", "realised_long_term_ytd") if n in columns]
    if ytd:
        # The file's year-to-date gains are of its day's year (from 1 January they count as nothing).
        given = pd.concat(ytd, axis=1).notna().any(axis=1)
        columns["realised_ytd_year"] = pd.Series([as_of.year if g else None for g in given], index=given.index,
                                                 dtype=object)
    if sheet.has("opened_on"):
        columns["opened_on"] = date_cells(sheet, "opened_on", required=False, not_after=as_of)
    if sheet.has("owner_name"):
        columns["owner_name"] = text_cells(sheet, "owner_name", field=_field("owner_name"))
    for name in ("owner_birth_date", "spouse_birth_date"):
        if sheet.has(name):
            columns[name] = date_cells(sheet, name, required=False, not_after=as_of)
    _year_end_cells(sheet, columns, as_of)
    if sheet.has("spouse"):
        columns["spouse"] = column_parse(sheet, "spouse", _parse_spouse)
    tax_facts = _household_tax_cells(sheet, households, as_of)
    for column, model, what in (("model", ModelPortfolio, "model"), ("template", ParameterTemplate, "template")):
        if sheet.has(column):
            codes = sheet.cells(column).astype(object).mask(sheet.cells(column) == "", None)
            known = ids_by(model, "code", distinct(codes))
            columns[f"{column}_id"] = references_map(sheet, column, codes, known, what)
    duplicates_report(sheet, {"account_number": columns["custodian_number"]}, "account number")
    _spouses_check(sheet, columns)
    if "opened_on" in columns:
        _opened_after_trades_check(sheet, columns)
    if "model_id" in columns:
        _unpriced_models_check(sheet, columns)
    _household_tax_plan(sheet, households, tax_facts, as_of)
    _household_ids_case_check(sheet, households)
    joined = _rates_plan(sheet, columns, households, tax_facts) if not sheet.problems else []
    sheet.problems.reject_if_any()

    new_households = set(distinct(households)) - set(Household.objects.filter(
        external_id__in=distinct(households)).values_list("external_id", flat=True))
    household_ids, notes = _households_upsert(distinct(households), household_names)
    notes = (*notes, *joined)
    if tax_facts:
        changed = _household_tax_apply(household_ids, tax_facts, as_of, new_households)
        if changed:
            notes = (*notes, f"households: {changed} with new tax returns (filing status, carryover)")
    columns["household_id"] = pd.Series([household_ids[h] for h in households], index=households.index, dtype=object)
    rows = records(columns, keep_when_empty=_KEEP_WHEN_EMPTY)
    _year_end_merge(rows)
    _realised_past_merge(rows)
    existing = list(Account.objects.filter(custodian_number__in=[row["custodian_number"] for row in rows]).order_by()
                    .values("id", *sorted({name for row in rows for name in row})))
    settings_before = {a.pk: a for a in _with_settings([row["custodian_number"] for row in rows])}
    changes = changes_plan(rows=rows, existing=existing, key=("custodian_number",))
    changes_apply(Account, changes)
    moved = _moved_between_households(existing, rows)
    if moved:
        notes = (*notes, f"accounts: {len(moved)} moved to another household; wash sales matched again in both")
    # Open proposals solved under settings the account no longer has give way (as on a page or in the
    # admin); their households' estimates are restated with it, and a superseded one needs no restating.
    superseded = settings_changed_supersede({a.pk: _settings_changed(settings_before[a.pk], a) for a in _with_settings(
        [a.custodian_number for a in settings_before.values()])})
    if superseded:
        notes = (*notes, f"{superseded} open proposal{'s' if superseded != 1 else ''} of accounts whose settings the "
                 f"file changed superseded: rebalance {'them' if superseded != 1 else 'it'} again")
    if _TAX_COLUMNS & set(sheet.frame.columns):
        # Those still open were estimated on the returns as they were (status, carryover, rates, whose).
        open_estimates_restate(set(household_ids.values()),
                               because="the accounts file changed the household's tax returns")
    return ImportSummary(KIND, len(rows), len(changes.create), len(changes.update), changes.unchanged, notes=notes)

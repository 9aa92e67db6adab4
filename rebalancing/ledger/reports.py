"""Tax reports from the ledger: plain data for pages and APIs, and CSV writers.

- ``realised_gains``: every lot sold in a taxable account in a period with the figures of IRS
  Form 8949 (proceeds, cost basis, code W and the wash-sale adjustment, of it the part lost for good
  to an IRA or Roth replacement, gain or loss), totals per account and per household, short- and
  long-term, and the recalculations that changed sales of the period after they were recorded;
- ``schedule_d``: per return and year, Schedule D's netting, the loss limit and the carryover (a
  household's one return, or each spouse's when married filing separately), of all the year's
  sales: the ledger's, and a line for those realised before its records (``carryover.year_to_date_apart``);
- ``harvest``: losses harvested per account and month (and year), the wash-sale part given back,
  the tax they save at the account's rates, and the tracking error the proposals kept meanwhile;
- ``transition``: accounts moving from legacy holdings to their model under a yearly gains budget:
  how far they are, the tax spent, and the path ahead at today's prices.

Every function takes the accounts to report on as a queryset, so callers pass what the user may
see (``rebalancing.access.accounts_visible_to``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property

from rebalancing.engine.tax import estimated_tax, gift_basis, gift_start, term
from rebalancing.engine_inputs import FIRST_BOOK_DAY, book_day_check
from rebalancing.exports import csv_text
from rebalancing.models import (
    Account,
    BasisAdjustment,
    Household,
    Proposal,
    RealisedLot,
    Sleeve,
    TaxLot,
    WashSaleRecalculation,
)
from rebalancing.selectors import (
    DRIFT_STANDING,
    ModelBook,
    account_parameters,
    benchmark_weights_latest,
    latest_prices,
)
from tenants.errors import ValidationFailed

from .carryover import (
    YearToDateApart,
    household_years,
    latest_tax_year,
    with_filing_history,
    year_to_date_apart,
)
from .filing_years import FIRST, JOINT, SECOND
from .form_8949 import (
    AsReported,
    Box,
    Columns,
    WashIn,
    as_reported,
    box_of,
    columns_of,
    schedule_d_line,
    wash_in,
)
from .quantities import cents, plain
from .schedule_d import ScheduleD, joint_halves

__all__ = [
    "AccountLedger", "BoxTotals", "box_totals", "GainTotals", "HarvestRow", "LedgerLot", "account_ledger", "HouseholdScheduleD", "RealisedRow", "RealisedReport", "ScheduleDSum", "TermTotals", "TransitionRow",
    "harvest", "harvest_csv", "realised_boxes_csv", "realised_gains", "realised_lots_csv", "realised_rows", "realised_totals_csv", "schedule_d_csv",
    "schedules_d", "schedules_d_by_household", "transition", "transition_accounts", "transition_csv", "transition_rows",
    "TransitionAccount", "YearToDateApart", "report_day_check", "report_year_check", "year_to_date_apart",
]

ZERO = Decimal(0)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


# --- Realised gains and losses -------------------------------------------------------------------

@dataclass(frozen=True)
class RealisedRow:
    """One lot sold: a line of Form 8949. ``cost_basis`` is the basis after every wash sale;
    ``adjustment`` the wash-sale loss disallowed (code W); ``lost`` the part of it whose replacement
    was bought in an IRA or Roth: not deferred into any basis but lost for good (Rev. Rul. 2008-5);
    ``gain_or_loss`` = proceeds - cost basis + adjustment (column h). Columns (e), (f) and (g) as
    the form wants them against the broker's 1099-B: ``form_8949`` (codes B and T where the 1099-B
    leaves out basis or holding period a wash sale gave: ``form_8949.columns_of``)."""

    account_number: str
    household: str
    symbol: str
    lot_id: str
    quantity: Decimal
    acquired: date
    purchased: date
    sold: date
    term: str
    proceeds: Decimal
    cost_basis: Decimal
    adjustment: Decimal
    lost: Decimal = ZERO
    inherited: bool = False
    # What Form 8949's box turns on (``form_8949.box_of``): a fund, bought by the ledger's own fill
    # in this account, a gift; ``wash_basis`` the basis a wash sale added (the broker may not know it).
    fund: bool = False
    bought_in_account: bool = False
    gifted: bool = False
    wash_basis: Decimal = ZERO
    # Of ``wash_basis``, what the broker's 1099-B leaves out (a loss in another account or of another
    # security), and where its holding period starts (None: at ``acquired``): ``form_8949.as_reported``.
    basis_unknown_to_broker: Decimal = ZERO
    acquired_on_1099b: date | None = None
    # Whose return the line goes on: "" the household's one return; its household filing separately
    # in the year of the sale (``Household.files_separately_in``), the account's ``Account.spouse``:
    # "first", "second", or "joint" - half on each spouse's return (``box_totals``).
    spouse: str = ""

    @property
    def returns(self) -> tuple[str, ...]:
        """The returns the line goes on: ``""`` (the household's one), ``"first"``, ``"second"``, or
        both spouses' for a joint account filing separately (IRS Pub. 550; Form 8949 instructions:
        each spouse reports their own part)."""
        return (FIRST, SECOND) if self.spouse == JOINT else (self.spouse,)

    @cached_property
    def box(self) -> Box:
        return box_of(term=self.term, fund=self.fund, bought=self.purchased, in_account=self.bought_in_account,
                      gift=self.gifted, inherited=self.inherited)

    @property
    def schedule_d_line(self) -> str:
        """A Box A/D line with no code and nothing in column (g) goes on line 1a/8a: the broker's
        figures stand as they are (Schedule D instructions, lines 1a and 8a)."""
        return schedule_d_line(self.box.letter, adjusted=bool(self.code or self.form_8949_adjustment))

    @property
    def basis_on_1099b(self) -> Decimal:
        """The basis the broker's 1099-B shows (box 1e), as far as the ledger can tell."""
        return self.cost_basis - self.basis_unknown_to_broker

    @property
    def term_on_1099b(self) -> str:
        """The term the broker's 1099-B shows (box 2): from the holding period it knows of."""
        return self.term if self.acquired_on_1099b is None else term(self.acquired_on_1099b, self.sold)

    @cached_property
    def form_8949(self) -> Columns:
        return columns_of(letter=self.box.letter, cost_basis=self.cost_basis, disallowed=self.adjustment,
                          unknown=self.basis_unknown_to_broker, term=self.term, reported_term=self.term_on_1099b)

    @property
    def form_8949_cost_basis(self) -> Decimal:  # column (e)
        return self.form_8949.cost_basis

    @property
    def form_8949_adjustment(self) -> Decimal:  # column (g)
        return self.form_8949.adjustment

    @property
    def date_acquired(self) -> str:
        """Form 8949 column (b): "INHERITED" for shares from a decedent (the form's instructions;
        long-term whatever their dates, IRC §1223(9)), else the holding period's start."""
        return "INHERITED" if self.inherited else self.acquired.isoformat()

    @property
    def deferred(self) -> Decimal:
        """The disallowed loss added to a replacement's basis (recovered when it is sold)."""
        return self.adjustment - self.lost

    @property
    def code(self) -> str:
        """Column (f): B, T and W as they apply, in alphabetical order."""
        return self.form_8949.code

    @property
    def gain_or_loss(self) -> Decimal:
        return self.proceeds - self.cost_basis + self.adjustment


@dataclass
class TermTotals:
    proceeds: Decimal = ZERO
    cost_basis: Decimal = ZERO
    adjustment: Decimal = ZERO  # wash-sale losses disallowed
    lost: Decimal = ZERO  # of them, lost for good (replaced in an IRA or Roth)

    @property
    def gain_or_loss(self) -> Decimal:
        return self.proceeds - self.cost_basis + self.adjustment

    @property
    def deferred(self) -> Decimal:
        return self.adjustment - self.lost

    def add(self, row: RealisedRow) -> None:
        self.proceeds += row.proceeds
        self.cost_basis += row.cost_basis
        self.adjustment += row.adjustment
        self.lost += row.lost


@dataclass
class GainTotals:
    """Schedule D figures for an account or a household: ``level`` is "account" or "household"."""

    level: str
    key: str
    name: str
    short: TermTotals = field(default_factory=TermTotals)
    long: TermTotals = field(default_factory=TermTotals)

    @property
    def net(self) -> Decimal:
        return self.short.gain_or_loss + self.long.gain_or_loss


@dataclass
class BoxTotals:
    """A return's Form 8949 lines of one box and Schedule D line (Box A's lines with nothing to
    adjust on line 1a, the others on 1b; D on 8a or 8b): their totals of columns (d), (e), (g) and
    (h), as Form 8949's line 2 sums them and Schedule D takes them. The return is the household's
    of ``year`` (``spouse`` ""), or a spouse's own (``first``, ``second``) in a year it files
    separately. ``unknown``: lines whose box the ledger chose without knowing whether the broker
    reported the basis (Box B or E, ``form_8949.box_of``)."""

    household: str
    name: str
    box: str
    line: str
    lines: int = 0
    unknown: int = 0
    proceeds: Decimal = ZERO
    cost_basis: Decimal = ZERO
    adjustment: Decimal = ZERO
    spouse: str = ""
    year: int = 0

    @property
    def part(self) -> str:
        return "I" if self.box in "ABC" else "II"

    @property
    def spouse_label(self) -> str:
        return Account.Spouse(self.spouse).label if self.spouse else ""

    @property
    def gain_or_loss(self) -> Decimal:
        return self.proceeds - self.cost_basis + self.adjustment

    def add(self, row: RealisedRow) -> None:
        self.lines += 1
        self.unknown += not row.box.known
        self.proceeds += row.proceeds
        self.cost_basis += row.form_8949_cost_basis
        self.adjustment += row.form_8949_adjustment


_LINE_ORDER = ("1a", "1b", "2", "3", "8a", "8b", "9", "10")
_RETURN_ORDER = ("", FIRST, SECOND)


def _second_halves(joint: list[BoxTotals]) -> list[tuple[Decimal, Decimal, Decimal]]:
    """The second spouse's half of a joint account's totals of one term's lines (in the form's
    order) on separate returns: (proceeds, cost basis, adjustment). Column (h) is halved on the
    term's running total, as ``joint_halves`` halves it for Schedule D (the second's half rounded
    toward zero, the first taking the odd cent): so each return's lines add up, term by term, to its
    Schedule D line, and each line's halves to within a cent of half. Proceeds and adjustment are
    halved line by line the same way; the cost basis is what makes (h) = (d) - (e) + (g)."""
    halves, running, before = [], ZERO, ZERO
    for t in joint:
        running += t.gain_or_loss
        gain = joint_halves(running)[1] - before
        before += gain
        proceeds, adjustment = joint_halves(t.proceeds)[1], joint_halves(t.adjustment)[1]
        halves.append((proceeds, proceeds + adjustment - gain, adjustment))
    return halves


def box_totals(rows, names: dict[str, str] | None = None) -> list[BoxTotals]:
    """A total per Form 8949 box and Schedule D line of each return (``RealisedRow.returns``): a
    household's one return of the sales' year, or filing separately each spouse's own - their
    accounts' lines, and half of each joint account's (``_second_halves``; a joint line counts on
    both returns). By household, year, return (first, then second) and the form's order."""
    out: dict[tuple, BoxTotals] = {}
    joint: dict[tuple, BoxTotals] = {}
    for row in rows:
        line, year = row.schedule_d_line, row.sold.year
        into, spouse = (joint, JOINT) if row.spouse == JOINT else (out, row.spouse)
        key = (row.household, year, spouse, line)
        if key not in into:
            into[key] = BoxTotals(row.household, (names or {}).get(row.household, ""), row.box.letter, line,
                                  spouse=spouse, year=year)
        into[key].add(row)
    # A joint account's lines of a term, in the form's order, are halved together (``_second_halves``).
    terms: dict[tuple, list[BoxTotals]] = defaultdict(list)
    for t in sorted(joint.values(), key=lambda t: _LINE_ORDER.index(t.line)):
        terms[t.household, t.year, t.part].append(t)
    for (household, year, _), lines in terms.items():
        for t, (proceeds, cost_basis, adjustment) in zip(lines, _second_halves(lines), strict=True):
            for spouse, share in ((FIRST, (t.proceeds - proceeds, t.cost_basis - cost_basis,
                                           t.adjustment - adjustment)), (SECOND, (proceeds, cost_basis, adjustment))):
                mine = out.setdefault((household, year, spouse, t.line),
                                      BoxTotals(household, t.name, t.box, t.line, spouse=spouse, year=year))
                mine.lines += t.lines
                mine.unknown += t.unknown
                mine.proceeds += share[0]
                mine.cost_basis += share[1]
                mine.adjustment += share[2]
    return sorted(out.values(), key=lambda t: (t.household, t.year, _RETURN_ORDER.index(t.spouse),
                                               _LINE_ORDER.index(t.line)))


@dataclass(frozen=True)
class Recalculation:
    """Sales of the report's period whose figures changed after they were first recorded (a
    purchase or a correction arrived late): when, why, and each figure before and after."""

    at: object
    household: str
    trigger: str
    changes: list[dict]


@dataclass(frozen=True)
class RealisedReport:
    start: date
    end: date
    lots: list[RealisedRow]
    accounts: list[GainTotals]
    households: list[GainTotals]
    recalculations: list[Recalculation] = field(default_factory=list)
    boxes: list[BoxTotals] = field(default_factory=list)


def _as_reported(sold: list[RealisedLot]) -> dict[int, AsReported]:
    """What the brokers' 1099-Bs show of the sold lots a wash sale gave basis to: by the sale's id.
    One query per link of a chain (a replacement sold at a loss, washed again): its loss, as the
    broker figures it, is less by what its own 1099-B left out (``form_8949.wash_in``)."""
    into: dict[int, list[BasisAdjustment]] = defaultdict(list)
    wanted, seen = {r.pk for r in sold if r.wash_adjustment}, set()
    while wanted:
        seen |= wanted
        for a in (BasisAdjustment.objects.filter(realised_lot_id__in=wanted).select_related("source")
                  .order_by("pk")):
            into[a.realised_lot_id].append(a)
        wanted = {a.source_id for a in (a for mine in into.values() for a in mine)
                  if a.source.wash_adjustment} - seen
    memo: dict[int, AsReported] = {}

    def view(r: RealisedLot) -> AsReported:
        if r.pk not in memo:
            memo[r.pk] = AsReported(ZERO, r.acquired)  # a replay never defers a loss in a circle
            washes: list[WashIn] = []
            for a in into.get(r.pk, ()):
                s = a.source
                theirs = view(s)
                washes.append(wash_in(added=a.basis_added, same_account=s.account_id == r.account_id,
                                      identical=s.security_id == r.security_id, source_loss=s.cost_basis - s.proceeds,
                                      source_unknown=theirs.unknown, bought=a.acquired_before, source_sold=s.sold,
                                      source_start=theirs.start))
            memo[r.pk] = as_reported(acquired=r.acquired, purchased=r.purchased, wash_basis=r.wash_adjustment,
                                     washes=washes)
        return memo[r.pk]

    return {r.pk: view(r) for r in sold if r.wash_adjustment}


def realised_rows(realised: list[RealisedLot]) -> list[RealisedRow]:
    """The Form 8949 lines of lots sold (loaded with ``account__household`` and ``security``), in
    their order: the one home of columns (e), (f) and (g) for the report and the account's ledger
    page alike (one more query per link of a wash-sale chain whose basis a 1099-B may not show, and
    one for the households' past filing statuses: whose return each line goes on)."""
    reported = _as_reported(realised)
    households = {r.account.household_id: r.account.household for r in realised}
    with_filing_history(list(households.values()))
    rows = []
    for r in realised:
        broker = reported.get(r.pk)
        separate = r.account.taxable and households[r.account.household_id].files_separately_in(r.sold.year)
        rows.append(RealisedRow(
            account_number=r.account.custodian_number, household=r.account.household.external_id,
            symbol=r.security.symbol, lot_id=r.lot_id, quantity=r.quantity, acquired=r.acquired,
            purchased=r.purchased, sold=r.sold, term=r.term, proceeds=r.proceeds, cost_basis=r.cost_basis,
            adjustment=r.disallowed_loss, lost=r.disallowed_permanently, inherited=r.inherited,
            fund=r.security.is_fund, bought_in_account=r.origin_id is not None, gifted=r.gift_date is not None,
            wash_basis=r.wash_adjustment, basis_unknown_to_broker=broker.unknown if broker else ZERO,
            acquired_on_1099b=broker.start if broker and broker.start != r.acquired else None,
            spouse=r.account.spouse if separate else "",
        ))
    return rows


def realised_gains(*, accounts, start: date, end: date) -> RealisedReport:
    """Lots sold from ``start`` to ``end`` (inclusive) in the taxable ones of ``accounts``, with
    totals and the recalculations that touched the period, in five queries (and one more per link
    of a wash-sale chain whose basis a 1099-B may not show). (A sale inside an IRA or Roth is not
    reported.) ``boxes``: Form 8949's totals per return (``box_totals``)."""
    realised = list(
        RealisedLot.objects.filter(account__in=accounts, account__taxable=True, sold__range=(start, end))
        .select_related("account__household", "security")
        .order_by("account__household__name", "account__custodian_number", "sold", "pk")
    )
    lots, by_account, by_household = realised_rows(realised), {}, {}
    for r, row in zip(realised, lots, strict=True):
        account, household = r.account, r.account.household
        for level, key, name, into in (("account", account.custodian_number, account.name, by_account),
                                       ("household", household.external_id, household.name, by_household)):
            totals = into.setdefault(key, GainTotals(level, key, name))
            getattr(totals, row.term).add(row)
    numbers = {row.account_number for row in lots} | set(accounts.values_list("custodian_number", flat=True))
    recalculations = []
    for r in (WashSaleRecalculation.objects.filter(household__accounts__in=accounts, first_sold__lte=end,
                                                   last_sold__gte=start)
              .select_related("household").distinct().order_by("-created_at", "-pk")):
        changes = [c for c in r.changes if c["account"] in numbers and start <= date.fromisoformat(c["sold"]) <= end]
        if changes:
            recalculations.append(Recalculation(r.created_at, r.household.external_id, r.trigger, changes))
    names = {t.key: t.name for t in by_household.values()}
    return RealisedReport(start, end, lots, list(by_account.values()), list(by_household.values()), recalculations,
                          box_totals(lots, names))


REALISED_LOT_COLUMNS = (
    "account_number", "household", "term", "description", "symbol",
    # Form 8949's box, the Schedule D line its total goes on, whether the broker reported the basis
    # to the IRS (yes, no, unknown: then Box B or E) and why (``form_8949.box_of``).
    "box", "schedule_d_line", "basis_reported_to_irs", "box_reason", "lot_id", "quantity", "date_acquired",
    "date_purchased", "date_sold", "proceeds", "cost_basis", "code", "adjustment", "gain_or_loss",
    "wash_sale_deferred", "wash_sale_lost_for_good",
    # Whose return the line goes on (``RealisedRow.spouse``): empty for the household's one return,
    # first or second filing separately, joint for half on each spouse's.
    "spouse",
)
REALISED_TOTAL_COLUMNS = (
    "level", "key", "name", "short_term_proceeds", "short_term_cost_basis", "short_term_wash_sale_adjustment",
    "short_term_gain_or_loss", "long_term_proceeds", "long_term_cost_basis", "long_term_wash_sale_adjustment",
    "long_term_gain_or_loss", "net_gain_or_loss", "wash_sale_deferred", "wash_sale_lost_for_good",
)


def realised_lots_csv(report: RealisedReport) -> str:
    """Form 8949 lines (Part I short-term, Part II long-term: the ``term`` column; the ``box`` of
    each: a sale drawn from lots of different boxes has a line per lot, each in its own box), with
    columns (e), (f) and (g) as the form wants them against the 1099-B (``cost_basis``, ``code``,
    ``adjustment``: codes B and T included); ``wash_sale_deferred`` and ``wash_sale_lost_for_good``
    split the wash-sale loss disallowed (code W)."""
    return csv_text(REALISED_LOT_COLUMNS, (
        (r.account_number, r.household, r.term, f"{plain(r.quantity)} sh {r.symbol}", r.symbol, r.box.letter,
         r.schedule_d_line, r.box.reported_words, r.box.reason, r.lot_id,
         plain(r.quantity), r.date_acquired, r.purchased, r.sold, _text(r.proceeds), _text(r.form_8949_cost_basis),
         r.code, _text(r.form_8949_adjustment), _text(r.gain_or_loss), _text(r.deferred), _text(r.lost), r.spouse)
        for r in report.lots
    ))


REALISED_BOX_COLUMNS = (
    "household", "name", "part", "box", "schedule_d_line", "lines", "lines_basis_reporting_unknown", "proceeds",
    "cost_basis", "adjustment", "gain_or_loss",
    # The return: its tax year, and the spouse (empty for the household's one return, first or second
    # for a spouse's own filing separately: ``box_totals``).
    "year", "spouse",
)


def realised_boxes_csv(report: RealisedReport) -> str:
    """Per return, Form 8949's totals per box and the Schedule D line each goes on."""
    return csv_text(REALISED_BOX_COLUMNS, (
        (t.household, t.name, t.part, t.box, t.line, t.lines, t.unknown, _text(t.proceeds), _text(t.cost_basis),
         _text(t.adjustment), _text(t.gain_or_loss), t.year, t.spouse)
        for t in report.boxes
    ))


def realised_totals_csv(report: RealisedReport) -> str:
    """Schedule D totals, per account then per household."""
    return csv_text(REALISED_TOTAL_COLUMNS, (
        (t.level, t.key, t.name, *(_text(v) for part in (t.short, t.long)
                                   for v in (part.proceeds, part.cost_basis, part.adjustment, part.gain_or_loss)),
         _text(t.net), _text(t.short.deferred + t.long.deferred), _text(t.short.lost + t.long.lost))
        for t in (*report.accounts, *report.households)
    ))


# --- The years and days a report is drawn for ----------------------------------------------------
# One bound for the API, the pages and the tax_report command: a Schedule D is built from every
# year before the one asked (``carryover.household_years``), so a far-off year would tie the server
# up with sheets of years that have no sales.

def _typed_year(year: int | str) -> int | None:
    """A year as a number, or as typed in a query string: ASCII digits with an optional minus (not
    thirty of them: Python refuses to read an int of more than 4,300 digits); else None."""
    if isinstance(year, int) and not isinstance(year, bool):
        return year
    if not isinstance(year, str):
        return None
    digits = year.strip().removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 30):  # "²".isdigit() is true
        return None
    return int(year.strip())


def report_year_check(year: int | str) -> int:
    """``year`` (a number, or the text of a query string's ``year``) if a tax report can be drawn
    for it: from 1900 to the current tax year (where it has begun anywhere:
    ``carryover.latest_tax_year``). A later year has had no sales; the current year's Schedule D
    already shows the loss it carries out. The one refusal of a report's year, for the API, the
    pages (the account's ledger too) and the tax_report command, whatever was typed."""
    latest, number = latest_tax_year(), _typed_year(year)
    if number is None or not FIRST_BOOK_DAY.year <= number <= latest:
        typed = str(year).strip()
        given = number if number is not None else f"“{typed if len(typed) <= 40 else typed[:40] + '…'}”"
        raise ValidationFailed(f"The tax year must be from {FIRST_BOOK_DAY.year} to {latest} (the current one), "
                               f"not {given}.", detail={"field": "year"})
    return number


def report_day_check(day: date) -> date:
    """``day`` if a report can be read as of it: from 1900 to today, as every day the book is read on
    (``engine_inputs.book_day_check``): prices and budgets of a later day are not known."""
    return book_day_check(day, what="day the report is read as of (as_of)")


# --- Schedule D per return ----------------------------------------------------------------------

@dataclass(frozen=True)
class HouseholdScheduleD:
    """A return's Schedule D for a year, with the years before it that carry losses into it:
    the household's one return (``spouse`` ""), or a spouse's own when it files separately."""

    household: str
    name: str
    filing_status: str
    sheet: ScheduleD
    earlier: list[ScheduleD]
    spouse: str = ""

    @property
    def spouse_label(self) -> str:
        return Account.Spouse(self.spouse).label if self.spouse else ""

    @property
    def has_figures(self) -> bool:
        """False for a return with no sale in the year and no loss carried in: every line is 0."""
        s = self.sheet
        return any((s.short_term, s.long_term, s.before_ledger_short, s.before_ledger_long, s.carried_in_short,
                    s.carried_in_long, s.not_carried_short, s.not_carried_long))


_SHEET_FIGURES = ("short_term", "before_ledger_short", "carried_in_short", "net_short", "long_term",
                  "before_ledger_long", "carried_in_long", "net_long", "net",
                  "limit", "deduction", "deduction_used", "taxable_short", "taxable_long", "carried_out_short",
                  "carried_out_long", "not_carried_short", "not_carried_long")


@dataclass(frozen=True)
class ScheduleDSum:
    """A household's figures over its spouses' separate returns: each the sum of theirs, never a
    netting across them (one spouse's loss does not offset the other's gain, IRC §1211(b))."""

    year: int
    figures: dict[str, Decimal]

    def __getattr__(self, name: str) -> Decimal:
        if name in _SHEET_FIGURES:
            return self.figures[name]
        raise AttributeError(name)

    @classmethod
    def of(cls, sheets: list[ScheduleD]) -> ScheduleDSum:
        return cls(sheets[0].year, {f: sum((getattr(s, f) for s in sheets), ZERO) for f in _SHEET_FIGURES})


def schedules_d(*, households, year: int) -> list[HouseholdScheduleD]:
    """Schedule D of ``year`` for each return of each household (a queryset the user may see): one,
    or the two spouses' (first, then second) when it files separately that year; the losses carried
    from earlier years computed from the ledger, each year's filing status and each return's
    opening carryover. ``earlier``: the sheets of the years before that fed this return - its own,
    and in a year filed under another status the household's one return, or (into one return)
    both spouses' separate ones."""
    households = list(households.order_by("name"))
    sheets = household_years(households, year)
    status_labels = dict(Household.FilingStatus.choices)
    rows = []
    for h in households:
        years = sheets[h.pk]
        for spouse, sheet in years[year].items():
            earlier = [s for y in sorted(years) if y < year
                       for s in ([years[y][spouse]] if spouse in years[y] else years[y].values())]
            rows.append(HouseholdScheduleD(h.external_id, h.name, status_labels[sheet.filing_status], sheet, earlier,
                                           spouse))
    return rows


def schedules_d_by_household(rows: list[HouseholdScheduleD]) -> list[tuple[list[HouseholdScheduleD], ScheduleDSum | None]]:
    """The rows of each household together, with the sum of its spouses' returns when it files
    separately (None for one return)."""
    grouped: dict[str, list[HouseholdScheduleD]] = {}
    for row in rows:
        grouped.setdefault(row.household, []).append(row)
    return [(group, ScheduleDSum.of([r.sheet for r in group]) if group[0].spouse else None)
            for group in grouped.values()]


SCHEDULE_D_COLUMNS = (
    "household", "name", "filing_status", "spouse", "year", "short_term",
    # Realised this year before the ledger's records (the custodian's year-to-date figures less the
    # ledger's sales; no Form 8949 line of the ledger's): netted into the year like "short_term".
    "short_term_realised_before_ledger", "short_term_carried_in", "net_short_term",
    "long_term", "long_term_realised_before_ledger", "long_term_carried_in", "net_long_term", "net", "loss_limit",
    "deducted_from_ordinary_income",
    "taxed_as_ordinary_income", "taxed_as_long_term_gain", "short_term_carried_out", "long_term_carried_out",
    "short_term_not_carried", "long_term_not_carried",  # the other spouse's, on one person's return after married years
)


def schedule_d_csv(rows: list[HouseholdScheduleD]) -> str:
    """A line per return: ``spouse`` is empty for a household's one return, ``first`` or
    ``second`` for a spouse's own when it files separately (no line nets the two).
    ``short_term``/``long_term`` are the ledger's sales (its Form 8949 lines);
    ``*_realised_before_ledger`` what the year realised before the ledger's records, netted with them."""
    return csv_text(SCHEDULE_D_COLUMNS, (
        (r.household, r.name, r.filing_status, r.spouse, s.year, *(_text(v) for v in (
            s.short_term, s.before_ledger_short, s.carried_in_short, s.net_short, s.long_term, s.before_ledger_long,
            s.carried_in_long, s.net_long, s.net,
            s.limit, s.deduction, s.taxable_short, s.taxable_long, s.carried_out_short, s.carried_out_long,
            s.not_carried_short, s.not_carried_long)))
        for r in rows for s in [r.sheet]
    ))


# --- Harvest -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HarvestRow:
    """Losses harvested in an account in a month ("2026-10") or a year ("2026").

    ``harvested``: losses realised by sales made to harvest (positive); ``disallowed``: the part a
    wash sale deferred; ``tax_value``: what the rest saves at the account's rates (short-term
    losses at the short-term rate); ``tracking_error``: the largest tracking error after trading of
    the proposals that harvested (annualised; ``None`` where no sleeve tracks a benchmark).
    """

    account_number: str
    period: str
    harvested: Decimal
    disallowed: Decimal
    tax_value: Decimal
    tracking_error: float | None

    @property
    def net_harvested(self) -> Decimal:
        return self.harvested - self.disallowed


def _tracking_error(result: dict) -> float | None:
    values = [v for v in ((result or {}).get("summary") or {}).get("tracking_error_after", {}).values() if v is not None]
    return max(values) if values else None


def harvest(*, accounts, start: date, end: date) -> list[HarvestRow]:
    """Harvested losses per account, per month and per year, from ``start`` to ``end``.

    Each sale's tax value is rounded to the cent once, half up, and rows add those cents, as the
    ledger's figures are stored to the cent and summed (``quantities.cents``): a year's row is the
    sum of its months' rows, and the rows of the accounts add up to the sum of the report's figures."""
    sold = (
        RealisedLot.objects.filter(account__in=accounts, sold__range=(start, end), gain__lt=0,
                                   execution__order__reasons__contains=["harvest"])
        .select_related("account", "execution__order__proposal")
        .order_by("account__custodian_number", "sold")
    )
    sums: dict[tuple[str, str], list] = {}
    for r in sold:
        rate = r.account.short_term_rate if r.term == "short" else r.account.long_term_rate
        allowed = -r.gain - r.disallowed_loss
        error = _tracking_error(r.execution.order.proposal.result)
        for period in (f"{r.sold:%Y-%m}", f"{r.sold:%Y}"):
            entry = sums.setdefault((r.account.custodian_number, period), [ZERO, ZERO, ZERO, None])
            entry[0] += -r.gain
            entry[1] += r.disallowed_loss
            entry[2] += cents(allowed * rate)
            if error is not None:
                entry[3] = error if entry[3] is None else max(entry[3], error)
    # Months before their year, years after their months.
    keys = sorted(sums, key=lambda k: (k[0], k[1][:4], len(k[1]) == 4, k[1]))
    return [HarvestRow(number, period, h, d, t, e) for (number, period) in keys
            for h, d, t, e in [sums[(number, period)]]]


HARVEST_COLUMNS = ("account_number", "period", "harvested_losses", "wash_sale_disallowed", "net_harvested",
                   "tax_value", "tracking_error")


def harvest_csv(rows: list[HarvestRow]) -> str:
    return csv_text(HARVEST_COLUMNS, (
        (r.account_number, r.period, _text(r.harvested), _text(r.disallowed), _text(r.net_harvested),
         _text(r.tax_value), _text(r.tracking_error))
        for r in rows
    ))


# --- Transition ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TransitionYear:
    year: int
    gain_realised: Decimal
    tax: Decimal
    legacy_value_left: Decimal


@dataclass(frozen=True)
class TransitionRow:
    """An account moving from legacy holdings to its model.

    ``drift_start``/``drift_now``: the engine's drift at the first proposal and at the latest one
    (after its trades once executed); ``progress`` = 1 - now/start. ``legacy_value``: what is held
    outside the model (substitutes the parameters allow count as in the model); ``tax_spent``: tax
    the gains realised since the first proposal added, year by year, to the returns they went on
    (each return's Schedule D with them against without them, at the account's rates);
    ``legacy_gain``: the net unrealised gain still in the legacy holdings; ``path``: selling them at
    today's prices within ``budget`` (net gain a year; ``None`` = no budget), year by year.
    """

    account_number: str
    name: str
    started: date | None
    drift_start: float | None
    drift_now: float | None
    progress: float | None
    market_value: Decimal
    legacy_value: Decimal
    tax_spent: Decimal
    budget: Decimal | None
    legacy_gain: Decimal
    years_left: int | None
    path: list[TransitionYear]
    # Net gains realised so far this tax year (``Account.realised_ytd``: imported and booked alike),
    # which the yearly budget already counts, as the engine's does (engine.limits).
    realised_this_year: Decimal = ZERO


def _model_securities(account, models: ModelBook, weights: dict[int, dict[int, float]]) -> set[int]:
    held = set()
    if account.model_id is None or account.model_id not in models.versions:
        return held
    for sleeve, _weight, holdings in models.flat_sleeves(account.model_id):
        held |= set(holdings)
        if sleeve.kind == Sleeve.Kind.DIRECT_INDEX and sleeve.benchmark_id:
            held |= set(weights.get(sleeve.benchmark_id, {}))
    return held


def _path(gain: Decimal, value: Decimal, rate: Decimal, budget: Decimal | None, used: Decimal,
          year: int) -> tuple[int | None, list[TransitionYear]]:
    if gain <= 0:
        return (0 if value == 0 else 1), ([] if value == 0 else [TransitionYear(year, gain, ZERO, ZERO)])
    if budget is None:
        return 1, [TransitionYear(year, gain, cents(gain * rate), ZERO)]
    if budget <= 0:
        return None, []
    path, left, room = [], gain, max(budget - used, ZERO)
    while left > 0 and len(path) < 50:
        step = min(left, room)
        left -= step
        path.append(TransitionYear(year, step, cents(step * rate), cents(value * left / gain)))
        year, room = year + 1, budget
    return (len(path) if left == 0 else None), path


def _tax_added(account, sheets: dict, year: int, results: dict[str, Decimal]) -> Decimal:
    """What an account's net results of ``year`` (``{"short", "long"}``) added to the tax of the
    returns they went on: each return's Schedule D of the year (every account's sales, the loss
    carried in, its whole limit) against the same without them - the figure a proposal of the
    account shows alone (``engine.run_tax``), not a deduction of 3,000 of its own."""
    household = account.household
    if not household.files_separately_in(year):
        parts = [("", results["short"], results["long"])]
    elif account.spouse == Account.Spouse.JOINT:
        (s1, s2), (l1, l2) = joint_halves(results["short"]), joint_halves(results["long"])
        parts = [(Account.Spouse.FIRST, s1, l1), (Account.Spouse.SECOND, s2, l2)]
    else:
        parts = [(account.spouse, results["short"], results["long"])]
    rates = float(account.short_term_rate), float(account.long_term_rate)
    added = ZERO
    for spouse, short, long in parts:
        sheet = sheets.get(household.pk, {}).get(year, {}).get(spouse)
        if sheet is None:
            continue
        income = None if sheet.taxable_income is None else float(sheet.taxable_income)
        with_them = estimated_tax(float(sheet.net_short), float(sheet.net_long), *rates, float(sheet.limit), income)
        without = estimated_tax(float(sheet.net_short - short), float(sheet.net_long - long), *rates,
                                float(sheet.limit), income)
        added += Decimal(str(with_them - without))
    return added


def _transition_settings(accounts) -> dict[int, dict]:
    """Each account's effective ``transition`` settings. Accounts with the same governing template
    and the same overrides have the same settings, so they are merged once per such layering (a
    book of 10,000 accounts has a handful), not once per account."""
    merged: dict[tuple, dict] = {}
    settings = {}
    for account in accounts:
        template = account.governing_template
        key = (template.pk if template else None,
               json.dumps(account.household.overrides if account.household_id else None, sort_keys=True, default=str),
               json.dumps(account.overrides, sort_keys=True, default=str))
        if key not in merged:
            # Transition settings only: the firm's harvest substitutes and restricted list are not needed.
            merged[key] = account_parameters(account, firm_substitutes={}, firm_restrictions={}).values.get(
                "transition") or {}
        settings[account.pk] = merged[key]
    return settings


@dataclass(frozen=True)
class TransitionAccount:
    """An account whose parameters enable a tax-sensitive transition, with those settings."""

    account: Account
    settings: dict


def transition_accounts(accounts) -> list[TransitionAccount]:
    """The accounts of ``accounts`` (a queryset) in a transition, by account number: cheap beside
    their rows, so a page can list them all and figure only the rows it shows."""
    accounts = list(accounts.with_governing_template(batch=True).select_related("model")
                    .order_by("custodian_number", "pk"))
    settings = _transition_settings(accounts)
    return [TransitionAccount(a, settings[a.pk]) for a in accounts if settings[a.pk].get("enabled")]


def transition(*, accounts, as_of: date) -> list[TransitionRow]:
    """Accounts whose parameters enable a tax-sensitive transition, as of ``as_of``."""
    return transition_rows(transition_accounts(accounts), as_of=as_of)


def transition_rows(enrolled: list[TransitionAccount], *, as_of: date) -> list[TransitionRow]:
    """The report's row of each of ``enrolled`` (``transition_accounts``), as of ``as_of``."""
    if not enrolled:
        return []
    accounts = [e.account for e in enrolled]
    settings = {e.account.pk: e.settings for e in enrolled}
    ids = [a.pk for a in accounts]
    models = ModelBook({a.model_id for a in accounts if a.model_id}, as_of)
    benchmarks = {s.benchmark_id for sleeves in models.sleeves.values() for s in sleeves if s.benchmark_id}
    weights = benchmark_weights_latest(benchmarks, as_of)
    prices = latest_prices(as_of)
    lots = defaultdict(list)  # plain rows: a large book's lots are too many to build as model objects
    for lot in TaxLot.objects.filter(account_id__in=ids).values_list(
            "account_id", "security_id", "security__symbol", "quantity", "cost_basis", "acquired", "gift_date",
            "gift_unit_value"):
        lots[lot[0]].append(lot[1:])
    unit_prices = {security: Decimal(str(price)) for security, price in prices.items() if price is not None}
    in_models: dict[int | None, set[int]] = {}
    proposals = defaultdict(list)
    for p in Proposal.objects.filter(account_id__in=ids).annotate(standing=DRIFT_STANDING).order_by("created_at").values(
            "account_id", "created_at", "drift_before", "standing"):
        proposals[p["account_id"]].append(p)
    realised = defaultdict(lambda: defaultdict(lambda: {"short": ZERO, "long": ZERO}))
    for r in RealisedLot.objects.filter(account_id__in=ids).values("account_id", "sold", "term", "gain", "disallowed_loss"):
        realised[r["account_id"]][r["sold"].year][r["term"]] += r["gain"] + r["disallowed_loss"]

    # Each account's own household instance reads its filing status by year (``_tax_added``): all
    # loaded in one query, not one per account.
    with_filing_history([a.household for a in accounts])
    households = list({a.household_id: a.household for a in accounts}.values())
    sheets = household_years(households, as_of.year)
    rows = []
    for account in accounts:
        transition_settings = settings[account.pk]
        substitutes = set(transition_settings.get("substitutes") or {})
        if account.model_id not in in_models:
            in_models[account.model_id] = _model_securities(account, models, weights)
        in_model = in_models[account.model_id]
        history = proposals[account.pk]
        started = history[0]["created_at"].date() if history else None
        drift_start = history[0]["drift_before"] if history else None
        latest = history[-1] if history else None
        drift_now = None if latest is None else latest["standing"]
        progress = None if not drift_start else max(0.0, min(1.0, 1 - (drift_now or 0.0) / drift_start))
        market_value, legacy_value, legacy_gain, legacy_tax = Decimal(account.cash), ZERO, ZERO, ZERO
        for security_id, symbol, quantity, cost_basis, acquired, gifted, gift_unit_value in lots[account.pk]:
            price = unit_prices.get(security_id)
            value = cents(quantity * price) if price is not None else ZERO
            market_value += value
            if security_id in in_model or symbol in substitutes:
                continue
            if gifted is not None and gift_unit_value is not None:
                # A gift worth less than the donor's basis on the gift day: sold at today's price, the
                # basis and the holding period are those a sale uses (IRC §1015(a), §1223(2)) - between
                # the two values no gain or loss at all.
                fair_value = cents(gift_unit_value * quantity)
                acquired = gift_start(value, cost_basis, fair_value, acquired, gifted)
                cost_basis = gift_basis(value, cost_basis, fair_value)
            legacy_value += value
            legacy_gain += value - cost_basis
            rate = account.long_term_rate if term(acquired, as_of) == "long" else account.short_term_rate
            legacy_tax += (value - cost_basis) * rate
        # An IRA's or Roth's sales are not taxed, and the engine holds only taxable accounts to the
        # yearly gains budget (engine.limits): no tax, and the legacy is sold in one go.
        tax_spent = sum(
            (_tax_added(account, sheets, year, g) for year, g in realised[account.pk].items()
             if started is None or year >= started.year), ZERO
        ) if account.taxable else ZERO
        budget_value = transition_settings.get("max_net_gain_per_year")
        budget = None if budget_value is None or not account.taxable else Decimal(str(budget_value))
        # The year's budget is what is left of it after the gains realised so far, whether the ledger
        # booked them or the accounts file brought them: the engine's cap (engine.limits) reads the
        # same year-to-date figures, so the path agrees with what a run would realise.
        used = sum(account.realised_ytd(as_of.year), ZERO)
        rate = (legacy_tax / legacy_gain) if legacy_gain > 0 and account.taxable else ZERO
        years_left, path = _path(legacy_gain, legacy_value, rate, budget, used, as_of.year)
        rows.append(TransitionRow(
            account_number=account.custodian_number, name=account.name, started=started, drift_start=drift_start,
            drift_now=drift_now, progress=progress, market_value=market_value, legacy_value=legacy_value,
            tax_spent=cents(tax_spent), budget=budget, legacy_gain=cents(legacy_gain), years_left=years_left,
            path=path, realised_this_year=used if account.taxable else ZERO,
        ))
    return rows


TRANSITION_COLUMNS = (
    "account_number", "name", "started", "drift_start", "drift_now", "progress", "market_value", "legacy_value",
    "legacy_share", "tax_spent", "budget_per_year", "realised_this_year", "legacy_gain", "years_left", "path",
)


def transition_csv(rows: list[TransitionRow]) -> str:
    """One line per account; ``path`` = ``year:gain:tax:legacy value left`` separated by ``|``;
    ``realised_this_year`` the net gain the year has realised so far, which its budget counts."""
    return csv_text(TRANSITION_COLUMNS, (
        (r.account_number, r.name, _text(r.started), _text(r.drift_start), _text(r.drift_now), _text(r.progress),
         _text(r.market_value), _text(r.legacy_value),
         _text(float(r.legacy_value / r.market_value) if r.market_value else None), _text(r.tax_spent),
         _text(r.budget), _text(r.realised_this_year), _text(r.legacy_gain), _text(r.years_left),
         "|".join(f"{y.year}:{plain(y.gain_realised)}:{plain(y.tax)}:{plain(y.legacy_value_left)}" for y in r.path))
        for r in rows
    ))


# --- One account's ledger ------------------------------------------------------------------------

@dataclass(frozen=True)
class LedgerLot:
    """A held lot with the wash-sale adjustments that moved its basis and holding period."""

    lot: TaxLot
    adjustments: list

    @property
    def purchased(self) -> date:
        return self.lot.bought_on

    @property
    def basis_added(self) -> Decimal:
        return self.lot.wash_adjustment


@dataclass(frozen=True)
class AccountLedger:
    lots: list[LedgerLot]
    adjustments: list
    realised: object  # the year's realised lots (a queryset, newest first; their Form 8949 lines: ``realised_rows``)
    totals: dict[str, dict[str, Decimal]]  # term -> gain (after the wash-sale adjustment), disallowed
    years: list[int]  # years with sales, newest first


def account_ledger(*, account, year: int | None) -> AccountLedger:
    """An account's lots (wash-sale adjustments with their reasons) and what it sold in ``year``
    (default: the last year with sales)."""
    from rebalancing.models import BasisAdjustment

    adjustments = list(BasisAdjustment.objects.filter(account=account).select_related("security", "source")
                       .order_by("-created_at", "-id"))
    by_lot: dict[str, list] = defaultdict(list)
    for adjustment in adjustments:
        by_lot[adjustment.lot_id].append(adjustment)
    lots = [LedgerLot(lot, by_lot.get(lot.lot_id, []))
            for lot in TaxLot.objects.filter(account=account).select_related("security")
            .order_by("security__symbol", "acquired", "lot_id")]
    years = sorted({d.year for d in RealisedLot.objects.filter(account=account).dates("sold", "year")}, reverse=True)
    year = year or (years[0] if years else None)
    realised = (RealisedLot.objects.filter(account=account, sold__year=year)
                .select_related("account__household", "security").order_by("-sold", "-id"))
    totals = {t: {"gain": ZERO, "disallowed": ZERO, "lost": ZERO} for t in ("short", "long")}
    for r in realised:
        totals[r.term]["gain"] += r.reportable_gain
        totals[r.term]["disallowed"] += r.disallowed_loss
        totals[r.term]["lost"] += r.disallowed_permanently
    return AccountLedger(lots, adjustments, realised, totals, years)

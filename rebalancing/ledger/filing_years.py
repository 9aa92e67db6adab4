"""A household's filing status year by year, and its returns' Schedule D across a change of status.

Pure (no Django). A couple may file jointly one year and separately the next (or marry, or start
filing jointly again), so the status is a fact of each tax year, not of the household: each year's
Schedule D takes that year's returns and loss limit, and a loss carried across a change follows the
rules for husband and wife (Treas. Reg. §1.1212-1(c); IRS Pub. 550 "Capital Losses"):

- separate returns, then a joint return: each spouse's carryover is carried into the joint return,
  so the joint return's loss carried in is the sum of the two, by character;
- a joint return, then separate returns: the joint return's carryover is allocated to the spouses
  on the basis of their individual net capital losses of the joint year (Treas. Reg.
  §1.1212-1(c)(1)(iii)) - "only on the return of the spouse who actually had the loss" (Pub. 550).
  A spouse's individual net capital loss is their own results of the year, both terms netted (their
  accounts' and half of each joint account's), less the part of the loss carried in that was
  theirs; each character of the carryover, which keeps its character (IRC §1212(b)), is split in
  proportion to those losses. A spouse whose own results net to a gain or to nothing had no loss
  and takes none (before 2026-12-07 each character was split by the spouses' losses of that
  character alone, so a spouse whose short-term loss their own long-term gain had used up took a
  share). So through a run of joint years each spouse's part of the carryover is kept, year by
  year, and a later change to separate returns finds it;
- a married couple's return (joint or separate), then a single or head-of-household return: the
  marriage has ended (a divorce, or a spouse's death) and the return is one spouse's, the household's
  ``filer``; only that spouse's part of the carryover continues on it. The other spouse's part does
  not: after a divorce it is theirs to carry on their own return (enter it as their new household's
  opening carryover), after a death it could be used only on the decedent's final return (Pub. 550
  "Death of taxpayer"). The sheet shows it (``not_carried_short``/``_long``), so it is not lost from
  sight. Through single and head-of-household years the carryover is that one taxpayer's, whole;
- single or head of household, then a joint return: the filer's carryover goes on the joint return.

A status is stored as the household's current one plus the past ones, each with the last year it
covered (``PastStatuses``, ascending); ``statuses_set`` records a change from a year on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from .schedule_d import ScheduleD, joint_halves, loss_limit

__all__ = ["FIRST", "FIRST_YEAR", "JOINT", "MARRIED", "ONE_RETURN", "SECOND", "SEPARATE", "PastStatuses",
           "household_sheets", "returns_of", "status_in", "statuses_set"]

SEPARATE = "married_separate"
MARRIED = ("married_joint", SEPARATE)  # a couple's return(s); single and head of household are one person's
FIRST, SECOND, JOINT = "first", "second", "joint"  # Account.spouse
ONE_RETURN = ""  # the key of the household's one return
PastStatuses = tuple[tuple[int, str], ...]  # (last year covered, status), ascending by year
Pair = tuple[Decimal, Decimal]  # (short-term, long-term)

_ZERO = Decimal(0)
_CENT = Decimal("0.01")
FIRST_YEAR = 1900  # no return before it is ever figured: no period is kept for it


def status_in(year: int, current: str, past: PastStatuses) -> str:
    """The status the household files under in ``year``: the first past status whose last year is
    not before it, else the current one."""
    for last_year, status in past:
        if year <= last_year:
            return status
    return current


def returns_of(status: str) -> tuple[str, ...]:
    """The returns of a year filed under ``status``: the spouses' own when filing separately."""
    return (FIRST, SECOND) if status == SEPARATE else (ONE_RETURN,)


def statuses_set(past: PastStatuses, current: str, status: str, from_year: int) -> tuple[PastStatuses, str]:
    """The household's statuses after it files under ``status`` from ``from_year`` on: the years
    before keep theirs, every year from then takes the new one. Returned normalised (no two
    neighbouring periods with one status, no past period equal to the current status at its end),
    so equal histories are stored equally."""
    kept = [(last, s) for last, s in past if last < from_year - 1]
    before = status_in(from_year - 1, current, past)
    periods = [*kept, (from_year - 1, before)] if from_year > FIRST_YEAR else kept
    merged: list[tuple[int, str]] = []
    for last, s in periods:
        if merged and merged[-1][1] == s:
            merged[-1] = (last, s)
        else:
            merged.append((last, s))
    if merged and merged[-1][1] == status:
        merged.pop()
    return tuple(merged), status


def _sum(a: Pair, b: Pair) -> Pair:
    return a[0] + b[0], a[1] + b[1]


def _allocated(carried: Decimal, first_loss: Decimal, second_loss: Decimal) -> Pair:
    """A joint carryover of one character split by the spouses' own net losses of it, to the cent,
    the two summing to the whole (the first spouse takes the odd cent's rounding)."""
    if carried == 0:
        return _ZERO, _ZERO
    total = first_loss + second_loss
    if total <= 0:  # cannot happen (the joint loss is the sum of theirs); kept whole, not lost
        return carried, _ZERO
    second = (carried * second_loss / total).quantize(_CENT, rounding=ROUND_HALF_UP)
    return carried - second, second


def _owners(owned: Mapping[str, Pair]) -> tuple[dict[str, Pair], Pair]:
    """One year's results by owner (``FIRST``, ``SECOND``, ``JOINT``) as each spouse's own (a joint
    account's halved, ``joint_halves``) and as the whole (one return's)."""
    zero = (_ZERO, _ZERO)
    joint = owned.get(JOINT, zero)
    (short1, short2), (long1, long2) = joint_halves(joint[0]), joint_halves(joint[1])
    first, second = owned.get(FIRST, zero), owned.get(SECOND, zero)
    own = {FIRST: (first[0] + short1, first[1] + long1), SECOND: (second[0] + short2, second[1] + long2)}
    return own, _sum(_sum(first, second), joint)


def household_sheets(results: Mapping[int, Mapping[str, Pair]], *, status_of: Callable[[int], str], through: int,
                     opening: tuple[int, Mapping[str, Pair]] | None = None, filer: str = FIRST,
                     before_ledger: Mapping[int, Mapping[str, Pair]] | None = None,
                     taxable_income: Mapping[tuple[int, str], Decimal] | None = None) -> dict[int, dict[str, ScheduleD]]:
    """Each year's Schedule D of each return of the household, from the first year with a sale or
    the opening carryover's year through ``through``: year -> return key (``ONE_RETURN``, or
    ``FIRST``/``SECOND`` in a year filed separately) -> sheet.

    ``results``: year -> owner (``FIRST``, ``SECOND``, ``JOINT``) -> (net short-term, net
    long-term) of the sales of the taxable accounts that owner holds; ``status_of``: a year's filing
    status; ``opening``: (year, spouse -> (short, long) loss carried into it from before the
    ledger; a joint year's is each spouse's part, Household.opening_carryover); ``filer``: the
    spouse (``FIRST`` or ``SECOND``) whose return a single or head-of-household year is;
    ``before_ledger``: like ``results``, what was realised before the ledger's records (the
    custodian's year-to-date figures less the ledger's sales), a line of its own on each sheet that
    nets with the year's results like them (IRC §1211(b), §1212(b): every sale of the year counts);
    ``taxable_income``: (year, return key) -> that return's taxable income of the year, the Capital
    Loss Carryover Worksheet's line 1 (``ScheduleD.deduction_used``); a return without one takes
    the worksheet's taxable-income test as met."""
    other = SECOND if filer == FIRST else FIRST
    before_ledger = before_ledger or {}
    taxable_income = taxable_income or {}
    starts = [y for y in (*results, *before_ledger) if y <= through] + ([opening[0]] if opening else [])
    if not starts:
        status = status_of(through)
        return {through: {key: ScheduleD(through, _ZERO, _ZERO, _ZERO, _ZERO, loss_limit(status), status, key,
                                         taxable_income=taxable_income.get((through, key)))
                          for key in returns_of(status)}}
    zero = (_ZERO, _ZERO)
    parts = {FIRST: zero, SECOND: zero}  # each spouse's part of the loss carried into the year
    out: dict[int, dict[str, ScheduleD]] = {}
    for year in range(min(starts), through + 1):
        status = status_of(year)
        if opening and year == opening[0]:
            parts = {FIRST: tuple(opening[1].get(FIRST, zero)), SECOND: tuple(opening[1].get(SECOND, zero))}
            if status not in MARRIED:  # one person's return: what it carries in is the filer's
                parts = {filer: _sum(parts[FIRST], parts[SECOND]), other: zero}
        limit = loss_limit(status)
        own, whole = _owners(results.get(year, {}))
        own_before, whole_before = _owners(before_ledger.get(year, {}))
        if status == SEPARATE:
            sheets = {spouse: ScheduleD(year, own[spouse][0], own[spouse][1], parts[spouse][0], parts[spouse][1], limit,
                                        status, spouse, before_ledger_short=own_before[spouse][0],
                                        before_ledger_long=own_before[spouse][1],
                                        taxable_income=taxable_income.get((year, spouse)))
                      for spouse in (FIRST, SECOND)}
            parts = {spouse: (sheet.carried_out_short, sheet.carried_out_long) for spouse, sheet in sheets.items()}
        elif status not in MARRIED:
            # One person's return: the filer's carryover only; the other spouse's (a marriage that
            # ended) is shown as not carried, and from here on the carryover is the filer's alone.
            sheet = ScheduleD(year, whole[0], whole[1], parts[filer][0], parts[filer][1], limit, status,
                              not_carried_short=parts[other][0], not_carried_long=parts[other][1],
                              before_ledger_short=whole_before[0], before_ledger_long=whole_before[1],
                              taxable_income=taxable_income.get((year, ONE_RETURN)))
            sheets = {ONE_RETURN: sheet}
            parts = {filer: (sheet.carried_out_short, sheet.carried_out_long), other: zero}
        else:
            sheet = ScheduleD(year, whole[0], whole[1], parts[FIRST][0] + parts[SECOND][0],
                              parts[FIRST][1] + parts[SECOND][1], limit, status,
                              before_ledger_short=whole_before[0], before_ledger_long=whole_before[1],
                              taxable_income=taxable_income.get((year, ONE_RETURN)))
            sheets = {ONE_RETURN: sheet}
            # Each spouse's individual net capital loss of the year - all their results, the ledger's and
            # those before it, both terms netted, their part carried in included: the basis the joint
            # carryover, of each character, is allocated on (Treas. Reg. §1.1212-1(c)(1)(iii)). A spouse
            # whose own results net to a gain or to nothing had no loss to carry, whatever its terms.
            results_of = {spouse: _sum(own[spouse], own_before[spouse]) for spouse in (FIRST, SECOND)}
            losses = {spouse: max(sum(parts[spouse]) - sum(results_of[spouse]), _ZERO) for spouse in (FIRST, SECOND)}
            short = _allocated(sheet.carried_out_short, losses[FIRST], losses[SECOND])
            long = _allocated(sheet.carried_out_long, losses[FIRST], losses[SECOND])
            parts = {FIRST: (short[0], long[0]), SECOND: (short[1], long[1])}
        out[year] = sheets
    return out

"""Schedule D for one taxpayer and year: netting, the yearly loss limit, and the carryover.

A pure function on Decimals (no Django). Sources: IRC §1211(b) and §1212(b); IRS Pub. 550
"Capital Losses"; the Schedule D instructions and their Capital Loss Carryover Worksheet.

- Short-term results are netted with the short-term loss carried in (line 7), long-term with the
  long-term loss carried in (line 15); their sum is line 16. The year's results are ALL its sales:
  the ledger's (the Form 8949 lines) and those realised before the ledger's records, which the
  custodian reported only as year-to-date figures (``before_ledger_*``, no lot detail) - a return
  nets every capital gain and loss of its year (IRC §1211(b), §1212(b); Pub. 550 "Capital Losses").
- A net gain: a long-term part (the smaller of lines 15 and 16, when both are gains) taxed at the
  long-term rate, the rest at the ordinary rate.
- A net loss: at most $3,000 ($1,500 married filing separately) is deducted from ordinary income
  (line 21); the rest is carried into the next year keeping its character, short-term first
  absorbing the deduction (the worksheet's lines 5-13).
- The worksheet's taxable-income test (IRC §1212(b)(2): the deduction counts against the loss only
  as far as it reduced taxable income): line 1 is the year's taxable income (Form 1040 line 15,
  negative when deductions exceed income), line 2 the deduction (line 21), line 3 lines 1 and 2
  added (0 if less), line 4 the smaller of lines 2 and 3 (``deduction_used``); lines 5-13 take line
  4 where the deduction was. Without the year's taxable income (``taxable_income`` None) the test
  is taken as met: line 4 is the whole deduction.

Married filing separately, each spouse files their own Schedule D: their own sales, their own
$1,500 limit, their own carryover (IRC §1211(b), §1212(b); Pub. 550 "Capital Losses"). The
ledger figures one chain per return (``ledger.carryover``); ``joint_halves`` splits a joint
account's results between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from rebalancing.engine.tax import deduction_used

__all__ = ["LOSS_LIMIT", "LOSS_LIMIT_SEPARATE", "ScheduleD", "joint_halves", "loss_limit"]

LOSS_LIMIT = Decimal(3000)
LOSS_LIMIT_SEPARATE = Decimal(1500)  # married filing separately
_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def loss_limit(filing_status: str) -> Decimal:
    """The yearly limit on a net capital loss against ordinary income (IRC §1211(b))."""
    return LOSS_LIMIT_SEPARATE if filing_status == "married_separate" else LOSS_LIMIT


def joint_halves(amount: Decimal) -> tuple[Decimal, Decimal]:
    """A joint account's gain or loss split between the spouses' separate returns: half each (who
    owns a joint account's income is state law; half each is the usual reading), to the cent. The
    second spouse's half is rounded toward zero and the first's is the rest, so the two always sum
    to the whole and an odd cent goes to the first spouse (-0.01 is -0.01 and 0)."""
    second = (amount / 2).quantize(_CENT, rounding=ROUND_DOWN)
    return amount - second, second


@dataclass(frozen=True)
class ScheduleD:
    """One year's Schedule D figures. Losses carried are positive amounts."""

    year: int
    short_term: Decimal  # the year's net short-term gain or loss of the ledger's sales (lines 1-5)
    long_term: Decimal  # the year's net long-term gain or loss of the ledger's sales (lines 8-13)
    carried_in_short: Decimal  # line 6
    carried_in_long: Decimal  # line 14
    limit: Decimal
    filing_status: str = ""  # the year's status, where the sheet is one of a household's returns
    spouse: str = ""  # "" for the one return, "first"/"second" for a spouse's own filing separately
    # A single or head-of-household return after a married couple's year: the other spouse's part of
    # the loss carried out of that year, which is theirs and does not continue on this return
    # (``filing_years.household_sheets``). Not in any line of this sheet.
    not_carried_short: Decimal = _ZERO
    not_carried_long: Decimal = _ZERO
    # Realised this year before the ledger's records: the accounts' year-to-date figures from the
    # custodian less the ledger's sales of the year (``carryover.year_to_date_apart``), no Form 8949
    # line of the ledger's. Netted with the year's own results, as every estimate of the year does.
    before_ledger_short: Decimal = _ZERO
    before_ledger_long: Decimal = _ZERO
    # The return's taxable income of the year (the worksheet's line 1), when entered; None: not known.
    taxable_income: Decimal | None = None

    @property
    def net_short(self) -> Decimal:  # line 7
        return self.short_term + self.before_ledger_short - self.carried_in_short

    @property
    def net_long(self) -> Decimal:  # line 15
        return self.long_term + self.before_ledger_long - self.carried_in_long

    @property
    def net(self) -> Decimal:  # line 16
        return self.net_short + self.net_long

    @property
    def deduction(self) -> Decimal:  # line 21, as a positive amount
        return min(self.limit, -self.net) if self.net < 0 else _ZERO

    @property
    def deduction_used(self) -> Decimal:
        """Worksheet line 4: the part of the deduction the year's taxable income absorbed - the
        smaller of line 2 (the deduction) and line 3 (taxable income plus the deduction, at least 0).
        The whole deduction when the taxable income is not known (the test taken as met)."""
        return deduction_used(self.deduction, self.taxable_income)  # (the rule's one home: engine.tax)

    @property
    def taxable_long(self) -> Decimal:
        """Net capital gain taxed at the long-term rate."""
        return min(self.net_long, self.net) if self.net > 0 and self.net_long > 0 else _ZERO

    @property
    def taxable_short(self) -> Decimal:
        """Net gain taxed as ordinary income."""
        return self.net - self.taxable_long if self.net > 0 else _ZERO

    @property
    def carried_out_short(self) -> Decimal:
        """Worksheet line 8: short-term loss (line 5) less the long-term gain (line 6) and the
        deduction used (line 4)."""
        if self.net >= 0:
            return _ZERO
        short_loss = max(-self.net_short, _ZERO)
        return max(short_loss - (self.deduction_used + max(self.net_long, _ZERO)), _ZERO)

    @property
    def carried_out_long(self) -> Decimal:
        """Worksheet line 13: long-term loss (line 9) less the short-term gain (line 10) and what
        the deduction used did not take from the short-term loss (line 11)."""
        if self.net >= 0:
            return _ZERO
        short_loss = max(-self.net_short, _ZERO)
        long_loss = max(-self.net_long, _ZERO)
        return max(long_loss - (max(self.net_short, _ZERO) + max(self.deduction_used - short_loss, _ZERO)), _ZERO)

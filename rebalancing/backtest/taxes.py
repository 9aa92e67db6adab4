"""Settling a year's capital-gains tax from the account's rates.

Netting follows Schedule D (``rebalancing.engine.tax.net_gains``, the engine's own rule).  What
happens to a net loss is the backtest's ``losses`` setting:

- ``"offset"`` (default): the household has gains elsewhere of the same character that the net
  loss offsets, so it is worth its rate now - the assumption of tax-loss-harvesting studies;
- ``"carry_forward"``: a stand-alone account: at most $3,000 a year offsets ordinary income
  (valued at the short-term rate, IRC §1211(b)); the rest carries forward keeping its character,
  short-term first used (IRC §1212(b), Pub. 550 "Capital Loss Carryover").
"""

from __future__ import annotations

from dataclasses import dataclass

from rebalancing.engine.tax import ORDINARY_LOSS_LIMIT, net_gains

from .errors import BacktestError

__all__ = ["LOSS_TREATMENTS", "Carryover", "year_tax", "years_tax"]

LOSS_TREATMENTS = ("offset", "carry_forward")


@dataclass(frozen=True, slots=True)
class Carryover:
    """Capital losses carried into the next year (positive magnitudes)."""

    short_term: float = 0.0
    long_term: float = 0.0


def year_tax(
    short_term: float,
    long_term: float,
    short_rate: float,
    long_rate: float,
    losses: str = "offset",
    carried: Carryover = Carryover(),
) -> tuple[float, Carryover]:
    """Tax for a year's net short- and long-term results (negative = tax saved) and what carries
    forward."""
    if losses not in LOSS_TREATMENTS:
        raise BacktestError(f"losses must be one of {LOSS_TREATMENTS}, got {losses!r}")
    st = short_term - carried.short_term
    lt = long_term - carried.long_term
    if losses == "offset":
        n = net_gains(st, lt, loss_limit=0.0)
        return n.short_term * short_rate + n.long_term * long_rate, Carryover()
    n = net_gains(st, lt, loss_limit=ORDINARY_LOSS_LIMIT)
    if n.ordinary_deduction > 0 or (n.short_term <= 0 and n.long_term <= 0):
        # §1212(b): the deduction uses up short-term loss first, then long-term.
        used_st = min(-n.short_term, n.ordinary_deduction)
        used_lt = n.ordinary_deduction - used_st
        carry = Carryover(-n.short_term - used_st, -n.long_term - used_lt)
        return -n.ordinary_deduction * short_rate, carry
    return max(n.short_term, 0.0) * short_rate + max(n.long_term, 0.0) * long_rate, Carryover()


def years_tax(
    realised: dict[int, list[float]], years, short_rate: float, long_rate: float, losses: str = "offset"
) -> float:
    """Total tax of ``years`` (in order, each carrying its losses into the next) from their realised
    [short-term, long-term] results: two ledgers' totals compared give what one more sale costs
    across the years it touches (a wash sale can amend an earlier year)."""
    total, carried = 0.0, Carryover()
    for y in years:
        st, lt = realised.get(y, (0.0, 0.0))
        tax, carried = year_tax(st, lt, short_rate, long_rate, losses, carried)
        total += tax
    return total

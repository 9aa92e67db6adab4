"""One-off instructions: "sell X, buy Y", "raise $N cash", "liquidate", "bring back to model"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from .errors import InfeasibleParameters, InvalidRequest
from .parameters import CashParams, Instruction
from .positions import Book
from .targets import TargetPlan
from .words import dollars

# Below this (a fraction of account value) a position is at its target (as ``limits.TARGET_TOLERANCE``).
SHORTFALL_TOLERANCE = 1e-9

__all__ = ["InstructionEffects", "NO_INSTRUCTIONS", "read_instructions", "cash_levels", "swap_fraction", "apply_swap_targets"]


@dataclass(frozen=True, slots=True)
class InstructionEffects:
    """The instructions of one run, folded: flags, cash to raise and the sell/buy swaps."""

    liquidate: bool = False
    bring_to_model: bool = False
    raise_cash: float = 0.0
    swaps: tuple[Instruction, ...] = ()

    @property
    def any(self) -> bool:
        """True when at least one instruction is given."""
        return self.liquidate or self.bring_to_model or self.raise_cash > 0 or bool(self.swaps)


# The effects of no instruction (frozen: shared by every run without one).
NO_INSTRUCTIONS = InstructionEffects()


def read_instructions(instructions: Iterable[Instruction]) -> InstructionEffects:
    """Fold the instructions (several ``raise_cash`` add up; two sales of one security: ``_sold_together``)."""
    if isinstance(instructions, tuple) and not instructions:
        return NO_INSTRUCTIONS  # (most runs: one shared, frozen answer)
    liquidate = bring = False
    cash = 0.0
    swaps = []
    for ins in instructions:
        if ins.kind == "liquidate":
            liquidate = True
        elif ins.kind == "bring_to_model":
            bring = True
        elif ins.kind == "raise_cash":
            cash += float(ins.amount or 0.0)
        else:
            k = next((k for k, s in enumerate(swaps) if s.sell == ins.sell), None)
            if k is None:
                swaps.append(ins)
            else:
                swaps[k] = _sold_together(swaps[k], ins)
    if liquidate and (bring or any(s.buy for s in swaps)):
        # Selling everything cannot also bring the account to its model or buy with the proceeds.
        also = "bring_to_model" if bring else f"sell {next(s.sell for s in swaps if s.buy)}, buy " \
            f"{next(s.buy for s in swaps if s.buy)}"
        raise InvalidRequest(f"instructions contradict each other: liquidate sells everything, and {also} "
                             "would buy; give one of them")
    return InstructionEffects(liquidate, bring, cash, tuple(swaps))


def _sold_together(first: Instruction, then: Instruction) -> Instruction:
    """Two sales of one security. Each sale is sized from the holding as it stands, so taken one by
    one the second would sell X again and buy twice its proceeds. Two partial sales whose proceeds go
    to the same place (Y, or cash) are one sale of their total - the second sells from what the
    first leaves, so together they sell no more than the holding; anything else (a sale of all of
    X, proceeds split between two securities, shares beside dollars) is refused naming both."""
    size = "quantity" if first.quantity is not None else "amount" if first.amount is not None else None
    if size is None or first.buy != then.buy or getattr(then, size) is None:
        raise InvalidRequest(f"two instructions sell {first.sell} ({_said(first)} and {_said(then)}): give one "
                             f"sale of {first.sell} - all of it, or the shares or amount to sell - and the security "
                             "its proceeds buy")
    return replace(first, **{size: getattr(first, size) + getattr(then, size)})


def _said(ins: Instruction) -> str:
    """A sale as the advisor gave it: "sell $5,000.00 of VTI, buy BND"."""
    what = (f"{ins.quantity:g} shares of " if ins.quantity is not None
            else f"{dollars(ins.amount)} of " if ins.amount is not None else "")
    return f'"sell {what}{ins.sell}' + (f', buy {ins.buy}"' if ins.buy else '"')


def cash_levels(cash: CashParams, effects: InstructionEffects, total_value: float) -> tuple[float, float]:
    """Cash target and floor (fractions of account value) after setting aside cash to raise.

    Raised cash comes on top: the target and floor apply to what remains invested.
    """
    if effects.liquidate:
        return 1.0, 0.0
    reserved = effects.raise_cash / total_value
    if reserved > 1.0:
        raise InfeasibleParameters(
            f"cannot raise {dollars(effects.raise_cash)}: the account is worth {dollars(total_value)}",
            ["instructions.raise_cash"],
        )
    target = max(cash.target, cash.floor)
    return reserved + target * (1 - reserved), reserved + cash.floor * (1 - reserved)


def swap_fraction(ins: Instruction, book: Book) -> float:
    """Fraction of account value that a sell instruction sells (all of it by default)."""
    i = book.index[ins.sell]
    held = book.weights[i]
    if ins.quantity is not None:
        return min(held, ins.quantity * book.price[i] / book.total_value)
    if ins.amount is not None:
        return min(held, ins.amount / book.total_value)
    return held


def apply_swap_targets(plan: TargetPlan, book: Book, effects: InstructionEffects) -> None:
    """Move each sold security's target to what the instruction buys (in place); liquidation zeroes all.

    Selling all of X moves X's whole target to Y, and Y takes the proceeds of any excess (a legacy
    position, a name of a removed class): the rest of the model shrinks pro rata to fit, never below
    zero, and where the proceeds are more than the account has room for beside the cash target, Y's
    target is all of that room. Without a Y the proceeds are invested as the model says: X's target
    goes to the rest of the model pro rata (the names it may buy; to cash when there are none).
    Selling part of X ("sell $5,000 of X, buy Y") moves exactly what is sold: X's target is lowered
    by it and Y's raised by it, on top of Y's own target (without a Y the proceeds stay in cash),
    and the rest of the model is untouched unless the sale is more than X's target (it then shrinks
    as above). X is not bought back in the same proposal (a round trip, and at a loss a wash sale:
    IRS Pub. 550), so what X's remaining target still asks is held in the cash already there (or
    left where it is), not spent on other positions past their targets (``_hold_unbought_shortfall``).
    The targets and the cash target still sum to 1.
    """
    if effects.liquidate:
        plan.target[:] = 0.0
        plan.reference[:] = 0.0
        plan.buyable[:] = False
        return
    if not effects.swaps:
        return
    spare = max(book.cash_weight - plan.cash_target - plan.cash_reserve, 0.0)
    partial: list[int] = []
    held = book.weights.copy()  # the holdings once the ordered trades are made
    for ins in effects.swaps:
        i = book.index[ins.sell]
        sold = swap_fraction(ins, book)
        held[i] = max(0.0, held[i] - sold)
        full = ins.quantity is None and ins.amount is None
        moved = plan.target[i] if full else min(plan.target[i], sold)
        plan.target[i] -= moved
        plan.reference[i] = max(0.0, plan.reference[i] - moved)
        plan.buyable[i] = False
        if not full:
            partial.append(i)
        if full and ins.buy is None:
            _invest_as_model(plan, i, moved)
            continue
        # What the instruction puts where the sale was: all of X's target at least when X is sold
        # outright, the sale itself when only part of it is; a sale of more than X's target goes to
        # Y or cash all the same, and the rest of the model makes room for it.
        received = max(moved, sold) if full else sold
        j = None if ins.buy is None else book.index[ins.buy]
        received -= _make_room(plan, received - moved, (i, j))
        if j is None:
            plan.cash_target += received
            continue
        held[j] += sold
        plan.target[j] += received
        plan.reference[j] += received
        plan.buyable[j] = True
        if plan.sleeve_of[j] is None:
            plan.sleeve_of[j] = plan.sleeve_of[i]
    for i in partial:
        spare = _hold_unbought_shortfall(plan, i, held, spare)


def _invest_as_model(plan: TargetPlan, i: int, freed: float) -> None:
    """X sold outright with nothing named to buy: its target ``freed`` goes to the rest of the model
    pro rata - the names the proposal may buy, so each keeps its weight relative to the others - or,
    where there is none, stays in cash."""
    others = plan.buyable & (plan.target > 0)
    others[i] = False
    base = plan.target[others].sum()
    if base <= 0:
        plan.cash_target += freed
        return
    scale = (base + freed) / base
    plan.target[others] *= scale
    plan.reference[others] *= scale


def _make_room(plan: TargetPlan, surplus: float, sale: tuple[int, int | None]) -> float:
    """The rest of the model (all but the ``sale``'s X and Y) shrinks pro rata by ``surplus``, never
    below zero; returns what it could not give (the receiver's target is that much less: the account
    holds no more than all of it)."""
    if surplus <= 0:
        return 0.0
    others = plan.target > 0
    others[[k for k in sale if k is not None]] = False
    base = plan.target[others].sum()
    if base <= 0:
        return surplus
    scale = max(0.0, (base - surplus) / base)
    plan.target[others] *= scale
    plan.reference[others] *= scale
    return max(0.0, surplus - base)


def _hold_unbought_shortfall(plan: TargetPlan, i: int, held: np.ndarray, spare: float) -> float:
    """X, partly sold and not to be bought back, may still be below its lowered target. Nothing is
    bought in its place: the shortfall is held in the cash already there above its target
    (``spare``, reserved on top of the cash target, as for a name a wash sale blocks in ``limits``),
    and what that cash does not cover stays in the positions above their targets that would have
    paid for X (each keeps a share of its excess, a purchase ordered on top of its target too), so
    nothing is sold for a purchase that does not happen. ``held``: the holdings once the ordered
    trades are made. Direct-indexed names are left to the optimiser. Returns the spare cash left."""
    di = plan.direct_indexed()
    gap = plan.reference[i] - held[i]
    if di[i] or gap <= SHORTFALL_TOLERANCE:
        return spare
    plan.reference[i] = held[i]
    reserve = min(gap, spare)
    plan.cash_reserve += reserve
    rest = gap - reserve
    if rest > SHORTFALL_TOLERANCE:
        excess = np.where(di, 0.0, np.maximum(held - plan.reference, 0.0))
        total = excess.sum()
        if total > 0:
            plan.reference += excess * min(1.0, rest / total)
    return spare - reserve

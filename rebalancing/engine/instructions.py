"""One-off instructions: "sell X, buy Y", "raise $N cash", "liquidate", "bring back to model"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InfeasibleParameters, InvalidRequest
from .parameters import CashParams, Instruction
from .positions import Book
from .targets import TargetPlan
from .words import dollars

__all__ = ["InstructionEffects", "read_instructions", "cash_levels", "swap_fraction", "apply_swap_targets"]


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


def read_instructions(instructions: Iterable[Instruction]) -> InstructionEffects:
    """Fold the instructions (several ``raise_cash`` add up)."""
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
            swaps.append(ins)
    if liquidate and (bring or any(s.buy for s in swaps)):
        # Selling everything cannot also bring the account to its model or buy with the proceeds.
        also = "bring_to_model" if bring else f"sell {next(s.sell for s in swaps if s.buy)}, buy " \
            f"{next(s.buy for s in swaps if s.buy)}"
        raise InvalidRequest(f"instructions contradict each other: liquidate sells everything, and {also} "
                             "would buy; give one of them")
    return InstructionEffects(liquidate, bring, cash, tuple(swaps))


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
    """Move the sold security's target to the bought one (in place); liquidation zeroes all."""
    if effects.liquidate:
        plan.target[:] = 0.0
        plan.reference[:] = 0.0
        plan.buyable[:] = False
        return
    for ins in effects.swaps:
        i = book.index[ins.sell]
        sold = swap_fraction(ins, book)
        full = ins.quantity is None and ins.amount is None
        moved = plan.target[i] if full else min(plan.target[i], sold)
        if ins.buy is not None:
            j = book.index[ins.buy]
            extra = max(moved, sold if full else moved)
            plan.target[j] += extra
            plan.reference[j] += extra
            plan.buyable[j] = True
            if plan.sleeve_of[j] is None:
                plan.sleeve_of[j] = plan.sleeve_of[i]
            # Proceeds of a legacy position go to Y, so the rest of the model shrinks to fit.
            surplus = extra - moved
            if surplus > 0:
                others = plan.target > 0
                others[[i, j]] = False
                base = plan.target[others].sum()
                if base > 0:
                    scale = max(0.0, (base - surplus) / base)
                    plan.target[others] *= scale
                    plan.reference[others] *= scale
        plan.target[i] -= moved
        plan.reference[i] = max(0.0, plan.reference[i] - moved)
        plan.buyable[i] = False

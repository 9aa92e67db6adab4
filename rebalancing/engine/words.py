"""How the engine writes amounts of money in the messages people read (warnings, alerts, refusals):
in dollars, to the cent, with the sign before the currency - "$1,234.50", "-$12.00"."""

from __future__ import annotations

from .money import cents

__all__ = ["dollars"]


def dollars(amount: float) -> str:
    rounded = cents(amount)  # half up, as figures are stored; no "-$0.00" for a tiny negative
    return f"-${-rounded:,.2f}" if rounded < 0 else f"${rounded:,.2f}"

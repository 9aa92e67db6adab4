"""Money to the cent as the ledger stores it and people round it: half up on the figure a float
stands for (Form 1040 instructions, "rounding off"), not ``round``'s half-even on its binary noise."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

__all__ = ["cents", "cents_decimal"]

_NOISE = Decimal("0.000001")
_CENT = Decimal("0.01")
# Beyond this a float holds no cents to round (and Decimal's 28 digits could not quantize it).
_NO_CENTS = 1e12


def cents_decimal(value: float) -> Decimal:
    """``value`` to the cent, half up on the figure it stands for: its binary noise below a millionth
    is dropped first, so 8,999.30 x 15%, computed as 1349.8949999999998, is 1,349.90 as the exact
    1,349.895 is - not 1,349.89."""
    value = float(value)
    if not math.isfinite(value) or abs(value) >= _NO_CENTS:
        return Decimal(repr(round(value, 2))) if math.isfinite(value) else Decimal(repr(value))
    return Decimal(repr(value)).quantize(_NOISE, rounding=ROUND_HALF_EVEN).quantize(_CENT, rounding=ROUND_HALF_UP)


def cents(value: float) -> float:
    """``cents_decimal`` as a float (no ``-0.0``)."""
    return float(cents_decimal(value)) + 0.0

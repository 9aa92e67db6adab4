"""Shares and money as the ledger stores them: Decimals of 6 and 2 places, rounded half up."""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from rebalancing.engine.money import cents_decimal

__all__ = ["cents", "cents_of_exact", "cents_of_float", "cents_running", "plain", "prorate", "shares"]

_SHARE = Decimal("0.000001")
_CENT = Decimal("0.01")


def shares(value) -> Decimal:
    """A quantity of shares (float, str or Decimal) to 6 places."""
    return Decimal(str(value)).quantize(_SHARE, rounding=ROUND_HALF_UP)


def cents(value) -> Decimal:
    return Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


def cents_of_float(value) -> Decimal:
    """A figure the engine computed in floats (a tax, a loss) to the cent, half up on the figure it
    stands for - the engine's own rule, so its results and the ledger's figures agree to the cent
    (``engine.money.cents_decimal``: 1349.8949999999998 is $1,349.90 as the exact 1,349.895 is)."""
    return cents_decimal(value)


def prorate(total: Decimal, parts: list[Decimal]) -> list[Decimal]:
    """Split ``total`` in proportion to ``parts``, to the cent, rounding cumulatively so that the
    pieces add up to ``total`` exactly."""
    whole = sum(parts, Decimal(0))
    if whole == 0:
        return [Decimal(0) for _ in parts]
    out, running, given = [], Decimal(0), Decimal(0)
    for part in parts:
        running += part
        upto = cents(total * running / whole)
        out.append(upto - given)
        given = upto
    return out


def cents_of_exact(value: Fraction | Decimal) -> Decimal:
    """An exact amount (a Fraction, or a Decimal product of any length) to the cent, half up, in
    integers: no Decimal context rounds it first."""
    value = Fraction(value)
    whole = (abs(value) * 100 + Fraction(1, 2)).__floor__()
    return Decimal(whole if value >= 0 else -whole).scaleb(-2)


def cents_running(exact: Iterable[Fraction | Decimal], *, before: Fraction | Decimal = 0) -> list[Decimal]:
    """Exact amounts to cents, rounded cumulatively after ``before`` (the exact amount already
    counted): each is the cents of the running total less the cents before it. So the parts add up
    to the total's cents and each is within a cent of its exact amount: a lot's cost split over
    its sales and the shares still held adds up to what the lot cost (IRC §1012)."""
    running = Fraction(before)
    given, out = cents_of_exact(running), []
    for part in exact:
        running += Fraction(part)
        upto = cents_of_exact(running)
        out.append(upto - given)
        given = upto
    return out


def plain(value: Decimal) -> str:
    """A quantity or amount as people write it: ``120``, ``30.5`` (no exponent, no trailing zeros)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

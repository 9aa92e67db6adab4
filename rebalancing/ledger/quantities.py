"""Shares and money as the ledger stores them: Decimals of 6 and 2 places, rounded half up."""

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["cents", "plain", "prorate", "shares"]

_SHARE = Decimal("0.000001")
_CENT = Decimal("0.01")


def shares(value) -> Decimal:
    """A quantity of shares (float, str or Decimal) to 6 places."""
    return Decimal(str(value)).quantize(_SHARE, rounding=ROUND_HALF_UP)


def cents(value) -> Decimal:
    return Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


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


def plain(value: Decimal) -> str:
    """A quantity or amount as people write it: ``120``, ``30.5`` (no exponent, no trailing zeros)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

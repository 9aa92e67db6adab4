"""The engine's float figures stored to the cent, half up on the exact figure they stand for."""

import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from rebalancing.ledger.quantities import cents_of_float


def _exact_half_up(cents_value: Fraction) -> Decimal:
    """A plain rounding of an exact amount (in dollars) to the cent, halves away from zero."""
    hundredths = cents_value * 100
    whole = int(abs(hundredths) + Fraction(1, 2))
    return Decimal(whole if hundredths >= 0 else -whole) / 100


def test_a_tax_on_a_half_cent_rounds_up():
    assert cents_of_float(8999.30 * 0.15) == Decimal("1349.90")  # the float is 1349.8949999999998
    assert cents_of_float(-2.675) == Decimal("-2.68")
    assert cents_of_float(0.0) == Decimal("0.00")


def test_every_gain_and_rate_on_cents_and_percents_rounds_as_the_exact_product():
    rng = random.Random(20261207)
    for _ in range(20_000):
        gain = Fraction(rng.randint(-10_000_000, 10_000_000), 100)  # -$100,000.00 to $100,000.00
        rate = Fraction(rng.randint(0, 1000), 1000)  # 0.0% to 100.0%
        computed = float(gain) * float(rate)  # as the engine computes it
        assert cents_of_float(computed) == _exact_half_up(gain * rate), (gain, rate, computed)


def test_plain_round_would_have_rounded_some_halves_down():
    # What the stores did before: Decimal(str(x)).quantize(HALF_UP) on the float.
    rng = random.Random(7)
    wrong = 0
    for _ in range(20_000):
        gain, rate = Fraction(rng.randint(0, 10_000_000), 100), Fraction(rng.randint(0, 1000), 1000)
        computed = float(gain) * float(rate)
        wrong += Decimal(str(computed)).quantize(Decimal("0.01"), ROUND_HALF_UP) != _exact_half_up(gain * rate)
    assert wrong > 0

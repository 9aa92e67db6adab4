"""A run keeps one alert per kind and account (the table's rule); the engine may raise several of
a kind - a harvest opportunity in each losing name. The one alert names them, the largest first, and
its amount is their sum: the dashboard's total of harvestable losses counts every position, not the
first the engine happened to report."""

import random
from decimal import Decimal
from types import SimpleNamespace

from rebalancing import engine
from rebalancing.models import Alert
from rebalancing.services.runs import ALERT_POSITIONS_NAMED, _alerts


def result_with(*alerts: engine.Alert) -> SimpleNamespace:
    return SimpleNamespace(alerts=list(alerts), trades=[], summary=SimpleNamespace(drift_before=0.0))


def harvest(symbol: str, amount: float) -> engine.Alert:
    return engine.Alert("harvest_opportunity", f"{symbol} has {amount:,.2f} of harvestable losses, not harvested: "
                                               "harvesting is switched off", symbol=symbol, amount=amount)


def test_every_harvestable_position_is_named_largest_first_and_summed():
    [alert] = _alerts(None, 7, result_with(harvest("VB", 5003.81), harvest("VTI", 12000.5), harvest("BND", 310.0)))

    assert alert.kind == Alert.Kind.HARVEST
    assert alert.amount == Decimal("17314.31")  # 5,003.81 + 12,000.50 + 310.00, stored to the cent
    assert alert.message == ("VTI has $12,000.50 of harvestable losses, not harvested: harvesting is switched off; "
                             "VB has $5,003.81 of harvestable losses, not harvested: harvesting is switched off; "
                             "BND has $310.00 of harvestable losses, not harvested: harvesting is switched off")


def test_past_the_named_positions_the_rest_are_counted_and_still_summed():
    rng = random.Random(7)
    amounts = {f"S{n}": round(rng.uniform(100, 9000), 2) for n in range(ALERT_POSITIONS_NAMED + 3)}

    [alert] = _alerts(None, 7, result_with(*(harvest(s, a) for s, a in amounts.items())))

    assert float(alert.amount) == round(sum(amounts.values()), 2)
    assert alert.message.endswith("; and 3 more")
    named = [part.split(" has ")[0] for part in alert.message.split("; ")[:ALERT_POSITIONS_NAMED]]
    assert named == sorted(amounts, key=lambda s: -amounts[s])[:ALERT_POSITIONS_NAMED]


def test_amounts_of_different_meanings_are_not_added():
    other = (engine.Alert("unknown_code_a", "something", amount=5.0), engine.Alert("unknown_code_b", "else", amount=9.0))

    [alert] = _alerts(None, 7, result_with(*other))

    assert (alert.kind, alert.amount, alert.message) == (Alert.Kind.OTHER, None, "something; else")

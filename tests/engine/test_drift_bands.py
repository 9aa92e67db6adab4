"""Drift bands with forced trades: what a screen frees must not be stranded in cash."""

from rebalancing.engine import (
    CashParams,
    DriftParams,
    Parameters,
    ScreenParams,
    Security,
    TradingParams,
    rebalance,
)

from .builders import lot, model, request

ENERGY = ("OIL1", "OIL2", "OIL3", "OIL4")
SECURITIES = (
    Security("EQ", 100.0, "equity"),
    Security("BD", 100.0, "bonds"),
    *(Security(s, 50.0, "equity", sector="Energy") for s in ENERGY),
)
PARAMS = Parameters(
    screen=ScreenParams(excluded_sectors=("Energy",)),
    drift=DriftParams(absolute_band=0.05, relative_band=0.25),
    cash=CashParams(target=0.0),
    trading=TradingParams(whole_shares=True),
)


def test_screened_out_holdings_are_reinvested_when_their_proceeds_breach_the_cash_band():
    # Given a 60/40 account inside its bands, plus four legacy oil stocks of 2.5% each (each inside
    # its own 5% band) that the screen excludes: 10% in all
    lots = [lot("1", "EQ", 540, 50_000), lot("2", "BD", 360, 36_000)]
    lots += [lot(f"o{i}", s, 50, 2_000) for i, s in enumerate(ENERGY)]

    # When the account is rebalanced
    result = rebalance(request(lots, SECURITIES, model(EQ=0.6, BD=0.4), parameters=PARAMS))

    # Then the oil stocks are sold for the screen and their 10% goes back into the model, not to cash
    sides = {t.symbol: t.side for t in result.trades}
    assert all(sides[s] == "sell" for s in ENERGY)
    assert sides.get("EQ") == "buy" and sides.get("BD") == "buy"
    assert result.summary.cash_after / result.summary.market_value < 0.01


def test_a_small_screened_sale_inside_the_cash_band_trades_nothing_else():
    # Given the same account where the excluded holding is 1% (its proceeds stay inside the cash band)
    lots = [lot("1", "EQ", 594, 50_000), lot("2", "BD", 396, 36_000), lot("3", "OIL1", 20, 900)]

    result = rebalance(request(lots, SECURITIES, model(EQ=0.6, BD=0.4), parameters=PARAMS))

    # Then only the screened stock trades: the bands hold everything else still
    assert [(t.symbol, t.side) for t in result.trades] == [("OIL1", "sell")]

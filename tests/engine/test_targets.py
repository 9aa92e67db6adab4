"""Model -> per-security targets: removed asset classes, screens, direct index, substitutes."""

import numpy as np
import pytest

from rebalancing.engine import (
    Benchmark,
    CashParams,
    DirectIndexParams,
    InfeasibleParameters,
    Model,
    Parameters,
    ScreenParams,
    Security,
    Sleeve,
    TransitionParams,
    rebalance,
)
from rebalancing.engine.positions import build_book
from rebalancing.engine.request import validate_request
from rebalancing.engine.targets import plan_targets, sleeve_weights, universe_symbols

from .builders import funds, lot, model, request, with_params


def _plan(req, cash_target=0.0):
    book = build_book(req, validate_request(req), universe_symbols(req))
    return book, plan_targets(req, book, cash_target, 0.0)


def _targets(req, cash_target=0.0):
    book, plan = _plan(req, cash_target)
    return {s: round(float(plan.target[i]), 10) for i, s in enumerate(book.symbols) if plan.target[i] > 0}


def test_removing_real_estate_from_60_30_10_rescales_to_two_thirds_one_third():
    # given a 60/30/10 model
    req = request([], funds(EQ=100, BD=100, RE=100), model(EQ=0.6, BD=0.3, RE=0.1), cash=1_000)
    req = with_params(req, removed_asset_classes=("real_estate",))
    # when targets are computed, then the remaining sleeves are rescaled pro rata
    assert _targets(req) == pytest.approx({"EQ": 2 / 3, "BD": 1 / 3})


def test_removed_class_is_sold_and_reported_as_the_reason():
    req = request(
        [lot("L1", "EQ", 60, 6_000), lot("L2", "BD", 30, 3_000), lot("L3", "RE", 10, 1_000)],
        funds(EQ=100, BD=100, RE=100),
        model(EQ=0.6, BD=0.3, RE=0.1),
    )
    result = rebalance(with_params(req, removed_asset_classes=("real_estate",)))
    sale = next(t for t in result.trades if t.symbol == "RE")
    assert sale.side == "sell" and sale.quantity == 10
    assert "removed_asset_class" in sale.reasons
    assert result.weights_after["EQ"] == pytest.approx(2 / 3, abs=0.01)


def test_removing_every_asset_class_is_infeasible():
    with pytest.raises(InfeasibleParameters) as err:
        sleeve_weights(model(EQ=1.0).sleeves, ["equity"], 1.0)
    assert "removed_asset_classes" in err.value.conflicts


def _stock_sleeve_request():
    secs = (
        Security("A", 10, "equity", sector="Tech"),
        Security("B", 10, "equity", sector="Health"),
        Security("C", 10, "equity", sector="Finance"),
        Security("D", 10, "equity", sector="Energy"),
    )
    m = Model("stocks", (Sleeve("equity", 1.0, {"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.1}),))
    return request([], secs, m, cash=10_000)


def test_a_screen_that_frees_ten_percent_rescales_it_pro_rata():
    # given a sleeve 40/30/20/10 whose 10% holding is in an excluded sector
    req = with_params(_stock_sleeve_request(), screen=ScreenParams(excluded_sectors=("Energy",)))
    # then the freed 10% is shared pro rata: 40/90, 30/90, 20/90
    assert _targets(req) == pytest.approx({"A": 4 / 9, "B": 3 / 9, "C": 2 / 9})
    # and a rebalance never buys the excluded security
    result = rebalance(req)
    assert "D" not in {t.symbol for t in result.trades}
    assert result.weights_after["A"] == pytest.approx(4 / 9, abs=0.002)


def test_track_benchmark_keeps_the_unscreened_reference_for_the_optimiser():
    # (A sleeve with a benchmark and its risk model: without one it falls back to pro_rata,
    # test_track_benchmark_fallback.py.)
    from dataclasses import replace

    from rebalancing.engine import Benchmark, RiskModel

    req = _stock_sleeve_request()
    sleeve = req.model.sleeves[0]
    rm = RiskModel(("mkt",), {s: (1.0,) for s in "ABCD"}, ((0.04,),), {s: 0.01 for s in "ABCD"})
    req = replace(req, model=Model("stocks", (replace(sleeve, benchmark=Benchmark("B", dict(sleeve.holdings), rm)),)))
    req = with_params(req, screen=ScreenParams(excluded_sectors=("Energy",), rescale="track_benchmark"))
    book, plan = _plan(req)
    d = book.index["D"]
    assert plan.reference[d] == pytest.approx(0.1)
    assert plan.target[d] == 0.0
    assert not plan.buyable[d]


def test_screen_excluding_a_whole_sleeve_is_infeasible_naming_the_screen():
    req = with_params(_stock_sleeve_request(), screen=ScreenParams(excluded_symbols=("A", "B", "C", "D")))
    with pytest.raises(InfeasibleParameters) as err:
        rebalance(req)
    assert "screen" in err.value.conflicts


def test_esg_threshold_excludes_low_scores_but_not_unrated():
    secs = (
        Security("A", 10, "equity", esg_score=8),
        Security("B", 10, "equity", esg_score=2),
        Security("C", 10, "equity"),
    )
    m = Model("m", (Sleeve("equity", 1.0, {"A": 0.5, "B": 0.25, "C": 0.25}),))
    req = with_params(request([], secs, m, cash=1_000), screen=ScreenParams(min_esg_score=5))
    assert _targets(req) == pytest.approx({"A": 2 / 3, "C": 1 / 3})


def test_direct_index_selects_at_most_n_names_preferring_held_ones():
    # given a 6-name benchmark, max 3 names, and 30% of the sleeve in the lightest name
    names = ["N1", "N2", "N3", "N4", "N5", "N6"]
    weights = [0.3, 0.25, 0.2, 0.15, 0.06, 0.04]
    bench = Benchmark("B6", dict(zip(names, weights, strict=True)))
    secs = tuple(Security(n, 50, "equity", sector="S") for n in names) + (Security("FUND", 100, "equity"),)
    m = Model("di", (Sleeve("equity", 1.0, {"FUND": 1.0}, bench),))
    req = request([lot("L1", "N6", 600, 30_000)], secs, m, cash=70_000)
    req = with_params(req, direct_index=(DirectIndexParams("equity", max_names=3),))
    book, plan = _plan(req)
    di = plan.direct_index[0]
    selected = {book.symbols[i] for i in di.members[di.selected]}
    # then N6 (held) beats N3 and N4, and N1/N2 come in by benchmark weight
    assert selected == {"N1", "N2", "N6"}
    assert sum(plan.target) == pytest.approx(1.0)
    assert plan.target[book.index["FUND"]] == 0.0
    # and the replaced fund looks through to the benchmark
    assert plan.lookthrough is not None
    col = plan.lookthrough[:, book.index["FUND"]].toarray().ravel()
    assert col[[book.index[n] for n in names]] == pytest.approx(weights)


def test_direct_index_rebalance_holds_at_most_n_names_and_lowers_tracking_error():
    names = [f"N{i}" for i in range(12)]
    rng = np.random.default_rng(3)
    w = rng.dirichlet(np.ones(12))
    bench = Benchmark("B12", dict(zip(names, w.tolist(), strict=True)))
    secs = tuple(Security(n, 20.0, "equity", sector=f"S{i % 3}") for i, n in enumerate(names))
    secs += (Security("FUND", 100, "equity"),)
    m = Model("di", (Sleeve("equity", 1.0, {"FUND": 1.0}, bench),))
    req = request([lot("F", "FUND", 1_000, 90_000)], secs, m, cash=0.0)
    req = with_params(req, direct_index=(DirectIndexParams("equity", max_names=8),))
    result = rebalance(req)
    held = [s for s, v in result.weights_after.items() if s in names and v > 0]
    assert 0 < len(held) <= 8
    assert "FUND" not in result.weights_after
    assert result.summary.tracking_error_before["equity"] == pytest.approx(0.0, abs=1e-9)
    assert result.summary.tracking_error_after["equity"] < 0.05
    assert all("direct_index" in t.reasons for t in result.trades)


def test_transition_keeps_a_legacy_close_substitute_in_place_of_the_model_fund():
    secs = funds(EQ=100, BD=100) + (Security("OLD", 100, "equity"),)
    req = request(
        [lot("L1", "OLD", 30, 1_000), lot("L2", "BD", 40, 4_000)], secs, model(EQ=0.6, BD=0.4), cash=3_000
    )
    req = with_params(
        req, transition=TransitionParams(substitutes={"OLD": "EQ"}), cash=CashParams(target=0.0)
    )
    targets = _targets(req)
    assert targets["OLD"] == pytest.approx(0.3)
    assert targets["EQ"] == pytest.approx(0.3)
    result = rebalance(req)
    assert "OLD" not in {t.symbol for t in result.trades}


def test_default_parameters_hold_the_model_through_its_funds():
    assert Parameters().direct_index == ()

"""The same request gives the same result whatever the process solved before (issues 9, 12 b, 16).

Nothing is carried from one solve to the next: each account gets a fresh solver (a reused one
would keep the first account's equilibration), and the only caches hold pure functions of their
key (a risk model's exposures, Clarabel's settings).  Checked in this process after other
accounts of the same and other shapes, and against a fresh process that solves nothing else.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from rebalancing.engine import rebalance, result_to_dict
from rebalancing.engine.optimizer import solve
from rebalancing.engine.rebalancer import problem_data

from .seeded import direct_index, model_portfolio

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = {
    "model portfolio": lambda: model_portfolio(7),
    "direct index": lambda: direct_index(7),
    "direct index with a budget": lambda: direct_index(8, budget=True),
}
# Accounts of the same shapes as REQUESTS and of others.  (The engine before the fast path gave
# the model portfolio a different optimum, by 4e-8, once others of its shape had been solved.)
OTHERS = [
    *(lambda seed=seed: model_portfolio(seed) for seed in range(20, 30)),
    lambda: direct_index(9, names=60, n_lots=200),
    lambda: model_portfolio(9, instruction=True),
    lambda: direct_index(10, budget=True, turnover=0.15),
    lambda: model_portfolio(10, funds=15, n_lots=40),
]


def _advice(result) -> dict:
    """The result without its timings."""
    out = result_to_dict(result)
    out.pop("diagnostics")
    return out


def _solve_others() -> None:
    for make in OTHERS:
        rebalance(make())


def _answers() -> dict:
    """Each request's advice and its optimiser's answer before rounding (floats in hex: exact)."""
    out = {}
    for name, make in REQUESTS.items():
        raw = solve(problem_data(make()))
        out[name] = {
            "advice": _advice(rebalance(make())),
            "x": [v.hex() for v in raw.x.tolist()],
            "b": [v.hex() for v in raw.b.tolist()],
        }
    return json.loads(json.dumps(out))


def test_results_do_not_depend_on_what_was_solved_before():
    first = {name: _advice(rebalance(make())) for name, make in REQUESTS.items()}
    raw = {name: solve(problem_data(make())) for name, make in REQUESTS.items()}
    _solve_others()
    for name, make in REQUESTS.items():
        assert _advice(rebalance(make())) == first[name], name
        again = solve(problem_data(make()))
        # Bit for bit, before rounding too.
        assert np.array_equal(again.x, raw[name].x) and np.array_equal(again.b, raw[name].b), name


def test_a_fresh_process_gives_the_same_results():
    script = "import json, sys\nfrom tests.engine.test_determinism import _answers\njson.dump(_answers(), sys.stdout)\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fresh = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    _solve_others()
    assert _answers() == fresh

"""Engine before and after a change, interleaved call by call in one process.

``engine_bench.py`` compares the engine with a plain formulation; between two versions of the
engine a few percent is lost in the noise of separate runs on a shared machine.  This loads the
engine of a git revision (``git archive`` into a temporary directory, imported as a package of its
own) beside the working tree's, sends both the same seeded benchmark accounts, alternating which
goes first, and prints each one's median CPU time per call, the ratio (working tree / revision) and
how many accounts get the same advice from both, to the bit.

Usage: ``python bench/engine_ab.py [--base REV] [--accounts N] [--rounds R]`` (default: ``main``,
200 model portfolios and 12 direct indexes, two rounds).  No assertion: speed is measured here.

``--identical`` times nothing: it compares the two engines' advice (``repr``, floats exact) on 324
seeded requests - the bench's 200 model portfolios and 6 direct indexes, 60 model portfolios with
fractional shares, FIFO, HIFO, drift bands, harvesting off or a turnover cap without a budget, and
the tests' seeded accounts (``tests/engine/seeded.py``: 20 model portfolios with an instruction, 20
smaller ones, 8 direct indexes with budgets and turnover caps, 10 with a sell-and-buy instruction)
- and, for each, Clarabel's ``P``, ``q``, ``A``, ``b`` (values, indices, dtypes, shapes) as built
from the request; it prints what differs and exits 1 if anything does.  A speed change to the
engine must leave both identical (docs/engine.md, "Performance").
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_bench import direct_index_request, model_portfolio_request  # noqa: E402

from rebalancing import engine as working  # noqa: E402
from rebalancing.engine import DriftParams, Instruction  # noqa: E402
from rebalancing.engine import qp as working_qp  # noqa: E402
from rebalancing.engine import rebalancer as working_rebalancer  # noqa: E402
from rebalancing.engine.serialization import request_to_dict  # noqa: E402


def load_revision(rev: str, into: Path):
    """The engine package of ``rev`` (it imports only itself, relatively), as ``engine_<rev>``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "rebalancing/engine"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    name = "engine_" + "".join(c if c.isalnum() else "_" for c in rev)
    (into / "rebalancing" / "engine").rename(into / name)
    sys.path.insert(0, str(into))
    return importlib.import_module(name)


def _advice(result) -> str:
    """Everything of a result but its timings, exactly (``repr`` gives each float to the bit)."""
    return repr(replace(result, diagnostics=None))


def _times(base, pairs, rounds: int) -> tuple[list[float], list[float], list[float], int]:
    """CPU seconds per call of each engine, their per-account ratios (working / base), and how
    many accounts get the same advice from both."""
    same = sum(_advice(base.rebalance(old)) == _advice(working.rebalance(new)) for old, new in pairs)
    t_base, t_new, ratios = [], [], []
    for _ in range(rounds):
        for k, (old, new) in enumerate(pairs):
            first, second = ((base, old, t_base), (working, new, t_new))[:: 1 if k % 2 == 0 else -1]
            for engine, request, out in (first, second):
                start = time.thread_time()
                engine.rebalance(request)
                out.append(time.thread_time() - start)
            ratios.append(t_new[-1] / t_base[-1])
    return t_base, t_new, ratios, same


def identical_requests() -> list[tuple[str, object]]:
    """The seeded requests ``--identical`` compares (see the module docstring)."""
    from tests.engine import seeded

    out = [(f"bench model portfolio {s}", model_portfolio_request(s)) for s in range(200)]
    out += [(f"bench direct index {s}", direct_index_request(s)) for s in range(6)]
    for s in range(60):
        request = model_portfolio_request(1000 + s)
        p = request.parameters
        p = (
            replace(p, trading=replace(p.trading, whole_shares=False)),
            replace(p, trading=replace(p.trading, lot_selection="fifo")),
            replace(p, trading=replace(p.trading, lot_selection="highest_cost")),
            replace(p, drift=DriftParams(absolute_band=0.02 + 0.01 * (s % 3), relative_band=0.25)),
            replace(p, harvest=None),
            replace(p, transition=None, trading=replace(p.trading, max_turnover=0.05)),
        )[s % 6]
        out.append((f"model portfolio variant {s}", replace(request, parameters=p)))
    for s in range(20):
        out.append((f"seeded model portfolio with an instruction {s}", seeded.model_portfolio(s, instruction=True)))
        out.append((f"seeded small model portfolio {s}", seeded.model_portfolio(100 + s, funds=10, n_lots=25)))
    for s in range(8):
        turnover = 0.1 if s % 3 == 0 else None
        out.append((f"seeded direct index {s}", seeded.direct_index(s, budget=s % 2 == 0, turnover=turnover)))
    for s in range(10):
        request = seeded.model_portfolio(200 + s)
        buy = next(x.symbol for x in request.securities if x.symbol.startswith("X"))
        swap = Instruction("sell_buy", sell=request.account.lots[0].symbol, buy=buy, amount=request.account.cash * 2)
        out.append((f"seeded sell-and-buy {s}", replace(request, parameters=replace(request.parameters, instructions=(swap,)))))
    return out


def _advice_or_error(engine, request) -> str:
    try:
        return _advice(engine.rebalance(request))
    except Exception as exc:  # noqa: BLE001 - an error is an answer to compare too
        return f"{type(exc).__name__}: {exc}"


def _matrices(qp_module, rebalancer_module, request) -> str:
    """A fingerprint of Clarabel's P, q, A, b for ``request`` (what the solver's arithmetic sees)."""
    try:
        data = rebalancer_module.problem_data(request)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    if data is None:
        return "inside its bands"
    qp = qp_module.build_qp(data)
    digest = hashlib.sha256(repr((qp.P.shape, qp.A.shape, qp.equalities)).encode())
    for part in (qp.P.data, qp.P.indices, qp.P.indptr, qp.A.data, qp.A.indices, qp.A.indptr, qp.q, qp.rhs):
        array = np.asarray(part)
        digest.update(array.dtype.str.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def identical(base, base_name: str) -> int:
    """Compare the advice and Clarabel's matrices of both engines; 0 when all are identical."""
    from_dict = importlib.import_module(base_name + ".serialization").request_from_dict
    base_qp = importlib.import_module(base_name + ".qp")
    base_rebalancer = importlib.import_module(base_name + ".rebalancer")
    requests = identical_requests()
    same_advice = same_matrices = 0
    for name, request in requests:
        old = from_dict(request_to_dict(request))
        if _advice_or_error(base, old) == _advice_or_error(working, request):
            same_advice += 1
        else:
            print(f"advice differs: {name}")
        if _matrices(base_qp, base_rebalancer, old) == _matrices(working_qp, working_rebalancer, request):
            same_matrices += 1
        else:
            print(f"Clarabel's matrices differ: {name}")
    n = len(requests)
    print(f"same advice {same_advice}/{n}; same P, q, A, b {same_matrices}/{n}")
    return 0 if same_advice == same_matrices == n else 1


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one line per shape."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare against")
    parser.add_argument("--accounts", type=int, default=None, help="accounts per shape")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the accounts")
    parser.add_argument(
        "--identical", action="store_true", help="compare advice and Clarabel's matrices on 324 requests; no timing"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = load_revision(args.base, Path(tmp))
        if args.identical:
            return identical(base, base.__name__)
        from_dict = importlib.import_module(base.__name__ + ".serialization").request_from_dict
        print(f"working tree against {args.base}: CPU time per rebalance() call, interleaved")
        for name, make, n in (
            ("model portfolio 20 funds / 60 lots", model_portfolio_request, args.accounts or 200),
            ("direct index 500 names / 2,000 lots", direct_index_request, args.accounts or 12),
        ):
            requests = [make(s) for s in range(n)]
            # The same account for each engine, built by its own classes.
            pairs = [(from_dict(request_to_dict(r)), r) for r in requests]
            t_base, t_new, ratios, same = _times(base, pairs, args.rounds)
            print(
                f"{name:38} base {statistics.median(t_base) * 1e3:8.3f} ms  working {statistics.median(t_new) * 1e3:8.3f} ms"
                f"  ratio of medians {statistics.median(t_new) / statistics.median(t_base):.3f}"
                f"  median ratio {statistics.median(ratios):.3f}  same advice {same}/{n}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

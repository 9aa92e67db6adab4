"""Engine before and after a change, interleaved call by call in one process.

``engine_bench.py`` compares the engine with a plain formulation; between two versions of the
engine a few percent is lost in the noise of separate runs on a shared machine.  This loads the
engine of a git revision (``git archive`` into a temporary directory, imported as a package of its
own) beside the working tree's, sends both the same seeded benchmark accounts, alternating which
goes first, and prints each one's median CPU time per call, the ratio (working tree / revision) and
how many accounts get the same advice from both, to the bit.

Usage: ``python bench/engine_ab.py [--base REV] [--accounts N] [--rounds R]`` (default: ``main``,
200 model portfolios and 12 direct indexes, two rounds).  No assertion: speed is measured here.
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_bench import direct_index_request, model_portfolio_request  # noqa: E402

from rebalancing import engine as working  # noqa: E402
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


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print one line per shape."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare against")
    parser.add_argument("--accounts", type=int, default=None, help="accounts per shape")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the accounts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = load_revision(args.base, Path(tmp))
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

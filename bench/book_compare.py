"""Two runs of the book bench compared proposal by proposal: the same advice to the bit?

    .venv/bin/python bench/book_compare.py --database NAME [RUN_A RUN_B]   # default: the last two runs

For every account, the proposal of each run: its inputs' fingerprint, the figures stored
beside it and its whole result, except the solver's timings (``diagnostics``' ``*_ms``), which no
two runs share. Prints the number of accounts compared and any that differ; exits 1 if any do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

# Not the status: a later run supersedes the earlier run's proposals.
FIELDS = ("inputs_fingerprint", "trade_count", "turnover", "estimated_tax", "harvested_losses",
          "drift_before", "drift_after", "requires_compliance", "restricted_traded", "parameters", "model_version_id")


def _without_timings(text: str) -> dict:
    result = json.loads(text)
    diagnostics = result.get("diagnostics") or {}
    result["diagnostics"] = {k: v for k, v in diagnostics.items() if not k.endswith("_ms")}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rebalancing_bench")
    parser.add_argument("runs", nargs="*", type=int)
    args = parser.parse_args()
    import psycopg
    from book_bench import bench_database_url

    with psycopg.connect(bench_database_url(args.database).replace("postgres://", "postgresql://", 1)) as conn:
        schema = conn.execute("SELECT schema_name FROM tenants_firm WHERE slug = 'bench'").fetchone()[0]
        conn.execute(f"SET search_path TO {schema}")
        runs = args.runs or [r for (r,) in conn.execute(
            "SELECT id FROM rebalancing_rebalancerun ORDER BY id DESC LIMIT 2").fetchall()][::-1]
        by_run = []
        for run in runs:
            rows = conn.execute(f"SELECT account_id, {', '.join(FIELDS)}, result FROM rebalancing_proposal "
                                "WHERE run_id = %s", [run]).fetchall()
            by_run.append({row[0]: (*row[1:-1], _without_timings(row[-1])) for row in rows})
    a, b = by_run
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    print(f"runs {runs[0]} and {runs[1]}: {len(a):,} and {len(b):,} proposals, {len(differ)} accounts differ"
          + (f" (first: {differ[:5]})" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a chunk's loading goes, statement by statement, on the book bench's database.

    .venv/bin/python bench/book_bench.py --database NAME        # first: a book and a finished run
    .venv/bin/python bench/load_profile.py --database NAME [--repeat 5] [--profile]

Loads the first direct-indexed and the first model-portfolio chunk of the last run with
``rebalance_inputs_load`` (the firm-wide snapshot loaded once before, as in a worker) and prints,
per chunk, the loading's wall time and each SQL statement's time (``connection.execute_wrapper``),
the statement's first words, summed over its calls, best of ``--repeat``. ``--profile`` also prints
cProfile's top functions of one load of each chunk (``--sort tottime`` for where the time is spent
rather than under what). The cycle collector is held off while loading, as a chunk does
(``runs.run_process_chunk``): left on, its passes land in whichever function is running.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rebalancing_bench")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile's order (default cumulative)")
    parser.add_argument("--top", type=int, default=25, help="functions cProfile prints (default 25)")
    args = parser.parse_args()
    from book_bench import bench_database_url

    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings.local", "SECRET_KEY": "bench-only-not-secret",
                       "DJANGO_DEBUG": "false", "LOG_LEVEL": "WARNING",
                       "DATABASE_URL": bench_database_url(args.database)})
    import django

    django.setup()
    import gc

    # As in a worker process (config/celery_app.py), and as a chunk loads (runs.run_process_chunk).
    gc.collect()
    gc.freeze()
    gc.disable()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from rebalancing.models import RebalanceRun, TaxLot
    from rebalancing.services import runs
    from tenants.models import Firm

    with tenant_context(Firm.objects.get(slug="bench")):
        run = RebalanceRun.objects.order_by("pk").last()
        chunks = runs.run_chunks(run)
        direct = set(TaxLot.objects.values("account_id").order_by().annotate(n=django.db.models.Count("id"))
                     .filter(n__gt=500).values_list("account_id", flat=True))
        chosen = {}
        for chunk in chunks:
            chosen.setdefault("direct index" if chunk[0] in direct else "model portfolio", chunk)
        runs.rebalance_inputs_load(chunks[0][:1], as_of=run.as_of, snapshot_key=run.pk)
        for kind, chunk in sorted(chosen.items()):
            best: dict[str, float] = {}
            walls = []
            for _ in range(args.repeat):
                statements: dict[str, float] = defaultdict(float)

                def timed(execute, sql, params, many, context, statements=statements):
                    start = time.perf_counter()
                    try:
                        return execute(sql, params, many, context)
                    finally:
                        statements[" ".join(sql.split()[:12])[:110]] += time.perf_counter() - start

                start = time.perf_counter()
                with connection.execute_wrapper(timed):
                    runs.rebalance_inputs_load(chunk, as_of=run.as_of, snapshot_key=run.pk)
                walls.append(time.perf_counter() - start)
                for sql, seconds in statements.items():
                    best[sql] = min(best.get(sql, seconds), seconds)
            print(f"{kind}: {len(chunk)} accounts, loading {min(walls) * 1e3:.1f} ms (best of {args.repeat}), "
                  f"SQL {sum(best.values()) * 1e3:.1f} ms")
            for sql, seconds in sorted(best.items(), key=lambda kv: -kv[1]):
                print(f"  {seconds * 1e3:8.2f} ms  {sql}")
            if args.profile:
                profile = cProfile.Profile()
                profile.runcall(runs.rebalance_inputs_load, chunk, as_of=run.as_of, snapshot_key=run.pk)
                pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)
            gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())

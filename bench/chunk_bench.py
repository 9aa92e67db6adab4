"""A run's chunks replayed in one process: where a chunk's time goes, on the book bench's database.

    .venv/bin/python bench/book_bench.py --quick      # first: a book and a finished run
    .venv/bin/python bench/chunk_bench.py [--chunks 4] [--repeat 3] [--database rebalancing_bench]

Each chunk of the book bench's last run is processed again (``run_process_chunk``) inside a
transaction that is rolled back, its own outcomes, proposals and alerts deleted first so that the chunk
does all its work. It prints, for direct-indexed and model-portfolio chunks, the time of loading,
solving and writing per account, on the wall clock and in CPU seconds of this process plus its
PostgreSQL backend (the server's share of loading and writing counts; what other processes take
from the cores does not, so CPU is the figure to read on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
TICK = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="times each chunk is replayed (default 3)")
    parser.add_argument("--chunks", type=int, default=4, help="chunks of each kind replayed (default 4)")
    parser.add_argument("--database", default="rebalancing_bench")
    args = parser.parse_args()

    from book_bench import bench_database_url

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "SECRET_KEY": "bench-only-not-secret",
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": bench_database_url(args.database),
        }
    )
    import django

    django.setup()
    import gc

    # As in a worker process (config/celery_app.py).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context

    from rebalancing.models import Alert, Proposal, RebalanceRun, RunOutcome, TaxLot
    from rebalancing.services import runs
    from tenants.models import Firm

    firm = Firm.objects.get(slug="bench")
    with tenant_context(firm):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        clocks = {"wall": time.perf_counter, "cpu": lambda: time.process_time() + _backend_cpu(backend)}
        run = RebalanceRun.objects.order_by("pk").last()
        chunks = runs.run_chunks(run)
        direct = set(
            TaxLot.objects.values("account_id")
            .order_by()
            .annotate(n=django.db.models.Count("id"))
            .filter(n__gt=500)
            .values_list("account_id", flat=True)
        )
        by_kind: dict[str, list[list[int]]] = {}
        for chunk in chunks:
            by_kind.setdefault("direct index" if chunk[0] in direct else "model portfolio", []).append(chunk)
        chosen = [(kind, chunk) for kind, of_kind in by_kind.items() for chunk in of_kind[: args.chunks]]
        # The run's firm-wide snapshot, loaded once per process as in a worker.
        runs.rebalance_inputs_load(chunks[0][:1], as_of=run.as_of, snapshot_key=run.pk)
        totals: dict[tuple[str, str], list[float]] = {}
        accounts = {"direct index": 0, "model portfolio": 0}
        for clock_name, clock in clocks.items():
            runs.time = types.SimpleNamespace(perf_counter=clock)  # the phases as the run times them
            try:
                for kind, chunk in chosen:
                    for _ in range(args.repeat):
                        with transaction.atomic():
                            RunOutcome.objects.filter(run=run, account_id__in=chunk).delete()
                            Proposal.objects.filter(run=run, account_id__in=chunk).delete()
                            Alert.objects.filter(run=run, account_id__in=chunk).delete()
                            outcome = runs.run_process_chunk(run_id=run.pk, account_ids=chunk)
                            transaction.set_rollback(True)
                        phases = totals.setdefault((kind, clock_name), [0.0, 0.0, 0.0])
                        for i, seconds in enumerate((outcome.load_s, outcome.solve_s, outcome.write_s)):
                            phases[i] += seconds
                        if clock_name == "wall":
                            accounts[kind] += len(chunk)
            finally:
                runs.time = time
    print(
        f"{len(chosen)} of the {len(chunks)} chunks of run {run.pk}, each replayed {args.repeat} times; "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(f"{'':18}{'clock':>6}{'load':>9}{'solve':>9}{'write':>9}   load + write   (ms per account)")
    for (kind, clock_name), (load, solve, write) in sorted(totals.items()):
        n = accounts[kind]
        if n:
            print(
                f"{kind:18}{clock_name:>6}{load / n * 1e3:9.2f}{solve / n * 1e3:9.2f}{write / n * 1e3:9.2f}"
                f"   {(load + write) / (load + solve + write):>12.0%}"
            )
    print(
        "cpu = this process + its PostgreSQL backend (the backend's ticks are 1/100 s: read the sums, "
        "not single chunks)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

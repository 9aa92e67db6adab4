"""End-to-end batch benchmark: one firm's whole book rebalanced through PostgreSQL and Celery workers.

    .venv/bin/python bench/book_bench.py            # 10,000 accounts: 8,000 model (20 funds, 60 lots),
                                                   # 2,000 direct-indexed (500 names, 2,000 lots)
    .venv/bin/python bench/book_bench.py --quick   # 500 accounts (400 + 100), for a quick look

It creates a fresh database (``--database``, default ``rebalancing_bench``, on DATABASE_URL's server,
else 127.0.0.1:5432, else the embedded PostgreSQL; the name replaces DATABASE_URL's own, which is
never dropped), onboards a firm, writes the book with COPY, starts one Celery worker
with two processes (the machine has two cores), starts a run over the whole firm and waits for it.
Broker: CELERY_BROKER_URL if set, else Redis on 127.0.0.1:6379 if it answers, else the filesystem
transport. Prints the wall time, accounts per second, and how the workers' time splits between
loading, solving, writing and waiting in the queue (summed over chunks from the run's own timings).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

AS_OF = date(2026, 11, 20)
SECTORS = ("Information Technology", "Health Care", "Financials", "Consumer Discretionary", "Industrials",
           "Communication Services", "Consumer Staples", "Energy", "Utilities", "Real Estate", "Materials")
CLASSES = ("us_equity", "intl_equity", "bonds", "real_estate", "commodities")


def bench_database_url(database: str) -> str:
    """The server stack.resolve_database finds, with the bench's own database ``database`` on it."""
    import stack

    return urlsplit(stack.resolve_database(database))._replace(path=f"/{database}").geturl()


def _environment(database: str) -> dict[str, str]:
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.local", "SECRET_KEY": "bench-only-not-secret",
           "DJANGO_DEBUG": "false", "LOG_LEVEL": "WARNING"}
    env["DATABASE_URL"] = bench_database_url(database)
    if os.environ.get("CELERY_BROKER_URL"):
        env["CELERY_BROKER_URL"] = os.environ["CELERY_BROKER_URL"]
    else:
        try:
            socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
            env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/15"
        except OSError:
            env["CELERY_FILESYSTEM_BROKER_DIR"] = "/tmp/rebalancing-bench-broker"
    return env


def _tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) used so far by a process and its descendants (Linux /proc).

    On a shared machine the run's wall time depends on the share of the cores it gets; the
    workers' CPU time does not (PostgreSQL's own work is not in it).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    try:
        while pending:
            p = pending.pop()
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    except (OSError, ValueError, IndexError):
        return None
    return total


def _fresh_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> int:
    buffer = io.StringIO()
    n = 0
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
        n += 1
    buffer.seek(0)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)
    return n


def _write_book(n_model: int, n_direct: int, seed: int = 7) -> dict[str, int]:
    """The bench firm's book, written with COPY into the current schema."""
    from django.db import connection

    from rebalancing.models import (
        Benchmark,
        ModelPortfolio,
        ModelVersion,
        ParameterTemplate,
        Security,
        Sleeve,
        SleeveHolding,
    )

    rng = np.random.default_rng(seed)
    stocks = [f"S{i:03d}" for i in range(500)]
    funds = [f"F{i:02d}" for i in range(20)]
    subs = [f"X{i:02d}" for i in range(20)]
    stock_prices = np.round(rng.lognormal(4.2, 0.8, 500), 2) + 1.0
    fund_prices = np.round(rng.uniform(20, 400, 20), 2)
    rows = [(s, f"Stock {s}", "us_equity", SECTORS[i % len(SECTORS)], False, False, float(rng.uniform(0, 100)))
            for i, s in enumerate(stocks)]
    rows += [(f, f"Fund {f}", CLASSES[i % 5], "", True, True, None) for i, f in enumerate(funds)]
    rows += [(x, f"Substitute {x}", CLASSES[i % 5], "", True, True, None) for i, x in enumerate(subs)]
    rows += [("BND", "Bond fund", "bonds", "", True, True, None), ("OLD1", "Legacy fund", "us_equity", "", True, True, None)]
    Security.objects.bulk_create([
        Security(symbol=s, name=n, asset_class=c, sector=sec, is_fund=f, fractional=fr, esg_score=e)
        for s, n, c, sec, f, fr, e in rows
    ])
    ids = dict(Security.objects.values_list("symbol", "pk"))
    price = dict(zip(stocks, stock_prices.tolist(), strict=True)) | dict(zip(funds, fund_prices.tolist(), strict=True))
    price |= {x: p * 0.9 for x, p in zip(subs, fund_prices.tolist(), strict=True)} | {"BND": 72.0, "OLD1": 55.0}
    bench_w = rng.lognormal(0, 1.2, 500)
    bench_w /= bench_w.sum()
    benchmark = Benchmark.objects.create(code="US500", name="Bench US 500")
    with connection.cursor() as cur:
        _copy(cur, "rebalancing_price", ("security_id", "date", "close"),
              ((ids[s], AS_OF, round(p, 4)) for s, p in price.items()))
        _copy(cur, "rebalancing_benchmarkweight", ("benchmark_id", "date", "security_id", "weight"),
              ((benchmark.pk, AS_OF, ids[s], f"{w:.10f}") for s, w in zip(stocks, bench_w, strict=True)))
    # Models: 20 funds in 5 sleeves; and a 90% direct-indexed US equity sleeve with 10% bonds.
    fund_model = ModelPortfolio.objects.create(code="funds20", name="Twenty funds")
    version = ModelVersion.objects.create(model=fund_model, number=1)
    sleeve_w = rng.dirichlet(np.ones(5) * 3)
    for c, cls in enumerate(CLASSES):
        sleeve = Sleeve.objects.create(version=version, asset_class=cls, weight=f"{sleeve_w[c]:.8f}")
        members = [f for i, f in enumerate(funds) if i % 5 == c]
        h = rng.dirichlet(np.ones(len(members)) * 2)
        h = np.round(h, 8)
        h[-1] = 1 - h[:-1].sum()
        SleeveHolding.objects.bulk_create([SleeveHolding(sleeve=sleeve, security_id=ids[m], weight=f"{w:.8f}")
                                           for m, w in zip(members, h, strict=True)])
    # Sleeve weights rounded to 8 places must still sum to 1: the last one takes the remainder.
    sleeves = list(Sleeve.objects.filter(version=version).order_by("pk"))
    total = sum(float(s.weight) for s in sleeves[:-1])
    sleeves[-1].weight = f"{1 - total:.8f}"
    sleeves[-1].save()
    di_model = ModelPortfolio.objects.create(code="di500", name="Direct index 90/10")
    di_version = ModelVersion.objects.create(model=di_model, number=1)
    Sleeve.objects.create(version=di_version, asset_class="us_equity", weight="0.9", kind=Sleeve.Kind.DIRECT_INDEX,
                          benchmark=benchmark)
    bonds = Sleeve.objects.create(version=di_version, asset_class="bonds", weight="0.1")
    SleeveHolding.objects.create(sleeve=bonds, security_id=ids["BND"], weight=1)
    mp_template = ParameterTemplate.objects.create(code="mp", name="Model, harvesting, tax budget", parameters={
        "harvest": {"enabled": True, "min_loss_value": 500, "min_loss_pct": 0.05,
                    "substitutes": dict(zip(funds, subs, strict=True))},
        "transition": {"enabled": True, "max_net_gain_per_run": 4000, "max_net_gain_per_year": 10000},
        "cash": {"target": 0.01}, "trading": {"min_trade_value": 25, "trading_cost_bps": 5},
    })
    di_template = ParameterTemplate.objects.create(code="di", name="Direct index, screened, harvesting", parameters={
        "screen": {"enabled": True, "excluded_sectors": ["Energy"], "rescale": "track_benchmark"},
        "harvest": {"enabled": True, "min_loss_value": 2000, "min_loss_pct": 0.10},
        "direct_index": {"us_equity": {"max_names": 500, "min_position_weight": 0.0}},
        "cash": {"target": 0.01, "floor": 0.005}, "trading": {"min_trade_value": 50, "trading_cost_bps": 5},
    })
    n = n_model + n_direct
    with connection.cursor() as cur:
        _copy(cur, "rebalancing_household",
              ("name", "external_id", "overrides", "managed_as", "household_overrides", "filing_status",
               "carryforward_short_term", "carryforward_long_term"),
              ((f"Household {i}", f"HH{i:06d}", "{}", "accounts", "{}", "married_joint", 0, 0) for i in range(n)))
        households = dict(Household_ids(cur))
        _copy(cur, "rebalancing_account",
              ("custodian_number", "name", "household_id", "model_id", "template_id", "overrides", "tax_status",
               "asset_classes", "discretionary", "short_term_rate", "long_term_rate", "cash",
               "realised_short_term_ytd", "realised_long_term_ytd"),
              ((f"B{i:06d}", f"Account {i}", households[f"HH{i:06d}"],
                fund_model.pk if i < n_model else di_model.pk, mp_template.pk if i < n_model else di_template.pk,
                "{}", "taxable", "[]", True, 0.37, 0.20, 0, 0, 0) for i in range(n)))
        cur.execute("SELECT custodian_number, id FROM rebalancing_account")
        accounts = dict(cur.fetchall())
        lots = _copy(cur, "rebalancing_taxlot",
                     ("account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired", "purchase_lot_id",
                      "wash_adjustment"),
                     _lot_rows(rng, accounts, n_model, n_direct, ids, price, stocks, bench_w, funds))
        cur.execute("UPDATE rebalancing_account SET cash = 20000 + (id % 50) * 1000")
        # Fresh statistics, as autovacuum would have them on a live book (else the planner guesses).
        cur.execute("ANALYZE")
    return {"accounts": n, "lots": lots}


def Household_ids(cur):  # noqa: N802 - reads like the table it reads
    cur.execute("SELECT external_id, id FROM rebalancing_household")
    return cur.fetchall()


def _lot_rows(rng, accounts, n_model, n_direct, ids, price, stocks, bench_w, funds):
    held = 0.6 * bench_w + 0.4 / len(bench_w)
    held /= held.sum()
    for i in range(n_model + n_direct):
        account_id = accounts[f"B{i:06d}"]
        if i < n_model:
            value = float(rng.uniform(2e5, 2e6))
            symbols = funds + ["OLD1"]
            weights = rng.dirichlet(np.ones(len(symbols)))
            owner = np.concatenate([np.arange(len(symbols)), rng.choice(len(symbols), 60 - len(symbols), p=weights)])
            n_lots = 60
        else:
            value = float(rng.uniform(2e6, 6e6))
            symbols = stocks
            weights = held
            owner = np.repeat(np.arange(500), 4)[:1996]
            n_lots = 1996
        lot_value = value * rng.dirichlet(np.ones(n_lots) * 2.0) * (0.97 if i < n_model else 0.9)
        basis_factor = rng.lognormal(-0.15, 0.35, n_lots)
        days = rng.integers(31, 5 * 365, n_lots)
        for k in range(n_lots):
            symbol = symbols[owner[k]]
            p = price[symbol]
            qty = max(1, round(lot_value[k] / p))
            yield (account_id, f"L{k}", ids[symbol], qty, round(qty * p * basis_factor[k], 2),
                   AS_OF - timedelta(days=int(days[k])), "", 0)
        if i >= n_model:
            for k, (symbol, share) in enumerate((("BND", 0.08), ("BND", 0.02), ("OLD1", 0.01), ("OLD1", 0.01))):
                qty = max(1, round(value * share / price[symbol]))
                yield account_id, f"F{k}", ids[symbol], qty, round(qty * price[symbol] * 1.02, 2), date(2021, 5, 3), "", 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 accounts instead of 10,000")
    parser.add_argument("--model-accounts", type=int)
    parser.add_argument("--direct-accounts", type=int)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2, one per core)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--database", default="rebalancing_bench",
                        help="the database to create afresh (default rebalancing_bench; DROPPED first)")
    parser.add_argument("--again", action="store_true",
                        help="run again on the book already in --database (not dropped): no 10-minute book writing, "
                             "so two trees can be run alternately on one book; VACUUM ANALYZE first")
    args = parser.parse_args()
    n_model = args.model_accounts if args.model_accounts is not None else (400 if args.quick else 8000)
    n_direct = args.direct_accounts if args.direct_accounts is not None else (100 if args.quick else 2000)

    env = _environment(args.database)
    if not args.again:
        _fresh_database(env["DATABASE_URL"])
    os.environ.update(env)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate_schemas", "--shared", "-v", "0"], cwd=ROOT, check=True, env=os.environ)

    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from rebalancing.models import Account, RebalanceRun, TaxLot
    from rebalancing.selectors import RunScope
    from rebalancing.services.runs import run_start
    from tenants.models import Firm
    from tenants.services import firm_create

    if args.again:
        firm = Firm.objects.get(slug="bench")
        with tenant_context(firm):
            written = {"accounts": Account.objects.count(), "lots": TaxLot.objects.count()}
            n_direct = TaxLot.objects.filter(lot_id="F0").count()  # the direct-indexed accounts' first bond lot
            n_model = written["accounts"] - n_direct
            with connection.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        print(f"book found: {written['accounts']:,} accounts, {written['lots']:,} lots", flush=True)
    else:
        firm = firm_create(name="Bench Wealth", slug="bench", admin_email="ops@bench.example").firm
        t = time.perf_counter()
        with tenant_context(firm):
            written = _write_book(n_model, n_direct)
        print(f"book written: {written['accounts']:,} accounts, {written['lots']:,} lots in "
              f"{time.perf_counter() - t:.1f} s", flush=True)

    # One log per database: benches on other databases may run beside this one.
    log_path = f"/tmp/rebalancing-bench-worker-{args.database}.log"
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the worker
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "config.celery_app", "worker", "-l", "WARNING", "-Q", "default,rebalance",
         "-c", str(args.workers), "-n", "bench@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=os.environ, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(4)  # worker start-up (imports cvxpy) is not part of the run
        with tenant_context(firm):
            start = time.perf_counter()
            cpu_start = _tree_cpu_seconds(worker.pid)
            run = run_start(scope=RunScope(firm=True), as_of=AS_OF, label="bench")
            while True:
                time.sleep(1)
                current = RebalanceRun.objects.get(pk=run.pk)
                if current.status not in (RebalanceRun.Status.QUEUED, RebalanceRun.Status.RUNNING):
                    break
                if worker.poll() is not None:
                    raise SystemExit(f"the worker died; see {log_path}")
            wall = time.perf_counter() - start
            cpu_end = _tree_cpu_seconds(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    timings = current.timings
    busy = sum(timings.get(k, 0.0) for k in ("load", "solve", "write"))
    figures = {
        "accounts": current.total, "model_accounts": n_model, "direct_indexed_accounts": n_direct,
        "lots": written["lots"], "workers": args.workers, "done": current.done, "failed": current.failed,
        "wall_seconds": round(wall, 1), "accounts_per_second": round(current.total / wall, 1),
        "chunks": timings.get("chunks"),
        "worker_seconds": {k: round(timings.get(k, 0.0), 1) for k in ("load", "solve", "write", "queue")},
        "share_of_worker_time": {k: round(timings.get(k, 0.0) / busy, 3) for k in ("load", "solve", "write")},
        "worker_cpu_seconds": round(cpu_end - cpu_start, 1) if cpu_start is not None and cpu_end is not None else None,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "broker": env.get("CELERY_BROKER_URL", "filesystem"),
    }
    print(json.dumps(figures, indent=2))
    print(f"\n{current.total:,} accounts in {wall:.1f} s = {current.total / wall:.1f} accounts/s "
          f"with {args.workers} worker processes; load {figures['share_of_worker_time']['load']:.0%}, "
          f"solve {figures['share_of_worker_time']['solve']:.0%}, write {figures['share_of_worker_time']['write']:.0%} "
          f"of worker time; {current.failed} failed")
    if figures["worker_cpu_seconds"] is not None:
        print(f"worker processes used {figures['worker_cpu_seconds']:.1f} CPU seconds during the run "
              f"({figures['worker_cpu_seconds'] / args.workers:.1f} s per process); load average at the end "
              + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if current.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""The firm's pages on a large book: how long each takes to answer, with how many queries and bytes.

    .venv/bin/python bench/book_bench.py --database rebalancing_bench   # writes and runs the book first
    .venv/bin/python bench/pages_bench.py --database rebalancing_bench  # then this, on the same database

The book is book_bench's (10,000 accounts and households, 4.48 M lots, a run's 10,000 proposals
waiting for approval). Each page is asked for through Django's test client (no network, no
browser: the server's own time), ``--repeat`` times, as each firm role that may see it; the median
wall time is printed, with the queries and the size of the last answer. A page a role may not open is
skipped. It adds a portfolio manager and a compliance user to the firm if they are missing (nothing
else is written).
"""

import argparse
import logging
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ROLES = ("firm_admin", "portfolio_manager", "compliance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="rebalancing_bench", help="book_bench's database (not changed but "
                                                                        "for two users added)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("pages", nargs="*", help="paths to time instead of the default list")
    args = parser.parse_args()

    from book_bench import bench_database_url

    os.environ["DATABASE_URL"] = bench_database_url(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    warnings.filterwarnings("ignore", message="No directory at")  # collectstatic's folder: no static file is asked
    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # a role's refused page is skipped, not logged
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from rebalancing.models import Account, Proposal, RebalanceRun
    from tenants.models import Firm
    from tenants.services import user_ensure

    firm = Firm.objects.get(slug="bench")
    domain = firm.domains.first().domain
    with tenant_context(firm):
        users = {role: user_ensure(username=f"{role}@bench.example", email=f"{role}@bench.example", roles=[role],
                                   password="bench-pages-" + "x" * 12) for role in ROLES}
        account = Account.objects.order_by("pk").first()
        proposal = Proposal.objects.order_by("pk").first()
        run = RebalanceRun.objects.order_by("-pk").first()
        books = (Account.objects.count(), Proposal.objects.count())
    pages = args.pages or [
        "/", "/accounts/", "/accounts/?attention=drift", f"/accounts/{account.pk}/", "/households/",
        f"/households/{account.household_id}/", "/approvals/", "/proposals/?status=approved",
        f"/proposals/{proposal.pk}/", "/runs/", f"/runs/{run.pk}/", "/audit/", "/models/", "/templates/",
        "/reports/realised/", "/reports/harvest/", "/reports/transition/", "/reports/transition/?page=200",
        "/ledger/orders/", "/households/rmds/", "/risk-model/", "/backtests/", "/securities/", "/people/",
    ]
    print(f"{books[0]:,} accounts, {books[1]:,} proposals; median of {args.repeat} per page\n")
    print(f"{'page':44} {'role':18} {'ms':>8} {'queries':>8} {'KiB':>7}")
    for role, user in users.items():
        client = Client(HTTP_HOST=domain)
        with tenant_context(firm):
            client.force_login(user)
        for url in pages:
            times = []
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as queries:
                    start = time.perf_counter()
                    answer = client.get(url)
                    times.append(time.perf_counter() - start)
            if answer.status_code == 403:
                continue
            if answer.status_code != 200:
                raise SystemExit(f"{url} as {role}: HTTP {answer.status_code}")
            print(f"{url:44} {role:18} {statistics.median(times) * 1000:8.0f} {len(queries):8d} "
                  f"{len(answer.content) / 1024:7.0f}")


if __name__ == "__main__":
    main()

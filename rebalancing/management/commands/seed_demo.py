from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from rebalancing.demo import seed_demo_book
from rebalancing.models import RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_start
from tenants.demo import DEMO_FIRMS, DEMO_PASSWORD, seed_demo_platform
from tenants.errors import DomainError
from tenants.selectors import firm_by_slug


class Command(BaseCommand):
    help = (
        "Seed the demo: a provider, two client firms with a user of every role, a realistic book per firm, "
        "and a first rebalance run per firm. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port shown in the printed URLs")
        parser.add_argument("--accounts", type=int, default=300, help="Accounts per firm's book")
        parser.add_argument("--no-run", action="store_true", help="Do not start the first batch")

    def handle(self, *args, **options):
        try:
            logins = seed_demo_platform()
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        for _, slug in DEMO_FIRMS:
            book = seed_demo_book(firm_slug=slug, accounts=options["accounts"], unit_households=True)
            verb = "seeded" if book.created else "already has"
            self.stdout.write(f"{slug}: {verb} {book.accounts} accounts, {book.lots} lots, {book.securities} securities "
                              f"(prices as of {book.as_of})")
            if options["no_run"]:
                continue
            with schema_context(firm_by_slug(slug).schema_name):
                if not RebalanceRun.objects.filter(as_of__gte=book.as_of).exists():
                    # As of today, as a firm's daily run is, on the last close's prices: a proposal
                    # priced as of Friday and released on a Sunday would sell lots at the wrong term.
                    run = run_start(scope=RunScope(firm=True), label="demo start")
                    self.stdout.write(f"{slug}: first rebalance run {run.pk} queued over {run.total} accounts")
        port = options["port"]
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in at:"))
        for host in dict.fromkeys(login.host for login in logins):
            self.stdout.write(f"  http://{host}:{port}/    (admin: http://{host}:{port}/admin/)")
            for login in (x for x in logins if x.host == host):
                self.stdout.write(f"      {login.role:<18} {login.username}")
        self.stdout.write(f"  Password for every demo user: {DEMO_PASSWORD}")
        self.stdout.write("  *.localhost resolves to 127.0.0.1 in browsers without any DNS set-up.")
        self.stdout.write("")

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from rebalancing.imports import ImportRejected
from rebalancing.ledger.executions import executions_import
from tenants.errors import DomainError

from ._ledger_cli import book_day, firm_named, rejection_print


class Command(BaseCommand):
    help = (
        "Apply a custodian's executions file (fills and cancels; layout: docs/ledger.md) to a firm's ledger. "
        "A file with any problem is refused whole with a report of each row's problem; an execution applied "
        "before is recognised and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file")
        parser.add_argument("--firm", required=True, help="The firm's slug, e.g. acme")
        parser.add_argument("--as-of", help="Trade dates may not be later, YYYY-MM-DD (default today)")

    def handle(self, *args, **options):
        firm = firm_named(options["firm"])
        as_of = book_day(options["as_of"], "--as-of") if options.get("as_of") else None
        try:
            with tenant_context(firm):
                summary = executions_import(source=options["path"], actor="manage.py import_executions", as_of=as_of)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}.") from None
        except ImportRejected as exc:
            rejection_print(self.stderr, exc.detail)
            raise CommandError(f"{firm.slug}: the executions file was refused with {exc.detail['total']} problem(s); "
                               "nothing was applied.") from None
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"{firm.slug}: {summary}"))

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from rebalancing.imports import KINDS, ImportRejected, book_import
from tenants.errors import DomainError

from ._ledger_cli import book_day, firm_named


class Command(BaseCommand):
    help = (
        "Import a custodian CSV file into a firm's book (formats: docs/csv-formats.md). A file with any "
        "error is refused whole, with a report of each row's problem; importing it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file")
        parser.add_argument("--firm", required=True, help="The firm's slug, e.g. acme")
        parser.add_argument("--kind", required=True, choices=list(KINDS), help="What the file holds")
        parser.add_argument("--as-of", help="Day dates are checked against, YYYY-MM-DD (default today)")

    def handle(self, *args, **options):
        firm = firm_named(options["firm"])
        as_of = book_day(options["as_of"], "--as-of") if options.get("as_of") else None
        try:
            with tenant_context(firm):
                summary = book_import(kind=options["kind"], source=options["path"], as_of=as_of, by="manage.py import_book")
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}.") from None
        except ImportRejected as exc:
            detail = exc.detail
            self.stderr.write(f"{'row':>7}  {'column':<24}  problem")
            for problem in detail["problems"]:
                self.stderr.write(f"{problem['row']:>7}  {problem['column'] or '-':<24}  {problem['problem']}")
            if detail["total"] > detail["shown"]:
                self.stderr.write(f"... and {detail['total'] - detail['shown']} more problems.")
            raise CommandError(
                f"{firm.slug}: the {detail['kind']} file was refused with {detail['total']} problem(s); "
                "nothing was imported."
            ) from None
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"{firm.slug}: {summary}"))

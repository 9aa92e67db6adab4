from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from rebalancing.imports import ImportRejected
from rebalancing.ledger.reconciliation import (
    reconciliation_accept,
    reconciliation_csv,
    reconciliation_import,
    reconciliation_reject,
)
from rebalancing.models import Account, Reconciliation
from tenants.errors import DomainError

from ._ledger_cli import book_day, firm_named, rejection_print


class Command(BaseCommand):
    help = (
        "Compare a custodian's position file (the lots layout) with a firm's ledger and print the differences; "
        "nothing changes. Then --accept or --reject a reconciliation, as a firm user allowed to import "
        "(--by), for all its accounts or those named with --account."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="The position file (to compare)")
        parser.add_argument("--firm", required=True, help="The firm's slug, e.g. acme")
        parser.add_argument("--as-of", help="Acquisition dates may not be later, YYYY-MM-DD (default today)")
        decide = parser.add_mutually_exclusive_group()
        decide.add_argument("--accept", type=int, metavar="ID", help="Replace the ledger's lots with the custodian's")
        decide.add_argument("--reject", type=int, metavar="ID", help="Keep the ledger's lots")
        parser.add_argument("--by", help="The deciding user's username (e-mail)")
        parser.add_argument("--account", action="append", help="Only this account number (repeatable)")
        parser.add_argument("--comment", default="", help="Why (kept in the audit trail)")

    def handle(self, *args, **options):
        firm = firm_named(options["firm"])
        decision = options.get("accept") or options.get("reject")
        if decision is None and not options.get("path"):
            raise CommandError("Name a position file to compare, or --accept/--reject a reconciliation.")
        try:
            with tenant_context(firm):
                if decision is None:
                    return self._compare(firm, options)
                self._decide(firm, decision, options)
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}.") from None
        except ImportRejected as exc:
            rejection_print(self.stderr, exc.detail)
            raise CommandError(f"{firm.slug}: the position file was refused with {exc.detail['total']} problem(s); "
                               "nothing was compared.") from None
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _compare(self, firm, options) -> None:
        as_of = book_day(options["as_of"], "--as-of") if options.get("as_of") else None
        reconciliation = reconciliation_import(source=options["path"], actor="manage.py reconcile_positions",
                                               as_of=as_of, file_name=options["path"])
        self.stdout.write(reconciliation_csv(reconciliation), ending="")
        pending = reconciliation.accounts.filter(decision="pending").count()
        self.stdout.write(self.style.SUCCESS(
            f"{firm.slug}: reconciliation {reconciliation.pk}, {reconciliation.accounts.count()} accounts, "
            f"{pending} differing (nothing changed; --accept {reconciliation.pk} --by <user> to take the custodian's)"
        ))

    def _decide(self, firm, pk: int, options) -> None:
        if not options.get("by"):
            raise CommandError("A person decides: name them with --by.")
        user = get_user_model().objects.filter(username=options["by"]).first()
        if user is None:
            raise CommandError(f"{firm.slug} has no user {options['by']!r}.")
        reconciliation = Reconciliation.objects.filter(pk=pk).first()
        if reconciliation is None:
            raise CommandError(f"{firm.slug} has no reconciliation {pk}.")
        account_ids = None
        if options.get("account"):
            account_ids = list(Account.objects.filter(custodian_number__in=options["account"]).values_list("pk", flat=True))
        decide = reconciliation_accept if options.get("accept") else reconciliation_reject
        done = decide(reconciliation=reconciliation, user=user, account_ids=account_ids, comment=options["comment"])
        verb = "accepted" if options.get("accept") else "rejected"
        self.stdout.write(self.style.SUCCESS(f"{firm.slug}: reconciliation {pk}: {done} account(s) {verb}"))

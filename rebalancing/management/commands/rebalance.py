import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from rebalancing.models import RebalanceRun
from rebalancing.selectors import RunScope
from rebalancing.services.runs import run_start
from tenants.errors import DomainError
from tenants.selectors import firms_active

from ._ledger_cli import firm_named


class Command(BaseCommand):
    help = "Start a rebalance run in one firm (or every active firm) and optionally wait for it."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--firm", help="The firm's slug")
        target.add_argument("--all-firms", action="store_true", help="Every active firm (provider operators)")
        parser.add_argument("--account", action="append", default=[], help="Custodian account number (repeatable)")
        parser.add_argument("--model", help="Only accounts on this model (code)")
        parser.add_argument("--template", help="Only accounts under this template (code)")
        parser.add_argument("--as-of", type=date.fromisoformat, help="Pricing date (default: today)")
        parser.add_argument("--wait", action="store_true", help="Wait until the run finishes, showing progress")

    def handle(self, *args, **options):
        firms = [firm_named(options["firm"], active=True)] if options["firm"] else list(firms_active())
        started = []
        for firm in firms:
            with tenant_context(firm):
                try:
                    scope = self._scope(options)
                    run = run_start(scope=scope, as_of=options["as_of"], label="manage.py rebalance")
                except DomainError as exc:
                    raise CommandError(f"{firm.slug}: {exc.code}: {exc.message}") from None
            self.stdout.write(f"{firm.slug}: run {run.pk} over {run.total} accounts ({run.status})")
            started.append((firm, run.pk))
        if options["wait"]:
            for firm, run_id in started:
                self._wait(firm, run_id)

    def _scope(self, options) -> RunScope:
        from rebalancing.models import Account

        account_ids = ()
        if options["account"]:
            found = dict(Account.objects.filter(custodian_number__in=options["account"]).values_list("custodian_number", "pk"))
            unknown = sorted(set(options["account"]) - set(found))
            if unknown:
                raise CommandError(f"unknown account number(s): {', '.join(unknown)}")
            account_ids = tuple(found.values())
        scope = RunScope(account_ids=account_ids, model_code=options["model"], template_code=options["template"])
        return scope if not scope.is_empty() else RunScope(firm=True)

    def _wait(self, firm, run_id: int) -> None:
        with tenant_context(firm):
            while True:
                run = RebalanceRun.objects.get(pk=run_id)
                self.stdout.write(f"  {firm.slug} run {run.pk}: {run.done} done, {run.failed} failed, "
                                  f"{run.remaining} remaining ({run.status})")
                if run.status not in (RebalanceRun.Status.QUEUED, RebalanceRun.Status.RUNNING):
                    return
                time.sleep(2)

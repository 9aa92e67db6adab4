from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import tenant_context

from rebalancing.ledger import reports
from rebalancing.models import Account, Household
from tenants.errors import DomainError

from ._ledger_cli import day, firm_named, output

REPORTS = ("realised", "realised-totals", "schedule-d", "harvest", "transition")


class Command(BaseCommand):
    help = (
        "Write a tax report of a firm as CSV: realised (Form 8949 lines, wash-sale adjustments shown), "
        "realised-totals (totals per account and household), schedule-d (per household, the year of --to: "
        "netting, the loss limit, the carryover), harvest, transition."
    )

    def add_arguments(self, parser):
        parser.add_argument("report", choices=REPORTS)
        parser.add_argument("--firm", required=True, help="The firm's slug, e.g. acme")
        parser.add_argument("--from", dest="start", help="First day, YYYY-MM-DD (default 1 January)")
        parser.add_argument("--to", dest="end", help="Last day, YYYY-MM-DD (default today)")
        parser.add_argument("--household", help="Only this household (its external id)")
        parser.add_argument("--account", action="append", help="Only this account number (repeatable)")
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output")

    def handle(self, *args, **options):
        firm = firm_named(options["firm"])
        end = day(options["end"], "--to") if options.get("end") else timezone.localdate()
        start = day(options["start"], "--from") if options.get("start") else end.replace(month=1, day=1)
        if start > end:
            raise CommandError(f"--from {start} is after --to {end}.")
        with tenant_context(firm):
            accounts = Account.objects.all()
            if options.get("household"):
                accounts = accounts.filter(household__external_id=options["household"])
            if options.get("account"):
                accounts = accounts.filter(custodian_number__in=options["account"])
            kind = options["report"]
            if kind == "schedule-d":
                households = Household.objects.filter(accounts__in=accounts).distinct()
                year = _bounded(reports.report_year_check, end.year, "--to")
                text = reports.schedule_d_csv(reports.schedules_d(households=households, year=year))
            elif kind == "transition":
                as_of = _bounded(reports.report_day_check, end, "--to")
                text = reports.transition_csv(reports.transition(accounts=accounts, as_of=as_of))
            elif kind == "harvest":
                text = reports.harvest_csv(reports.harvest(accounts=accounts, start=start, end=end))
            else:
                report = reports.realised_gains(accounts=accounts, start=start, end=end)
                text = reports.realised_lots_csv(report) if kind == "realised" else reports.realised_totals_csv(report)
        output(self, text, options.get("output"))


def _bounded(check, value, option: str):
    """``value`` if the reports' own bound (``reports.report_year_check``, ``report_day_check``: the
    API's and the pages') accepts it; else the refusal, naming the option."""
    try:
        return check(value)
    except DomainError as refused:
        raise CommandError(f"{option}: {refused.message}") from None

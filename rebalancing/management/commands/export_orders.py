from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from rebalancing.ledger.orders import blocks_csv, orders_csv, orders_open

from ._ledger_cli import day, firm_named, output


class Command(BaseCommand):
    help = (
        "Write a firm's open orders as CSV for the custodian or OMS (layouts: docs/ledger.md): one line per "
        "order, or with --blocks one line per allocation of each block. Order ids are stable, so a file sent "
        "again is recognised."
    )

    def add_arguments(self, parser):
        parser.add_argument("--firm", required=True, help="The firm's slug, e.g. acme")
        parser.add_argument("--blocks", action="store_true", help="Block orders with their allocations")
        parser.add_argument("--day", help="Only orders released that day, YYYY-MM-DD")
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output")

    def handle(self, *args, **options):
        firm = firm_named(options["firm"])
        released = day(options["day"], "--day") if options.get("day") else None
        with tenant_context(firm):
            orders = list(orders_open(day=released))
            text = blocks_csv(orders) if options["blocks"] else orders_csv(orders)
        output(self, text, options.get("output"))
        if options.get("output"):
            self.stdout.write(self.style.SUCCESS(f"{firm.slug}: {len(orders)} open orders written to {options['output']}"))

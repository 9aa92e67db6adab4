from django.core.management.base import BaseCommand, CommandError

from tenants.errors import DomainError
from tenants.services import firm_create
from tenants.sites import site_url


class Command(BaseCommand):
    help = "Onboard a client firm: its own schema, its host and its first admin. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help='Display name, e.g. "Acme Wealth"')
        parser.add_argument("--slug", required=True, help="Host label and schema key, e.g. acme")
        parser.add_argument("--admin-email", required=True, help="The firm admin's e-mail (also the login)")
        parser.add_argument("--domain", help="Host name (default: <slug>.<BASE_DOMAIN>)")
        parser.add_argument("--admin-password", help="Initial password (default: none; set it later)")

    def handle(self, *args, **options):
        try:
            result = firm_create(
                name=options["name"],
                slug=options["slug"],
                admin_email=options["admin_email"],
                domain=options.get("domain"),
                admin_password=options.get("admin_password"),
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
        firm = result.firm
        if result.created:
            self.stdout.write(self.style.SUCCESS(f"Created firm {firm.name!r} (schema {firm.schema_name})."))
        else:
            self.stdout.write(f"Firm {firm.name!r} already exists (schema {firm.schema_name}); nothing changed.")
        self.stdout.write(f"Sign-in: {site_url(firm.primary_domain)}  admin login: {result.admin_username}")
        if result.created and not options.get("admin_password"):
            self.stdout.write(
                "Set the admin's password with: python manage.py tenant_command changepassword "
                f"{result.admin_username} --schema={firm.schema_name}"
            )

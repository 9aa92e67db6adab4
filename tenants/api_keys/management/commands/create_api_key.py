from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.api_keys.services import api_key_create
from tenants.errors import DomainError
from tenants.models import Firm


class Command(BaseCommand):
    help = "Issue an API key for a firm's user; the key is printed once and never stored in clear."

    def add_arguments(self, parser):
        parser.add_argument("--firm", required=True, help="The firm's slug")
        parser.add_argument("--user", required=True, help="The owner's username (a person or a service user)")
        parser.add_argument("--name", required=True, help="What the key is for")
        parser.add_argument("--scopes", required=True, help="Comma-separated: read,import,run,approve,parameters,admin")
        parser.add_argument("--days", type=int, default=None, help="Expire after this many days (default: never)")

    def handle(self, *args, **options):
        firm = Firm.objects.exclude(schema_name="public").filter(slug=options["firm"]).first()
        if firm is None:
            raise CommandError(f"no firm with slug {options['firm']!r}")
        if options["days"] is not None and options["days"] <= 0:
            raise CommandError("--days must be a positive number of days")
        with tenant_context(firm):
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r} in firm {firm.slug}")
            expires_at = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
            try:
                issued = api_key_create(user=user, name=options["name"], scopes=options["scopes"].split(","),
                                        expires_at=expires_at, by=None)
            except DomainError as exc:
                raise CommandError(f"{exc.code}: {exc.message}") from None
        key = issued.key
        expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "never expires"
        self.stdout.write(f"{firm.slug}: key rk_{key.prefix} for {user.get_username()} "
                          f"(scopes {','.join(key.scopes)}; {expiry})")
        self.stdout.write("Store it now; it is not shown again:")
        self.stdout.write(issued.token)

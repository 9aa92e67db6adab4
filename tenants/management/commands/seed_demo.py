from django.core.management.base import BaseCommand, CommandError

from tenants.demo import DEMO_PASSWORD, seed_demo_platform
from tenants.errors import DomainError


class Command(BaseCommand):
    help = "Seed the demo provider, two client firms and a user of every role (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="Port shown in the printed URLs")

    def handle(self, *args, **options):
        try:
            logins = seed_demo_platform()
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None
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

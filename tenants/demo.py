"""The demo platform: a provider with two client firms and a person in every role. Idempotent."""

from dataclasses import dataclass

from django.conf import settings
from django_tenants.utils import schema_context

from .models import Firm
from .roles import FirmRole, ProviderRole
from .services import firm_create, provider_ensure, user_ensure

__all__ = ["DEMO_FIRMS", "DEMO_PASSWORD", "DemoLogin", "seed_demo_platform"]

DEMO_PASSWORD = "demo-rebalance-2026"  # demo data only; printed by `make demo`

DEMO_FIRMS = [
    ("Acme Wealth Partners", "acme"),
    ("Birch Street Advisors", "birch"),
]

# (username prefix, first name, last name, role)
_FIRM_PEOPLE = [
    ("admin", "Alex", "Admin", FirmRole.FIRM_ADMIN),
    ("pm", "Priya", "Manager", FirmRole.PORTFOLIO_MANAGER),
    ("advisor1", "Avery", "Advisor", FirmRole.ADVISOR),
    ("advisor2", "Blake", "Advisor", FirmRole.ADVISOR),
    ("compliance", "Casey", "Compliance", FirmRole.COMPLIANCE),
]


@dataclass(frozen=True)
class DemoLogin:
    host: str
    username: str
    role: str


def seed_demo_platform() -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    provider_ensure(name="Demo Outsourcing Provider", admin_email="admin@provider.example")
    with schema_context("public"):
        user_ensure(
            username="admin@provider.example", email="admin@provider.example",
            roles=[ProviderRole.PROVIDER_ADMIN], password=DEMO_PASSWORD, is_superuser=True,
            first_name="Pat", last_name="Provider",
        )
        user_ensure(
            username="operator@provider.example", email="operator@provider.example",
            roles=[ProviderRole.PROVIDER_OPERATOR], password=DEMO_PASSWORD,
            first_name="Oli", last_name="Operator",
        )
    logins += [
        DemoLogin(settings.BASE_DOMAIN, "admin@provider.example", ProviderRole.PROVIDER_ADMIN.label),
        DemoLogin(settings.BASE_DOMAIN, "operator@provider.example", ProviderRole.PROVIDER_OPERATOR.label),
    ]
    for name, slug in DEMO_FIRMS:
        domain = f"{slug}.{settings.BASE_DOMAIN}"
        firm_create(name=name, slug=slug, admin_email=f"admin@{slug}.example", domain=domain)
        firm = Firm.objects.get(slug=slug)
        with schema_context(firm.schema_name):
            for prefix, first, last, role in _FIRM_PEOPLE:
                username = f"{prefix}@{slug}.example"
                user_ensure(
                    username=username, email=username, roles=[role], password=DEMO_PASSWORD,
                    is_staff=role == FirmRole.FIRM_ADMIN,  # only firm admins use the admin site
                    first_name=first, last_name=last,
                )
                logins.append(DemoLogin(domain, username, role.label))
    return logins

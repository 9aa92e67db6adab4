import pytest
from django_tenants.utils import tenant_context

from tenants.roles import FirmRole

from .book import make_firm_book

ROLES = {
    "admin": FirmRole.FIRM_ADMIN, "pm": FirmRole.PORTFOLIO_MANAGER, "advisor": FirmRole.ADVISOR,
    "colleague": FirmRole.ADVISOR, "compliance": FirmRole.COMPLIANCE,
}


@pytest.fixture
def people(firm_a, firm_user):
    return {key: firm_user(firm_a, f"{key}@pages.example", role, first_name=key.title()) for key, role in ROLES.items()}


@pytest.fixture
def book(firm_a, people):
    with tenant_context(firm_a):
        yield make_firm_book(people)


@pytest.fixture
def as_user(firm_a, client_for, people):
    """A signed-in client on firm A's host: as_user("advisor")."""
    return lambda key: client_for(firm_a, people[key])

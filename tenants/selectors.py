"""Reads on the firm registry and on who holds which role."""

from django.db.models import TextChoices
from django_tenants.utils import schema_context

from .models import Firm

__all__ = ["firm_list_for_console", "user_roles"]


def user_roles(user, role_enum: type[TextChoices]) -> list[TextChoices]:
    """The roles of `role_enum` that the user holds in the current schema."""
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in role_enum if role.value in names]


def firm_list_for_console() -> list[Firm]:
    with schema_context("public"):
        return list(Firm.objects.exclude(schema_name="public").prefetch_related("domains").order_by("name"))

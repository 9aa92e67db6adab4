"""Reads on the firm registry and on who holds which role."""

from django.db import connection
from django.db.models import TextChoices
from django_tenants.utils import get_public_schema_name, schema_context

from .errors import Conflict, NotFound
from .models import Firm

__all__ = ["firm_active_check", "firm_by_slug", "firm_list_for_console", "firm_suspended", "firms_active", "user_roles"]


def firms_active():
    """Client firms that are active (never the provider's public schema)."""
    return Firm.objects.exclude(schema_name=get_public_schema_name()).filter(status=Firm.Status.ACTIVE)


def firm_suspended(schema_name: str) -> Firm | None:
    """The firm of ``schema_name`` if its provider has suspended it (None when it is active, or for
    the provider's own schema): what refuses a run in it, whoever asks."""
    return Firm.objects.filter(schema_name=schema_name, status=Firm.Status.SUSPENDED).first()


def firm_active_check(refused: str) -> None:
    """Refuse, with ``Conflict`` naming the suspension, work that trades in a suspended firm (the
    current schema's): "No run starts", "No trade is released"... is ``refused``."""
    suspended = firm_suspended(connection.schema_name)
    if suspended is not None:
        raise Conflict(f"{suspended.suspension}. {refused} until it is reactivated.",
                       code="firm_suspended", detail={"firm": suspended.slug})


def firm_by_slug(slug: str, *, active: bool = False) -> Firm:
    """The client firm with this slug (``active``: only if active); ``NotFound`` naming the slug.
    The one lookup for commands, the provider console and the API."""
    firms = firms_active() if active else Firm.objects.exclude(schema_name=get_public_schema_name())
    firm = firms.filter(slug=slug).first()
    if firm is None:
        raise NotFound(f"No {'active ' if active else ''}firm has the slug {slug!r}.", detail={"firm": slug})
    return firm


def user_roles(user, role_enum: type[TextChoices]) -> list[TextChoices]:
    """The roles of `role_enum` that the user holds in the current schema."""
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in role_enum if role.value in names]


def firm_list_for_console() -> list[Firm]:
    with schema_context("public"):
        return list(Firm.objects.exclude(schema_name="public").prefetch_related("domains").order_by("name"))

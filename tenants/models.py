from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# Lower-case letters, digits and inner hyphens: usable both as a host label and, with hyphens
# turned to underscores, inside a PostgreSQL schema name.
FIRM_SLUG_PATTERN = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
firm_slug_validator = RegexValidator(
    FIRM_SLUG_PATTERN,
    "A firm slug is 2-40 characters: lower-case letters, digits and inner hyphens, starting with a letter.",
)


class Firm(TenantMixin):
    """A client firm (wealth manager). Its data lives in its own PostgreSQL schema."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=40, unique=True, validators=[firm_slug_validator])
    admin_email = models.EmailField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # The provider admin's last decision on ``status`` (``firm_status_set``): when, and why - shown
    # to the firm's people on every page while it is suspended.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the firm's admin (the provider's row: a provider admin) on the Security page.
    mfa_required = models.BooleanField(
        default=False, help_text="Everyone signing in to this firm must use a second factor (TOTP)")

    auto_create_schema = True  # the create service runs inside a transaction: a failure drops it too
    auto_drop_schema = False  # a firm's data is never dropped by deleting a row

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended"]), name="firm_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def suspension(self) -> str:
        """In words, while suspended: since when and why ("" when active)."""
        if self.status != self.Status.SUSPENDED:
            return ""
        day = self.status_changed_at
        since = f" since {day.day} {day:%B %Y}" if day else ""
        why = f": {self.status_reason}" if self.status_reason else ""
        return f"{self.name} is suspended by its provider{since}{why}"

    @staticmethod
    def schema_name_for(slug: str) -> str:
        return "firm_" + slug.replace("-", "_")

    @property
    def primary_domain(self) -> str | None:
        domain = self.domains.filter(is_primary=True).first()
        return domain.domain if domain else None


class Domain(DomainMixin):
    """A host name that resolves to a firm (or, for the public schema, to the provider console)."""

    def __str__(self) -> str:
        return self.domain


class FirmUsage(models.Model):
    """A snapshot of one firm's size, taken by a Celery task running inside the firm's schema."""

    firm = models.ForeignKey(Firm, on_delete=models.CASCADE, related_name="usage")
    taken_at = models.DateTimeField(auto_now_add=True)
    schema_name = models.CharField(max_length=63, help_text="The schema the task actually ran in")
    users = models.PositiveIntegerField()
    active_users = models.PositiveIntegerField()

    class Meta:
        ordering = ["-taken_at", "-id"]
        get_latest_by = "taken_at"

    def __str__(self) -> str:
        return f"{self.firm} at {self.taken_at:%Y-%m-%d %H:%M}"

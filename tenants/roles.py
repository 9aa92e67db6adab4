"""The roles people hold. Provider roles live in the public schema, firm roles in each firm's schema.

A role is a Django group of the same name in the schema where the user lives; the permissions each
role carries are granted by tenants.permissions (object level: django-guardian).
"""

from django.db import models

__all__ = ["FirmRole", "ProviderRole"]


class ProviderRole(models.TextChoices):
    PROVIDER_ADMIN = "provider_admin", "Provider admin"
    PROVIDER_OPERATOR = "provider_operator", "Provider operator"


class FirmRole(models.TextChoices):
    FIRM_ADMIN = "firm_admin", "Firm admin"
    PORTFOLIO_MANAGER = "portfolio_manager", "Portfolio manager"
    ADVISOR = "advisor", "Advisor"
    COMPLIANCE = "compliance", "Compliance"

from django.contrib import admin
from django.db import connection
from django_tenants.admin import TenantAdminMixin
from django_tenants.utils import get_public_schema_name

from .models import Domain, Firm


class _PublicOnlyAdmin(admin.ModelAdmin):
    """The firm registry is the provider's: it is never shown in a firm's own admin."""

    def has_module_permission(self, request):
        return connection.schema_name == get_public_schema_name() and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return connection.schema_name == get_public_schema_name() and super().has_view_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Firm)
class FirmAdmin(TenantAdminMixin, _PublicOnlyAdmin):
    list_display = ("name", "slug", "schema_name", "status", "admin_email", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug", "admin_email")
    readonly_fields = ("schema_name", "created_at")
    inlines = [DomainInline]


@admin.register(Domain)
class DomainAdmin(_PublicOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)

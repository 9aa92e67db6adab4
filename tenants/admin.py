"""The provider's admin site, served only on the provider's host (config/urls_public.py).

The firm registry is never registered on the default admin site, which firms' hosts serve: a firm
admin cannot even discover that other firms exist.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django_tenants.admin import TenantAdminMixin

from .audit.admin_mixins import AuditedAdminMixin
from .models import Domain, Firm, FirmUsage

provider_admin_site = admin.AdminSite(name="admin")
provider_admin_site.site_header = "Provider administration"
provider_admin_site.site_title = "Provider administration"
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    """Users and their roles (groups) changed in an admin site leave an audit record."""


class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass


provider_admin_site.register(User, AuditedUserAdmin)
provider_admin_site.register(Group, AuditedGroupAdmin)
# Firms' own admin sites (the default site) get the audited admins too.
for _model, _admin in ((User, AuditedUserAdmin), (Group, AuditedGroupAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Firm, site=provider_admin_site)
class FirmAdmin(AuditedAdminMixin, TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "schema_name", "status", "admin_email", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "slug", "admin_email")
    # Suspending needs a reason its people read and goes in the firm's own audit trail too: the console
    # does it (``firm_status_set``), so the admin shows the status without changing it.
    readonly_fields = ("schema_name", "created_at", "status", "status_reason", "status_changed_at")
    inlines = [DomainInline]

    def has_add_permission(self, request):
        return False  # onboarding creates a schema: it goes through firm_create (command or console)


@admin.register(Domain, site=provider_admin_site)
class DomainAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain",)


@admin.register(FirmUsage, site=provider_admin_site)
class FirmUsageAdmin(admin.ModelAdmin):
    list_display = ("firm", "taken_at", "schema_name", "users", "active_users")
    list_filter = ("firm",)

    def has_change_permission(self, request, obj=None):
        return False


def security_models_hide(site: admin.AdminSite) -> None:
    """Second factors are set up, reset and audited on the Security pages (tenants.security); an admin
    site would show a TOTP secret and change them unaudited. django-otp registers its devices on the
    default site when its admin modules load, after ours, so the URLconf calls this."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)

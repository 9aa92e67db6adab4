from django.contrib import admin

from tenants.admin import provider_admin_site

from .models import AuditEvent


class AuditEventAdmin(admin.ModelAdmin):
    """Read and filter; nobody adds, changes or deletes a record here."""

    list_display = ("at", "actor", "action", "object_type", "object_id", "object_repr", "comment")
    list_filter = ("action", "object_type", "actor_kind")
    search_fields = ("actor", "object_id", "object_repr", "comment")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(AuditEvent, AuditEventAdmin)
provider_admin_site.register(AuditEvent, AuditEventAdmin)

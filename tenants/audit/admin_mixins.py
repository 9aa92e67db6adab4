"""Changes made in a Django admin site are audited like changes made through the services.

The admin saves each change form inside one transaction, so the audit row lands with the change.
"""

from datetime import date, datetime
from decimal import Decimal

from .services import audit_record

__all__ = ["AuditedAdminMixin", "admin_snapshot"]

_SECRET_FIELDS = {"password"}


def _plain(value):
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    return str(value)


def admin_snapshot(obj) -> dict | None:
    """The object's fields (foreign keys as ids, many-to-many as sorted ids); secrets masked."""
    if obj is None or obj.pk is None:
        return None
    out = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        out[field.name] = "(hidden)" if field.name in _SECRET_FIELDS else _plain(value)
    for field in obj._meta.many_to_many:
        out[field.name] = sorted(str(pk) for pk in getattr(obj, field.name).values_list("pk", flat=True))
    return out


class AuditedAdminMixin:
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        request._audit_before = admin_snapshot(self.get_object(request, object_id)) if object_id else None
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # many-to-many (e.g. roles) are saved here
        before = getattr(request, "_audit_before", None)
        after = admin_snapshot(form.instance)
        if change and before == after:
            return
        verb = "change" if change else "create"
        audit_record(actor=request.user, action=f"admin.{verb}", obj=form.instance,
                     before=before, after=after, comment="through the admin site")

    def delete_model(self, request, obj):
        audit_record(actor=request.user, action="admin.delete", obj=obj,
                     before=admin_snapshot(obj), comment="through the admin site")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(actor=request.user, action="admin.delete", obj=obj,
                         before=admin_snapshot(obj), comment="through the admin site")
        super().delete_queryset(request, queryset)

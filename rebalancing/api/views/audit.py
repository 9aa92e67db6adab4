"""The audit log, read only: records are written by the services that make each change."""

from rest_framework import mixins

from rebalancing import filters
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule
from ..visibility import audit_events_visible_to


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Who did what, when, with the state before and after (newest first)."""

    serializer_class = serializers.AuditEventSerializer
    filterset_class = filters.AuditEventFilter
    rules = {"*": Rule(Scope.READ, Capability.READ_AUDIT)}

    def visible_queryset(self, user):
        return audit_events_visible_to(user)

"""The firm's restricted list: every firm role reads it; compliance and firm admins add, change and
lift entries (rebalancing.services.restricted_list, audited). An entry is never deleted."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing.models import RestrictedSecurity
from rebalancing.services.restricted_list import restricted_add, restricted_change, restricted_lift
from tenants.api_keys.scopes import Scope
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

from ..base import READ, FirmScopedViewSet, Rule, idempotent
from ..serializers.restricted import (
    RestrictedCreateSerializer,
    RestrictedEntrySerializer,
    RestrictedLiftSerializer,
    RestrictedUpdateSerializer,
)

MANAGE = Rule(Scope.ADMIN, Capability.MANAGE_RESTRICTED_LIST)


class RestrictedListViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Entries of the firm's restricted list, by symbol, latest first."""

    serializer_class = RestrictedEntrySerializer
    rules = {"*": READ, "create": MANAGE, "partial_update": MANAGE, "lift": MANAGE}
    list_parameters = frozenset({"in_force_on"})

    def visible_queryset(self, user):
        # Firm-wide reference data: the same for every role that views the book.
        entries = RestrictedSecurity.objects.select_related("security", "added_by", "lifted_by")
        day = self.request.query_params.get("in_force_on") if self.action == "list" else None
        if day:
            try:
                if not (day.isascii() and len(day) == 10):  # fromisoformat reads "٢٠٢٦..." and "20260105"
                    raise ValueError(day)
                entries = entries.in_force_on(date.fromisoformat(day))
            except ValueError:
                raise ValidationFailed("in_force_on is a date (YYYY-MM-DD).", detail={"field": "in_force_on"}) from None
        return entries

    @extend_schema(parameters=[OpenApiParameter("in_force_on", date, description="Only the entries binding that day")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=RestrictedCreateSerializer, responses={201: RestrictedEntrySerializer})
    @idempotent
    def create(self, request):
        """Put a security of the firm's master on the restricted list (an unknown symbol is refused)."""
        serializer = RestrictedCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = restricted_add(by=request.user, **serializer.validated_data)
        return Response(RestrictedEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RestrictedUpdateSerializer, responses=RestrictedEntrySerializer)
    def partial_update(self, request, pk=None):
        """Change what is restricted, the reason or the dates of an entry not lifted."""
        serializer = RestrictedUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = restricted_change(entry=self.get_object(), by=request.user, **serializer.validated_data)
        return Response(RestrictedEntrySerializer(entry).data)

    @extend_schema(request=RestrictedLiftSerializer, responses=RestrictedEntrySerializer,
                   operation_id="restricted_list_lift")
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        """Lift the entry from today, with the reason: it binds no day from then."""
        serializer = RestrictedLiftSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = restricted_lift(entry=self.get_object(), reason=serializer.validated_data["reason"], by=request.user)
        return Response(RestrictedEntrySerializer(entry).data)

"""The firm's risk model: the versions estimated from its prices (nightly at 01:45 UTC, or now on
request) and which one runs use; the same rule and service as the Risk model page."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing.selectors import risk_model_current
from rebalancing.services.risk_models import risk_model_estimate
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule, idempotent
from ..visibility import risk_models_visible_to

# The page's rule: those who run rebalances see the versions and may estimate one.
VIEW = Rule(Scope.READ, Capability.RUN_REBALANCE)
ESTIMATE = Rule(Scope.RUN, Capability.RUN_REBALANCE)


class RiskModelVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Versions of the firm's risk model, newest first; estimate one now from the prices held today."""

    rules = {"*": VIEW, "estimate": ESTIMATE}

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.RiskModelVersionSerializer
        return serializers.RiskModelVersionDetailSerializer

    def get_serializer_context(self):
        current, _ = risk_model_current(timezone.localdate())
        return {**super().get_serializer_context(), "in_use": current.pk if current is not None else None}

    def visible_queryset(self, user):
        queryset = risk_models_visible_to(user).select_related("created_by")
        return queryset.defer("estimate") if self.action == "list" else queryset

    @extend_schema(request=None, responses={
        201: serializers.RiskModelVersionDetailSerializer,
        200: OpenApiResponse(serializers.RiskModelVersionDetailSerializer,
                             description="The prices have not changed since this version: it stays current"),
    })
    @action(detail=False, methods=["post"], filterset_class=None)
    @idempotent
    def estimate(self, request):
        """Estimate the risk model from the firm's prices up to today, as the nightly refresh does
        (Ledoit-Wolf, the last 126 daily returns). 201 with the new version; 200 with the existing one
        when the prices have not changed; 400 ``insufficient_price_history`` naming what is missing."""
        refresh = risk_model_estimate(as_of=timezone.localdate(), user=request.user)
        answer = self.get_serializer(refresh.version).data
        return Response(answer, status=status.HTTP_201_CREATED if refresh.created else status.HTTP_200_OK)

"""The firm's risk model: the versions estimated from its prices (nightly at 01:45 UTC, or now on
request, by a worker) and which one runs use; the same rule and services as the Risk model page."""

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing.selectors import risk_model_current
from rebalancing.services.risk_models import risk_model_estimate_start
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule, body_refused, idempotent
from ..visibility import risk_model_estimates_visible_to, risk_models_visible_to

# The page's rule: those who read the risk model see the versions (compliance too: proposals name
# one); those who run rebalances may estimate one.
VIEW = Rule(Scope.READ, Capability.VIEW_RISK_MODEL)
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

    @extend_schema(request=None, responses={202: OpenApiResponse(
        serializers.RiskModelEstimateSerializer,
        description="The estimate, queued for a worker - or the one already waiting or running (same id): "
                    "follow it at the Location, risk-model-estimates/{id}/")})
    @action(detail=False, methods=["post"], filterset_class=None)
    @idempotent
    def estimate(self, request):
        """Estimate the risk model from the firm's prices up to today, as the nightly refresh does
        (Ledoit-Wolf, the last 126 daily returns), in a worker. 202 at once with the estimate to follow
        at risk-model-estimates/{id}/ until it completes (a new version, or ``unchanged``: the prices
        have not changed) or fails (``error`` says why, e.g. too few days of prices). While one is
        under way, asking again answers with that one."""
        body_refused(request)
        start = risk_model_estimate_start(user=request.user, as_of=timezone.localdate())
        estimate = start.estimate
        location = reverse("api:risk-model-estimate-detail", args=[estimate.pk])
        return Response(serializers.RiskModelEstimateSerializer(estimate).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": location})


class RiskModelEstimateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Estimates of the firm's risk model asked for now (risk-models/estimate/), newest first: under
    way, then their outcome."""

    serializer_class = serializers.RiskModelEstimateSerializer
    rules = {"*": VIEW}

    def visible_queryset(self, user):
        return risk_model_estimates_visible_to(user).select_related("created_by")

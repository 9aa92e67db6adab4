"""/api/v1/ on a firm's host: the endpoints, the OpenAPI schema, Swagger UI and Redoc (local assets)."""

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import SimpleRouter

from tenants.api_keys.scopes import Scope
from tenants.errors import NotFound

from .base import FirmAPIView, Rule
from .views.audit import AuditEventViewSet
from .views.backtests import BacktestViewSet
from .views.book import (
    AccountViewSet,
    BenchmarkViewSet,
    HouseholdViewSet,
    ModelPortfolioViewSet,
    PriceViewSet,
    RmdsView,
    SecurityViewSet,
    TemplateViewSet,
)
from .views.households import CashFlowViewSet, HouseholdProposalViewSet
from .views.imports import ImportView
from .views.keys import ApiKeyViewSet
from .views.ledger import (
    ExecutionViewSet,
    HarvestView,
    OrderFileView,
    RealisedGainsView,
    ReconciliationViewSet,
    ScheduleDView,
    TransitionView,
)
from .views.release_batches import ReleaseBatchViewSet
from .views.restricted import RestrictedListViewSet
from .views.risk_models import RiskModelEstimateViewSet, RiskModelVersionViewSet
from .views.runs import AlertViewSet, OrderViewSet, ProposalViewSet, RunViewSet
from .views.webhooks import WebhookDeliveryViewSet, WebhookEndpointViewSet
from .views.whatif import WhatIfView

router = SimpleRouter(trailing_slash=True)
router.register("securities", SecurityViewSet, basename="security")
router.register("prices", PriceViewSet, basename="price")
router.register("benchmarks", BenchmarkViewSet, basename="benchmark")
router.register("models", ModelPortfolioViewSet, basename="model")
router.register("templates", TemplateViewSet, basename="template")
router.register("households", HouseholdViewSet, basename="household")
router.register("household-proposals", HouseholdProposalViewSet, basename="household-proposal")
router.register("cash-flows", CashFlowViewSet, basename="cash-flow")
router.register("accounts", AccountViewSet, basename="account")
router.register("runs", RunViewSet, basename="run")
router.register("backtests", BacktestViewSet, basename="backtest")
router.register("risk-models", RiskModelVersionViewSet, basename="risk-model")
router.register("risk-model-estimates", RiskModelEstimateViewSet, basename="risk-model-estimate")
router.register("proposals", ProposalViewSet, basename="proposal")
router.register("release-batches", ReleaseBatchViewSet, basename="release-batch")
router.register("orders", OrderViewSet, basename="order")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("reconciliations", ReconciliationViewSet, basename="reconciliation")
router.register("alerts", AlertViewSet, basename="alert")
router.register("restricted-list", RestrictedListViewSet, basename="restricted-entry")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")


# The endpoints that are not a router's collection, by the name the root lists them under.
OTHER_ENDPOINTS = {
    "imports": "import", "whatif": "whatif", "order-files": "order-file",
    "reports/realised-gains": "report-realised-gains", "reports/harvest": "report-harvest",
    "reports/transition": "report-transition", "reports/schedule-d": "report-schedule-d",
    "reports/rmds": "report-rmds",
}


@extend_schema(exclude=True)  # navigation, as DRF's own API root: the schema describes the endpoints
class ApiRoot(FirmAPIView):
    """/api/v1/: every endpoint by name, and the schema and its docs, for a signed-in session or a
    key with the read scope (anonymous: 401, as everywhere in the API). It names endpoints only; each
    still answers by its own rule."""

    rules = {"*": Rule(Scope.READ)}

    def get(self, request):
        def url(name: str) -> str:
            return reverse(f"api:{name}", request=request)

        endpoints = {prefix: url(f"{basename}-list") for prefix, _, basename in router.registry}
        endpoints |= {path: url(name) for path, name in OTHER_ENDPOINTS.items()}
        return Response({"endpoints": endpoints, "schema": url("schema"), "docs": url("docs"), "redoc": url("redoc")})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def no_such_endpoint(request, rest=""):
    raise NotFound(f"There is no endpoint /api/v1/{rest}.", detail={"path": request.path})


app_name = "api"
urlpatterns = [
    path("", ApiRoot.as_view(), name="root"),
    *router.urls,
    path("imports/", ImportView.as_view(), name="import"),
    path("whatif/", WhatIfView.as_view(), name="whatif"),
    path("order-files/", OrderFileView.as_view(), name="order-file"),
    path("reports/realised-gains/", RealisedGainsView.as_view(), name="report-realised-gains"),
    path("reports/harvest/", HarvestView.as_view(), name="report-harvest"),
    path("reports/transition/", TransitionView.as_view(), name="report-transition"),
    path("reports/schedule-d/", ScheduleDView.as_view(), name="report-schedule-d"),
    path("reports/rmds/", RmdsView.as_view(), name="report-rmds"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"), name="redoc"),
    re_path(r"^(?P<rest>.*)$", no_such_endpoint),  # a JSON 404 in the error body, not Django's HTML page
]

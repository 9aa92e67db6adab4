"""/api/v1/ on a firm's host: the endpoints, the OpenAPI schema, Swagger UI and Redoc (local assets)."""

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.routers import SimpleRouter

from tenants.errors import NotFound

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


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def no_such_endpoint(request, rest=""):
    raise NotFound(f"There is no endpoint /api/v1/{rest}.", detail={"path": request.path})


app_name = "api"
urlpatterns = [
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

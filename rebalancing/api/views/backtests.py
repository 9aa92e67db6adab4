"""Backtests: what harvesting would have saved, started here and replayed by a worker."""

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing.backtest.report import CSV_FIELDS, report_csv_rows
from rebalancing.exports import csv_download, csv_text
from rebalancing.models import Backtest
from rebalancing.services.backtests import backtest_start
from tenants.api_keys.scopes import Scope
from tenants.errors import Conflict
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule, idempotent
from ..renderers import CsvErrorsAsJson, CSVRenderer
from ..visibility import backtests_visible_to

# A backtest reads the book and stores only its own report: any role that may view the book.
START = Rule(Scope.READ, Capability.VIEW_BOOK)


class BacktestViewSet(CsvErrorsAsJson, mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Replays of a template's harvesting on history beside buy-and-hold and a naive harvester."""

    rules = {"create": START}

    def get_serializer_class(self):
        return serializers.BacktestSerializer if self.action == "list" else serializers.BacktestDetailSerializer

    def visible_queryset(self, user):
        queryset = backtests_visible_to(user).select_related("template", "model", "benchmark", "created_by")
        return queryset.defer("report") if self.action == "list" else queryset

    @extend_schema(request=serializers.BacktestStartSerializer, responses={201: serializers.BacktestSerializer})
    @idempotent
    def create(self, request):
        """Queue a backtest; follow its progress at backtests/{id}/ (status, progress, then the report)."""
        serializer = serializers.BacktestStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        backtest = backtest_start(user=request.user, **serializer.validated_data)
        return Response(serializers.BacktestSerializer(backtest).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], filterset_class=None, renderer_classes=[CSVRenderer])
    def csv(self, request, pk=None) -> HttpResponse:
        """Each strategy's figures per start date and per year, as CSV (a finished backtest)."""
        backtest = self.get_object()
        if backtest.status != Backtest.Status.COMPLETED or not backtest.report:
            raise Conflict(f"backtest {backtest.pk} is {backtest.status}: its figures come when it completes",
                           detail={"status": backtest.status})
        rows = list(report_csv_rows(backtest.report))[1:]
        stamp = timezone.localdate().strftime("%Y%m%d")
        return csv_download(user=request.user, text=csv_text(CSV_FIELDS, rows),
                            filename=f"backtest-{backtest.pk}-{stamp}.csv", what="backtest",
                            filters={"backtest": backtest.pk})

"""The trading loop and tax ledger over the API (rebalancing.ledger; docs/ledger.md).

- ``executions/``: fills and cancels in (JSON records or a CSV file), applied once; list and read;
- ``order-files/``: open orders as the CSV a custodian or OMS takes, per account or per block;
- ``reconciliations/``: a custodian's position file compared with the ledger; accept or reject;
- ``reports/realised-gains/``, ``reports/harvest/``, ``reports/transition/``: the tax reports.

Registered by ``rebalancing/api/urls.py`` (``urlpatterns`` below). Every queryset starts from what
the user may see (rebalancing.access), through ``FirmScopedViewSet``.
"""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from rebalancing.access import accounts_visible_to, households_visible_to
from rebalancing.api.parsers import BoundedJSONParser
from rebalancing.api.serializers import ImportSummarySerializer
from rebalancing.exports import csv_download, download_audit
from rebalancing.imports import ImportRejected
from rebalancing.ledger import reports
from rebalancing.ledger.executions import executions_apply, executions_import
from rebalancing.ledger.orders import blocks_csv, orders_csv, orders_open
from rebalancing.ledger.reconciliation import (
    reconciliation_accept,
    reconciliation_import,
    reconciliation_reject,
)
from rebalancing.models import Execution, Order, Reconciliation, ReconciliationAccount, ReconciliationRow
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .base import FirmAPIView, FirmScopedViewSet, Rule, idempotent
from .visibility import reconciliations_visible_to

__all__ = ["urlpatterns"]

IMPORT = Rule(Scope.IMPORT, Capability.IMPORT_DATA)
RECONCILE_READ = Rule(Scope.READ, Capability.IMPORT_DATA)


# --- Serializers ---------------------------------------------------------------------------------

class ExecutionSerializer(serializers.ModelSerializer):
    order_id = serializers.CharField(source="order.order_id")
    account_number = serializers.CharField(source="order.account.custodian_number")

    class Meta:
        model = Execution
        fields = ["id", "external_id", "order_id", "account_number", "kind", "quantity", "price", "fees",
                  "trade_date", "lot_id", "source", "applied_by", "applied_at"]


class ExecutionsJsonSerializer(serializers.Serializer):
    executions = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=100_000,
        help_text="One object per execution, keyed by the CSV's columns (docs/ledger.md)",
    )
    as_of = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="Trade dates may not be later (default today)")


class ExecutionsFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file of executions (docs/ledger.md)")
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class ReconciliationRowSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="security.symbol")
    quantity_difference = serializers.DecimalField(max_digits=21, decimal_places=6, read_only=True)
    cost_basis_difference = serializers.DecimalField(max_digits=19, decimal_places=2, read_only=True)

    class Meta:
        model = ReconciliationRow
        fields = ["symbol", "ledger_quantity", "custodian_quantity", "quantity_difference", "ledger_cost_basis",
                  "custodian_cost_basis", "cost_basis_difference"]


class ReconciliationAccountSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.custodian_number")
    rows = ReconciliationRowSerializer(many=True)
    lot_differences = serializers.ListField(child=serializers.DictField())

    class Meta:
        model = ReconciliationAccount
        fields = ["account", "account_number", "decision", "decided_by", "decided_at", "rows", "lot_differences"]


class ReconciliationSerializer(serializers.ModelSerializer):
    accounts = ReconciliationAccountSerializer(many=True)

    class Meta:
        model = Reconciliation
        fields = ["id", "as_of", "file_name", "status", "created_by", "created_at", "accounts"]


class PositionsFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A position file in the lots layout (docs/csv-formats.md)")
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class ReconciliationDecisionSerializer(serializers.Serializer):
    accounts = serializers.ListField(child=serializers.CharField(max_length=64), required=False, allow_empty=False,
                                     help_text="Account numbers; all accounts waiting for a decision when left out")
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReportPeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the period")
    end = serializers.DateField(help_text="Last day of the period")
    household = serializers.CharField(required=False, max_length=64, help_text="A household's external id")
    account = serializers.CharField(required=False, max_length=64, help_text="An account number")

    def validate(self, data):
        if data["start"] > data["end"]:
            raise serializers.ValidationError({"start": "is after end"})
        return data


class ReportYearSerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1900, max_value=9999, help_text="The tax year")
    household = serializers.CharField(required=False, max_length=64, help_text="A household's external id")


class ReportAsOfSerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="Prices and budgets as of this day")
    household = serializers.CharField(required=False, max_length=64)
    account = serializers.CharField(required=False, max_length=64)


class OrderFileSerializer(serializers.Serializer):
    layout = serializers.ChoiceField(choices=["orders", "blocks"], default="orders")
    day = serializers.DateField(required=False, help_text="Only orders released that day")


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=2, **kwargs)


def _shares() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=6)


class ScheduleDSheetSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    short_term = _money(help_text="The year's own net short-term result (lines 1-5)")
    carried_in_short = _money(help_text="Short-term loss carried in (line 6)")
    net_short = _money(help_text="Line 7")
    long_term = _money(help_text="The year's own net long-term result (lines 8-13)")
    carried_in_long = _money(help_text="Long-term loss carried in (line 14)")
    net_long = _money(help_text="Line 15")
    net = _money(help_text="Line 16")
    limit = _money(help_text="3,000; 1,500 married filing separately (IRC §1211(b))")
    deduction = _money(help_text="Line 21: the net loss deducted from ordinary income")
    taxable_short = _money(help_text="Net gain taxed as ordinary income")
    taxable_long = _money(help_text="Net capital gain taxed at the long-term rate")
    carried_out_short = _money(help_text="Short-term loss carried into the next year")
    carried_out_long = _money(help_text="Long-term loss carried into the next year")


class ScheduleDSerializer(serializers.Serializer):
    household = serializers.CharField()
    name = serializers.CharField()
    filing_status = serializers.CharField()
    sheet = ScheduleDSheetSerializer()
    earlier = ScheduleDSheetSerializer(many=True, help_text="The years before, whose losses carry into this one")


def _sheet(s) -> dict:
    return {name: getattr(s, name) for name in ScheduleDSheetSerializer().fields}


class RealisedRowSerializer(serializers.Serializer):
    account_number = serializers.CharField()
    household = serializers.CharField()
    symbol = serializers.CharField()
    lot_id = serializers.CharField()
    quantity = _shares()
    acquired = serializers.DateField(help_text="Start of the holding period (moved back by wash sales)")
    purchased = serializers.DateField(help_text="When the shares were bought")
    sold = serializers.DateField()
    term = serializers.ChoiceField(choices=["short", "long"])
    proceeds = _money()
    cost_basis = _money()
    code = serializers.CharField(help_text='Form 8949 column (f): "W" for a wash sale')
    adjustment = _money(help_text="Form 8949 column (g): the loss a wash sale disallowed")
    gain_or_loss = _money(help_text="Form 8949 column (h)")
    deferred = _money(help_text="Of the adjustment: added to the replacement shares' basis")
    lost = _money(help_text="Of the adjustment: lost for good, the replacement being in an IRA or Roth "
                            "(Rev. Rul. 2008-5)")


class TermTotalsSerializer(serializers.Serializer):
    proceeds = _money()
    cost_basis = _money()
    adjustment = _money()
    gain_or_loss = _money()
    deferred = _money()
    lost = _money(help_text="Disallowed for good (replacements in an IRA or Roth)")


class GainTotalsSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["account", "household"])
    key = serializers.CharField()
    name = serializers.CharField()
    short = TermTotalsSerializer()
    long = TermTotalsSerializer()
    net = _money()


class RecalculationChangeSerializer(serializers.Serializer):
    account = serializers.CharField()
    lot_id = serializers.CharField()
    sold = serializers.DateField()
    field = serializers.CharField(help_text="cost_basis, gain, disallowed_loss, disallowed_permanently or term")
    before = serializers.CharField()
    after = serializers.CharField()


class RecalculationSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="When the household's wash sales were replayed")
    household = serializers.CharField()
    trigger = serializers.CharField(help_text="What changed its history")
    changes = RecalculationChangeSerializer(many=True)


class RealisedReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    lots = RealisedRowSerializer(many=True)
    accounts = GainTotalsSerializer(many=True)
    households = GainTotalsSerializer(many=True)
    recalculations = RecalculationSerializer(
        many=True, help_text="Sales of the period whose figures changed after they were recorded, newest first")


class HarvestRowSerializer(serializers.Serializer):
    account_number = serializers.CharField()
    period = serializers.CharField(help_text='"2026-10" (a month) or "2026" (a year)')
    harvested = _money()
    disallowed = _money()
    net_harvested = _money()
    tax_value = _money()
    tracking_error = serializers.FloatField(allow_null=True)


class TransitionYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    gain_realised = _money()
    tax = _money()
    legacy_value_left = _money()


class TransitionRowSerializer(serializers.Serializer):
    account_number = serializers.CharField()
    name = serializers.CharField()
    started = serializers.DateField(allow_null=True)
    drift_start = serializers.FloatField(allow_null=True)
    drift_now = serializers.FloatField(allow_null=True)
    progress = serializers.FloatField(allow_null=True)
    market_value = _money()
    legacy_value = _money()
    tax_spent = _money()
    budget = _money(allow_null=True)
    legacy_gain = _money()
    years_left = serializers.IntegerField(allow_null=True)
    path = TransitionYearSerializer(many=True)


# --- Views ---------------------------------------------------------------------------------------

def _summary(summary) -> dict:
    return {"kind": summary.kind, "rows": summary.rows, "created": summary.created, "updated": summary.updated,
            "unchanged": summary.unchanged, "deleted": summary.deleted, "notes": list(summary.notes)}


class ExecutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Executions applied to the ledger; POST applies new ones (fills and cancels)."""

    serializer_class = ExecutionSerializer
    parser_classes = [BoundedJSONParser, MultiPartParser]
    rules = {"create": IMPORT}

    def visible_queryset(self, user):
        return (Execution.objects.filter(order__account__in=accounts_visible_to(user))
                .select_related("order__account").order_by("-applied_at", "-id"))

    @extend_schema(
        request={"application/json": ExecutionsJsonSerializer, "multipart/form-data": ExecutionsFileSerializer},
        responses={201: ImportSummarySerializer},  # the import summary: same shape
        examples=[OpenApiExample("a fill and a cancel", request_only=True, value={"executions": [
            {"external_id": "X-1001", "order_id": "P17-1", "quantity": "60", "price": "251.30",
             "trade_date": "2026-11-20"},
            {"external_id": "X-1002", "order_id": "P17-1", "kind": "cancel", "trade_date": "2026-11-20"},
        ]})],
    )
    @idempotent
    def create(self, request):
        """Apply executions: refused whole with row-level problems (400 ``import_rejected``), or applied in
        one transaction. An execution id applied before is recognised and changes nothing."""
        if request.content_type.startswith("multipart/"):
            serializer = ExecutionsFileSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            summary = executions_import(source=data["file"], actor=request.user, as_of=data["as_of"])
        else:
            serializer = ExecutionsJsonSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            try:
                summary = executions_apply(records=data["executions"], actor=request.user, as_of=data["as_of"])
            except ImportRejected as exc:
                for problem in exc.detail.get("problems", []):  # as the imports endpoint: index from 0
                    problem["index"] = problem["row"] - 1
                raise
        return Response(_summary(summary), status=status.HTTP_201_CREATED)


class OrderFileView(FirmAPIView):
    """Open orders as CSV for the custodian or OMS (layouts: docs/ledger.md)."""

    @extend_schema(parameters=[OrderFileSerializer], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        serializer = OrderFileSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        orders = list(orders_open(Order.objects.filter(account__in=accounts_visible_to(request.user)),
                                  day=data.get("day")))
        text = blocks_csv(orders) if data["layout"] == "blocks" else orders_csv(orders)
        return csv_download(user=request.user, text=text, filename=f"{data['layout']}.csv",
                            what=f"order_file.{data['layout']}", filters={"day": str(data.get("day") or "")})


class ReconciliationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """A custodian's positions compared with the ledger; nothing changes until accepted."""

    serializer_class = ReconciliationSerializer
    parser_classes = [MultiPartParser, BoundedJSONParser]
    rules = {"*": RECONCILE_READ, "create": IMPORT, "accept": IMPORT, "reject": IMPORT}

    def visible_queryset(self, user):
        return reconciliations_visible_to(user).prefetch_related("accounts__account", "accounts__rows__security")

    @extend_schema(request={"multipart/form-data": PositionsFileSerializer}, responses={201: ReconciliationSerializer})
    @idempotent
    def create(self, request):
        serializer = PositionsFileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reconciliation = reconciliation_import(source=data["file"], actor=request.user, as_of=data["as_of"],
                                               file_name=getattr(data["file"], "name", "") or "")
        return Response(ReconciliationSerializer(self.visible_queryset(request.user).get(pk=reconciliation.pk)).data,
                        status=status.HTTP_201_CREATED)

    def _decide(self, request, decide):
        serializer = ReconciliationDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reconciliation = self.get_object()
        account_ids = None
        if "accounts" in data:
            account_ids = list(accounts_visible_to(request.user).filter(custodian_number__in=data["accounts"])
                               .values_list("pk", flat=True))
        done = decide(reconciliation=reconciliation, user=request.user, account_ids=account_ids,
                      comment=data["comment"])
        return Response({"accounts": done})

    @extend_schema(request=ReconciliationDecisionSerializer,
                   responses=inline_serializer("ReconciliationDecided", {"accounts": serializers.IntegerField()}))
    @action(detail=True, methods=["post"], filterset_class=None)
    def accept(self, request, pk=None):
        """The custodian's lots replace the ledger's for these accounts (refused if the ledger changed since)."""
        return self._decide(request, reconciliation_accept)

    @extend_schema(request=ReconciliationDecisionSerializer,
                   responses=inline_serializer("ReconciliationRejected", {"accounts": serializers.IntegerField()}))
    @action(detail=True, methods=["post"], filterset_class=None)
    def reject(self, request, pk=None):
        """Keep the ledger's lots for these accounts."""
        return self._decide(request, reconciliation_reject)


def _filters(data) -> dict:
    return {k: str(v) for k, v in data.items() if v not in (None, "")}


def _accounts(request, data):
    accounts = accounts_visible_to(request.user)
    if data.get("household"):
        accounts = accounts.filter(household__external_id=data["household"])
    if data.get("account"):
        accounts = accounts.filter(custodian_number=data["account"])
    return accounts


class RealisedGainsView(FirmAPIView):
    """Lots sold in a period with the figures of Form 8949, and Schedule D totals per account and household."""

    @extend_schema(parameters=[ReportPeriodSerializer], responses=RealisedReportSerializer)
    def get(self, request):
        serializer = ReportPeriodSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = reports.realised_gains(accounts=_accounts(request, data), start=data["start"], end=data["end"])
        download_audit(user=request.user, what="report.realised_gains", filters=_filters(data), rows=len(report.lots))
        body = {
            "start": report.start, "end": report.end,
            "lots": [{**asdict(r), "code": r.code, "gain_or_loss": r.gain_or_loss, "deferred": r.deferred}
                     for r in report.lots],
            "accounts": [_totals(t) for t in report.accounts],
            "households": [_totals(t) for t in report.households],
            "recalculations": [asdict(r) for r in report.recalculations],
        }
        return Response(RealisedReportSerializer(body).data)


def _totals(t: reports.GainTotals) -> dict:
    def part(p: reports.TermTotals) -> dict:
        return {"proceeds": p.proceeds, "cost_basis": p.cost_basis, "adjustment": p.adjustment,
                "gain_or_loss": p.gain_or_loss, "deferred": p.deferred, "lost": p.lost}

    return {"level": t.level, "key": t.key, "name": t.name, "short": part(t.short), "long": part(t.long), "net": t.net}


class HarvestView(FirmAPIView):
    """Losses harvested per account, month and year; the tax they save; the tracking error kept."""

    @extend_schema(parameters=[ReportPeriodSerializer], responses=HarvestRowSerializer(many=True))
    def get(self, request):
        serializer = ReportPeriodSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rows = reports.harvest(accounts=_accounts(request, data), start=data["start"], end=data["end"])
        download_audit(user=request.user, what="report.harvest", filters=_filters(data), rows=len(rows))
        return Response(HarvestRowSerializer([{**asdict(r), "net_harvested": r.net_harvested} for r in rows],
                                             many=True).data)


class TransitionView(FirmAPIView):
    """Accounts moving from legacy holdings to their model: progress, tax spent, the path ahead."""

    @extend_schema(parameters=[ReportAsOfSerializer], responses=TransitionRowSerializer(many=True))
    def get(self, request):
        serializer = ReportAsOfSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rows = reports.transition(accounts=_accounts(request, data), as_of=data["as_of"])
        download_audit(user=request.user, what="report.transition", filters=_filters(data), rows=len(rows))
        return Response(TransitionRowSerializer([asdict(r) for r in rows], many=True).data)


class ScheduleDView(FirmAPIView):
    """Schedule D per household for a year: netting, the loss limit, the carryover in and out."""

    @extend_schema(parameters=[ReportYearSerializer], responses=ScheduleDSerializer(many=True))
    def get(self, request):
        serializer = ReportYearSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        households = households_visible_to(request.user)
        if data.get("household"):
            households = households.filter(external_id=data["household"])
        rows = reports.schedules_d(households=households, year=data["year"])
        download_audit(user=request.user, what="report.schedule_d", filters=_filters(data), rows=len(rows))
        return Response(ScheduleDSerializer([
            {"household": r.household, "name": r.name, "filing_status": r.filing_status, "sheet": _sheet(r.sheet),
             "earlier": [_sheet(s) for s in r.earlier]} for r in rows], many=True).data)


router = SimpleRouter(trailing_slash=True)
router.register("executions", ExecutionViewSet, basename="execution")
router.register("reconciliations", ReconciliationViewSet, basename="reconciliation")

urlpatterns = [
    *router.urls,
    path("order-files/", OrderFileView.as_view(), name="order-file"),
    path("reports/realised-gains/", RealisedGainsView.as_view(), name="report-realised-gains"),
    path("reports/harvest/", HarvestView.as_view(), name="report-harvest"),
    path("reports/transition/", TransitionView.as_view(), name="report-transition"),
    path("reports/schedule-d/", ScheduleDView.as_view(), name="report-schedule-d"),
]

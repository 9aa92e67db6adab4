"""The trading loop and tax ledger over the API (rebalancing.ledger; docs/ledger.md).

- ``executions/``: fills and cancels in (JSON records or a CSV file), applied once; list and read;
- ``order-files/``: open orders as the CSV a custodian or OMS takes, per account or per block;
- ``reconciliations/``: a custodian's position file compared with the ledger; accept or reject;
- ``reports/realised-gains/``, ``reports/harvest/``, ``reports/transition/``, ``reports/schedule-d/``:
  the tax reports.

Every queryset starts from what the user may see (rebalancing.access), through ``FirmScopedViewSet``.
"""

from __future__ import annotations

from dataclasses import asdict

from django.db.models import Q
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from rebalancing.access import accounts_visible_to, households_visible_to
from rebalancing.api.parsers import BoundedJSONParser
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
from rebalancing.models import Execution, Order
from tenants.api_keys.scopes import Scope
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

from ..base import FirmAPIView, FirmScopedViewSet, Rule, idempotent
from ..renderers import CsvErrorsAsJson, CSVRenderer, wants_csv
from ..serializers import ImportSummarySerializer
from ..serializers.ledger import (
    ExecutionSerializer,
    ExecutionsFileSerializer,
    ExecutionsJsonSerializer,
    HarvestRowSerializer,
    OrderFileSerializer,
    PositionsFileSerializer,
    RealisedReportSerializer,
    ReconciliationDecisionSerializer,
    ReconciliationSerializer,
    ReportAsOfSerializer,
    ReportPeriodSerializer,
    ReportYearSerializer,
    ScheduleDSerializer,
    ScheduleDSheetSerializer,
    TransitionRowSerializer,
)
from ..visibility import reconciliations_visible_to

IMPORT = Rule(Scope.IMPORT, Capability.IMPORT_DATA)
RECONCILE_READ = Rule(Scope.READ, Capability.VIEW_RECONCILIATIONS)  # compliance reads them; IMPORT decides


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
                # As the imports endpoint: row is the CSV's line (rows[0] is line 2), index from 0.
                for problem in exc.detail.get("problems", []):
                    problem["index"] = problem["row"] - 2 if problem["row"] >= 2 else None
                raise
        return Response(_summary(summary), status=status.HTTP_201_CREATED)


class OrderFileView(CsvErrorsAsJson, FirmAPIView):
    """Open orders as CSV for the custodian or OMS (layouts: docs/ledger.md)."""

    renderer_classes = [CSVRenderer]  # CSV only: ?format=json is a 400, Accept: application/json a 406

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
    parser_classes = [MultiPartParser]  # the position file; accept and reject take JSON
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
            found = dict(reconciliation.accounts.filter(
                account__in=accounts_visible_to(request.user), account__custodian_number__in=data["accounts"])
                .values_list("account__custodian_number", "account_id"))
            unknown = [n for n in data["accounts"] if n not in found]
            if unknown:  # a typo would otherwise decide nothing, or be read as "nothing pending"
                raise ValidationFailed(f"Not an account of reconciliation {reconciliation.pk}: {', '.join(unknown)}.",
                                       detail={"field": "accounts", "accounts": unknown})
            account_ids = list(found.values())
        done = decide(reconciliation=reconciliation, user=request.user, account_ids=account_ids,
                      comment=data["comment"])
        return Response({"accounts": done})

    @extend_schema(request=ReconciliationDecisionSerializer,
                   responses=inline_serializer("ReconciliationDecided", {"accounts": serializers.IntegerField()}))
    @action(detail=True, methods=["post"], filterset_class=None, parser_classes=[BoundedJSONParser])
    def accept(self, request, pk=None):
        """The custodian's lots replace the ledger's for these accounts (refused if the ledger changed since)."""
        return self._decide(request, reconciliation_accept)

    @extend_schema(request=ReconciliationDecisionSerializer,
                   responses=inline_serializer("ReconciliationRejected", {"accounts": serializers.IntegerField()}))
    @action(detail=True, methods=["post"], filterset_class=None, parser_classes=[BoundedJSONParser])
    def reject(self, request, pk=None):
        """Keep the ledger's lots for these accounts."""
        return self._decide(request, reconciliation_reject)


def _sheet(s) -> dict:
    return {name: getattr(s, name) for name in ScheduleDSheetSerializer().fields}


def _filters(data) -> dict:
    return {k: str(v) for k, v in data.items() if v not in (None, "")}


def _named(rows, data, field: str, external: str, what: str):
    """The one row of ``rows`` that ``data[field]`` names: its id, as everywhere else in the API, or its
    ``external`` name (a household's external id, an account's number). One the user has none of is
    refused by name - an empty report would read as "no sales" - and so is a value naming two rows."""
    value = data[field]
    named = Q(**{external: value}) | (Q(pk=int(value)) if value.isascii() and value.isdigit() else Q(pk__in=[]))
    found = list(rows.filter(named)[:2])
    if not found:  # the same answer whether it is a colleague's or no one's
        raise ValidationFailed(f"None of your {field}s has the id or {what} given in '{field}'.",
                               detail={"field": field})
    if len(found) > 1:
        raise ValidationFailed(f"'{value}' in '{field}' is one {field}'s id and another's {what}: give the "
                               f"id of the one you mean.", detail={"field": field})
    return found[0]


def _accounts(request, data):
    """The accounts a report covers: the user's, narrowed to the household and account named."""
    accounts = accounts_visible_to(request.user)
    if data.get("household"):
        household = _named(households_visible_to(request.user), data, "household", "external_id", "external id")
        accounts = accounts.filter(household=household)
    if data.get("account"):
        accounts = accounts.filter(pk=_named(accounts, data, "account", "custodian_number", "number").pk)
    return accounts


class _Report(CsvErrorsAsJson, FirmAPIView):
    """A tax report: JSON, or with ``?format=csv`` (``Accept: text/csv``) the CSV the report page downloads."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]


def _csv_of(request, text: str, filename: str, what: str, data) -> HttpResponse:
    return csv_download(user=request.user, text=text, filename=filename, what=what, filters=_filters(data))


def _report_schema(parameters, serializer, what: str):
    return extend_schema(parameters=[parameters], responses={
        (200, "application/json"): serializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=f"?format=csv: {what}, as the report page "
                                                                         "downloads it")})


class RealisedGainsView(_Report):
    """Lots sold in a period with the figures of Form 8949, and Schedule D totals per account and household.
    As CSV: the lots (the page's "lots" download)."""

    @_report_schema(ReportPeriodSerializer, RealisedReportSerializer, "the lots sold, one line each")
    def get(self, request):
        serializer = ReportPeriodSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = reports.realised_gains(accounts=_accounts(request, data), start=data["start"], end=data["end"])
        if wants_csv(request):
            return _csv_of(request, reports.realised_lots_csv(report),
                           f"realised-lots-{report.start:%Y%m%d}-{report.end:%Y%m%d}.csv", "report.realised_lots", data)
        download_audit(user=request.user, what="report.realised_gains", filters=_filters(data), rows=len(report.lots))
        body = {
            "start": report.start, "end": report.end,
            "lots": [{**asdict(r), "code": r.code, "gain_or_loss": r.gain_or_loss, "deferred": r.deferred,
                      "date_acquired": r.date_acquired, "box": r.box.letter, "schedule_d_line": r.schedule_d_line,
                      "basis_reported_to_irs": r.box.basis_reported, "box_reason": r.box.reason}
                     for r in report.lots],
            "accounts": [_totals(t) for t in report.accounts],
            "households": [_totals(t) for t in report.households],
            "boxes": [{**asdict(t), "part": t.part, "gain_or_loss": t.gain_or_loss} for t in report.boxes],
            "recalculations": [asdict(r) for r in report.recalculations],
        }
        return Response(RealisedReportSerializer(body).data)


def _totals(t: reports.GainTotals) -> dict:
    def part(p: reports.TermTotals) -> dict:
        return {"proceeds": p.proceeds, "cost_basis": p.cost_basis, "adjustment": p.adjustment,
                "gain_or_loss": p.gain_or_loss, "deferred": p.deferred, "lost": p.lost}

    return {"level": t.level, "key": t.key, "name": t.name, "short": part(t.short), "long": part(t.long), "net": t.net}


class HarvestView(_Report):
    """Losses harvested per account, month and year; the tax they save; the tracking error kept."""

    @_report_schema(ReportPeriodSerializer, HarvestRowSerializer(many=True), "the rows")
    def get(self, request):
        serializer = ReportPeriodSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rows = reports.harvest(accounts=_accounts(request, data), start=data["start"], end=data["end"])
        if wants_csv(request):
            return _csv_of(request, reports.harvest_csv(rows),
                           f"harvest-{data['start']:%Y%m%d}-{data['end']:%Y%m%d}.csv", "report.harvest", data)
        download_audit(user=request.user, what="report.harvest", filters=_filters(data), rows=len(rows))
        return Response(HarvestRowSerializer([{**asdict(r), "net_harvested": r.net_harvested} for r in rows],
                                             many=True).data)


class TransitionView(_Report):
    """Accounts moving from legacy holdings to their model: progress, tax spent, the path ahead."""

    @_report_schema(ReportAsOfSerializer, TransitionRowSerializer(many=True), "the rows")
    def get(self, request):
        serializer = ReportAsOfSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rows = reports.transition(accounts=_accounts(request, data), as_of=data["as_of"])
        if wants_csv(request):
            return _csv_of(request, reports.transition_csv(rows), f"transition-{data['as_of']:%Y%m%d}.csv",
                           "report.transition", data)
        download_audit(user=request.user, what="report.transition", filters=_filters(data), rows=len(rows))
        return Response(TransitionRowSerializer([asdict(r) for r in rows], many=True).data)


class ScheduleDView(_Report):
    """Schedule D per return for a year: netting, the loss limit, the carryover in and out, of all the
    year's sales - the ledger's and a line for those realised before its records (``before_ledger_*``).
    A household filing separately has two, one per spouse (``spouse``); none nets one spouse's against
    the other's. As CSV: the realised-gains page's "schedule-d" download."""

    @_report_schema(ReportYearSerializer, ScheduleDSerializer(many=True), "one line per return")
    def get(self, request):
        serializer = ReportYearSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        households = households_visible_to(request.user)
        if data.get("household"):
            households = households.filter(pk=_named(households, data, "household", "external_id", "external id").pk)
        rows = reports.schedules_d(households=households, year=data["year"])
        if wants_csv(request):
            return _csv_of(request, reports.schedule_d_csv(rows), f"schedule-d-{data['year']}.csv",
                           "report.schedule_d", data)
        download_audit(user=request.user, what="report.schedule_d", filters=_filters(data), rows=len(rows))
        return Response(ScheduleDSerializer([
            {"household": r.household, "name": r.name, "filing_status": r.filing_status, "spouse": r.spouse,
             "sheet": _sheet(r.sheet),
             "earlier": [_sheet(s) for s in r.earlier]} for r in rows], many=True).data)

"""Runs and their progress, proposals and their approval, released orders, alerts."""

from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing import filters
from rebalancing.access import accounts_visible_to, alerts_visible_to, proposals_visible_to
from rebalancing.models import Order, Proposal, RebalanceRun, RunOutcome
from rebalancing.selectors import RunScope
from rebalancing.services.proposals import proposal_approve, proposal_reject, proposal_release
from rebalancing.services.revisions import proposal_resolve, revision_permission_check
from rebalancing.services.runs import run_cancel, run_start
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule, body_refused, idempotent
from ..serializers.revisions import ProposalReviseSerializer
from ..visibility import run_scope_shown_to, runs_visible_to

RUN = Rule(Scope.RUN, Capability.RUN_REBALANCE)
DECIDE = Rule(Scope.APPROVE)  # the workflow decides who may (advisor of the household, compliance)


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Rebalance runs: start one over a scope, follow its progress, cancel it, see what failed."""

    serializer_class = serializers.RunSerializer
    filterset_class = filters.RunFilter
    rules = {"create": RUN, "cancel": RUN}

    def visible_queryset(self, user):
        return runs_visible_to(user).select_related("started_by")

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        for run in response.data["results"]:
            run["scope"] = run_scope_shown_to(request.user, run["scope"])
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response.data["scope"] = run_scope_shown_to(request.user, response.data["scope"])
        return response

    @extend_schema(request=serializers.RunStartSerializer, responses={201: serializers.RunSerializer})
    @idempotent
    def create(self, request):
        """Start a run; its chunks are queued for the workers once it is stored. Follow it at runs/{id}/."""
        serializer = serializers.RunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = run_start(scope=RunScope.from_dict(dict(data["scope"])), as_of=data["as_of"], user=request.user,
                        kind=RebalanceRun.Kind.API)
        return Response(serializers.RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=serializers.RunSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def cancel(self, request, pk=None):
        """Stop the run: chunks not yet started are skipped; proposals already made stay."""
        body_refused(request)
        run = run_cancel(run=self.get_object(), user=request.user)
        return Response(serializers.RunSerializer(run).data)

    @extend_schema(responses=serializers.RunFailureSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def failures(self, request, pk=None):
        """Accounts the run could not rebalance, with the error's code and message."""
        run = self.get_object()
        failed = RunOutcome.objects.filter(
            run=run, outcome=RunOutcome.Outcome.FAILED, account__in=accounts_visible_to(request.user)
        ).select_related("account").order_by("account_id")
        page = self.paginate_queryset(failed)
        return self.get_paginated_response(serializers.RunFailureSerializer(page, many=True).data)


class ProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """The engine's proposals: trades with reasons and lots, summary, warnings; approve, reject, release;
    edit and solve again (revise)."""

    filterset_class = filters.ProposalFilter
    rules = {"approve": DECIDE, "reject": DECIDE, "revise": DECIDE, "release": Rule(Scope.APPROVE, Capability.RELEASE)}

    def get_serializer_class(self):
        return serializers.ProposalSerializer if self.action == "list" else serializers.ProposalDetailSerializer

    def visible_queryset(self, user):
        queryset = proposals_visible_to(user).select_related("account", "model_version")
        if self.action == "list":
            return queryset.defer("result", "parameters")  # a result can be hundreds of KB
        # The edit that replaced it, by id only (its own result is as large as this one's).
        revised_into = Proposal.objects.filter(revised_from=OuterRef("pk")).values("pk")[:1]
        return (queryset.select_related("revised_by").annotate(revised_into_pk=Subquery(revised_into))
                .prefetch_related("approvals__user"))

    def _decided(self, proposal, status_code=status.HTTP_200_OK):
        return Response(serializers.ProposalDetailSerializer(self.visible_queryset(self.request.user)
                                                             .get(pk=proposal.pk)).data, status=status_code)

    def _comment(self, request, body=serializers.DecisionSerializer) -> str:
        serializer = body(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["comment"]

    @extend_schema(request=serializers.DecisionSerializer, responses=serializers.ProposalDetailSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request, pk=None):
        """Approve as the household's advisor, or as compliance when the proposal needs it."""
        proposal = proposal_approve(proposal=self.get_object(), user=request.user, comment=self._comment(request))
        return self._decided(proposal)

    @extend_schema(request=serializers.RejectionSerializer, responses=serializers.ProposalDetailSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def reject(self, request, pk=None):
        """Reject (a comment saying why is required)."""
        proposal = proposal_reject(proposal=self.get_object(), user=request.user,
                                   comment=self._comment(request, serializers.RejectionSerializer))
        return self._decided(proposal)

    @extend_schema(request=serializers.DecisionSerializer, responses=serializers.ProposalDetailSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def release(self, request, pk=None):
        """Release an approved proposal's trades as orders (portfolio managers)."""
        proposal = proposal_release(proposal=self.get_object(), user=request.user, comment=self._comment(request))
        return self._decided(proposal)

    @extend_schema(request=ProposalReviseSerializer, responses={201: serializers.ProposalDetailSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def revise(self, request, pk=None):
        """Edit a pending proposal and solve its account again, as the proposal page does: drop trades,
        add one-off instructions. Answers the new proposal (201), which waits for approval; this one is
        superseded and names it in ``revised_into``."""
        proposal = self.get_object()
        if proposal.status == Proposal.Status.PENDING:  # else proposal_resolve's 409 names what became of it
            revision_permission_check(request.user, proposal)  # 403 whatever the body
        serializer = ProposalReviseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = proposal_resolve(proposal=proposal, by=request.user, **serializer.edit())
        return self._decided(new, status.HTTP_201_CREATED)


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Orders of released proposals, one per trade (made by the release), with their fills. Read only
    here: order files and executions are the trading loop's (rebalancing.ledger)."""

    serializer_class = serializers.OrderSerializer
    filterset_class = filters.OrderFilter
    lookup_field = "order_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"P[0-9]{1,18}-[0-9]{1,6}"

    def visible_queryset(self, user):
        return Order.objects.filter(account__in=accounts_visible_to(user)).select_related("account", "security")


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    serializer_class = serializers.AlertSerializer
    filterset_class = filters.AlertFilter

    def visible_queryset(self, user):
        return alerts_visible_to(user).select_related("account")

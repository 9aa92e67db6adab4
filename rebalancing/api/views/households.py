"""Households managed as one: their proposals decided together, their cash flows (one at a time or a
CSV file), their settings and a what-if of the household's rebalance that stores nothing."""

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework import serializers as drf
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from config.input_limits import numeral_problem
from rebalancing import engine, filters
from rebalancing.access import accounts_visible_to, households_visible_to, proposals_visible_to
from rebalancing.imports.cash_flows import cash_flows_import
from rebalancing.models import CashFlow, Household, HouseholdProposal, Proposal
from rebalancing.services.cash_flows import cash_flow_enter
from rebalancing.services.household_revisions import (
    household_proposal_resolve,
    household_revision_permission_check,
)
from rebalancing.services.households import household_rebalance_preview, household_settings_set
from rebalancing.services.proposals import household_proposal_decide
from tenants.api_keys.scopes import Scope
from tenants.errors import NotFound, ValidationFailed
from tenants.permissions import Capability

from .. import household_serializers as hs
from .. import serializers
from ..base import FirmScopedViewSet, Rule, idempotent
from ..serializers.revisions import HouseholdProposalReviseSerializer
from ..serializers.strict import UnknownFieldsRefused

DECIDE = Rule(Scope.APPROVE)  # the workflow decides who may (advisor of the household, compliance)
CASH_FLOWS = Rule(Scope.PARAMETERS, Capability.EDIT_PARAMETERS)


class HouseholdProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """A household's proposal: its accounts' proposals, approved or rejected with one decision."""

    serializer_class = hs.HouseholdProposalSerializer
    filterset_class = filters.HouseholdProposalFilter
    rules = {"approve": DECIDE, "reject": DECIDE, "revise": DECIDE}

    def visible_queryset(self, user):
        visible = proposals_visible_to(user)
        members = Proposal.objects.filter(pk__in=visible.values("pk")).select_related("account", "model_version") \
            .defer("result", "parameters").order_by("account__custodian_number")
        return (HouseholdProposal.objects.filter(household__in=households_visible_to(user))
                .select_related("household").prefetch_related(Prefetch("proposals", queryset=members))
                .order_by("-created_at", "-id"))

    def _decide(self, request, approve: bool):
        together = self.get_object()  # someone else's is not found, whatever the body says
        serializer = (serializers.DecisionSerializer if approve else serializers.RejectionSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        household_proposal_decide(household_proposal=together, user=request.user, approve=approve,
                                  comment=serializer.validated_data["comment"])
        return Response(hs.HouseholdProposalSerializer(self.get_object()).data)

    @extend_schema(request=serializers.DecisionSerializer, responses=hs.HouseholdProposalSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request, pk=None):
        """Approve every account's proposal of the household that waits for you, together."""
        return self._decide(request, True)

    @extend_schema(request=serializers.RejectionSerializer, responses=hs.HouseholdProposalSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def reject(self, request, pk=None):
        """Reject them together (a comment saying why is required)."""
        return self._decide(request, False)

    @extend_schema(request=HouseholdProposalReviseSerializer, responses={201: hs.HouseholdProposalSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    @idempotent
    def revise(self, request, pk=None):
        """Edit the household's proposal before deciding, as the household page does: drop trades and add
        one-off instructions in any of its accounts; the household is solved again as one. Answers the new
        household proposal (201), whose accounts' proposals wait for approval; this one's are superseded
        and it names the new one in ``revised_into``."""
        together = self.get_object()
        household_revision_permission_check(request.user, together)  # 403 whatever the body
        serializer = HouseholdProposalReviseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = household_proposal_resolve(household_proposal=together, edits=serializer.edits(), by=request.user)
        return Response(hs.HouseholdProposalSerializer(self.get_queryset().get(pk=new.pk)).data,
                        status=status.HTTP_201_CREATED)


class CashFlowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Deposits, withdrawals and RMDs of the households you may see. A withdrawal's plan names the
    accounts and lots that fund it and its tax cost; its sales wait as a household proposal."""

    serializer_class = hs.CashFlowSerializer
    rules = {"create": CASH_FLOWS, "upload": CASH_FLOWS}

    def visible_queryset(self, user):
        made = HouseholdProposal.objects.only("id", "run_id", "household_id").prefetch_related(
            Prefetch("proposals", queryset=Proposal.objects.only("id", "status", "household_proposal_id")))
        return CashFlow.objects.filter(household__in=households_visible_to(user)).select_related(
            "household", "account", "run").prefetch_related(
            Prefetch("run__household_proposals", queryset=made)).order_by("-created_at", "-id")

    @extend_schema(request=hs.CashFlowInSerializer, responses={201: hs.CashFlowSerializer, 200: hs.CashFlowSerializer})
    @idempotent
    def create(self, request):
        """Enter one; a reference sent before answers the first one (200) and changes nothing."""
        serializer = hs.CashFlowInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        household = households_visible_to(request.user).filter(pk=data["household"]).first()
        if household is None:
            raise NotFound("No such household.", detail={"household": data["household"]})
        account = None
        if data["account"] is not None:
            account = accounts_visible_to(request.user).filter(pk=data["account"], household=household).first()
            if account is None:
                raise ValidationFailed(f"Account {data['account']} is not in household {household.external_id}.",
                                       detail={"field": "account"})
        entered = cash_flow_enter(user=request.user, household=household, kind=data["kind"], amount=data["amount"],
                                  account=account, reference=data["reference"], as_of=data["as_of"],
                                  taken_outside=data["taken_outside"], makes_up_year=data["makes_up_year"],
                                  repeat=data["repeat"])
        return Response(hs.CashFlowSerializer(entered.cash_flow).data,
                        status=status.HTTP_201_CREATED if entered.created else status.HTTP_200_OK)

    @extend_schema(request={"multipart/form-data": hs.CashFlowFileSerializer},
                   responses={201: serializers.ImportSummarySerializer})
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser])
    @idempotent
    def upload(self, request):
        """A CSV of cash flows (docs/csv-formats.md): entered whole, or refused with each row's problem."""
        serializer = hs.CashFlowFileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        summary = cash_flows_import(source=upload, user=request.user, households=households_visible_to(request.user))
        return Response(serializers.ImportSummarySerializer(summary).data, status=status.HTTP_201_CREATED)


class HouseholdWhatIfSerializer(UnknownFieldsRefused, drf.Serializer):
    as_of = drf.DateField(required=False, allow_null=True, default=None)


def household_whatif(request, household: Household, as_of) -> dict:
    """The household's rebalance on its book as it is now, through the same loader as runs."""
    result = household_rebalance_preview(user=request.user, household=household, as_of=as_of or timezone.localdate())
    return engine.household_result_to_dict(result)


def household_settings_update(request, household: Household) -> None:
    serializer = hs.HouseholdSettingsInSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    classes = None
    if "asset_classes" in data:
        try:
            if any(numeral_problem(str(k)) for k in data["asset_classes"]):  # int("٣") is 3
                raise ValueError
            classes = {int(k): v for k, v in data["asset_classes"].items()}
        except ValueError:
            raise ValidationFailed("asset_classes are keyed by account id.", detail={"field": "asset_classes"}) from None
    household_settings_set(user=request.user, household=household, settings=data["settings"], asset_classes=classes)

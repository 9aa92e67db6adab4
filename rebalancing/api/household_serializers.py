"""Serializers of the household endpoints: household proposals, cash flows, household settings."""

from decimal import Decimal

from rest_framework import serializers

from rebalancing.models import CashFlow, HouseholdProposal

from .serializers import ProposalSerializer

__all__ = ["CashFlowInSerializer", "CashFlowSerializer", "HouseholdProposalSerializer", "HouseholdSettingsInSerializer"]


class HouseholdProposalSerializer(serializers.ModelSerializer):
    household_external_id = serializers.CharField(source="household.external_id")
    proposals = ProposalSerializer(many=True, help_text="One per account, each with its own trades at proposals/{id}/")
    allocation_before = serializers.SerializerMethodField(help_text="asset class -> account number -> value")
    allocation_after = serializers.SerializerMethodField(help_text="asset class -> account number -> value")
    cash_flow = serializers.SerializerMethodField(help_text="The withdrawal or RMD it funds, if any")
    revised_into = serializers.SerializerMethodField(help_text="The household proposal an edit replaced it with")
    revised_by = serializers.SlugRelatedField(slug_field="username", read_only=True, help_text="Who edited it")
    revision = serializers.JSONField(read_only=True, help_text='An edit\'s changes: {"changes": [...], '
                                                               '"accounts": {account number: [...]}}')

    class Meta:
        model = HouseholdProposal
        fields = ["id", "run", "household", "household_external_id", "created_at", "drift_before", "drift_after",
                  "estimated_tax", "tax_budget", "allocation_before", "allocation_after", "cash_flow",
                  "revised_from", "revised_into", "revised_by", "revision", "proposals"]

    def get_allocation_before(self, hp) -> dict:
        return hp.result.get("allocation_before") or {}

    def get_allocation_after(self, hp) -> dict:
        return hp.result.get("allocation_after") or {}

    def get_cash_flow(self, hp) -> dict | None:
        return hp.result.get("cash_flow")

    def get_revised_into(self, hp) -> int | None:
        return HouseholdProposal.objects.filter(revised_from_id=hp.pk).values_list("pk", flat=True).first()


class CashFlowSerializer(serializers.ModelSerializer):
    household_external_id = serializers.CharField(source="household.external_id")
    account_number = serializers.CharField(source="account.custodian_number", allow_null=True, default=None)

    class Meta:
        model = CashFlow
        fields = ["id", "household", "household_external_id", "kind", "amount", "account", "account_number", "as_of",
                  "reference", "tax_cost", "plan", "run", "created_at"]


class CashFlowInSerializer(serializers.Serializer):
    household = serializers.IntegerField(min_value=1, max_value=2**62)
    kind = serializers.ChoiceField(choices=CashFlow.Kind.choices)
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    account = serializers.IntegerField(min_value=1, max_value=2**62, required=False, allow_null=True, default=None,
                                       help_text="Deposit: the account receiving it; RMD: the IRA; withdrawal: "
                                                 "omit to let the engine choose")
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text="Your reference: sending it again changes nothing")
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class HouseholdSettingsInSerializer(serializers.Serializer):
    settings = serializers.DictField(help_text='{"tax_budget": 5000, "location": {"bonds": ["traditional", "roth", '
                                               '"taxable"]}, "inside_bands": "cash_flows"}; {} follows the template. '
                                               'inside_bands: "tax_free" (kept on model by tax-free trades inside '
                                               'the drift bands) or "cash_flows" (only cash flows move it inside '
                                               'the bands); replaces all the household\'s settings')
    asset_classes = serializers.DictField(child=serializers.ListField(child=serializers.CharField(max_length=64)),
                                          required=False, help_text="account id -> asset classes it may hold "
                                                                    "([]: any)")

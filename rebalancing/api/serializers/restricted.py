"""Shapes of the firm's restricted list (rebalancing.services.restricted_list)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from rebalancing.models import RestrictedSecurity

from .strict import MULTI_LINE, UnknownFieldsRefused

RESTRICTIONS = RestrictedSecurity.Restriction.choices


class RestrictedEntrySerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="security.symbol", read_only=True)
    security_name = serializers.CharField(source="security.name", read_only=True)
    in_force = serializers.SerializerMethodField(help_text="Whether it binds today")
    added_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    lifted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RestrictedSecurity
        fields = ["id", "symbol", "security_name", "restriction", "reason", "starts_on", "until", "in_force",
                  "added_by", "added_at", "lifted_on", "lifted_by", "lift_reason"]

    def get_in_force(self, entry) -> bool:
        today = timezone.localdate()
        return (entry.starts_on <= today and (entry.until is None or entry.until >= today)
                and (entry.lifted_on is None or entry.lifted_on > today))


class RestrictedCreateSerializer(UnknownFieldsRefused, serializers.Serializer):
    symbol = serializers.CharField(max_length=24, help_text="A security of the firm's master")
    restriction = serializers.ChoiceField(choices=RESTRICTIONS,
                                          help_text="do_not_buy; do_not_trade: no buys and no sells")
    reason = serializers.CharField(max_length=2000, style=MULTI_LINE, help_text="Why it is restricted")
    starts_on = serializers.DateField(help_text="The first day it binds")
    until = serializers.DateField(required=False, allow_null=True, default=None,
                                  help_text="The last day it binds; null or left out: until lifted")


class RestrictedUpdateSerializer(UnknownFieldsRefused, serializers.Serializer):
    restriction = serializers.ChoiceField(choices=RESTRICTIONS, required=False)
    reason = serializers.CharField(max_length=2000, style=MULTI_LINE, required=False)
    starts_on = serializers.DateField(required=False)
    until = serializers.DateField(required=False, allow_null=True, help_text="null: until lifted")


class RestrictedLiftSerializer(UnknownFieldsRefused, serializers.Serializer):
    reason = serializers.CharField(max_length=2000, style=MULTI_LINE, help_text="Why it is lifted")

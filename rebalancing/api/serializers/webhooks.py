"""Shapes of webhook endpoints and their delivery log (rebalancing.webhooks; docs/integrations.md)."""

from __future__ import annotations

from rest_framework import serializers

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.events import EventType

from .strict import UnknownFieldsRefused

EVENT_TYPES = [(t.value, t.words) for t in EventType]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    secret_hint = serializers.CharField(read_only=True, help_text="The secret's first characters; the whole "
                                                                  "secret is shown once, when it is set")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    previous_secret_until = serializers.DateTimeField(
        source="previous_secret_signs_until", read_only=True, allow_null=True,
        help_text="After a rotation: until when deliveries are signed with the replaced secret too")
    paused_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text="Since when nothing is sent to it: its deliveries kept failing for good "
                  "(WEBHOOK_PAUSE_AFTER_FAILURES in a row). Null when it is not paused; resume it with "
                  "POST webhook-endpoints/{id}/resume/")
    paused_reason = serializers.CharField(read_only=True, help_text="Why it was paused; empty when it is not")
    failures_in_a_row = serializers.IntegerField(
        read_only=True, help_text="Deliveries in a row that failed for good since the last success")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "active", "secret_hint", "previous_secret_until",
                  "paused_at", "paused_reason", "failures_in_a_row", "created_by", "created_at"]


class WebhookEndpointIssuedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(required=False, help_text=(
        "Shown this once: sign-checking key for the deliveries. Never kept: a replayed answer (same "
        "Idempotency-Key) leaves it out and says so in Idempotent-Withheld; rotate the secret to have another."))

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


def _each_once(values: list[str], what: str) -> list[str]:
    # Refused, not folded into one, as an API key's repeated scope is: a list with a repeat is not what
    # the caller meant to send.
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise serializers.ValidationError([f"{v} is given {values.count(v)} times; give each {what} once."
                                           for v in repeated])
    return values


class WebhookEndpointCreateSerializer(UnknownFieldsRefused, serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text="http(s) URL that receives the deliveries (POST)")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False,
                                        max_length=len(EVENT_TYPES),
                                        help_text="Each event type once (one given twice is refused, naming it)")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    secret = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                   help_text="16 to 200 characters; left out, one is made and answered once")

    def validate_event_types(self, event_types: list[str]) -> list[str]:
        return _each_once(event_types, "event type")


class WebhookEndpointUpdateSerializer(UnknownFieldsRefused, serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES), allow_empty=False,
                                        max_length=len(EVENT_TYPES), required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)

    def validate_event_types(self, event_types: list[str]) -> list[str]:
        return _each_once(event_types, "event type")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.id", read_only=True,
                                     help_text="The idempotency id: the same on every retry and re-send")
    event_type = serializers.CharField(source="event.event_type", read_only=True)
    payload = serializers.JSONField(source="event.payload", read_only=True, help_text="The body's data")
    endpoint_url = serializers.CharField(source="endpoint.url", read_only=True)
    resent_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "payload", "endpoint", "endpoint_url", "status", "attempts",
                  "response_code", "response_excerpt", "error", "duration_ms", "last_attempt_at", "next_attempt_at",
                  "resent_from", "resent_by", "created_at"]

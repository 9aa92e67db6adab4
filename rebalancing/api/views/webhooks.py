"""Webhook endpoints (a firm admin registers, changes, switches off, rotates the secret of, removes,
resumes after a pause) and their delivery log, with re-sending. The secret is answered once, when it is set."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing.models import WebhookDelivery, WebhookEndpoint
from rebalancing.webhooks.delivery import webhook_delivery_resend
from rebalancing.webhooks.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_remove,
    webhook_endpoint_resume,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from tenants.api_keys.scopes import Scope
from tenants.errors import ValidationFailed
from tenants.permissions import Capability

from ..base import FirmScopedViewSet, Rule, body_refused, idempotent
from ..serializers.webhooks import (
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointIssuedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)

MANAGE = Rule(Scope.ADMIN, Capability.MANAGE_INTEGRATIONS)


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    serializer_class = WebhookEndpointSerializer
    rules = {"*": MANAGE, "create": MANAGE, "partial_update": MANAGE, "destroy": MANAGE, "rotate_secret": MANAGE,
             "resume": MANAGE}

    def visible_queryset(self, user):
        # The firm's own (schema per firm); a firm admin's business, nobody else's. A removed endpoint is
        # not found here (its deliveries are still in webhook-deliveries/?endpoint=).
        return WebhookEndpoint.objects.present().select_related("created_by")

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointIssuedSerializer})
    @idempotent(secrets=("secret",))
    def create(self, request):
        """Register an endpoint. The answer holds the signing secret once (made when none is given)."""
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(user=request.user, **serializer.validated_data)
        return Response(WebhookEndpointIssuedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer)
    def partial_update(self, request, pk=None):
        """Change the URL, the event types, the description, or switch the endpoint off and on."""
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_update(endpoint=self.get_object(), user=request.user, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, pk=None):
        """Remove the endpoint: nothing is sent to it from now on, its queued and retrying deliveries are
        not sent, and its delivery log stays readable in webhook-deliveries/?endpoint={id}."""
        body_refused(request)
        webhook_endpoint_remove(endpoint=self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # Named as a verb, like api_keys_revoke (schema.FirmAutoSchema.VERB_ACTIONS knows one-word actions).
    @extend_schema(request=None, responses=WebhookEndpointIssuedSerializer,
                   operation_id="webhook_endpoints_rotate_secret")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent(secrets=("secret",))
    def rotate_secret(self, request, pk=None):
        """A new signing secret, answered this once. Until ``previous_secret_until`` (24 hours) each
        delivery is signed with the new and the old secret: ``Webhook-Signature: v1=<new>,v1=<old>``."""
        body_refused(request)
        endpoint = webhook_secret_rotate(endpoint=self.get_object(), user=request.user)
        return Response(WebhookEndpointIssuedSerializer(endpoint).data)

    @extend_schema(request=None, responses=WebhookEndpointSerializer, operation_id="webhook_endpoints_resume")
    @action(detail=True, methods=["post"])
    @idempotent
    def resume(self, request, pk=None):
        """Send to a paused endpoint again (``paused_at`` set: its deliveries kept failing for good); its
        count of failures in a row starts over. 409 when it is not paused. Deliveries not sent while it
        was paused stay so; each can be sent again (webhook-deliveries/{id}/resend/)."""
        body_refused(request)
        endpoint = webhook_endpoint_resume(endpoint=self.get_object(), user=request.user)
        return Response(WebhookEndpointSerializer(endpoint).data)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """The delivery log, newest first: each event sent to each endpoint, its status and last answer."""

    serializer_class = WebhookDeliverySerializer
    rules = {"*": MANAGE, "resend": MANAGE}
    list_parameters = frozenset({"endpoint"})

    def visible_queryset(self, user):
        deliveries = WebhookDelivery.objects.select_related("event", "endpoint", "resent_by")
        endpoint = self.request.query_params.get("endpoint") if self.action == "list" else None
        if endpoint:
            if not (endpoint.isascii() and endpoint.isdigit()) or len(endpoint) > 18:  # int("٣") is 3
                raise ValidationFailed("endpoint is an endpoint's id.", detail={"field": "endpoint"})
            deliveries = deliveries.filter(endpoint_id=int(endpoint))
        return deliveries

    @extend_schema(parameters=[OpenApiParameter("endpoint", int, description="Only this endpoint's deliveries")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={201: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def resend(self, request, pk=None):
        """Send the event to the endpoint again, as a new delivery with the same idempotency id."""
        body_refused(request)
        again = webhook_delivery_resend(delivery=self.get_object(), user=request.user)
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_201_CREATED)

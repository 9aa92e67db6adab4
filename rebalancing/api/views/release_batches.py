"""Releasing every approved proposal in one decision, by a worker: the same service as the Release
page's "Release all" (``services.release_batches``)."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from rebalancing.models import ReleaseBatch
from rebalancing.services.release_batches import release_batch_start
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule, idempotent

RELEASE = Rule(Scope.APPROVE, Capability.RELEASE)


class ReleaseBatchViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    """Releases of every approved proposal, newest first: under way (``done`` of ``total``), then what
    they released and what was refused, with the reasons."""

    serializer_class = serializers.ReleaseBatchSerializer
    rules = {"*": Rule(Scope.READ, Capability.RELEASE), "create": RELEASE}

    def visible_queryset(self, user):
        return ReleaseBatch.objects.select_related("created_by")  # the rule above: those who release

    @extend_schema(request=serializers.ReleaseBatchStartSerializer, responses={202: OpenApiResponse(
        serializers.ReleaseBatchSerializer,
        description="The release, queued for a worker - or the one already under way (same id): follow it "
                    "at the Location, release-batches/{id}/"), 400: OpenApiResponse(
        description="nothing_to_release: no approved proposal waits; a comment over 500 characters")})
    @idempotent
    def create(self, request):
        """Release every approved proposal you can see, one after the other, in a worker; each as
        ``proposals/{id}/release/`` would (one priced too long ago expires instead and is listed in
        ``refusals`` with the reason). 202 at once; while one is under way, asking again answers with it."""
        body = serializers.ReleaseBatchStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = release_batch_start(user=request.user, comment=body.validated_data.get("comment", "")).batch
        return Response(serializers.ReleaseBatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": reverse("api:release-batch-detail", args=[batch.pk])})

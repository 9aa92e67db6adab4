"""API keys: a person's own, or (firm admins) everyone's. Issued and revoked only when signed in,
so a leaked key cannot mint another; a key's token goes to its owner only (tenants.api_keys.services)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from rebalancing.access import api_keys_visible_to, require
from tenants.api_keys.scopes import Scope
from tenants.api_keys.services import api_key_create, api_key_revoke
from tenants.errors import NotFound
from tenants.permissions import Capability

from .. import serializers
from ..base import FirmScopedViewSet, Rule, body_refused, idempotent

SIGNED_IN = Rule(Scope.READ, None, session_only=True)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, FirmScopedViewSet):
    serializer_class = serializers.ApiKeySerializer
    rules = {"*": Rule(Scope.READ, None), "create": SIGNED_IN, "revoke": SIGNED_IN}

    def visible_queryset(self, user):
        return api_keys_visible_to(user).select_related("user")

    @extend_schema(request=serializers.ApiKeyCreateSerializer, responses={201: serializers.ApiKeyIssuedSerializer})
    @idempotent(secrets=("token",))
    def create(self, request):
        """Issue a key. The answer holds the token once; only a digest of it is kept, so a replay of
        this request (same ``Idempotency-Key``) answers without it (``Idempotent-Withheld: token``).
        A key issued for someone else (``user``, firm admins) is answered without a token: a key acts as
        its owner, so only its owner collects the token, signed in, on their API keys page."""
        serializer = serializers.ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        owner = request.user
        if data.get("user") not in (None, request.user.pk):
            require(request.user, Capability.MANAGE_USERS)  # before the lookup: no probing for user ids
            owner = get_user_model().objects.filter(pk=data["user"]).first()
            if owner is None:
                raise NotFound("No such user in this firm.", detail={"field": "user"})
        issued = api_key_create(user=owner, name=data["name"], scopes=data["scopes"], expires_at=data["expires_at"],
                                by=request.user)
        body = serializers.ApiKeySerializer(issued.key).data
        if issued.token is not None:
            body = {**body, "token": issued.token}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=serializers.ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke the key at once; requests with it are refused from now on (401 api_key_revoked)."""
        body_refused(request)
        key = api_key_revoke(key=self.get_object(), by=request.user)
        return Response(serializers.ApiKeySerializer(key).data)

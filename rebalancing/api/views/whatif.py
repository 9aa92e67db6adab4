"""The engine on posted data: nothing is read from or written to the firm's book."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from rebalancing import engine
from rebalancing.api.parsers import BoundedJSONParser
from tenants.api_keys.scopes import Scope
from tenants.permissions import Capability

from ..base import FirmAPIView, Rule
from ..schema import engine_ref


class WhatIfView(FirmAPIView):
    """Rebalance one account described in full in the request (the engine's request JSON,
    docs/engine.md) and answer the engine's result. Nothing is stored."""

    parser_classes = [BoundedJSONParser]
    rules = {"post": Rule(Scope.READ, Capability.VIEW_BOOK)}
    throttle_scope = "whatif"  # a solve costs milliseconds to seconds of CPU: its own, lower rate

    @extend_schema(request={"application/json": engine_ref("request")}, responses={200: engine_ref("result")})
    def post(self, request):
        result = engine.rebalance(engine.request_from_dict(request.data))  # EngineError -> 400/422
        return Response(engine.result_to_dict(result))

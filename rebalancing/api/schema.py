"""OpenAPI additions: the error body on every operation, the engine's own JSON Schemas as components.

The document is OpenAPI 3.1, whose schemas are JSON Schema 2020-12 like the engine's
(rebalancing/engine/schemas), so those are served as they are, their ``$defs`` moved to components.
"""

from __future__ import annotations

import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.fields import empty

from rebalancing.engine import REQUEST_SCHEMA, RESULT_SCHEMA

__all__ = ["ERROR_SCHEMA", "FirmAutoSchema", "always_answered", "engine_ref", "postprocess"]

_ENGINE = {"request": ("EngineRequest", REQUEST_SCHEMA), "result": ("EngineResult", RESULT_SCHEMA)}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "detail"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable (docs/api.md lists them)",
                 "examples": ["not_found"]},
        "message": {"type": "string", "description": "For people"},
        "detail": {"type": "object", "description": "Specifics, e.g. fields, problems, scope, retry_after"},
    },
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.api_keys.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "rk_<prefix>_<secret>",
                "description": "An API key: Authorization: Bearer rk_<prefix>_<secret> (docs/api.md)"}


def always_answered(serializer, field) -> bool:
    """Whether every answer ``serializer`` writes carries ``field``.

    DRF's ``to_representation`` leaves a field out only when reading its source fails and the field
    is not required, has no default and does not allow null (``Field.get_attribute`` -> ``SkipField``).
    The fields a ModelSerializer builds read attributes every instance has, whatever their
    ``required`` (which says what a request may omit); a field declared ``required=False`` with no
    default is how an answer says it may lack it (``ApiKeyIssuedSerializer.token``).
    """
    if field.read_only or field.required or field.default is not empty or field.allow_null:
        return True
    return field.field_name not in type(serializer)._declared_fields


class FirmAutoSchema(AutoSchema):
    """Operation ids a generated client reads well: an action that is a verb is named for it
    (``proposals_approve``, not ``proposals_approve_create``); the rest keep drf-spectacular's
    ``<path>_<list|create|retrieve|update|partial_update|destroy>`` (``models_versions_create``).
    Operation ids become function names in generated clients, so renaming one breaks them: the
    published docs/openapi.yaml makes such a change visible in review."""

    VERB_ACTIONS = frozenset({"approve", "reject", "release", "revise", "revoke", "cancel", "accept", "resend",
                              "estimate"})

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        from .serializers.strict import UnknownFieldsRefused  # the serializers import this module

        if direction == "request" and isinstance(serializer, UnknownFieldsRefused):
            schema["additionalProperties"] = False  # refused by name (400), as the API does
        if direction == "response":
            # drf-spectacular marks a response field required only when it is required in a request or
            # read-only (a model field with a default or blank=True is neither), so generated clients
            # typed fields every answer carries Optional. No setting of its own covers this
            # (COMPONENT_SPLIT_REQUEST separates the components; upstream issue #1347).
            serializer = force_instance(serializer)
            answered = {name for name, field in serializer.fields.items()
                        if name in schema.get("properties", {}) and always_answered(serializer, field)}
            if answered - set(schema.get("required", ())):
                schema["required"] = sorted(answered | set(schema.get("required", ())))
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        bounds = {name: value for name, value in (("minimum", getattr(field, "min_value", None)),
                                                  ("maximum", getattr(field, "max_value", None))) if value is not None}
        if direction == "request" and isinstance(field, serializers.DecimalField) and bounds \
                and schema.get("type") == "string":
            # drf-spectacular writes a request's decimal as a string pattern, which cannot say its range,
            # so a schema-led client sent -5 for an amount the server requires from 1000. A body may give
            # it as a number too: the number carries the range, the string keeps the pattern (no "-" where
            # the minimum is not negative).
            schema = {**schema, "type": ["string", "number"],
                      **{name: int(v) if v == int(v) else float(v) for name, v in bounds.items()}}
            if bounds.get("minimum", -1) >= 0 and "pattern" in schema:
                schema["pattern"] = schema["pattern"].replace("^-?", "^", 1)
            limits = " and ".join(f"{'at least' if name == 'minimum' else 'at most'} {value}"
                                  for name, value in bounds.items())
            schema["description"] = " ".join(filter(None, [schema.get("description"), f"({limits})"]))
        return schema

    def get_override_parameters(self):
        # The request headers docs/api.md documents for writes, on the operations that honour them
        # (rebalancing.api.base): a client generated from the schema has a parameter for each.
        parameters = list(super().get_override_parameters())
        if self._replays():
            parameters.append(IDEMPOTENCY_KEY)
        if self._preconditioned():
            parameters.append(IF_MATCH)
        return parameters

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self._preconditioned():
            operation.setdefault("responses", {})["412"] = PRECONDITION_FAILED
        return operation

    def _handler(self):
        return getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)

    def _replays(self) -> bool:
        """A POST made safe to retry (``@idempotent``)."""
        return self.method == "POST" and getattr(self._handler(), "idempotent", False)

    def _preconditioned(self) -> bool:
        """A write to one object of a scoped viewset: its dispatch checks If-Match (FirmScopedViewSet)."""
        from .base import SAFE_METHODS, FirmScopedViewSet  # base imports the serializers, which import this

        return (isinstance(self.view, FirmScopedViewSet) and bool(getattr(self.view, "detail", False))
                and self.method not in SAFE_METHODS)

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        if self.method == "POST" and getattr(self.view, "action", None) in self.VERB_ACTIONS:
            return operation_id.removesuffix("_create")
        return operation_id


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 255}, OpenApiParameter.HEADER,
    description="Safe to retry: the same key and body within 24 hours answer the first success again "
                "(docs/api.md, Retries)")
IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER,
    description="The ETag of a GET of the object (quoted, as the GET answered it): changed only if still so, "
                "else 412; a header that is no entity-tag is a 400 (docs/api.md, If-Match)")
PRECONDITION_FAILED = {
    "description": "precondition_failed: the object changed since the If-Match ETag; detail.etag is its ETag now",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def engine_ref(which: str, name: str | None = None) -> dict:
    """A $ref to the engine's request/result schema, or to one of its definitions."""
    base = _ENGINE[which][0]
    return {"$ref": f"#/components/schemas/{base}_{name}" if name else f"#/components/schemas/{base}"}


def _rewrite_refs(node, base: str):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                out[key] = f"#/components/schemas/{base}_{value.removeprefix('#/$defs/')}"
            else:
                out[key] = _rewrite_refs(value, base)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, base) for item in node]
    return node


def engine_components() -> dict[str, dict]:
    components = {}
    for base, schema in _ENGINE.values():
        schema = copy.deepcopy(schema)
        definitions = schema.pop("$defs", {})
        schema.pop("$schema", None)
        schema.pop("$id", None)
        components[base] = _rewrite_refs(schema, base)
        for name, definition in definitions.items():
            components[f"{base}_{name}"] = _rewrite_refs(definition, base)
    return components


def postprocess(result, generator, request, public):
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(engine_components())
    schemas["Error"] = ERROR_SCHEMA
    error = {
        "description": "An error; every 4xx answer has this body (codes: docs/api.md)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                operation.setdefault("responses", {})["4XX"] = error
                if method in ("get", "head"):
                    operation.pop("requestBody", None)
                    _conditional(operation)
                body = operation.get("requestBody")
                if body and len(body.get("content", {})) > 1:
                    # A body offered as JSON or as a file upload (imports, executions) is left
                    # "not required": openapi-python-client declares such a body optional whatever
                    # it says, and without this forgets to import the type it uses (upstream issue
                    # #1451), so the generated module would not import. A missing body is still a
                    # 400 naming the missing field.
                    body.pop("required", None)
    return result


NOT_MODIFIED = {"description": "Not Modified: the `If-None-Match` tag still matches the answer; no body "
                               "(docs/api.md, Polling)"}
ETAG = {"description": "A hash of the body; sent back as `If-None-Match`, it answers 304 while the body is "
                       "unchanged", "schema": {"type": "string"}}


def _conditional(operation: dict) -> None:
    """A successful GET answers an ``ETag`` and, asked with a matching ``If-None-Match``, 304
    (``ConditionalGetMiddleware`` on every firm API view)."""
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {})["ETag"] = ETAG
    responses["304"] = NOT_MODIFIED
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name") == "If-None-Match" for p in parameters):
        parameters.append({"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
                           "description": "The `ETag` of an earlier answer: 304 with no body while it still matches"})

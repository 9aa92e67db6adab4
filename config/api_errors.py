"""The API's one exception handler: every error answer is ``{"code", "message", "detail"}``.

``code`` is stable (integrations switch on it), ``message`` is for people, ``detail`` a JSON object
with the specifics. Domain errors (tenants.errors) carry their own code and status; engine errors
are the what-if endpoint's; DRF's and Django's own exceptions get the codes below.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from rebalancing.engine import EngineError, InvalidRequest
from tenants.errors import DomainError

__all__ = ["ERROR_CODES", "api_exception_handler", "error_body"]

# Stable codes of DRF's own exceptions (domain and engine errors carry theirs).
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ValidationError: "invalid",
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}

# Every code an error answer may carry, for docs/api.md and the OpenAPI description.
ERROR_CODES: dict[str, str] = {
    "invalid": "400: the request failed validation; detail.fields names each field and problem",
    "malformed_request": "400: the body is not valid JSON / multipart (a NaN or Infinity, a lone surrogate such as "
                         "\\ud800 - detail.character -, or an object's key given twice: detail.field names where), "
                         "or JSON nested more than 64 levels, or a form body has more fields "
                         "(DATA_UPLOAD_MAX_NUMBER_FIELDS) or files than it may",
    "import_rejected": "400: an import file was refused whole; detail.problems lists row, column, problem",
    "invalid_request": "400: the what-if engine request does not match the schema; detail.path says where",
    "not_authenticated": "401: no credentials",
    "authentication_failed": "401: the session or credentials are not valid",
    "api_key_malformed": "401: the bearer token is not shaped like rk_<prefix>_<secret>",
    "api_key_unknown": "401: no such key at this firm",
    "api_key_expired": "401: the key has expired",
    "api_key_revoked": "401: the key was revoked",
    "api_key_owner_inactive": "401: the key's owner is inactive",
    "permission_denied": "403: the role does not allow it; detail.capability names what is missing",
    "csrf_failed": "403: a signed-in session's unsafe request without its CSRF token (X-CSRFToken header)",
    "scope_missing": "403: the API key lacks a scope; detail.scope names it",
    "session_only": "403: this is done signed in, not with an API key",
    "mfa_required": "403: this session has not given its second factor yet (detail.step: verify or enrol)",
    "not_found": "404: no such object, or not one you may see",
    "method_not_allowed": "405",
    "not_acceptable": "406",
    "conflict": "409: the change conflicts with the object's state",
    "precondition_failed": "412: If-Match names none of the object's current ETag (detail.etag)",
    "illegal_transition": "409: the proposal's status does not allow this",
    "already_decided": "409: you have already decided on this proposal",
    "concurrent_decision": "409: someone else decided at the same moment; reload",
    "proposal_expired": "409: the proposal was priced too long ago and has expired",
    "nothing_to_trade": "409: a proposal's revision leaves nothing to trade; reject the proposal instead",
    "household_proposal": "409: the proposal was solved with its household as one; decide the household's",
    "already_revoked": "409: the API key was already revoked",
    "idempotency_key_reused": "409: the Idempotency-Key was used with a different request",
    "upload_too_large": "413: the request body is over UPLOAD_MAX_MB; detail.bytes and detail.limit_bytes",
    "unsupported_media_type": "415",
    "infeasible_parameters": "422 (what-if), 400 (a proposal's revision): the parameters cannot all hold; "
                             "detail.conflicts names them",
    "solver_failed": "422: the solver gave up; the message says what to relax",
    "throttled": "429: too many requests for this key or user; see Retry-After",
}


def error_body(code: str, message: str, detail: dict | None = None) -> dict:
    return {"code": code, "message": message, "detail": detail or {}}


def _message(detail) -> str:
    """A one-line message from a DRF error detail (a string, a list or a dict of them)."""
    if isinstance(detail, dict):
        parts = [f"{field}: {_message(value)}" for field, value in detail.items()]
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_message(item) for item in detail)
    return str(detail)


def _drf_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if (isinstance(codes, str) and codes not in ("authentication_failed", "permission_denied")
            and isinstance(exc, exceptions.AuthenticationFailed | exceptions.PermissionDenied)):
        return codes  # e.g. api_key_expired
    for klass in type(exc).__mro__:
        if klass in _DRF_CODES:
            return _DRF_CODES[klass]
    return codes if isinstance(codes, str) else "error"


def _megabytes(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"


def _body_refused(exc: SuspiciousOperation) -> Response:
    """Django's refusals of a body it would not read (raised when DRF first reads ``request.data``), in
    the API's error body rather than Django's HTML 400 page. The middleware (config/request_guards.py)
    refuses a body over the limit from its Content-Length; one without (chunked) gets here."""
    logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(error_body(
            "upload_too_large", f"The request body is over the limit of {_megabytes(limit)} (UPLOAD_MAX_MB). "
            "Split the file, or import it with manage.py import_book.", {"limit_bytes": limit}), status=413)
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return Response(error_body(
            "malformed_request", f"The form body has more than {limit} fields (DATA_UPLOAD_MAX_NUMBER_FIELDS); "
            "send the rows as a file or as JSON.", {"limit": limit, "setting": "DATA_UPLOAD_MAX_NUMBER_FIELDS"}),
            status=400)
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return Response(error_body(
            "malformed_request", f"The form body has more than {limit} files (DATA_UPLOAD_MAX_NUMBER_FILES).",
            {"limit": limit, "setting": "DATA_UPLOAD_MAX_NUMBER_FILES"}), status=400)
    return Response(error_body("malformed_request", f"The request could not be read: {exc}"), status=400)


def api_exception_handler(exc, context) -> Response | None:
    if isinstance(exc, SuspiciousOperation):
        return _body_refused(exc)
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, EngineError):
        status_code = status.HTTP_400_BAD_REQUEST if isinstance(exc, InvalidRequest) else 422
        return Response(exc.to_dict(), status=status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No such object, or not one you may see.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)  # sets WWW-Authenticate, Retry-After
    if response is None:
        return None  # an unexpected error: a 500, logged by Django
    assert isinstance(exc, exceptions.APIException)
    code = _drf_code(exc)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(code, f"The request is invalid. {_message(fields)}", {"fields": fields})
    elif isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait) + 1 if exc.wait is not None else None
        if wait is not None:
            response["Retry-After"] = str(wait)
        response.data = error_body(code, f"Too many requests; try again in {wait} seconds.", {"retry_after": wait})
    elif isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed"):
        # DRF's session check: not the role's refusal, and fixed by the caller in one step.
        response.data = error_body("csrf_failed", (
            f"{exc.detail}. A signed-in session's POST, PUT, PATCH or DELETE sends the csrftoken cookie's value in "
            "the X-CSRFToken header; an integration uses an API key (Authorization: Bearer rk_...), which needs none."))
    else:
        # answer_detail: what a DRF exception of ours names beyond its message (the field parsers.NonFiniteNumber, LoneSurrogate, RepeatedKey name)
        response.data = error_body(code, _message(exc.detail), getattr(exc, "answer_detail", None))
    return response

"""What every API view shares: who may call which action, firm scoping of querysets, idempotent POSTs.

``FirmScopedViewSet.get_queryset`` is final: a view says what a user may see through
``visible_queryset(user)``, which starts from rebalancing.access (or rebalancing.api.visibility),
so a new endpoint cannot forget to scope. An object outside that set is simply not found (404).
A view that truly needs the unscoped table must spell it ``dangerously_*`` for review to see.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet
from django.middleware.http import ConditionalGetMiddleware
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.decorators import decorator_from_middleware
from rest_framework import permissions, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.input_limits import character_problem
from rebalancing.access import require
from rebalancing.api.serializers.strict import UnknownFieldsRefused
from rebalancing.filters import FirmFilterSet
from tenants.api_keys.authentication import ApiKeyAuthentication, SessionAuthentication
from tenants.api_keys.models import ApiKey
from tenants.api_keys.scopes import Scope, scopes_of
from tenants.api_keys.services import idempotency_lookup, idempotency_store
from tenants.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from tenants.permissions import Capability

__all__ = ["FirmAPIView", "FirmScopedViewSet", "PreconditionFailed", "Rule", "etag_of", "idempotency_claim",
           "idempotency_key", "idempotent", "if_match_tags"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _ConditionalGetAndHead(ConditionalGetMiddleware):
    """Django's middleware, for HEAD too. Django skips HEAD because a HEAD answer's body is empty; DRF
    renders GET's body for HEAD (the server drops it), so the tag is GET's and a polling HEAD can use it.
    (No API answer sets Last-Modified, so the tag is the only validator.)"""

    def process_response(self, request, response):
        if request.method not in ("GET", "HEAD"):
            return response
        etag = etag_of(response)
        return get_conditional_response(request, etag=etag, response=response) if etag else response


def etag_of(response) -> str | None:
    """The ETag the API gives a rendered answer, as Django's ConditionalGetMiddleware gives a GET's: an
    MD5 of the body, none under ``Cache-Control: no-store``. HEAD and If-Match read it here."""
    if _DJANGO_ETAGS.needs_etag(response) and not response.has_header("ETag"):
        set_response_etag(response)
    return response.get("ETag")


_DJANGO_ETAGS = ConditionalGetMiddleware(lambda request: None)  # its rules only, never called as middleware

# An ETag (a hash of the body) on every successful GET and HEAD, and 304 Not Modified for an
# If-None-Match that still matches: Django's own middleware, applied to the API's views only (it waits
# for DRF's rendering). The body is the firm's, so the tag differs between firms wherever the answers do.
_conditional_get = decorator_from_middleware(_ConditionalGetAndHead)


class FormatNamed(DefaultContentNegotiation):
    """``?format=`` naming a format the endpoint does not answer in is a 400 naming it and the formats
    there are; DRF's own negotiation raised Http404, which read as "No such object"."""

    def select_renderer(self, request, renderers, format_suffix=None):
        asked = request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        offered = [renderer.format for renderer in renderers]
        if not format_suffix and asked and asked not in offered:
            raise ValidationError({self.settings.URL_FORMAT_OVERRIDE: [
                f"{asked!r} is not a format of this endpoint; the formats are {', '.join(offered)}."]})
        return super().select_renderer(request, renderers, format_suffix)


class PreconditionFailed(DomainError):
    """RFC 9110 §13.1.1: an If-Match that names none of the object's current ETag (§15.5.13: 412)."""

    code = "precondition_failed"
    http_status = 412


# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text (%x80-FF)
# (a comma among them: a tag is read whole, not split at commas); one element of a §5.6.1 list, with the
# optional white space around it and the comma after it or the end of the header.
_LIST_ELEMENT = re.compile(r'[ \t]*((?:W/)?"[\x21\x23-\x7e\x80-\xff]*")?[ \t]*(,|\Z)')
_QUOTED_AT_MOST = 60  # characters of a malformed header repeated in the answer


def if_match_tags(header: str) -> list[str]:
    """The entity-tags an If-Match header lists (``["*"]`` for ``*``), RFC 9110 §13.1.1: ``*`` alone, or a
    comma-separated list of entity-tags (empty elements ignored, §5.6.1.2). Anything else - a tag without
    its quotes, an empty header, ``*`` among tags - is 400 naming the header: Django's ``parse_etags`` drops
    what it cannot read, so such a header matched nothing and was answered 412 "it has changed", which a
    client answers by reading again and resending the same header, forever."""
    if header.strip(" \t") == "*":
        return ["*"]
    tags, at = [], 0
    while (element := _LIST_ELEMENT.match(header, at)) is not None:
        if element[1]:
            tags.append(element[1])
        if not element[2]:  # the end of the header
            break
        at = element.end()
    if element is not None and tags:
        return tags
    shown = repr(header[:_QUOTED_AT_MOST]) + (f" (the first {_QUOTED_AT_MOST} of {len(header)} characters)"
                                               if len(header) > _QUOTED_AT_MOST else "")
    raise ValidationError({"If-Match": [
        f"is malformed: {shown} is neither * nor a list of entity-tags, each in its quotes (\"...\" or W/\"...\"). "
        "Send the ETag a GET of the object answered, quotes included (RFC 9110 §13.1.1)."]})


class Rule(NamedTuple):
    """What an action needs: a key scope, a role capability (None: any firm role), session only."""

    scope: Scope
    capability: Capability | None = None
    session_only: bool = False


READ = Rule(Scope.READ, Capability.VIEW_BOOK)


class ActionAllowed(permissions.BasePermission):
    """The role must hold the action's capability and the API key its scope. Fails closed: a write
    action without a declared rule is refused."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # -> 401 with the WWW-Authenticate of the first authenticator
        action = getattr(view, "action", None) or view.request.method.lower()
        rule = view.rules.get(action)
        if rule is None:
            if request.method not in SAFE_METHODS and hasattr(view, action):
                raise PermissionDenied(f"No access rule is declared for {action}.", detail={"action": action})
            rule = view.rules.get("*", READ)  # reads; and unknown methods, which then answer 405
        if rule.capability is not None:
            require(request.user, rule.capability)
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if key is not None and rule.session_only:
            raise PermissionDenied("This is done signed in to the firm's site, not with an API key.",
                                   code="session_only")
        have = set(key.scopes) if key is not None else scopes_of(request.user)
        if rule.scope not in have:
            whose = f"The API key rk_{key.prefix} lacks" if key is not None else "Your roles lack"
            raise PermissionDenied(f"{whose} the '{rule.scope}' scope.", code="scope_missing",
                                   detail={"scope": rule.scope.value})
        return True


def _no_nul(value, where: str) -> None:
    """PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database, anywhere in a
    query or a body (free JSON included), named as a serializer names the field's other characters
    (serializers/strict.py): ``{"instructions[0].symbol": ["contains a control character (U+0000) at
    position 3, ..."]}``."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError({where or "non_field_errors": [character_problem(value, "\x00")]})
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k, where or "non_field_errors")
            _no_nul(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_nul(v, f"{where}[{i}]")


def body_refused(request) -> None:
    """For an action that takes no body (``extend_schema(request=None)``): a field sent to it is refused by
    name, as every body's unknown field is (serializers/strict.py), not ignored - ``{"reason": ...}`` on a
    cancel or ``{"benchmark": ...}`` on an estimate would otherwise seem to have been read."""
    data = request.data
    if data is None:
        return
    if not hasattr(data, "keys"):  # a JSON list, string or number
        raise ValidationError({"non_field_errors": ["This request takes no body."]})
    names = sorted(str(name) for name in data if name not in UnknownFieldsRefused.not_fields)
    if names:
        raise ValidationError({name: ["is not a field of this request; it takes no body."] for name in names})


class FirmAPIMixin:
    # As settings' REST_FRAMEWORK, with the session's CSRF check reading no JSON body (an object's 404 first).
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, ActionAllowed]
    content_negotiation_class = FormatNamed
    rules: dict[str, Rule] = {}
    # Query parameters a view reads several values of (none yet); any other given twice is refused.
    repeatable_parameters: frozenset[str] = frozenset()

    @classmethod
    def as_view(cls, *args, **initkwargs):
        return _conditional_get(super().as_view(*args, **initkwargs))

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # who asks, may they (403), throttles: nothing read yet
        self.object_first()
        repeated = {}
        for name, values in request.query_params.lists():
            _no_nul(name, "query")
            _no_nul(values, name)
            if len(values) > 1 and name not in self.repeatable_parameters:
                repeated[name] = [f"is given {len(values)} times; give it once."]
        if repeated:
            # Django's QueryDict.get reads the last value: ?advisor=4&advisor=5 listed advisor 5's only.
            raise ValidationError(repeated)
        if request.method not in SAFE_METHODS:
            if not request.FILES:  # the body's first read
                _no_nul(request.data, "")
            if hasattr(request.data, "lists"):
                # A form body (multipart) as the query string: kind=securities then kind=prices imported
                # prices, its last value, whichever the caller meant; a file given twice the same.
                repeated = {name: [f"is given {len(values)} times; give it once."]
                            for name, values in request.data.lists() if len(values) > 1}
                if repeated:
                    raise ValidationError(repeated)

    def object_first(self) -> None:
        """What must be decided before the query or the body is read (an object route's 404)."""


class FirmAPIView(FirmAPIMixin, APIView):
    """An endpoint with no queryset (imports, what-if)."""


class FirmScopedViewSet(FirmAPIMixin, viewsets.GenericViewSet):
    """Querysets come only from ``visible_queryset(user)``; ids are digits (so no lookup overflows)."""

    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = None  # a detail action sets it to None again: ?filters do not apply to get_object
    list_parameters: frozenset[str] = frozenset()  # what a list without a filterset reads itself

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__ or getattr(cls, "queryset", None) is not None:
            raise TypeError(f"{cls.__name__}: implement visible_queryset(user), not get_queryset/queryset; "
                            "a deliberate bypass is named dangerously_*.")

    def object_first(self) -> None:
        if self.detail:
            # The object first: an id the user may not see answers 404 before a body or a query is
            # read, so no route answers anything else (a 400 naming a field, malformed JSON) about
            # someone else's.
            self.get_object()

    def dispatch(self, request, *args, **kwargs):
        if self.detail and request.method not in SAFE_METHODS and "HTTP_IF_MATCH" in request.META:
            # The If-Match test and the change in one transaction, the object's row locked from the
            # test on (if_match_check): no other change can come between what was compared and the write.
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
            if response.status_code == 412 and getattr(self, "current_etag", None):
                response["ETag"] = self.current_etag
            return response
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.detail and request.method not in SAFE_METHODS and "HTTP_IF_MATCH" in request.META:
            if self.replays(request):
                return  # the retry of a change made: its answer, not a 412 for the ETag it moved itself
            self.if_match_check(request)

    def replays(self, request) -> bool:
        """Whether this request is the retry of an idempotent action already answered (same user, key and
        body). Claims the key first (in dispatch's transaction), so a concurrent twin waits for the first."""
        if not getattr(getattr(self, self.action or "", None), "idempotent", False):
            return False
        key = idempotency_key(request)
        return key is not None and idempotency_claim(request, key) is not None

    def if_match_check(self, request) -> None:
        """RFC 9110 §13.1.1: a change sent with If-Match is made only if the object's ETag - the one a
        GET of it would answer now - is one of those named (strong comparison), or the header is ``*``;
        otherwise 412 ``precondition_failed`` naming the current ETag; a header that is neither is 400
        (``if_match_tags``). Evaluated with the object's row
        locked (SELECT ... FOR UPDATE, the lock its update takes), so the GET's answer cannot change
        before the change is written."""
        sent = if_match_tags(request.META["HTTP_IF_MATCH"])
        found = self.get_object()
        model = type(found)
        list(model._base_manager.select_for_update().filter(pk=found.pk).values_list("pk", flat=True))
        self.current_etag = self.etag_now(request)
        if sent == ["*"] or (self.current_etag in sent and not self.current_etag.startswith("W/")):
            return
        raise PreconditionFailed(
            f"This {model._meta.verbose_name} is not as If-Match says: its ETag is now {self.current_etag} "
            "(it has changed since it was read). GET it again, and send the change with that ETag in If-Match.",
            detail={"etag": self.current_etag, "if_match": request.META["HTTP_IF_MATCH"]})

    def etag_now(self, request) -> str:
        """The ETag a GET of this object answers now: its ``retrieve``, negotiated and rendered as a GET
        of the object's URL would be, hashed by ``etag_of`` (the conditional GET's own rule)."""
        if not hasattr(self, "retrieve"):
            return ""  # no GET of the object: no tag matches, only "*"
        action, self.action = self.action, "retrieve"  # the object's own serializer, not the action's
        try:
            response = self.retrieve(request, *self.args, **self.kwargs)
            renderers = [renderer() for renderer in type(self).renderer_classes]
            response.accepted_renderer, response.accepted_media_type = (
                self.get_content_negotiator().select_renderer(request, renderers, self.format_kwarg))
            response.renderer_context = self.get_renderer_context()
            return etag_of(response.render()) or ""
        finally:
            self.action = action

    def visible_queryset(self, user) -> QuerySet:
        raise NotImplementedError(f"{type(self).__name__} must say what a user may see")

    def filter_queryset(self, queryset):
        if self.action == "list" and getattr(self, "filterset_class", None) is None:
            # A list without filters: a query parameter is a filter the caller thinks it has
            # (households/?advisor=5), so refused by name rather than answering every row.
            unknown = sorted(set(self.request.query_params) - FirmFilterSet.NOT_FILTERS - self.list_parameters)
            if unknown:
                raise ValidationError({name: ["is not a parameter of this list; it takes page and page_size"
                                              + "".join(f", {p}" for p in sorted(self.list_parameters)) + "."]
                                       for name in unknown})
        return super().filter_queryset(queryset)

    def get_queryset(self) -> QuerySet:
        queryset = self.visible_queryset(self.request.user)
        if not isinstance(queryset, QuerySet):
            raise TypeError(f"{type(self).__name__}.visible_queryset must return a queryset")
        return queryset


def _fingerprint(request) -> str:
    """SHA-256 of what makes two requests the same: method, path, and body (files by content)."""
    body: dict = {}
    if request.FILES:
        for name, upload in request.FILES.items():
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
            body[f"file:{name}"] = digest.hexdigest()
        body.update({k: request.data.getlist(k) for k in request.data if k not in request.FILES})
    else:
        body = {"json": request.data}
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# The stored answer names the secrets it left out under this key, and keeps the headers a replay gives
# again under the next (never fields of an answer); an answer that is not an object goes under ANSWER.
WITHHELD = "__withheld__"
HEADERS = "__headers__"
ANSWER = "__answer__"
REPLAYED_HEADERS = ("Location",)  # a 202's "follow it here" (risk-models/estimate/, release-batches/)


def _replay(record) -> Response:
    body, withheld, headers = record.body, [], {}
    if isinstance(body, dict) and (WITHHELD in body or HEADERS in body or ANSWER in body):
        withheld, headers = body.get(WITHHELD, []), body.get(HEADERS, {})
        body = body[ANSWER] if ANSWER in body else {
            k: v for k, v in body.items() if k not in (WITHHELD, HEADERS)}
    response = Response(body, status=record.status_code, headers=headers)
    response["Idempotent-Replayed"] = "true"
    if withheld:
        response["Idempotent-Withheld"] = ", ".join(withheld)
    return response


def _prior_answer(request, key: str, fingerprint: str) -> Response | None:
    record = idempotency_lookup(user=request.user, key=key)
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was already used with a different request; use a new key.",
                       code="idempotency_key_reused", detail={"idempotency_key": key})
    return _replay(record)


def _kept(response, secrets: tuple[str, ...]):
    """The answer as it may be stored: without its secrets (an API key's token is shown once, and
    only its SHA-256 digest is ever kept), naming what was left out, with the headers a replay repeats."""
    body = json.loads(JSONRenderer().render(response.data) or b"null")
    headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    dropped = [name for name in secrets if name in body] if isinstance(body, dict) else []
    if not (dropped or headers):
        return body
    if not isinstance(body, dict):
        return {ANSWER: body, HEADERS: headers}
    kept = {k: v for k, v in body.items() if k not in dropped}
    return {**kept, **({WITHHELD: dropped} if dropped else {}), **({HEADERS: headers} if headers else {})}


def idempotency_key(request) -> str | None:
    """The request's ``Idempotency-Key``, stripped; None without one; 400 when it is not 1-255 characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise ValidationFailed("An Idempotency-Key has 1 to 255 characters.", detail={"field": "Idempotency-Key"})
    return key


def idempotency_claim(request, key: str) -> Response | None:
    """Claim (user, key) for the rest of the transaction and answer what was answered to it before, if
    anything. A transaction-scoped advisory lock: a concurrent twin waits here until the first request's
    transaction ends - committed, its answer is then found and replayed; rolled back, the twin goes
    ahead itself - so the twin never meets the state the first one's action left (a limit it filled, a
    proposal it superseded, an ETag it moved). Call it inside ``transaction.atomic``."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"{connection.schema_name}:idempotency:{request.user.pk}:{key}"])
    return _prior_answer(request, key, _fingerprint(request))


def idempotent(action=None, *, secrets: tuple[str, ...] = ()):
    """Make a POST that creates things safe to retry with an ``Idempotency-Key`` header.

    The same user sending the same key and body within 24 hours gets the first successful answer
    again (status, body and its ``Location``, header ``Idempotent-Replayed: true``) and nothing is
    done twice; the same key with a different body is refused (409 ``idempotency_key_reused``). An
    error answer is not kept: fixing the request and retrying with the same key is fine. The key is
    claimed before the action, and the action and the record share the claim's transaction, so of two
    concurrent twins the second waits for the first and is replayed (``idempotency_claim``).

    ``secrets``: fields of the answer that are never stored, so a replay leaves them out and says so
    (``Idempotent-Withheld: token``). Use ``@idempotent(secrets=("token",))``.
    """
    if action is None:
        return functools.partial(idempotent, secrets=secrets)

    @functools.wraps(action)
    def wrapper(self, request, *args, **kwargs):
        key = idempotency_key(request)
        if key is None:
            return action(self, request, *args, **kwargs)
        with transaction.atomic():
            prior = idempotency_claim(request, key)
            if prior is not None:
                return prior
            response = action(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                idempotency_store(user=request.user, key=key, fingerprint=_fingerprint(request),
                                  status_code=response.status_code, body=_kept(response, secrets))
        return response

    wrapper.idempotent = True  # read by the If-Match check (a replay comes first) and the schema
    return wrapper

"""One attempt at a delivery, and re-sending one (a firm admin, from the delivery log).

The body is JSON: ``{"id", "type", "occurred_at", "firm", "data"}``; ``id`` is the event's, the
same on every retry and re-send, so a receiver acts on it once (it is also the ``Webhook-Id``
header). Headers: ``Webhook-Id``, ``Webhook-Event``, ``Webhook-Timestamp``, ``Webhook-Signature``
(rebalancing.webhooks.signing; two signatures while a secret is rotated) and ``Webhook-Delivery`` (this attempt's delivery, for support).
A 2xx answer is a success; anything else, a redirect included (not followed), or no answer within
``WEBHOOK_TIMEOUT_SECONDS`` is a failure, retried by the task until ``WEBHOOK_MAX_ATTEMPTS``.
An endpoint whose deliveries keep failing for good is paused (rebalancing.webhooks.pausing).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from rebalancing import dispatch
from rebalancing.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tenants.audit.actions import Action
from tenants.audit.services import audit_record
from tenants.errors import ValidationFailed

from .addresses import UnsafeAddress, url_for_audit, url_resolve_check
from .pausing import PAUSED, delivery_failed_count, delivery_succeeded_count
from .signing import signature_header

__all__ = ["delivery_body", "retry_delay", "webhook_delivery_attempt", "webhook_delivery_resend"]

USER_AGENT = "parameter-rebalancing-webhooks/1"
REMOVED = "not sent: the endpoint was removed"
S = WebhookDelivery.Status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx is the answer: a redirect could lead to an address the check refused


class _Deadline:
    """The timeout for a whole attempt. urllib's applies to each read, so a receiver sending its answer
    a byte at a time would hold the worker for as long as it liked; at the deadline the attempt's
    sockets are shut down, which ends a read waiting on them."""

    def __init__(self, seconds: float):
        self.seconds, self.expired = seconds, False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def _shut(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def connection(self, base: type[http.client.HTTPConnection], addresses: list[str]) -> type[http.client.HTTPConnection]:
        deadline = self

        class Pinned(base):
            """Connects to the addresses url_resolve_check vetted, not to what the name resolves to
            now; the Host header, TLS SNI and the certificate check still use the URL's host name."""

            def connect(self):
                if addresses:
                    self._create_connection = functools.partial(_connect_to, addresses)
                super().connect()
                deadline.watch(self.sock)

        return Pinned


def _connect_to(addresses: list[str], address: tuple[str, int], timeout=socket._GLOBAL_DEFAULT_TIMEOUT,
                source_address=None) -> socket.socket:
    """socket.create_connection to each vetted address in turn (the first that answers), on the port
    http.client asks for; the host name it asks for is the one these addresses were resolved from."""
    port, error = address[1], None
    for ip in addresses:
        try:
            return socket.create_connection((ip, port), timeout, source_address)
        except OSError as exc:
            error = exc
    raise error


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline, addresses: list[str]):
        super().__init__()
        self._connection = deadline.connection(http.client.HTTPConnection, addresses)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline, addresses: list[str]):
        super().__init__()
        self._connection = deadline.connection(http.client.HTTPSConnection, addresses)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


def _opener(deadline: _Deadline, addresses: list[str]) -> urllib.request.OpenerDirector:
    # ProxyHandler({}): no proxy, whatever HTTP(S)_PROXY says. A proxy would resolve the name again
    # (undoing url_resolve_check) and reach addresses from where it stands.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect,
                                       _HTTPHandler(deadline, addresses), _HTTPSHandler(deadline, addresses))


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling from
    ``WEBHOOK_RETRY_BASE_SECONDS``, at most ``WEBHOOK_RETRY_MAX_SECONDS``."""
    return min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS)


def delivery_body(event: WebhookEvent) -> bytes:
    firm = getattr(connection.tenant, "slug", None) or connection.schema_name
    body = {"id": str(event.id), "type": event.event_type, "occurred_at": event.occurred_at.isoformat(),
            "firm": firm, "data": event.payload}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, default=str).encode()


def _post(delivery: WebhookDelivery, body: bytes) -> tuple[int | None, str, str, bool]:
    """(status code or None, start of the answer, error, whether trying again may help)."""
    endpoint = delivery.endpoint
    now = timezone.now()
    secrets = endpoint.signing_secrets(now)
    if endpoint.previous_secret and len(secrets) == 1:  # its grace period is over: forget it now
        WebhookEndpoint.objects.filter(pk=endpoint.pk).previous_secrets_forget(now)
        endpoint.previous_secret, endpoint.previous_secret_until = "", None
    timestamp = int(time.time())
    request = urllib.request.Request(endpoint.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        "Webhook-Id": str(delivery.event_id), "Webhook-Event": delivery.event.event_type,
        "Webhook-Delivery": str(delivery.pk), "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature_header(secrets=secrets, timestamp=timestamp, body=body),
    })
    try:
        addresses = url_resolve_check(endpoint.url)  # connected to as they are: not resolved again
    except UnsafeAddress as exc:  # refused, not failed: retrying would be refused again
        return None, "", str(exc), False
    seconds = settings.WEBHOOK_TIMEOUT_SECONDS
    with _Deadline(seconds) as deadline:
        try:
            with _opener(deadline, addresses).open(request, timeout=seconds) as answer:
                code, text, error = answer.status, answer.read(500).decode("utf-8", "replace"), ""
        except urllib.error.HTTPError as exc:  # an answer, but not a 2xx
            try:
                text = exc.read(500).decode("utf-8", "replace") if exc.fp else ""
            except (OSError, http.client.HTTPException):
                text = ""
            code, error = exc.code, f"answered {exc.code}"
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            # HTTPException: bytes that are not an HTTP answer, or a body cut short.
            reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
            code, text, error = None, "", f"no answer: {reason}"
    if deadline.expired:  # cut off, or an answer that came only after the timeout
        return None, "", f"no answer within {seconds} s", True
    return code, text, error[:500], True


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Send a pending or retrying delivery once and record the outcome. Nothing is done for a
    delivery already succeeded or given up (a redelivered task message). Not atomic on purpose: no
    transaction is held open while the receiver thinks. A delivery to an endpoint removed since it was
    queued, or paused, is not sent (cancelled), whatever its status said when the task was queued. A
    delivery to a switched-on endpoint that succeeds or fails for good is counted toward its pause."""
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        return delivery
    if delivery.endpoint.removed or delivery.endpoint.paused:
        # Removal and pausing cancel what was queued; this catches an attempt that was already
        # running then and recorded a retry after it.
        delivery.status, delivery.next_attempt_at = S.CANCELLED, None
        delivery.error = REMOVED if delivery.endpoint.removed else PAUSED
        delivery.save(update_fields=["status", "next_attempt_at", "error"])
        return delivery
    started = time.monotonic()
    if not delivery.endpoint.active:
        code, text, error, retryable = None, "", "the endpoint was switched off", False
    else:
        code, text, error, retryable = _post(delivery, delivery_body(delivery.event))
    now = timezone.now()
    delivery.attempts += 1
    delivery.response_code, delivery.response_excerpt, delivery.error = code, text[:500], error[:500]
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.last_attempt_at = now
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.next_attempt_at = S.SUCCEEDED, None
    elif not retryable or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = S.FAILED, None
    else:
        delivery.status = S.RETRYING
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
    delivery.save(update_fields=["attempts", "response_code", "response_excerpt", "error", "duration_ms",
                                 "last_attempt_at", "status", "next_attempt_at"])
    if delivery.endpoint.active:  # one switched off was not tried: it says nothing of the receiver
        if delivery.status == S.SUCCEEDED:
            delivery_succeeded_count(endpoint_id=delivery.endpoint_id)
        elif delivery.status == S.FAILED:
            delivery_failed_count(endpoint_id=delivery.endpoint_id, error=delivery.error)
    return delivery


@transaction.atomic
def webhook_delivery_resend(*, delivery: WebhookDelivery, user) -> WebhookDelivery:
    """A new delivery of the same event to the same endpoint (same idempotency id), sent on commit."""
    # As it is now, under its lock: a pause or removal committed since the delivery was read stands.
    delivery.endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if delivery.endpoint.removed:
        raise ValidationFailed("The endpoint was removed; nothing is sent to it any more.",
                               detail={"endpoint": delivery.endpoint_id})
    if not delivery.endpoint.active:
        raise ValidationFailed("The endpoint is switched off; switch it on before sending to it again.",
                               detail={"endpoint": delivery.endpoint_id})
    if delivery.endpoint.paused:
        raise ValidationFailed("The endpoint is paused (its deliveries kept failing); resume it before sending "
                               "to it again.", detail={"endpoint": delivery.endpoint_id})
    again = WebhookDelivery.objects.create(event_id=delivery.event_id, endpoint_id=delivery.endpoint_id,
                                           resent_from=delivery, resent_by=user if getattr(user, "pk", None) else None)
    # By id: the delivery's name (str) carries the endpoint's whole URL, which the audit masks.
    audit_record(actor=user, action=Action.WEBHOOK_DELIVERY_RESEND, object_type="webhookdelivery",
                 object_id=str(again.pk),
                 after={"event": str(delivery.event_id), "type": delivery.event.event_type,
                        "endpoint": url_for_audit(delivery.endpoint.url), "resent_from": delivery.pk})
    transaction.on_commit(lambda: dispatch.send(dispatch.WEBHOOK_DELIVER, again.pk))
    return again

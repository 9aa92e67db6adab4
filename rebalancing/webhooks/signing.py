"""How a delivery is signed, and how a receiver checks it (docs/integrations.md shows the same).

The signature is HMAC-SHA256, keyed with the endpoint's secret, over ``f"{timestamp}.{body}"``:
the Unix time of sending, a full stop, and the raw body bytes. It travels as
``Webhook-Signature: v1=<hex digest>`` beside ``Webhook-Timestamp: <timestamp>``. Signing the
timestamp with the body lets a receiver refuse an old delivery replayed by someone who captured it.

While a secret is rotated (``SECRET_ROTATION_GRACE`` after it), a delivery carries one signature per
secret, the new one first, separated by commas: ``Webhook-Signature: v1=<new>,v1=<old>``. A receiver
accepts a delivery when any of them matches, so it can change its secret at any time in that window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta

__all__ = ["SCHEME", "SECRET_ROTATION_GRACE", "TOLERANCE_SECONDS", "secret_generate", "signature",
           "signature_header", "signature_verify"]

SCHEME = "v1"
TOLERANCE_SECONDS = 300  # a receiver refuses a delivery signed more than five minutes away from its clock
# After a rotation the old secret signs too for this long (docs/integrations.md says 24 hours).
SECRET_ROTATION_GRACE = timedelta(hours=24)


def secret_generate() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` header's value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` header's value: one signature per secret, comma-separated, in order."""
    return ",".join(signature(secret=secret, timestamp=timestamp, body=body) for secret in secrets)


def signature_verify(*, secret: str, timestamp: str, body: bytes, header: str, now: float | None = None,
                     tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` with ``secret`` and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=sent, body=body)
    # Several signatures may be sent while a secret is rotated: any one that matches will do.
    return any(hmac.compare_digest(expected, given.strip()) for given in header.split(","))

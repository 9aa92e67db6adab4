"""How a delivery is signed, and how a receiver checks it (docs/integrations.md shows the same).

The signature is HMAC-SHA256, keyed with the endpoint's secret, over ``f"{timestamp}.{body}"``:
the Unix time of sending, a full stop, and the raw body bytes. It travels as
``Webhook-Signature: v1=<hex digest>`` beside ``Webhook-Timestamp: <timestamp>``. Signing the
timestamp with the body lets a receiver refuse an old delivery replayed by someone who captured it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

__all__ = ["SCHEME", "TOLERANCE_SECONDS", "secret_generate", "signature", "signature_verify"]

SCHEME = "v1"
TOLERANCE_SECONDS = 300  # a receiver refuses a delivery signed more than five minutes away from its clock


def secret_generate() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` header's value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


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

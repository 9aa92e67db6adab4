"""The webhook receiver of docs/integrations.md, run as it is: its check accepts what the platform
signs and refuses anything changed, and a real delivery to it (the platform's HTTP request to the
receiver's server) is accepted once per event id."""

import hashlib
import hmac
import random
import re
import threading
from http.server import HTTPServer
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery
from rebalancing.webhooks.delivery import webhook_delivery_attempt, webhook_delivery_resend
from rebalancing.webhooks.events import EventType, webhook_emit
from rebalancing.webhooks.signing import secret_generate, signature

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def snippet(first_line: str) -> str:
    """The ```python block of docs/integrations.md that starts with ``first_line``."""
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"docs/integrations.md has no python block starting {first_line!r}")


@pytest.fixture
def receiver_module():
    namespace = {"__name__": "receiver"}
    exec(compile(snippet("# receiver.py"), "docs/integrations.md:receiver.py", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_documented_check_accepts_what_is_signed_and_refuses_any_change(receiver_module):
    verified = receiver_module["verified"]
    rng = random.Random(1791)
    for _ in range(300):
        secret = secret_generate()
        t = rng.randrange(1_700_000_000, 1_900_000_000)
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        signed = signature(secret=secret, timestamp=t, body=body)

        assert verified(secret, str(t), body, signed, now=t + rng.randrange(-300, 301))
        flipped = bytearray(body)
        flipped[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        assert not verified(secret, str(t), bytes(flipped), signed, now=t)
        assert not verified(secret + "x", str(t), body, signed, now=t)
        assert not verified(secret, str(t), body, signed, now=t + 301 + rng.randrange(1000))
    assert not verified("s", "not a time", b"{}", "v1=00", now=0)


def test_the_check_matches_a_signature_worked_by_hand(receiver_module):
    by_hand = "v1=" + hmac.new(b"whsec_doc", b"1767225600." + b'{"id":"e"}', hashlib.sha256).hexdigest()
    assert receiver_module["verified"]("whsec_doc", "1767225600", b'{"id":"e"}', by_hand, now=1767225600)


@pytest.mark.django_db
def test_a_real_delivery_to_the_documented_receiver_is_accepted_once(firm_a, endpoint_for, receiver_module):
    secret = secret_generate()
    receiver_module["SECRET"] = secret
    server = HTTPServer(("127.0.0.1", 0), receiver_module["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = endpoint_for(firm_a, f"http://127.0.0.1:{server.server_address[1]}/", secret=secret)
        wrong = endpoint_for(firm_a, f"http://127.0.0.1:{server.server_address[1]}/", secret=secret_generate())
        with tenant_context(firm_a):
            webhook_emit(EventType.RUN_FINISHED, {"run": 3})
            good = webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get(endpoint=endpoint).pk)
            bad = webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.get(endpoint=wrong).pk)
            again = webhook_delivery_attempt(delivery_id=webhook_delivery_resend(delivery=good, user=None).pk)
    finally:
        server.shutdown()
        server.server_close()

    assert (good.status, good.response_code) == ("succeeded", 204)
    assert (bad.status, bad.response_code) == ("retrying", 401)  # signed with another secret
    assert (again.status, again.response_code) == ("succeeded", 204)
    assert receiver_module["seen"] == {str(good.event_id)}  # the re-send was recognised by its id

"""The signature: HMAC-SHA256 keyed with the secret over "<timestamp>.<body>", sent as "v1=<hex>"."""

import hashlib
import hmac
import random

from rebalancing.webhooks.signing import secret_generate, signature, signature_verify


def _by_hand(secret: str, timestamp: int, body: bytes) -> str:
    """A second implementation, from the documented scheme alone."""
    mac = hmac.HMAC(key=secret.encode("utf-8"), digestmod=hashlib.sha256)
    mac.update(str(timestamp).encode("ascii"))
    mac.update(b".")
    mac.update(body)
    return "v1=" + mac.hexdigest()


def test_the_signature_is_the_documented_one_over_many_random_cases():
    rng = random.Random(18)
    for _ in range(500):
        secret = secret_generate() if rng.random() < 0.5 else "".join(rng.choice("abcXYZ019_-é") for _ in range(24))
        timestamp = rng.randrange(1_600_000_000, 2_000_000_000)
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))

        signed = signature(secret=secret, timestamp=timestamp, body=body)

        assert signed == _by_hand(secret, timestamp, body)
        assert signature_verify(secret=secret, timestamp=str(timestamp), body=body, header=signed, now=timestamp + 10)


def test_a_known_signature():
    # Worked by hand with: printf '1767225600.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    assert signature(secret="whsec_test", timestamp=1767225600, body=b'{"a":1}') == (
        "v1=" + hmac.new(b"whsec_test", b'1767225600.{"a":1}', hashlib.sha256).hexdigest())


def test_a_changed_body_timestamp_or_secret_does_not_verify():
    body, t = b'{"id":"e1","type":"run.finished"}', 1767225600
    signed = signature(secret="whsec_right", timestamp=t, body=body)

    assert signature_verify(secret="whsec_right", timestamp=str(t), body=body, header=signed, now=t)
    assert not signature_verify(secret="whsec_right", timestamp=str(t), body=body + b" ", header=signed, now=t)
    assert not signature_verify(secret="whsec_right", timestamp=str(t + 1), body=body, header=signed, now=t)
    assert not signature_verify(secret="whsec_wrong", timestamp=str(t), body=body, header=signed, now=t)
    assert not signature_verify(secret="whsec_right", timestamp="soon", body=body, header=signed, now=t)


def test_an_old_delivery_replayed_is_refused_and_one_of_several_signatures_is_enough():
    body, t = b"{}", 1767225600
    signed = signature(secret="s" * 20, timestamp=t, body=body)

    assert not signature_verify(secret="s" * 20, timestamp=str(t), body=body, header=signed, now=t + 301)
    assert signature_verify(secret="s" * 20, timestamp=str(t), body=body, header=f"v1=00ff, {signed}", now=t + 299)

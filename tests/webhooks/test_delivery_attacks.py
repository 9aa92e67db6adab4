"""Receivers that misbehave: one answering bytes that are not HTTP, one dripping its answer a byte at a
time so that no single read times out. Each delivery is recorded as failed and retried, within the
timeout, never left pending by a crashed task nor holding a worker for as long as the receiver likes."""

import socket
import threading
import time

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery
from rebalancing.webhooks.delivery import webhook_delivery_attempt
from rebalancing.webhooks.events import EventType, webhook_emit

pytestmark = pytest.mark.django_db


class RawReceiver:
    """A TCP server on localhost that reads the request and answers with ``reply(connection)``."""

    def __init__(self, reply):
        self._server = socket.create_server(("127.0.0.1", 0))
        self._reply, self._stop = reply, threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/hooks"

    def _serve(self):
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                try:
                    connection.recv(65536)
                    self._reply(connection, self._stop)
                except OSError:
                    pass  # the sender hung up: what the timeout test wants

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def raw_receiver():
    made = []

    def make(reply) -> RawReceiver:
        made.append(RawReceiver(reply))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _emit(firm) -> WebhookDelivery:
    with tenant_context(firm):
        webhook_emit(EventType.RUN_FINISHED, {"run": 7})
        return WebhookDelivery.objects.latest("pk")


def _not_http(connection, stop):
    connection.sendall(b"HELLO THERE\r\n\r\n")


def _dripping(connection, stop):
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: " + b"." * 40 + b"\r\n\r\nok"
    for byte in answer:  # 0.1 s a byte: every read is quick, the whole answer takes 7 s
        if stop.is_set():
            return
        connection.sendall(bytes([byte]))
        time.sleep(0.1)


def _status_not_a_number(connection, stop):
    connection.sendall(b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")  # letters O, not zeros


@pytest.mark.parametrize("reply", [_not_http, _status_not_a_number], ids=["not-http", "status-not-a-number"])
def test_a_receiver_that_does_not_speak_http_is_a_failed_attempt_retried_not_a_crashed_task(
        firm_a, raw_receiver, endpoint_for, reply):
    hook = raw_receiver(reply)
    endpoint_for(firm_a, hook.url)
    delivery = _emit(firm_a)

    with tenant_context(firm_a):
        done = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert done.status == "retrying" and done.attempts == 1 and done.next_attempt_at is not None
    assert done.error.startswith("no answer") or done.error.startswith("answered"), done.error


@override_settings(WEBHOOK_TIMEOUT_SECONDS=1)
def test_a_receiver_dripping_its_answer_is_cut_off_at_the_timeout_for_the_whole_answer(
        firm_a, raw_receiver, endpoint_for):
    hook = raw_receiver(_dripping)
    endpoint_for(firm_a, hook.url)
    delivery = _emit(firm_a)

    started = time.monotonic()
    with tenant_context(firm_a):
        done = webhook_delivery_attempt(delivery_id=delivery.pk)
    took = time.monotonic() - started

    assert took < 3, f"the attempt took {took:.1f} s with a 1 s timeout"
    assert done.status == "retrying" and done.response_code is None
    assert "within 1 s" in done.error

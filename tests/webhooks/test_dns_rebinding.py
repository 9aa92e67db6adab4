"""A delivery connects to the addresses that were checked. The check before a delivery resolves the
host name and refuses private addresses; if the connection resolved the name again, a name whose DNS
answer changes in between (DNS rebinding, TTL 0) would pass the check with a public address and then
reach 127.0.0.1 or the cloud metadata service, and the first 500 characters of that answer would be
kept in the delivery log. Nor does a delivery go through a proxy named in the environment, which
would resolve the name itself."""

import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from rebalancing.models import WebhookDelivery
from rebalancing.webhooks.delivery import webhook_delivery_attempt
from rebalancing.webhooks.events import EventType, webhook_emit

pytestmark = pytest.mark.django_db
REAL_GETADDRINFO, REAL_CREATE_CONNECTION = socket.getaddrinfo, socket.create_connection
PUBLIC = "93.184.216.34"


def _deliver(firm):
    with tenant_context(firm):
        webhook_emit(EventType.RUN_FINISHED, {"run": 1})
        return webhook_delivery_attempt(delivery_id=WebhookDelivery.objects.latest("pk").pk)


def test_a_name_rebinding_to_loopback_after_the_check_is_not_reached(firm_a, receiver, endpoint_for, monkeypatch):
    hook = receiver([200])
    port = int(hook.url.split(":")[2].split("/")[0])
    lookups, connections = [], []

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":  # first answer (the check) public, every later one loopback
            lookups.append(host)
            host = PUBLIC if len(lookups) == 1 else "127.0.0.1"
        return REAL_GETADDRINFO(host, *args, **kwargs)

    def connect(address, *args, **kwargs):
        connections.append(address)
        if address[0] == PUBLIC:  # the checked address: nothing leaves the test machine
            raise ConnectionRefusedError("refused (test)")
        return REAL_CREATE_CONNECTION(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket, "create_connection", connect)
    with override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False):
        endpoint_for(firm_a, f"http://rebind.example:{port}/internal")  # a name: accepted when registered
        done = _deliver(firm_a)

    assert hook.received == [], f"delivered to 127.0.0.1 after the check: {done.response_excerpt!r}"
    assert lookups == ["rebind.example"] and connections == [(PUBLIC, port)]
    assert done.status == WebhookDelivery.Status.RETRYING and done.response_code is None
    assert "refused" in done.error


def test_a_delivery_to_a_name_says_the_name_and_ignores_proxies_in_the_environment(
        firm_a, receiver, endpoint_for, monkeypatch):
    hook, proxy = receiver([200]), receiver([200])
    port = int(hook.url.split(":")[2].split("/")[0])
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy.url.removesuffix("/hooks"))
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kwargs: REAL_GETADDRINFO(
        "127.0.0.1" if host == "hook.example" else host, *args, **kwargs))
    with override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True):
        endpoint_for(firm_a, f"http://hook.example:{port}/hooks")
        done = _deliver(firm_a)

    assert proxy.received == [], "the delivery went through the proxy named in the environment"
    assert done.status == WebhookDelivery.Status.SUCCEEDED
    [got] = hook.received
    assert got.headers["Host"] == f"hook.example:{port}" and got.path == "/hooks"


def test_an_https_delivery_to_the_checked_address_verifies_the_certificate_for_the_name(
        firm_a, endpoint_for, monkeypatch, tmp_path):
    # A receiver on 127.0.0.1 with a certificate for hook.example only: the delivery connects to the
    # address, and TLS (SNI, the certificate's name) still speaks of the name.
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=hook.example", "-addext", "subjectAltName=DNS:hook.example"],
                   check=True, capture_output=True)
    received, names = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(self.headers["Host"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    server_side.sni_callback = lambda sock, name, context: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_side.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kwargs: REAL_GETADDRINFO(
        "127.0.0.1" if host == "hook.example" else host, *args, **kwargs))
    monkeypatch.setattr(ssl, "_create_default_https_context", lambda: ssl.create_default_context(cafile=str(cert)))
    try:
        with override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True):
            endpoint_for(firm_a, f"https://hook.example:{port}/hooks")
            done = _deliver(firm_a)
    finally:
        server.shutdown()
        server.server_close()

    assert done.status == WebhookDelivery.Status.SUCCEEDED, done.error
    assert names == ["hook.example"] and received == [f"hook.example:{port}"]

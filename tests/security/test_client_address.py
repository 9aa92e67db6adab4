"""The client's address behind the ingress. In Kubernetes every request reaches gunicorn from the
ingress controller, so REMOTE_ADDR is the ingress's: counted per REMOTE_ADDR, the "Forgot your
password?" limit per client (10 an hour) would be one budget for a whole firm, which an anonymous
visitor spends for everyone, and every sign-in record would name the ingress. With
TRUSTED_PROXY_COUNT proxies in front, the client is the entry the farthest of them wrote in
X-Forwarded-For; without, the header (anyone can send one) is never read."""

import ipaddress

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory, override_settings
from django_tenants.utils import tenant_context

from frontend.tasks import password_link_send
from frontend.views.auth import REQUESTS_PER_CLIENT, client_address
from rebalancing import dispatch
from tenants.audit.models import AuditEvent
from tenants.roles import FirmRole
from tests.conftest import PASSWORD

INGRESS = "10.42.0.7"  # the ingress controller's pod address, as gunicorn passes it on


def expected(remote: str, forwarded: str | None, proxies: int) -> str:
    """The rule said plainly: walk back from the nearest proxy through the addresses the trusted
    proxies appended; the last one reached is where the farthest trusted proxy was called from."""
    if proxies == 0 or forwarded is None:
        return remote
    written = [part.strip() for part in forwarded.split(",") if part.strip()]
    client = remote
    for _ in range(proxies):
        if not written:
            return remote  # fewer entries than proxies: the header is not the proxies'
        client = written.pop()
    try:
        ipaddress.ip_address(client)
    except ValueError:
        return remote
    return client


@pytest.mark.parametrize(("forwarded", "proxies"), [
    (None, 0), (None, 1), ("203.0.113.9", 0),  # no proxy: a forged header is not read
    ("203.0.113.9", 1), ("198.51.100.1, 203.0.113.9", 1),  # the client wrote the first entry itself
    ("198.51.100.1, 203.0.113.9", 2), ("203.0.113.9, 10.0.0.2", 2), ("203.0.113.9", 2),
    ("2001:db8::7", 1), ("not-an-address", 1), ("", 1), (" , ", 1),
])
def test_the_client_is_the_entry_the_farthest_trusted_proxy_wrote(forwarded, proxies):
    meta = {"REMOTE_ADDR": INGRESS} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_address(RequestFactory().get("/", **meta)) == expected(INGRESS, forwarded, proxies)


@pytest.fixture
def _worker_inline(monkeypatch):
    cache.clear()
    monkeypatch.setattr(dispatch, "send", lambda task, *args: password_link_send(*args)
                        if task == dispatch.PASSWORD_LINK_SEND else None)
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("_worker_inline")
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_one_visitors_requests_do_not_spend_the_whole_firms_password_links(firm_a, firm_user, mailoutbox):
    firm_user(firm_a, "victim@a.example", FirmRole.PORTFOLIO_MANAGER)
    visitor = Client(HTTP_HOST="firm-a.localhost", REMOTE_ADDR=INGRESS, HTTP_X_FORWARDED_FOR="203.0.113.9")
    for n in range(REQUESTS_PER_CLIENT):
        visitor.post("/accounts/reset/", {"email": f"junk-{n}@nowhere.example"})
    refused = visitor.post("/accounts/reset/", {"email": "junk@nowhere.example"})
    colleague = Client(HTTP_HOST="firm-a.localhost", REMOTE_ADDR=INGRESS, HTTP_X_FORWARDED_FOR="198.51.100.20")
    answer = colleague.post("/accounts/reset/", {"email": "victim@a.example"})

    assert refused.status_code == 429  # the visitor's own budget is spent
    assert answer.status_code == 302 and [m.to for m in mailoutbox] == [["victim@a.example"]]


@pytest.mark.django_db
@override_settings(TRUSTED_PROXY_COUNT=1)
def test_sign_in_records_name_the_client_not_the_ingress(firm_a, firm_user):
    user = firm_user(firm_a, "signs-in@a.example", FirmRole.PORTFOLIO_MANAGER)
    client = Client(HTTP_HOST="firm-a.localhost", REMOTE_ADDR=INGRESS,
                    HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.20")  # the first entry is the client's own
    client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    with tenant_context(firm_a):
        records = AuditEvent.objects.filter(action__in=["auth.sign_in_failed", "auth.sign_in"], object_id=str(user.pk))
        assert sorted((r.action, r.after["ip"]) for r in records) == [
            ("auth.sign_in", "198.51.100.20"), ("auth.sign_in_failed", "198.51.100.20")]

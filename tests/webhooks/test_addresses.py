"""Which URLs an endpoint may have: http(s), no credentials, no private addresses in production."""

import pytest
from django.test import override_settings

from rebalancing.webhooks.addresses import UnsafeAddress, url_check, url_resolve_check
from tenants.errors import ValidationFailed


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://example.com/hook", "starts with http:// or https://"),
    ("file:///etc/passwd", "starts with http:// or https://"),
    ("https:///nohost", "names a host"),
    ("https://user:pw@example.com/hook", "no user name or password"),
    ("https://example.com:99999/hook", "port"),
    ("https://example.com:0/hook", "port is not a number from 1 to 65535"),
    ("https://example.com:00/hook", "port is not a number from 1 to 65535"),
])
def test_a_url_that_is_not_plain_http_is_refused_everywhere(url, problem):
    with pytest.raises(ValidationFailed) as refused:
        url_check(url)
    assert problem in refused.value.message and refused.value.detail == {"field": "url"}


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/", "http://localhost/hook", "http://api.localhost/hook", "http://10.1.2.3/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://192.168.0.10/", "http://0.0.0.0/",
    "http://[::ffff:10.0.0.1]/", "http://100.64.0.1/",
])
def test_private_and_reserved_addresses_are_refused_in_production(url):
    with pytest.raises(ValidationFailed):
        url_check(url)


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
@pytest.mark.parametrize("url", [
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of 169.254.169.254 (RFC 6052)
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a00:5]/",  # NAT64 of 127.0.0.1, 10.0.0.5
    "http://[64:ff9b:1::808:808]/",  # NAT64's local-use prefix (RFC 8215): the network's own
    "http://[::127.0.0.1]/", "http://[::a9fe:a9fe]/",  # IPv4-compatible (deprecated) forms
    "http://[2002:7f00:1::1]/", "http://[2002:a9fe:a9fe::]/",  # 6to4 of 127.0.0.1, 169.254.169.254
])
def test_an_ipv6_address_that_leads_to_a_private_ipv4_one_is_refused_when_registered_and_before_delivery(url):
    with pytest.raises(ValidationFailed) as refused:
        url_check(url)
    with pytest.raises(UnsafeAddress, match="private or reserved address"):
        url_resolve_check(url)
    assert refused.value.detail == {"field": "url"}


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
@pytest.mark.parametrize("url", ["https://[64:ff9b::808:808]/hook", "https://[2002:808:808::1]/hook",
                                 "https://[2606:4700:4700::1111]/hook"])
def test_an_ipv6_address_that_leads_to_a_public_ipv4_one_or_none_is_accepted(url):
    assert url_check(url) == url


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=False)
def test_a_public_url_is_accepted_and_a_name_resolving_to_this_machine_is_refused_before_delivery():
    assert url_check("  https://hooks.example.com/rebalancing  ") == "https://hooks.example.com/rebalancing"
    assert url_check("https://8.8.8.8/hook") == "https://8.8.8.8/hook"
    assert url_check("https://hooks.example.com:1/a") == "https://hooks.example.com:1/a"
    assert url_check("https://hooks.example.com:65535/a") == "https://hooks.example.com:65535/a"
    with pytest.raises(UnsafeAddress, match="private or reserved address"):
        url_resolve_check("http://localhost:8080/hook")  # the name resolves to 127.0.0.1 / ::1


@override_settings(WEBHOOK_ALLOW_PRIVATE_ADDRESSES=True)
def test_tests_and_the_demo_may_deliver_to_localhost():
    assert url_check("http://127.0.0.1:8123/hooks") == "http://127.0.0.1:8123/hooks"
    url_resolve_check("http://localhost:8123/hooks")

"""Links sent outside a request (e-mails, command output) reach the site people actually use."""

import pytest
from django.test import override_settings

from tenants.sites import site_url


@pytest.mark.parametrize(
    ("scheme", "port", "expected"),
    [
        ("https", 0, "https://acme.rebalance.example/approvals/"),
        ("https", 443, "https://acme.rebalance.example/approvals/"),
        ("https", 8443, "https://acme.rebalance.example:8443/approvals/"),
        ("http", 80, "http://acme.rebalance.example/approvals/"),
        ("http", 8000, "http://acme.rebalance.example:8000/approvals/"),
    ],
)
def test_the_port_is_written_only_when_it_is_not_the_schemes_default(scheme, port, expected):
    with override_settings(SITE_SCHEME=scheme, SITE_PORT=port):
        assert site_url("acme.rebalance.example", "/approvals/") == expected


def test_without_a_firm_domain_the_link_is_the_provider_consoles():
    with override_settings(SITE_SCHEME="https", SITE_PORT=0, BASE_DOMAIN="rebalance.example"):
        assert site_url() == "https://rebalance.example/"

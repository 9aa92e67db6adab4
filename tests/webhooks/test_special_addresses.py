"""Addresses a webhook may not be sent to although Python 3.11's ``ipaddress`` calls them global: its
tables predate these "Globally Reachable: False" entries of the IANA Special-Purpose Address Registries
(Python 3.13 updated them), and it does not look inside an IPv4-translated address (RFC 2765). Each is an
address a production delivery must not connect to (rebalancing/webhooks/addresses.py)."""

import pytest

from rebalancing.webhooks.addresses import UnsafeAddress, url_check, url_resolve_check
from tenants.errors import ValidationFailed

NOT_GLOBALLY_REACHABLE = [
    "192.0.0.8",          # 192.0.0.0/24 IETF protocol assignments (RFC 6890), not global
    "192.0.0.200",        # the same /24, past 3.11's 192.0.0.0/29 and 192.0.0.170/31
    "[::ffff:0:7f00:1]",  # ::ffff:0:0:0/96 IPv4-translated (RFC 2765 SIIT): 127.0.0.1 through a translator
    "[::ffff:0:a00:1]",   # the same, 10.0.0.1
    "[::ffff:0:0:0]",     # the same, 0.0.0.0
    "[5f00::1]",          # 5f00::/16 SRv6 SIDs (RFC 9602)
    "[3fff::1]",          # 3fff::/20 documentation (RFC 9637)
    "[3fff:fff::1]",      # the /20's last /32
    "[100:0:0:1::1]",     # 100:0:0:1::/64 dummy prefix (RFC 9780)
]

# Globally reachable: the registry's exceptions in 192.0.0.0/24, a public IPv4 translated, the neighbours.
GLOBALLY_REACHABLE = ["192.0.0.9", "192.0.0.10", "192.0.1.1", "[::ffff:0:808:808]", "[3fff:1000::1]",
                      "[5f01::1]", "[100:0:0:2::1]"]


@pytest.mark.parametrize("host", NOT_GLOBALLY_REACHABLE)
def test_a_not_globally_reachable_address_is_refused(host, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationFailed, match="private or reserved"):
        url_check(f"https://{host}/hook")


@pytest.mark.parametrize("host", NOT_GLOBALLY_REACHABLE)
def test_a_name_resolving_to_one_is_refused_before_delivery(host, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    address = host.strip("[]")
    family = 10 if ":" in address else 2
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(family, 1, 6, "", (address, 443))])
    with pytest.raises(UnsafeAddress, match="private or reserved"):
        url_resolve_check("https://hooks.example.com/hook")


@pytest.mark.parametrize("host", GLOBALLY_REACHABLE)
def test_a_globally_reachable_neighbour_is_allowed(host, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    assert url_check(f"https://{host}/hook") == f"https://{host}/hook"

"""Which URLs a webhook may call. Deliveries are requests made from inside the platform to a URL a
firm typed, so without a guard an endpoint of ``http://169.254.169.254/`` or ``http://10.0.0.5/``
would make the platform fetch its own cloud metadata or internal services for whoever registered it
(server-side request forgery). So: http and https only, no credentials in the URL, and, unless
``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` is on (tests and the demo deliver to localhost; production
settings keep it off), no address that is not public: checked when registered for a literal address
and again before each delivery on the addresses the name resolves to, which are the addresses the
delivery then connects to. Redirects are not followed."""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings

from tenants.errors import ValidationFailed

__all__ = ["UnsafeAddress", "url_check", "url_for_audit", "url_resolve_check"]


class UnsafeAddress(Exception):
    """The URL may not be called; the message says why."""


def _private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False))


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64's well-known prefix (RFC 6052)
# and the deprecated IPv4-compatible form (RFC 4291 2.5.5.1). On an IPv6-only host with NAT64,
# [64:ff9b::a9fe:a9fe] is 169.254.169.254, the cloud metadata service.
_IPV4_IN_LAST_32_BITS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))
# NAT64's local-use prefix (RFC 8215) places the IPv4 address as the network chooses: never public.
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
# IPv4-translated addresses (RFC 2765, SIIT): ::ffff:0:a.b.c.d reaches a.b.c.d through a translator.
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
# "Globally Reachable: False" in the IANA Special-Purpose Address Registries, yet global to Python
# 3.11's is_global, whose tables predate them (3.13's have them).
_NOT_GLOBAL = tuple(ipaddress.ip_network(network) for network in (
    "192.0.0.0/24",    # IETF protocol assignments (RFC 6890), but for the two below
    "5f00::/16",       # SRv6 SIDs (RFC 9602)
    "3fff::/20",       # documentation (RFC 9637)
    "100:0:0:1::/64",  # dummy prefix (RFC 9780)
))
# The registry's globally reachable entries inside 192.0.0.0/24: PCP anycast (RFC 7723), TURN anycast (RFC 8155).
_GLOBAL_IN_NOT_GLOBAL = frozenset({ipaddress.ip_address("192.0.0.9"), ipaddress.ip_address("192.0.0.10")})


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to: mapped, translated, NAT64, IPv4-compatible, 6to4 or
    Teredo."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _IPV4_TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in network for network in _IPV4_IN_LAST_32_BITS) and int(ip) & 0xFFFFFFFF > 1:  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:  # 2002:AABB:CCDD::/48 is routed to the IPv4 AA.BB.CC.DD
        return ip.sixtofour
    if ip.teredo is not None:  # (server, client): the client's IPv4 is where the packets go
        return ip.teredo[1]
    return None


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        if (inner := _embedded_ipv4(ip)) is not None:
            ip = inner
    if ip not in _GLOBAL_IN_NOT_GLOBAL and any(ip in network for network in _NOT_GLOBAL):
        return False
    return ip.is_global and not ip.is_multicast


def _not_ascii(host: str) -> str | None:
    """The first character of ``host`` outside ASCII, in words: "“а”, cyrillic small letter a (U+0430)"."""
    for character in host:
        if not character.isascii():
            return f"“{character}”, {unicodedata.name(character, 'a character').lower()} (U+{ord(character):04X})"
    return None


def url_check(url: str) -> str:
    """The URL, stripped, its scheme and host in lower case (both are case-insensitive, RFC 3986
    §3.1 and §3.2.2: HTTPS://EXAMPLE.COM/h is https://example.com/h), if a firm may register it;
    else ``ValidationFailed`` naming the problem."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: said, not a server error
        raise ValidationFailed("The webhook URL is not a valid URL.", detail={"field": "url"}) from None
    prefix = f"{parts.scheme}://{parts.netloc}"  # urlsplit gives the scheme in lower case, the host as typed
    if url[:len(prefix)].lower() == prefix.lower() and not (parts.username or parts.password):  # refused below
        url = prefix.lower() + url[len(prefix):]  # the path and query as typed: they are case-sensitive
        parts = urlsplit(url)
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "A webhook URL starts with http:// or https://."
    elif not parts.hostname:
        problem = "A webhook URL names a host."
    elif parts.username or parts.password:
        problem = "A webhook URL carries no user name or password; the signature authenticates deliveries."
    elif character := _not_ascii(parts.hostname):
        # A look-alike ("exаmple.com" with a Cyrillic а) reads as the firm's host and is another's.
        problem = (f"The webhook URL's host has {character}, not an ASCII character; give an internationalised "
                   "name in its ASCII (punycode, xn--) form.")
    elif len(url) > 500:
        problem = "A webhook URL has at most 500 characters."
    else:
        try:
            port = parts.port  # raises on a port out of range
        except ValueError:
            port = 0
        if port == 0:  # urlsplit accepts port 0, to which nothing can be delivered
            problem = "The webhook URL's port is not a number from 1 to 65535."
    if problem is None and not _private_allowed():
        host = parts.hostname
        if host == "localhost" or host.endswith(".localhost"):
            problem = "A webhook URL may not point at this machine (localhost)."
        else:
            try:
                if not _is_public(host):
                    problem = f"A webhook URL may not point at a private or reserved address ({host})."
            except ValueError:
                pass  # a name: its addresses are checked before each delivery
    if problem:
        raise ValidationFailed(problem, detail={"field": "url"})
    return url


def url_resolve_check(url: str) -> list[str]:
    """Before a delivery: the addresses the host resolves to, every one public (unless allowed). The
    delivery connects to these very addresses: resolving the name again to connect would let a name
    whose answer changes in between (DNS rebinding) pass the check and reach a private address. An
    empty list (private addresses allowed and the name does not resolve): connect by name, and fail."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress(f"not an http(s) URL: {url}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except OSError as exc:
        if _private_allowed():
            return []
        raise UnsafeAddress(f"the host {parts.hostname} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))  # in the resolver's order, once each
    if _private_allowed():
        return addresses
    private = sorted(address for address in addresses if not _is_public(address))
    if private:
        raise UnsafeAddress(f"the host {parts.hostname} resolves to a private or reserved address "
                            f"({', '.join(private)}); refused")
    return addresses


def url_for_audit(url: str) -> str:
    """The URL as the audit trail keeps it: scheme, host and port, the path's first segment when more
    follow, the rest masked (``https://hooks.slack.com/services/…``). For chat tools and no-code hooks
    the path (or the query) is the credential, and the audit is read by people (compliance) who may
    not see the Webhooks pages; those pages show the whole URL to a firm admin."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a URL url_check accepts; say nothing about its port
        port = ""
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) > 1:
        path = f"/{segments[0]}/…"
    else:  # a single segment may itself be the token
        path = "/…" if segments or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{host}{port}{path}"

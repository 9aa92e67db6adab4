"""Where a firm's pages (or the provider console) are reached from outside a request: the links in
e-mails and in command output. Inside a request, the request's own host and port say it."""

from __future__ import annotations

from django.conf import settings

__all__ = ["site_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def site_url(domain: str | None = None, path: str = "/") -> str:
    """``<SITE_SCHEME>://<domain>[:<SITE_PORT>]<path>``; the provider console's domain when ``domain`` is
    None; the port only when it is not the scheme's default (``SITE_PORT`` 0: the default)."""
    scheme, port = settings.SITE_SCHEME, settings.SITE_PORT
    host = domain or settings.BASE_DOMAIN
    netloc = host if not port or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"

"""Which firm a request is for: its host, normalised before the lookup.

Host names are case-insensitive and may end in a dot (a fully qualified name, RFC 1034 §3.1), so
``ACME.Example.com.`` is the same firm as ``acme.example.com``. Django's own host validation already
reads them so; django-tenants looks the raw text up, which would answer 404 for a valid host.
"""

from django.http.request import split_domain_port
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import remove_www

__all__ = ["FirmHostMiddleware", "host_normalise"]


def host_normalise(host: str) -> str:
    """``ACME.localhost.:8000`` -> ``acme.localhost`` (lower case, no port, no trailing dot)."""
    domain, _port = split_domain_port(host)
    return domain


class FirmHostMiddleware(TenantMainMiddleware):
    @staticmethod
    def hostname_from_request(request):
        # get_host() refuses a host outside ALLOWED_HOSTS (DisallowedHost: answered 404 upstream).
        return remove_www(host_normalise(request.get_host()))

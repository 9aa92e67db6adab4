from django.db import connection
from django_tenants.utils import get_public_schema_name


def firm(request):
    """The firm whose host this is (None on the provider console), and what the signed-in user may
    do there (``can.approve``...), for every template: the navigation shows only what works."""
    tenant = getattr(request, "tenant", None)
    on_provider_host = connection.schema_name == get_public_schema_name()
    context = {"firm": None if on_provider_host else tenant, "on_provider_host": on_provider_host, "can": {}}
    user = getattr(request, "user", None)
    if not on_provider_host and user is not None and user.is_authenticated:
        from tenants.permissions import capabilities_of

        context["can"] = {c.value: True for c in capabilities_of(user)}
    if on_provider_host and user is not None and user.is_authenticated:
        from tenants.security.access import user_is_security_admin

        context["is_provider_admin"] = user_is_security_admin(user)
    return context

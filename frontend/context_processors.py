from django.db import connection
from django_tenants.utils import get_public_schema_name


def firm(request):
    """The firm whose host this is (None on the provider console), for every template."""
    tenant = getattr(request, "tenant", None)
    on_provider_host = connection.schema_name == get_public_schema_name()
    return {"firm": None if on_provider_host else tenant, "on_provider_host": on_provider_host}

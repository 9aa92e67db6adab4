"""Who looks after sign-in security where: a firm's admins in the firm (users and roles are theirs),
provider admins on the provider's host."""

from django.db import connection
from django_tenants.utils import get_public_schema_name

from tenants.errors import PermissionDenied
from tenants.roles import ProviderRole
from tenants.selectors import user_roles

__all__ = ["security_admin_require", "user_is_security_admin"]


def user_is_security_admin(user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if connection.schema_name == get_public_schema_name():
        return user.is_superuser or ProviderRole.PROVIDER_ADMIN in user_roles(user, ProviderRole)
    from tenants.permissions import Capability, user_can

    return user_can(user, Capability.MANAGE_USERS)


def security_admin_require(user) -> None:
    if not user_is_security_admin(user):
        raise PermissionDenied("Only a firm admin (a provider admin on the provider's site) does this.",
                               detail={"capability": "manage_users"})

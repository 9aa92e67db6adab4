from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Firms (tenants)"

    def ready(self):
        from .security.sign_ins import connect

        connect()  # sign-ins and lockouts into the audit trail
        post_migrate.connect(_role_groups_after_migrate, dispatch_uid="tenants.role_groups_sync")


def _role_groups_after_migrate(sender, using="default", **kwargs):
    """After a firm schema's last app with admin models has its permissions: the roles' groups."""
    from django.db import connection
    from django_tenants.utils import get_public_schema_name

    if sender.label != "rebalancing" or connection.schema_name == get_public_schema_name():
        return
    from django.contrib.auth.management import create_permissions

    from .services import role_groups_sync

    # This receiver is connected before django.contrib.auth's (tenants comes first in the apps), so
    # the app's permissions are made here first (idempotent) for the groups to be given them.
    create_permissions(sender, verbosity=0, using=using)
    role_groups_sync()

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Firms (tenants)"

    def ready(self):
        from .security.sign_ins import connect

        connect()  # sign-ins and lockouts into the audit trail

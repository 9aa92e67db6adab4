from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "tenants.api_keys"
    label = "api_keys"
    verbose_name = "API keys"

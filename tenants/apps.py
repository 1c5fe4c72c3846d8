from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """Organizations, their members and provider channels."""

    name = "tenants"
    verbose_name = "Tenants and channels"

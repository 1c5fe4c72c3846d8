from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class TenantsConfig(AppConfig):
    """Organizations, their members and provider channels."""

    name = "tenants"
    verbose_name = "Tenants and channels"

    def ready(self) -> None:
        from tenants.models import Channel
        from tenants.selectors import channel_webhook_routes_forget

        # However a channel changes (service, admin, shell), this process stops using
        # what it remembered of its webhook route. Other processes wait out the TTL.
        def forget_routes(**kwargs) -> None:
            channel_webhook_routes_forget()

        post_save.connect(forget_routes, sender=Channel, weak=False, dispatch_uid="forget_routes")
        post_delete.connect(
            forget_routes, sender=Channel, weak=False, dispatch_uid="forget_routes_on_delete"
        )

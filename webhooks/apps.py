from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Inbound webhook store, processing and the failed queue."""

    name = "webhooks"
    verbose_name = "Webhooks"

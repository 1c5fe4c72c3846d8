from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """One table of what happened, written inside the transaction of each change."""

    name = "outbox"
    verbose_name = "Outbox"

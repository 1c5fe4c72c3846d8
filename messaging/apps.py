from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Sends, rate limits and idempotency."""

    name = "messaging"
    verbose_name = "Outbound messaging"

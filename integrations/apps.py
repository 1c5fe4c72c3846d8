from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The way out: event subscriptions and their deliveries, the bot hand-off, the
    live stream and reply notifications, all read from the outbox."""

    name = "integrations"
    verbose_name = "Integrations"

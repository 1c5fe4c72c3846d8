from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The way out: event subscriptions and their deliveries, the bot hand-off, the
    live stream and reply notifications, all read from the outbox."""

    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from conversations.bots import responder_channels_register
        from conversations.erasure import erasure_step_register
        from integrations.bots import responder_channels
        from integrations.retention import deliveries_erase

        # A forgotten contact's deliveries go: their payloads quote the messages.
        erasure_step_register("deliveries", deliveries_erase)

        # The admin's "bot" column and hand-off buttons ask which channels have one.
        responder_channels_register(responder_channels)

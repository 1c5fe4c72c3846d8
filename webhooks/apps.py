from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Inbound webhook store, processing and the failed queue."""

    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # Conversations' erasure and retention cannot call webhooks (it sits below):
        # webhooks adds its steps to them.
        from conversations.erasure import erasure_step_register
        from conversations.retention import retention_step_register
        from webhooks.erasure import webhook_bodies_redact_before, webhook_bodies_redact_for_contact

        erasure_step_register("webhook_bodies", webhook_bodies_redact_for_contact)
        retention_step_register("webhook_bodies", webhook_bodies_redact_before)

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Sends, rate limits and idempotency."""

    name = "messaging"
    verbose_name = "Outbound messaging"

    def ready(self) -> None:
        # The answers kept for Idempotency-Key headers hold the message as it was sent;
        # LinkedIn invitations and relations name the person.
        from conversations.erasure import erasure_step_register
        from messaging.erasure import linkedin_erase
        from messaging.idempotency import idempotency_answers_erase

        erasure_step_register("idempotency_answers", idempotency_answers_erase)
        erasure_step_register("linkedin", linkedin_erase)

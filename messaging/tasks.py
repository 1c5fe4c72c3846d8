from celery import shared_task

from messaging import auto_replies, invitations, services
from messaging.typing_indicators import typing_indicator_show


# No result stored: the Message row is the record (a result row per send halved the
# send rate, bench/outbound.py).
@shared_task(bind=True, max_retries=services.SEND_RETRIES, ignore_result=True)
def message_send_task(self, message_id: int) -> str:
    """Hand one queued message to its provider; transient errors retry in seconds."""
    delivery = services.message_deliver(message_id=message_id, attempt=self.request.retries)
    if delivery.retry_in is not None:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.outcome


# Not retried: the indicator lives 25 s, and a retry would come after the answer.
@shared_task(ignore_result=True)
def typing_indicator_task(message_id: int) -> str:
    """Show the customer the typing indicator on their message (a responder is on it)."""
    return typing_indicator_show(message_id=message_id).value


@shared_task(ignore_result=True)
def auto_replies_send_task(auto_reply_ids: list[int]) -> None:
    """Send the keyword replies a webhook batch recorded, on the outbound queue: the
    webhook worker goes on applying (each reply is a send with its checks)."""
    auto_replies.auto_replies_send(auto_reply_ids)


@shared_task
def messages_queued_sweep_task() -> dict:
    # Keyword auto-replies whose sender died ride on the same sweep (and schedule).
    return {
        "queued_again": services.messages_queued_sweep(),
        "auto_replies_sent": auto_replies.auto_replies_sweep(),
    }


@shared_task
def idempotency_keys_purge_task() -> dict:
    return {"deleted": services.idempotency_keys_purge()}


@shared_task(bind=True, max_retries=services.SEND_RETRIES, ignore_result=True)
def invitation_send_task(self, invitation_id: int) -> str:
    """Send one queued LinkedIn invitation; transient errors retry in seconds."""
    delivery = invitations.invitation_deliver(
        invitation_id=invitation_id, attempt=self.request.retries
    )
    if delivery.retry_in is not None:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.outcome


@shared_task
def invitations_queued_sweep_task() -> dict:
    return {"queued_again": invitations.invitations_queued_sweep()}

"""Outbound sends: the checks (messaging.checks, in the order given there), then a
queued message and a task that hands it to the provider.

The message row is created `queued` in the caller's transaction; the send task is
queued once that commits. What the provider answers is recorded by `message_deliver`
(messaging.delivery), which first makes the contact checks again (a STOP filed in
between stops it).
"""

import logging
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from conversations import services as conversations
from conversations.models import Conversation, Direction, Message
from messaging.checks import Exemption, Recipient, check_active, standing
from messaging.delivery import (  # noqa: F401 - the send task's, importable from here
    MAX_RETRY_WAIT,
    NO_LINKEDIN_ID,
    SEND_CLAIM_LEASE,
    SEND_RETRIES,
    Delivery,
    message_deliver,
)
from messaging.idempotency import IDEMPOTENCY_KEY_TTL
from messaging.limits import send_admit
from messaging.models import IdempotencyKey
from messaging.prepare import Prepared, template_prepared, text_prepared
from messaging.refusals import refusals_counted
from providers.events import ContactRef, MessageStatus, MessageType
from providers.phones import InvalidPhoneNumberError, to_e164, valid_e164
from tenants.errors import field_error
from tenants.models import Channel

logger = logging.getLogger(__name__)

# A send task normally starts within seconds; a message queued longer than this was
# lost on the way (broker down) and the sweep queues it again.
SEND_TASK_GRACE = timedelta(minutes=2)


def message_send_text(
    *,
    conversation: Conversation,
    text: str,
    reply_to: str = "",
    sent_by=None,
    health_check: bool = False,
) -> Message:
    """`sent_by`: the person who wrote it (the admin's composer), kept with it.
    `health_check`: a webhook health check to the business's own test number."""
    exempt = Exemption.HEALTH_CHECK if health_check else Exemption.NONE
    with _counted(conversation, health_check):
        check_active(conversation.channel)
        prepared = text_prepared(
            conversation=conversation,
            text=text,
            contact=standing(Recipient.of(conversation), exempt=exempt),
            exempt=exempt,
            reply_to=reply_to,
            sent_by=sent_by,
        )
        return _queued(conversation, prepared)


def message_send_template(
    *,
    conversation: Conversation,
    name: str,
    language: str,
    parameters: dict,
    sent_by=None,
    health_check: bool = False,
) -> Message:
    """An approved template, at any time: templates are what may be sent when the
    window is closed. A MARKETING template is refused to a marketing opt-out too."""
    exempt = Exemption.HEALTH_CHECK if health_check else Exemption.NONE
    with _counted(conversation, health_check):
        check_active(conversation.channel)
        prepared = template_prepared(
            conversation=conversation,
            name=name,
            language=language,
            parameters=parameters,
            contact=standing(Recipient.of(conversation), exempt=exempt),
            exempt=exempt,
            sent_by=sent_by,
        )
        return _queued(conversation, prepared)


def _counted(conversation: Conversation, health_check: bool):
    """A refusal is counted for the reports (messaging.refusals); a health check's
    is the operator's test, not a send to a customer."""
    return nullcontext() if health_check else refusals_counted(conversation)


def _queued(conversation: Conversation, prepared: Prepared) -> Message:
    """The limits last (a refused send must not use up the channel's allowance), then
    the queued message and its send task once the caller commits."""
    send_admit(channel=conversation.channel)
    message = conversations.message_outbound_create(
        conversation=conversation,
        type=prepared.type,
        text=prepared.text,
        payload=prepared.payload,
        context=prepared.context,
    )
    deliver_on_commit(message)
    return message


def message_send_to_phone(
    *,
    channel: Channel,
    phone: str,
    text: str = "",
    template: dict | None = None,
    health_check: bool = False,
) -> Message:
    """Send to a number: its contact and conversation are found, or created, first.
    `template` is {"name", "language", "parameters"}; otherwise `text` is sent.

    The number must be a valid one in its region, not only well-formed: a send is
    where a mistyped number would become a contact. A health check's test number is
    only checked for its form: providers' test numbers (Meta's +1 555 ones) are not
    assigned numbers. A refused send leaves no contact behind (the block rolls back)."""
    check_active(channel)
    check = to_e164 if health_check else valid_e164
    try:
        number = check(phone)
    except InvalidPhoneNumberError as exc:
        raise field_error("to", str(exc), code="invalid_phone") from exc
    with transaction.atomic():
        ref = ContactRef(phone=number)
        conversation = conversations.conversation_with(channel=channel, ref=ref)
        if template:
            return message_send_template(
                conversation=conversation, **template, health_check=health_check
            )
        return message_send_text(conversation=conversation, text=text, health_check=health_check)


def message_resend(*, message: Message, sent_by=None) -> Message:
    """A failed outbound message, sent again as a new message under today's checks.

    A new message, not the old one put back in the queue: the failed row is the
    provider's verdict (its status never moves backwards, its error stays readable),
    and a resend is a new attempt that may itself be refused now (the window has
    closed, the template was paused, the channel is at its limit)."""
    if message.direction != Direction.OUTBOUND or message.status != MessageStatus.FAILED:
        raise field_error("message", "Only a failed outbound message can be sent again.")
    conversation = message.conversation
    if message.type == MessageType.TEMPLATE:
        template = message.payload.get("template", {})
        return message_send_template(
            conversation=conversation,
            name=template.get("name", ""),
            language=template.get("language", ""),
            parameters=message.payload.get("parameters", {}),
            sent_by=sent_by,
        )
    if message.type == MessageType.TEXT:
        return message_send_text(
            conversation=conversation,
            text=message.text,
            reply_to=message.context.get("message_id", ""),
            sent_by=sent_by,
        )
    raise field_error("message", f"A {message.type} message cannot be sent again from here.")


# --- delivery (the send task: messaging.delivery) ---------------------------------


def messages_queued_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Queue the send of messages whose task was lost (the broker was down when they
    were created) or whose worker died holding them. Returns how many."""
    now = now or timezone.now()
    ids = list(
        _unsent()
        .filter(
            Q(send_claimed_at__isnull=True, created_at__lt=now - SEND_TASK_GRACE)
            | Q(send_claimed_at__lt=now - SEND_CLAIM_LEASE)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in ids:
        _deliver_later(message_id)
    return len(ids)


def _unsent():
    return Message.objects.filter(
        direction=Direction.OUTBOUND, status=MessageStatus.QUEUED, provider_message_id=""
    )


def deliver_on_commit(message: Message) -> None:
    transaction.on_commit(lambda: _deliver_later(message.pk))


def _deliver_later(message_id: int, *, countdown: float | None = None, retries: int = 0) -> None:
    """Queue the send (`retries`: as its task's retry number, for a message a batch
    set aside); if the broker is down the message stays queued and the sweep queues it
    once the broker is back."""
    from messaging.tasks import message_send_task  # tasks import this module

    try:
        message_send_task.apply_async((message_id,), countdown=countdown, retries=retries)
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning("Broker unavailable; message %s waits for the sweep: %s", message_id, exc)


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Forget the answers to idempotent requests once IDEMPOTENCY_KEY_TTL has passed."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted

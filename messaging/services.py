"""Outbound sends: the checks (messaging.checks, in the order given there), then a
queued message and a task that hands it to the provider.

The message row is created `queued` in the caller's transaction; the send task is
queued once that commits. What the provider answers is recorded by `message_deliver`,
which first makes the contact checks again (a STOP filed in between stops it).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from conversations import services as conversations
from conversations.models import (
    ContactIdentity,
    Conversation,
    Direction,
    IdentityKind,
    Message,
)
from messaging.checks import Exemption, Recipient, check_active, may_still_contact, standing
from messaging.claim import message_claim_for_send
from messaging.idempotency import IDEMPOTENCY_KEY_TTL
from messaging.limits import send_admit
from messaging.models import IdempotencyKey
from messaging.prepare import Prepared, template_prepared, text_prepared
from providers import Provider
from providers.events import ContactRef, MessageStatus, MessageType
from providers.http import ProviderError
from providers.phones import InvalidPhoneNumberError, to_e164, valid_e164
from tenants.clients import pooled_send_client
from tenants.errors import ApplicationError, field_error
from tenants.models import Channel

logger = logging.getLogger(__name__)

# Transient provider errors are retried this many times, waiting 2, 4, 8 s (or what
# the provider's Retry-After asks, up to a minute): longer waits belong to the
# failed-message view, not to a worker holding the send.
SEND_RETRIES = 3
MAX_RETRY_WAIT = 60.0
# A send task normally starts within seconds; a message queued longer than this was
# lost on the way (broker down) and the sweep queues it again.
SEND_TASK_GRACE = timedelta(minutes=2)
# A claim this old is a worker that died mid-send.
SEND_CLAIM_LEASE = timedelta(minutes=5)
# A LinkedIn message that can start no chat: the contact has no provider id there.
NO_LINKEDIN_ID = "no_linkedin_id"


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


# --- delivery (the send task) -------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    outcome: str  # "accepted", "failed", "retry", "skipped"
    retry_in: float | None = None


def message_deliver(*, message_id: int, attempt: int = 0) -> Delivery:
    """Hand a queued message to its provider and record the answer.

    The message is claimed first: a second run of the task (a redelivery, the sweep)
    finds it claimed, or no longer queued, and sends nothing. A claim older than
    SEND_CLAIM_LEASE is a worker that died; the sweep sends that message again.
    """
    # Claimed and loaded in one statement (messaging.claim); the claim commits first.
    message = message_claim_for_send(
        message_id=message_id, now=timezone.now(), lease=SEND_CLAIM_LEASE
    )
    if message is None:
        return Delivery("skipped")
    refusal = may_still_contact(message)
    if refusal is not None:
        return _withheld(message, refusal)
    try:
        sent = _send(message)
    except ProviderError as error:
        return _refused(message, error, attempt)
    conversations.message_outbound_accepted(
        message_id=message.pk,
        provider_message_id=sent.message_id,
        status=sent.status,
        channel_id=message.channel_id,
        conversation_id=message.conversation_id,
        sent=message,
    )
    return Delivery("accepted")


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


def _release(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(send_claimed_at=None)


def _send(message: Message):
    if _starts_a_chat(message):
        return _start_chat(message)
    to = _recipient(message)
    # Kept open between sends: a client per send paid a connection (and for a real
    # provider a TLS handshake) per send.
    client = pooled_send_client(message.channel)
    if message.type == MessageType.TEMPLATE:
        template = message.payload["template"]
        return client.send_template(
            to=to,
            name=template["name"],
            language=template["language"],
            components=template["components"],
        )
    reply_to = message.context.get("message_id", "")
    return client.send_text(to=to, text=message.text, reply_to=reply_to)


def _starts_a_chat(message: Message) -> bool:
    """A LinkedIn message to someone the account has no chat with yet (a campaign's
    first message after an accepted invitation): there is no chat id to send into."""
    return (
        Provider(message.channel.provider) == Provider.UNIPILE
        and not message.conversation.provider_conversation_ref
    )


def _start_chat(message: Message):
    """Open the 1:1 chat with the contact's LinkedIn provider id by sending this message,
    and keep the chat's id on the conversation: later messages go into it, and the
    chat's webhooks (which name the same provider id) file into the same conversation."""
    conversation = message.conversation
    provider_id = _provider_id(conversation.contact_id, message.channel_id)
    if not provider_id:
        # Permanent: no retry finds an id; the message fails with this code and title.
        raise ProviderError(
            code=NO_LINKEDIN_ID,
            title="No chat with this contact yet, and no LinkedIn id to start one "
            "(send an invitation first, or wait for their first message).",
        )
    client = pooled_send_client(message.channel)
    started = client.start_chat(attendee_provider_id=provider_id, text=message.text)
    conversations.conversation_ref_record(conversation_id=conversation.pk, ref=started.chat_id)
    return started.sent


def _provider_id(contact_id: int, channel_id: int) -> str:
    return (
        ContactIdentity.objects.filter(
            contact_id=contact_id, channel_id=channel_id, kind=IdentityKind.PROVIDER_ID
        )
        .values_list("value", flat=True)
        .first()
        or ""
    )


def _refused(message: Message, error: ProviderError, attempt: int) -> Delivery:
    if error.transient and attempt < SEND_RETRIES:
        wait = min(error.retry_after or 2.0 ** (attempt + 1), MAX_RETRY_WAIT)
        _release(message)
        logger.warning("Send of message %s failed (%s), retrying in %.1fs", message.pk, error, wait)
        return Delivery("retry", retry_in=wait)
    logger.warning("Send of message %s failed for good: %s", message.pk, error)
    conversations.message_outbound_failed(
        message_id=message.pk, error_code=error.code, error_title=error.title
    )
    return Delivery("failed")


def _withheld(message: Message, refusal: ApplicationError) -> Delivery:
    """The contact opted out, or was listed, after the message was queued: it fails
    with the refusal's code, never reaching the provider."""
    logger.info("Message %s withheld: %s", message.pk, refusal.message)
    conversations.message_outbound_failed(
        message_id=message.pk, error_code=refusal.code.value, error_title=refusal.message
    )
    return Delivery("failed")


def _recipient(message: Message) -> str:
    """Who the provider should deliver to: the chat for LinkedIn (Unipile; one with
    no chat yet starts it, see _start_chat), the
    WhatsApp id Meta gave us for WhatsApp, else the contact's phone number."""
    conversation = message.conversation
    provider = Provider(message.channel.provider)
    if provider == Provider.UNIPILE:
        return conversation.provider_conversation_ref
    if provider == Provider.WHATSAPP_CLOUD:
        wa_id = message.recipient_wa_id  # read with the message (messaging.claim)
        if wa_id:
            return f"+{wa_id.lstrip('+')}"
    return conversation.contact.phone


def deliver_on_commit(message: Message) -> None:
    transaction.on_commit(lambda: _deliver_later(message.pk))


def _deliver_later(message_id: int) -> None:
    """Queue the send; if the broker is down the message stays queued and the sweep
    queues it once the broker is back."""
    from messaging.tasks import message_send_task  # tasks import this module

    try:
        message_send_task.delay(message_id)
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning("Broker unavailable; message %s waits for the sweep: %s", message_id, exc)


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Forget the answers to idempotent requests once IDEMPOTENCY_KEY_TTL has passed."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted

"""The send task's work: hand queued messages to their provider and record the answers.

A task claims its own message and up to SEND_BATCH_SIZE - 1 other queued messages of
the same channel that no task has claimed yet (messaging.claim), checks their contacts
again in one query, sends them one after another on the channel's pooled client, and
records every accepted one in one transaction (conversations'
`messages_outbound_accepted`). The siblings' own tasks find them claimed and send
nothing. Each message keeps its own outcome: a contact who opted out or was listed in
the meantime fails only that message; a permanent refusal fails only it; a transient
one sets only it aside for a retry (its own task's, or one queued for it).

Per send that saves most of a task's database work (bench/outbound.py: one claim, one
contact check and one accepted transaction a batch instead of a send).
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from conversations import services as conversations
from conversations.models import ContactIdentity, IdentityKind, Message
from messaging.checks import may_still_contact_all
from messaging.claim import messages_claim_for_send
from providers import Provider
from providers.events import MessageType
from providers.http import ProviderError
from tenants.clients import pooled_send_client
from tenants.errors import ApplicationError

logger = logging.getLogger(__name__)

# Transient provider errors are retried this many times, waiting 2, 4, 8 s (or what
# the provider's Retry-After asks, up to a minute): longer waits belong to the
# failed-message view, not to a worker holding the send.
SEND_RETRIES = 3
MAX_RETRY_WAIT = 60.0
# A claim this old is a worker that died mid-send.
SEND_CLAIM_LEASE = timedelta(minutes=5)
# A batch stops taking its next sibling after this long (a slow provider): the rest go
# back to their own tasks, well before the task's time limit (TASK_TIME_LIMITS).
SEND_BATCH_SECONDS = 20.0
# A LinkedIn message that can start no chat: the contact has no provider id there.
NO_LINKEDIN_ID = "no_linkedin_id"


@dataclass(frozen=True)
class Delivery:
    outcome: str  # "accepted", "failed", "retry", "skipped"
    retry_in: float | None = None


def message_deliver(*, message_id: int, attempt: int = 0) -> Delivery:
    """Hand a queued message, and the batch claimed with it, to the provider; the
    outcome returned is the task's own message's.

    The messages are claimed first, and the claim commits before anything is sent: a
    second run of a task (a redelivery, the sweep) finds its message claimed, or no
    longer queued, and sends nothing. A claim older than SEND_CLAIM_LEASE is a worker
    that died; the sweep sends that message again."""
    batch = messages_claim_for_send(
        message_id=message_id,
        now=timezone.now(),
        lease=SEND_CLAIM_LEASE,
        siblings=max(settings.SEND_BATCH_SIZE - 1, 0),
    )
    if not batch:
        return Delivery("skipped")
    refusals = may_still_contact_all(batch)
    accepted: list[conversations.Accepted] = []
    outcomes: dict[int, Delivery] = {}
    started = time.monotonic()
    try:
        for message in batch:
            own = message.pk == message_id
            if not own and time.monotonic() - started > SEND_BATCH_SECONDS:
                _give_back(message)
            elif refusals[message.pk] is not None:
                outcomes[message.pk] = _withheld(message, refusals[message.pk])
            else:
                outcomes[message.pk] = _sent(message, accepted, attempt if own else 0, own=own)
    finally:
        # Whatever stopped the batch (a time limit, an error of ours), what the
        # provider accepted is recorded: left claimed, the sweep would send it again.
        _record(accepted)
    return outcomes[message_id]


def _sent(message: Message, accepted: list, attempt: int, *, own: bool) -> Delivery:
    try:
        sent = _send(message)
    except ProviderError as error:
        return _refused(message, error, attempt, own=own)
    accepted.append(conversations.Accepted(message, sent.message_id, sent.status))
    return Delivery("accepted")


def _record(accepted: list) -> None:
    """The batch's accepted messages in one transaction; should that fail (a message
    whose id breaks a rule), each in its own, so that one does not keep the others
    unrecorded (and sent again by the sweep)."""
    if not accepted:
        return
    try:
        conversations.messages_outbound_accepted(accepted=accepted)
    except DatabaseError:
        if len(accepted) < 2:
            raise
        logger.exception("Recording a batch of %s sends failed; one at a time", len(accepted))
    else:
        return
    failure = None
    for item in accepted:
        try:
            conversations.messages_outbound_accepted(accepted=[item])
        except DatabaseError as error:
            logger.exception("Recording the send of message %s failed", item.message.pk)
            failure = failure or error
    if failure is not None:
        raise failure


def _set_aside(message: Message) -> None:
    """Its lease ends now: its own task's retry (or the sweep) may claim it again, but
    no batch takes it as a sibling (those were never claimed), so it keeps its wait."""
    Message.objects.filter(pk=message.pk).update(send_claimed_at=timezone.now() - SEND_CLAIM_LEASE)


def _give_back(message: Message) -> None:
    """A sibling the batch had no time left for, never tried: unclaimed again, and its
    task queued again (the one it had may have run and found it claimed)."""
    from messaging import services  # services imports this module

    Message.objects.filter(pk=message.pk).update(send_claimed_at=None)
    services._deliver_later(message.pk)


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
    and keep the chat's id on the conversation: later messages go into it (in this batch
    too: its messages of one conversation share the instance), and the chat's webhooks
    (which name the same provider id) file into the same conversation."""
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
    conversation.provider_conversation_ref = (
        conversation.provider_conversation_ref or (started.chat_id[:255])
    )
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


def _refused(message: Message, error: ProviderError, attempt: int, *, own: bool) -> Delivery:
    if error.transient and attempt < SEND_RETRIES:
        wait = min(error.retry_after or 2.0 ** (attempt + 1), MAX_RETRY_WAIT)
        _set_aside(message)
        logger.warning("Send of message %s failed (%s), retrying in %.1fs", message.pk, error, wait)
        if not own:
            _retry_later(message.pk, wait, attempt + 1)
        return Delivery("retry", retry_in=wait)
    logger.warning("Send of message %s failed for good: %s", message.pk, error)
    conversations.message_outbound_failed(
        message_id=message.pk, error_code=error.code, error_title=error.title
    )
    return Delivery("failed")


def _retry_later(message_id: int, wait: float, retries: int) -> None:
    """A sibling's retry: its task again after the wait, counted as its next attempt
    (as Celery counts the task's own retries)."""
    from messaging import services  # services imports this module

    services._deliver_later(message_id, countdown=wait, retries=retries)


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

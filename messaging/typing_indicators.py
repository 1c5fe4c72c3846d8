"""The typing indicator: WhatsApp shows the customer "typing…" while an automated
responder prepares its answer (integrations emits a burst, then queues this).

It is a send like any other as far as the channel's limits go (Meta counts it against
the number's throughput), so it is admitted through the channel's limiter; it does not
use up a daily cap (it is not a message). It lives 25 s at most: one that cannot go
now is dropped, with a log line, rather than retried after the answer has come.
"""

import logging
from enum import StrEnum

from conversations.models import Message
from conversations.window import window_is_open
from messaging.checks import check_active
from messaging.limits import indicator_admit
from providers import Provider
from providers.http import ProviderError
from tenants.clients import whatsapp_client_for
from tenants.errors import ApplicationError

logger = logging.getLogger(__name__)


class TypingOutcome(StrEnum):
    SHOWN = "shown"
    NOT_WHATSAPP = "not_whatsapp"  # SMS and LinkedIn have no such thing
    CHANNEL_OFF = "channel_off"
    WINDOW_CLOSED = "window_closed"  # Meta refuses it outside the 24-hour window
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"  # the provider refused or did not answer
    GONE = "gone"  # the message was erased since


def typing_indicator_show(*, message_id: int) -> TypingOutcome:
    """Mark the customer's message read and show the typing indicator on it."""
    message = Message.objects.select_related("conversation__channel").filter(pk=message_id).first()
    if message is None or not message.provider_message_id:
        return TypingOutcome.GONE
    conversation = message.conversation
    channel = conversation.channel
    if channel.provider != Provider.WHATSAPP_CLOUD:
        return TypingOutcome.NOT_WHATSAPP
    try:
        check_active(channel)
    except ApplicationError:
        return TypingOutcome.CHANNEL_OFF
    if not window_is_open(conversation):
        return TypingOutcome.WINDOW_CLOSED
    try:
        indicator_admit(channel=channel)
    except ApplicationError as refused:
        logger.info("Typing indicator on channel %s not shown: %s", channel.pk, refused)
        return TypingOutcome.RATE_LIMITED
    try:
        with whatsapp_client_for(channel) as client:
            client.mark_read(message_id=message.provider_message_id, typing=True)
    except ProviderError as failed:
        logger.warning("Typing indicator for message %s failed: %s", message_id, failed)
        return TypingOutcome.FAILED
    return TypingOutcome.SHOWN

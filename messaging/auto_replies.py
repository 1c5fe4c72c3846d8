"""Keyword auto-replies (conversations.keywords records them): sent through the normal
send path, exactly once each.

Exempt from the 24-hour window (it answers the customer's own message) and from the
consent check (an opt-out confirmation goes to someone who just opted out), but not
from the channel being active, the text's length or the channel's limits.

Exactly once: the pending AutoReply row is claimed (row lock, skipping one another
worker holds) and its outbound message created in one transaction, which also marks
the row sent. A second sender (a redelivered webhook's run, another worker, the sweep)
finds it locked or no longer pending and creates nothing. A sender that dies before
committing leaves the row pending; the sweep sends it.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from conversations import services as conversations
from conversations.consent_models import AutoReply, AutoReplyState, ConsentScope
from conversations.keywords import REPLY_MAX_AGE
from conversations.models import Message
from messaging.checks import Exemption, Recipient, check_active, check_may_contact, check_text
from messaging.limits import send_admit
from messaging.services import deliver_on_commit
from providers.events import MessageType
from tenants.errors import ApplicationError, ErrorCode

logger = logging.getLogger(__name__)

# A reply is normally sent right after its batch commits; the sweep leaves younger
# ones to that sender (racing it would be safe, only wasted work).
SWEEP_GRACE = timedelta(minutes=1)
# Waits between attempts refused by the channel's limits.
RETRY_MINUTES = (1, 2, 4, 8, 16)


def message_send_auto_reply(*, auto_reply_id: int, now: datetime | None = None) -> Message | None:
    """Send one pending auto-reply. Returns the outbound message, or None when there
    is nothing to send (sent or claimed by another, skipped, or postponed)."""
    now = now or timezone.now()
    with transaction.atomic():
        reply = (
            AutoReply.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "conversation__channel")
            .filter(pk=auto_reply_id, state=AutoReplyState.PENDING)
            .first()
        )
        if reply is None:
            return None
        if now - reply.created_at > REPLY_MAX_AGE:
            _give_up(reply, "Too late: the keyword was answered by nobody for a day.")
            return None
        try:
            _admit(reply)
        except ApplicationError as error:
            _refused(reply, error, now)
            return None
        message = conversations.message_outbound_create(
            conversation=reply.conversation,
            type=MessageType.TEXT,
            text=reply.text,
            payload={
                "auto_reply": {
                    "keyword_message_id": reply.keyword_message_id,
                    "keyword_class": reply.keyword_class,
                },
                "exempt": Exemption.AUTO_REPLY.value,
            },
        )
        reply.state, reply.reply_message = AutoReplyState.SENT, message
        reply.attempts += 1
        reply.save(update_fields=["state", "reply_message", "attempts", "updated_at"])
        deliver_on_commit(message)
    return message


def auto_replies_send(auto_reply_ids: list[int]) -> None:
    """Send the replies a batch recorded (called once it committed). A failure here
    loses nothing: the rows stay pending for the sweep."""
    for auto_reply_id in auto_reply_ids:
        try:
            message_send_auto_reply(auto_reply_id=auto_reply_id)
        except Exception:
            logger.exception("Auto-reply %s not sent now; the sweep sends it", auto_reply_id)


def auto_replies_queue(auto_reply_ids: list[int]) -> None:
    """Hand the replies a batch recorded to the outbound queue (called once the batch
    committed). With the broker down they stay pending for the sweep."""
    from messaging.tasks import auto_replies_send_task  # tasks import this module

    try:
        auto_replies_send_task.delay(auto_reply_ids)
    except (KombuOperationalError, RedisError, OSError) as exc:
        logger.warning(
            "Broker unavailable; %d auto-replies wait for the sweep: %s", len(auto_reply_ids), exc
        )


def auto_replies_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send pending replies whose sender died or whose wait is over. Returns how many
    were sent."""
    now = now or timezone.now()
    ids = list(
        AutoReply.objects.filter(
            state=AutoReplyState.PENDING,
            next_attempt_at__lte=now,
            created_at__lt=now - SWEEP_GRACE,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(message_send_auto_reply(auto_reply_id=pk, now=now) is not None for pk in ids)


def _admit(reply: AutoReply) -> None:
    check_active(reply.channel)
    check_text(reply.channel, reply.text)
    # The do-not-contact list still applies: the business asked never to write there.
    check_may_contact(
        Recipient.of(reply.conversation), scope=ConsentScope.SERVICE, exempt=Exemption.AUTO_REPLY
    )
    with transaction.atomic():  # a refusal leaves the claim's transaction usable
        send_admit(channel=reply.channel)


def _refused(reply: AutoReply, error: ApplicationError, now: datetime) -> None:
    if error.code != ErrorCode.RATE_LIMITED or reply.attempts >= len(RETRY_MINUTES):
        _give_up(reply, error.message)
        return
    wait = max(
        timedelta(minutes=RETRY_MINUTES[reply.attempts]),
        timedelta(seconds=float(error.details.get("retry_after") or 0)),
    )
    reply.attempts += 1
    reply.next_attempt_at = now + wait
    reply.last_error = error.message[:500]
    reply.save(update_fields=["attempts", "next_attempt_at", "last_error", "updated_at"])


def _give_up(reply: AutoReply, reason: str) -> None:
    logger.warning("Auto-reply %s not sent: %s", reply.pk, reason)
    reply.state, reply.last_error = AutoReplyState.SKIPPED, reason[:500]
    reply.save(update_fields=["state", "last_error", "updated_at"])

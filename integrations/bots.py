"""The bot hand-off: a channel's responder receives its customers' messages as bursts.

A responder is an enabled subscription with `responder` on (one per channel). For a
conversation its bot handles (`bot_active` on the message.received event, as the
message was filed), the fan-out does not deliver the message alone: it adds it to the
conversation's collecting Burst, due once the customer has been quiet for
`burst_quiet_seconds` after the last message, or `burst_max_wait_seconds` after the
first at most. The pump emits due bursts: one transaction records the
`conversation.burst` event and marks the burst emitted, and the fan-out then delivers
that event to the responder like any other, in order with the conversation's events.

Times are the events' `created_at` (when they were recorded here), not the provider's
timestamps: a phone with a wrong clock, or a webhook redelivered late, cannot make a
burst due early or late.

A hand-off (`conversation.handed_off`) cancels the conversation's collecting burst: the
agent now owns those messages. The emitter also checks the conversation's flag under
its lock, so a burst is never emitted after the hand-off's event.

State is rows only (no Redis keys to orphan): a worker killed mid-fan-out or
mid-emission rolls its transaction back and the next pump does the work once.
"""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from conversations.models import Conversation, Message
from integrations.bot_models import Burst, BurstState
from integrations.subscription_models import Subscription
from messaging.tasks import typing_indicator_task
from outbox.models import OutboxEvent
from outbox.services import event_record
from outbox.types import BurstBody, BurstMessage
from providers import Provider
from tenants.errors import field_error

logger = logging.getLogger(__name__)

QUIET_BOUNDS = (1, 60)
MAX_WAIT_LIMIT = 300
# What a responder receives whatever its event types say: without them it could not
# do its job (and a responder that lists neither would otherwise receive nothing).
RESPONDER_ALWAYS = frozenset({"conversation.burst", "conversation.handed_off"})
EMIT_LIMIT = 200


def responder_channels() -> QuerySet:
    """Ids (`channel_id`) of the channels that have an enabled responder
    (conversations.bots' registration)."""
    return Subscription.objects.filter(responder=True, enabled=True).values("channel_id")


def burst_bounds_validate(*, quiet: int, max_wait: int) -> None:
    low, high = QUIET_BOUNDS
    if not low <= quiet <= high:
        raise field_error("burst_quiet_seconds", f"Between {low} and {high} seconds.")
    if not quiet <= max_wait <= MAX_WAIT_LIMIT:
        raise field_error(
            "burst_max_wait_seconds",
            f"At least the quiet period ({quiet} s) and at most {MAX_WAIT_LIMIT} s.",
        )


def responder_validate(*, subscription: Subscription) -> None:
    """A responder needs a channel, and the channel no other enabled responder."""
    burst_bounds_validate(
        quiet=subscription.burst_quiet_seconds, max_wait=subscription.burst_max_wait_seconds
    )
    if not subscription.responder:
        return
    if subscription.channel_id is None:
        raise field_error("responder", "A responder answers one channel: choose it.")
    taken = Subscription.objects.filter(
        responder=True, enabled=True, channel_id=subscription.channel_id
    ).exclude(pk=subscription.pk)
    if subscription.enabled and taken.exists():
        raise field_error("responder", "This channel already has an enabled responder.")


# --- the fan-out's side (inside the outbox reader's transaction) -------------------------


def collects(subscription: Subscription, event: OutboxEvent) -> bool:
    """Whether this message.received goes into a burst instead of being delivered."""
    return (
        subscription.responder
        and event.type == "message.received"
        and event.conversation_id is not None
        and bool(event.body.get("bot_active"))
    )


def bursts_apply(actions: list[tuple[Subscription, OutboxEvent]]) -> None:
    """Messages added to their conversations' collecting bursts, and bursts cancelled by
    hand-offs, in event order per conversation (a message, the hand-off, the bot
    given back and a new message make a cancelled burst and a new one)."""
    if not actions:
        return
    by_key: dict[tuple[int, int], list] = defaultdict(list)
    for subscription, event in actions:
        by_key[(subscription.pk, event.conversation_id)].append((subscription, event))
    conversation_ids = {conversation_id for _, conversation_id in by_key}
    existing = set(
        Conversation.objects.filter(pk__in=conversation_ids).values_list("pk", flat=True)
    )
    collecting = {
        (burst.subscription_id, burst.conversation_id): burst
        for burst in Burst.objects.select_for_update()
        .filter(
            state=BurstState.COLLECTING,
            subscription_id__in={pk for pk, _ in by_key},
            conversation_id__in=conversation_ids,
        )
        .order_by("pk")
    }
    for key, steps in by_key.items():
        if key[1] in existing:  # an erased conversation has no one to answer
            _steps_apply(collecting.get(key), steps)


def _steps_apply(burst: Burst | None, steps: list) -> None:
    for subscription, event in steps:
        at = event.created_at
        if event.type == "conversation.handed_off":
            if burst is not None:
                burst.state, burst.finished_at = BurstState.CANCELLED, at
                burst.save()
            burst = None
            continue
        if burst is None:
            burst = Burst(
                organization_id=event.organization_id,
                subscription_id=subscription.pk,
                conversation_id=event.conversation_id,
                channel_id=event.channel_id,
                first_at=at,
            )
        burst.message_ids = [*burst.message_ids, event.body["message_id"]]
        burst.last_at = at
        burst.due_at = min(
            at + timedelta(seconds=subscription.burst_quiet_seconds),
            burst.first_at + timedelta(seconds=subscription.burst_max_wait_seconds),
        )
    if burst is not None and burst.state == BurstState.COLLECTING:
        burst.save()


# --- emission (the pump) ----------------------------------------------------------------


def bursts_emit_due(*, now: datetime | None = None, limit: int = EMIT_LIMIT) -> int:
    """Emit the bursts that are due, each in its own short transaction; how many were
    handled (emitted or found handed off)."""
    handled = 0
    while handled < limit and burst_emit_next(now=now or timezone.now()) is not None:
        handled += 1
    return handled


@transaction.atomic
def burst_emit_next(*, now: datetime) -> Burst | None:
    """Claim one due burst (another worker skips it) and record its conversation.burst
    event, under the conversation's lock: a hand-off committed first makes it
    cancelled instead. None when nothing is due."""
    burst = (
        Burst.objects.select_for_update(skip_locked=True)
        .filter(state=BurstState.COLLECTING, due_at__lte=now)
        .order_by("due_at", "pk")
        .first()
    )
    if burst is None:
        return None
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=burst.conversation_id)
    )
    messages = _messages(burst)
    if not conversation.bot_active or not messages:
        burst.state, burst.finished_at = BurstState.CANCELLED, now
        burst.save(update_fields=["state", "finished_at"])
        return burst
    event = event_record(
        type="conversation.burst",
        organization_id=burst.organization_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.pk,
        occurred_at=now,
        body=_body(burst, conversation, messages),
    )
    burst.state, burst.event_id, burst.finished_at = BurstState.EMITTED, event.pk, now
    burst.save(update_fields=["state", "event_id", "finished_at"])
    if conversation.channel.provider == Provider.WHATSAPP_CLOUD:
        _typing_on_commit(messages[-1].pk)
    return burst


def _messages(burst: Burst) -> list[Message]:
    """The burst's messages in filing order (an erased one is left out)."""
    found = Message.objects.in_bulk(burst.message_ids)
    return [found[pk] for pk in burst.message_ids if pk in found]


def _body(burst: Burst, conversation: Conversation, messages: list[Message]) -> BurstBody:
    return BurstBody(
        burst_id=burst.pk,
        conversation_id=conversation.pk,
        channel_id=conversation.channel_id,
        contact_id=conversation.contact_id,
        messages=[
            BurstMessage(
                message_id=message.pk,
                provider_message_id=message.provider_message_id,
                type=message.type,
                text=message.text,
                occurred_at=message.occurred_at,
            )
            for message in messages
        ],
        first_at=burst.first_at,
        last_at=burst.last_at,
    )


def _typing_on_commit(message_id: int) -> None:
    transaction.on_commit(lambda: typing_indicator_task.delay(message_id))

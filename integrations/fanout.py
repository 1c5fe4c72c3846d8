"""From the outbox to deliveries: one reader for every subscription.

`events_consume` hands each committed event over once, in order, and moves the cursor
in the same transaction as the Delivery rows written here: a worker killed mid-handling
rolls both back, and the next run writes them once. No network here.

Each subscription receives the events after its own start position (its creation, or
its re-enabling), so one cursor serves subscriptions created at different times.

A channel's responder gets the messages its bot is to answer not as deliveries but
added to bursts (integrations.bots), written in the same transaction; it always gets
conversation.burst and conversation.handed_off, whatever its event types.
"""

import json

from integrations.bots import RESPONDER_ALWAYS, bursts_apply, collects
from integrations.subscription_models import Delivery, Subscription
from outbox.models import OutboxEvent
from outbox.readers import Position, events_consume

READER = "integrations.subscriptions"


def webhook_id_for(*, event_id: int, subscription_id: int) -> str:
    """Stable per event and subscription: every retry and replay carries the same."""
    return f"msg_{event_id}_{subscription_id}"


def event_payload(event: OutboxEvent) -> str:
    """The envelope (outbox.schema ENVELOPE) as the exact JSON that is signed."""
    return json.dumps(
        {
            "id": event.pk,
            "type": event.type,
            "version": event.version,
            "organization_id": event.organization_id,
            "channel_id": event.channel_id,
            "conversation_id": event.conversation_id,
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "body": event.body,
        },
        separators=(",", ":"),
    )


def _concerns(subscription: Subscription, event: OutboxEvent) -> bool:
    if subscription.channel_id is not None and subscription.channel_id != event.channel_id:
        return False
    return event.position > Position(subscription.start_xid, subscription.start_event_id)


def _wants(subscription: Subscription, event: OutboxEvent) -> bool:
    if subscription.responder and event.type in RESPONDER_ALWAYS:
        return True
    return event.type in subscription.event_types


def deliveries_for(
    events: list[OutboxEvent], bursts: list[tuple[Subscription, OutboxEvent]] | None = None
) -> list[Delivery]:
    """The deliveries of these events; a responder's messages to be gathered into
    bursts, and its hand-offs, are appended to `bursts` (integrations.bots)."""
    organization_ids = {event.organization_id for event in events}
    subscriptions: dict[int, list[Subscription]] = {}
    enabled = Subscription.objects.filter(organization_id__in=organization_ids, enabled=True)
    for subscription in enabled.only(
        "id",
        "organization_id",
        "event_types",
        "channel_id",
        "start_xid",
        "start_event_id",
        "responder",
        "burst_quiet_seconds",
        "burst_max_wait_seconds",
    ):
        subscriptions.setdefault(subscription.organization_id, []).append(subscription)
    bursts = [] if bursts is None else bursts
    deliveries = []
    for event in events:
        payload = None
        for subscription in subscriptions.get(event.organization_id, []):
            if not _concerns(subscription, event):
                continue
            if collects(subscription, event):
                bursts.append((subscription, event))
                continue
            if subscription.responder and event.type == "conversation.handed_off":
                bursts.append((subscription, event))
            if not _wants(subscription, event):
                continue
            payload = payload or event_payload(event)
            deliveries.append(
                Delivery(
                    organization_id=event.organization_id,
                    subscription_id=subscription.pk,
                    event_id=event.pk,
                    event_type=event.type,
                    conversation_id=event.conversation_id,
                    channel_id=event.channel_id,
                    webhook_id=webhook_id_for(event_id=event.pk, subscription_id=subscription.pk),
                    payload=payload,
                )
            )
    return deliveries


def _handle(events: list[OutboxEvent]) -> None:
    bursts: list[tuple[Subscription, OutboxEvent]] = []
    Delivery.objects.bulk_create(deliveries_for(events, bursts), batch_size=500)
    bursts_apply(bursts)


def deliveries_fan_out(*, max_pages: int = 20) -> int:
    """Turn the outbox's new events into deliveries; how many events were read (0 when
    none, or another worker is reading right now)."""
    read = 0
    for _ in range(max_pages):
        handled = events_consume(name=READER, handle=_handle)
        if not handled:
            break
        read += handled
    return read

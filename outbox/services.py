"""Recording events, and forgetting them after their retention.

Record inside the transaction of the change the event describes: the event is
committed with it or rolled back with it, never one without the other. Outside a
transaction these refuse (a change and its event committed separately could lose the
event in a crash between them).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from outbox.models import OutboxEvent
from outbox.notify import events_recorded_notify
from outbox.types import EVENT_TYPES, body_json
from tenants.models import Organization

PURGE_BATCH_SIZE = 5_000


@dataclass(frozen=True)
class EventDraft:
    """An event to record (events_record_many)."""

    type: str
    organization_id: int
    body: object  # the type's body dataclass (outbox.types)
    channel_id: int | None = None
    conversation_id: int | None = None
    occurred_at: datetime | None = None


def event_record(
    *,
    type: str,
    organization_id: int,
    body: object,
    channel_id: int | None = None,
    conversation_id: int | None = None,
    occurred_at: datetime | None = None,
) -> OutboxEvent:
    """Record one event; call it inside the transaction that makes the change."""
    draft = EventDraft(type, organization_id, body, channel_id, conversation_id, occurred_at)
    (event,) = events_record_many(events=[draft])
    return event


def events_record_many(*, events: list[EventDraft]) -> list[OutboxEvent]:
    """Record many events in one INSERT, in the order given (their ids follow it)."""
    if not events:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("Record events inside the transaction of the change.")
    now = timezone.now()
    recorded = OutboxEvent.objects.bulk_create([_row(draft, now) for draft in events])
    # A SQLite without RETURNING gives no ids: its stream readers poll.
    if recorded[-1].pk is not None:
        events_recorded_notify(last_event_id=max(event.pk for event in recorded))
    return recorded


def _row(draft: EventDraft, now: datetime) -> OutboxEvent:
    event_type = EVENT_TYPES[draft.type]  # an unknown type is a programming error
    if not isinstance(draft.body, event_type.body):
        raise TypeError(f"{draft.type} takes a {event_type.body.__name__} body.")
    return OutboxEvent(
        type=draft.type,
        version=event_type.version,
        organization_id=draft.organization_id,
        channel_id=draft.channel_id,
        conversation_id=draft.conversation_id,
        occurred_at=draft.occurred_at or now,
        created_at=now,
        body=body_json(draft.body),
    )


def outbox_purge(*, now: datetime | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete every organization's events older than its retention (or its message
    retention, when shorter), in short
    transactions of `batch_size` rows (autocommit: each DELETE commits alone, so a
    run that dies keeps what it did and the next one continues). Returns the count."""
    now = now or timezone.now()
    deleted = 0
    retention = Organization.objects.values_list(
        "pk", "outbox_retention_days", "message_retention_days"
    ).order_by("pk")
    for organization_id, days, message_days in retention:
        # Bodies carry messages' text: never kept longer than the messages' contents.
        days = min(days, message_days or days)
        old = OutboxEvent.objects.filter(
            organization_id=organization_id, created_at__lt=now - timedelta(days=days)
        )
        while ids := list(old.order_by("created_at").values_list("pk", flat=True)[:batch_size]):
            deleted += OutboxEvent.objects.filter(pk__in=ids).delete()[0]
    return deleted

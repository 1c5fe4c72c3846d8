"""The life of a stored webhook: store, claim, finish or fail, replay, discard, sweep.

`next_attempt_at` is the one clock (see WebhookEvent): each step sets it, and the sweep
re-enqueues every unfinished event whose time has come. Retries are scheduled here in
the database, never with Celery countdowns (they outlive Redis' visibility timeout).
"""

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.utils import timezone

from outbox.services import event_record
from outbox.types import WebhookDeadBody
from tenants.alerts import admin_url, alert_send
from tenants.db import fetchone_prepared, rows_update
from tenants.models import Organization
from tenants.selectors import ChannelRoute
from webhooks.models import PENDING_STATUSES, EventStatus, WebhookEvent
from webhooks.queueing import webhook_event_enqueue, webhook_events_wake

logger = logging.getLogger(__name__)

REPLAYABLE_STATUSES = (
    EventStatus.FAILED,
    EventStatus.DEAD,
    EventStatus.DISCARDED,
    EventStatus.UNROUTABLE,
    EventStatus.PROCESSED,
)
DISCARDABLE_STATUSES = (EventStatus.FAILED, EventStatus.DEAD, EventStatus.UNROUTABLE)
SWEEP_BATCH = 500


def lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_PROCESSING_LEASE_SECONDS)


def dedupe_key(*, provider: str, channel_key: str, body: bytes) -> str:
    return hashlib.sha256(f"{provider}:{channel_key}:".encode() + body).hexdigest()


def webhook_event_store(
    *,
    provider: str,
    route: ChannelRoute | None,
    body: bytes,
    headers: dict[str, str],
    url: str,
    received_at: datetime,
) -> int | None:
    """Store a verified webhook and queue its processing once committed.

    Returns the new event's id, or None for a byte-identical redelivery (stored
    already: nothing to do). An event without a channel is kept as unroutable for an
    operator, not processed.
    """
    event_id = _insert_unless_stored(
        route=route,
        provider=provider,
        body=body,
        headers=headers,
        url=url,
        received_at=received_at,
        dedupe_key=dedupe_key(provider=provider, channel_key=route.key if route else "", body=body),
    )
    if event_id is not None and route is not None:
        transaction.on_commit(lambda: webhook_events_wake(event_id))
    return event_id


# Every webhook request runs this one statement (bench/ingest.py). ON CONFLICT makes a
# byte-identical redelivery a no-op needing no transaction or savepoint around it; the
# columns every new event starts with the same value are literals, not parameters.
_STORE_SQL = """
    INSERT INTO webhooks_webhookevent (
        provider, channel_id, organization_id, body, headers, url, received_at,
        dedupe_key, status, next_attempt_at, last_error,
        attempts, processed_at, result, refs
    )
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, NULL, '{}', '')
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
"""


def _insert_unless_stored(
    *,
    route: ChannelRoute | None,
    provider: str,
    body: bytes,
    headers: dict[str, str],
    url: str,
    received_at: datetime,
    dedupe_key: str,
) -> int | None:
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy costs
    adapt_time = db.ops.adapt_datetimefield_value
    params = [
        provider,
        route.id if route else None,
        route.organization_id if route else None,
        body,
        db.ops.adapt_json_value(headers, None),
        url,
        adapt_time(received_at),
        dedupe_key,
        EventStatus.RECEIVED.value if route else EventStatus.UNROUTABLE.value,
        adapt_time(received_at + lease()) if route else None,
        "" if route else "No channel is configured for this payload.",
    ]
    row = fetchone_prepared(_STORE_SQL, params, using=db)
    return row[0] if row else None


def webhook_events_claim(*, event_id: int | None, limit: int = 1) -> list[WebhookEvent]:
    """Take this event for processing, and up to `limit - 1` others waiting behind it:
    one worker applies a batch under load, a single event when traffic is light.

    An event another worker holds (a live lease, or a row lock) is skipped, so two
    workers never take the same event.
    """
    now = timezone.now()
    own = Q(pk=event_id) & (
        Q(status__in=[EventStatus.RECEIVED, EventStatus.FAILED])
        | Q(status=EventStatus.PROCESSING, next_attempt_at__lte=now)
    )
    waiting = Q(status=EventStatus.RECEIVED) & ~Q(pk=event_id or 0)
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(own | waiting if limit > 1 else own)
            .order_by(Case(When(pk=event_id, then=Value(0)), default=Value(1)), "id")
            .values_list("id", flat=True)[:limit]
        )
        WebhookEvent.objects.filter(pk__in=ids).update(
            status=EventStatus.PROCESSING, attempts=F("attempts") + 1, next_attempt_at=now + lease()
        )
    return list(
        WebhookEvent.objects.select_related("channel", "organization")
        .filter(pk__in=ids)
        .order_by("id")
    )


_FINISHED_FIELDS = [
    "status",
    "processed_at",
    "next_attempt_at",
    "result",
    "refs",
    "last_error",
    "channel",
    "organization",
]


def webhook_events_finish(*, events: list[WebhookEvent]) -> None:
    """Mark processed events (their `result` and `refs` set by the caller) in one
    UPDATE; any that named no configured channel become unroutable."""
    now = timezone.now()
    for event in events:
        unroutable = event.result.get("unroutable", 0) > 0
        event.status = EventStatus.UNROUTABLE if unroutable else EventStatus.PROCESSED
        event.processed_at = now
        event.next_attempt_at = None
        event.last_error = "Some events name no configured channel." if unroutable else ""
    rows_update(sorted(events, key=lambda event: event.pk), _FINISHED_FIELDS)


def webhook_event_fail(
    *, event: WebhookEvent, error: str, refs: str = "", retry: bool = True
) -> None:
    """Record a failed attempt: schedule the next one by the backoff, or declare the
    event dead (and alert) when the schedule is used up. `retry=False` is for failures
    that repeat identically (a body we cannot read): kept for an operator at once."""
    backoff = settings.WEBHOOK_RETRY_BACKOFF_MINUTES
    was_dead = event.status == EventStatus.DEAD
    event.last_error = error[:10_000]
    event.refs = refs or event.refs
    if retry and event.attempts <= len(backoff):
        event.status = EventStatus.FAILED
        event.next_attempt_at = timezone.now() + timedelta(minutes=backoff[event.attempts - 1])
    else:
        event.status = EventStatus.DEAD if retry else EventStatus.FAILED
        event.next_attempt_at = None
    with transaction.atomic():  # the event's death and its outbox record, together
        event.save(update_fields=["status", "next_attempt_at", "last_error", "refs"])
        if event.status == EventStatus.DEAD and not was_dead:
            _record_dead(event)
    if event.next_attempt_at is None:
        _alert_needs_operator(event)


def _record_dead(event: WebhookEvent) -> None:
    """webhook.dead. The error's text stays in the admin: it may quote the payload."""
    if event.organization_id is None:
        return  # unroutable: no tenant to tell (and never processed, so never dead)
    now = timezone.now()
    event_record(
        type="webhook.dead",
        organization_id=event.organization_id,
        channel_id=event.channel_id,
        occurred_at=now,
        body=WebhookDeadBody(
            webhook_event_id=event.pk,
            provider=event.provider,
            channel_id=event.channel_id,
            attempts=event.attempts,
            error_type=event.last_error.partition(":")[0][:100],
            received_at=event.received_at,
            dead_at=now,
        ),
    )


@transaction.atomic
def webhook_events_replay(*, event_ids: Iterable[int], enqueue: bool = True) -> int:
    """Process these events again from their stored body (after a fix, or for events
    that arrived before a handler existed). Applying is idempotent, so replaying a
    processed event changes nothing that was right. `enqueue=False`: the caller
    processes them itself."""
    ids = list(
        WebhookEvent.objects.select_for_update()
        .filter(pk__in=list(event_ids), status__in=REPLAYABLE_STATUSES)
        # A redacted body (webhooks.erasure) has nothing left to apply.
        .exclude(body=b"")
        .values_list("id", flat=True)
    )
    WebhookEvent.objects.filter(pk__in=ids).update(
        status=EventStatus.RECEIVED, attempts=0, next_attempt_at=timezone.now() + lease()
    )
    if enqueue:
        transaction.on_commit(lambda: [webhook_event_enqueue(event_id) for event_id in ids])
    return len(ids)


def webhook_events_discard(*, event_ids: Iterable[int]) -> int:
    """An operator decided these need no processing. Kept (for the record), not retried."""
    return WebhookEvent.objects.filter(
        pk__in=list(event_ids), status__in=DISCARDABLE_STATUSES
    ).update(status=EventStatus.DISCARDED, next_attempt_at=None)


def webhook_events_sweep(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> dict:
    """Enqueue every unfinished event whose time has come: due retries, and events
    whose task or worker was lost (their lease ran out)."""
    now = now or timezone.now()
    due = list(
        WebhookEvent.objects.filter(status__in=PENDING_STATUSES, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    # Leased before sending, so the next sweep does not send them again while queued;
    # an abandoned `processing` (its worker died) is handed back as `received`, or the
    # fresh lease would make the next worker's claim refuse it.
    WebhookEvent.objects.filter(pk__in=due).update(
        next_attempt_at=now + lease(),
        status=Case(
            When(status=EventStatus.PROCESSING, then=Value(EventStatus.RECEIVED)),
            default=F("status"),
        ),
    )
    not_sent = [event_id for event_id in due if not webhook_event_enqueue(event_id)]
    if not_sent:
        # The broker is down: due again at once, for the next sweep.
        WebhookEvent.objects.filter(pk__in=not_sent).update(next_attempt_at=now)
    return {"due": len(due), "enqueued": len(due) - len(not_sent), "broker_down": len(not_sent)}


def webhook_events_purge(*, now: datetime | None = None, batch_size: int = 5_000) -> dict:
    """Delete old events in batches: processed and discarded after
    WEBHOOK_RETENTION_PROCESSED_DAYS, dead and unroutable after WEBHOOK_RETENTION_DEAD_DAYS."""
    now = now or timezone.now()
    rules = {
        "processed": (
            (EventStatus.PROCESSED, EventStatus.DISCARDED),
            settings.WEBHOOK_RETENTION_PROCESSED_DAYS,
        ),
        "dead": ((EventStatus.DEAD, EventStatus.UNROUTABLE), settings.WEBHOOK_RETENTION_DEAD_DAYS),
    }
    deleted = {}
    for name, (statuses, days) in rules.items():
        old = WebhookEvent.objects.filter(
            status__in=statuses, received_at__lt=now - timedelta(days=days)
        )
        deleted[name] = _delete_in_batches(old, batch_size)
    return deleted


def _delete_in_batches(queryset, batch_size: int) -> int:
    total = 0
    while batch := list(queryset.values_list("id", flat=True)[:batch_size]):
        total += WebhookEvent.objects.filter(pk__in=batch).delete()[0]
    return total


def _alert_needs_operator(event: WebhookEvent) -> None:
    state = "is dead" if event.status == EventStatus.DEAD else "cannot be processed"
    channel = event.channel.name if event.channel else "no channel"
    body = (
        f"Webhook event #{event.pk} from {event.provider} ({channel}) {state} after "
        f"{event.attempts} attempt(s).\n\nLast error:\n{event.last_error}\n\n"
        f"Read the payload, then replay or discard it: "
        f"{admin_url('admin:webhooks_webhookevent_change', event.pk)}\n"
    )
    organization = event.organization
    transaction.on_commit(
        lambda: alert_send(
            organization=organization,
            subject=f"Webhook #{event.pk} {state}",
            body=body,
        )
    )


def webhook_failure_rate_check(*, now: datetime | None = None) -> list[dict]:
    """Alert each organization whose share of failing webhooks in the last hour is at
    or above WEBHOOK_FAILURE_RATE_THRESHOLD. Returns the organizations alerted."""
    now = now or timezone.now()
    failing = (EventStatus.FAILED, EventStatus.DEAD)
    per_org = (
        WebhookEvent.objects.filter(received_at__gte=now - timedelta(hours=1))
        .exclude(organization=None)
        .values("organization")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status__in=failing)))
        .filter(total__gte=settings.WEBHOOK_FAILURE_RATE_MIN_EVENTS)
    )
    alerted = []
    for row in per_org:
        rate = row["failed"] / row["total"]
        if rate >= settings.WEBHOOK_FAILURE_RATE_THRESHOLD:
            alerted.append({**row, "rate": round(rate, 4)})
            _alert_failure_rate(row["organization"], row["failed"], row["total"], rate)
    return alerted


def _alert_failure_rate(organization_id: int, failed: int, total: int, rate: float) -> None:
    organization = Organization.objects.get(pk=organization_id)
    alert_send(
        organization=organization,
        subject=f"{rate:.0%} of {organization.name}'s webhooks failed in the last hour",
        body=(
            f"{failed} of {total} webhooks received in the last hour are failing or dead.\n"
            f"See the failed-webhook queue: {settings.PUBLIC_BASE_URL}"
            "/admin/webhooks/webhookevent/?status__in=failed,dead\n"
        ),
    )

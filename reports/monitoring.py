"""What the metrics and the alerts read: a few set-based queries, each touching only
the rows it counts, so a scrape stays cheap on big tables.

- The webhook queue (received, processing, failed, dead, unroutable) by provider and
  status, with the oldest unprocessed per provider: `status IN (...)` on the
  `webhook_due` index (status, next_attempt_at); processed events are never read.
- Recent activity (webhook intake and apply latency, send outcomes, subscription
  deliveries) over a sliding window (METRICS_WINDOW_SECONDS, 5 minutes by default),
  read through the `received_at`, `outbox_created` and `delivery_sub_created`
  indexes. Counting the whole retained tables on every scrape would read millions of
  rows; a window's counts are gauges (read them as they are, not with rate()).
- Celery queue lengths from the broker (Redis LLEN); a broker that does not answer
  is reported as down, never an error.
"""

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.db.models.fields.json import KT

from integrations.subscription_models import Delivery, DeliveryStatus, Subscription
from messaging.models import DailyRefusalCount
from outbox.models import OutboxEvent
from reconciliation.dashboard import FAILURE_STATUSES, UNPROCESSED_STATUSES
from tenants.models import Channel, Organization
from webhooks.models import EventStatus, WebhookEvent

logger = logging.getLogger(__name__)

QUEUE_STATUSES = (*UNPROCESSED_STATUSES, *FAILURE_STATUSES, EventStatus.UNROUTABLE)
# Apply latency buckets, seconds: a healthy worker applies in well under a second; a
# retry waits minutes (1, 2, 4, 8, 16).
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
SEND_EVENT_TYPES = ("message.sent", "message.status_changed")
# Kombu's Redis transport keeps a queue's prioritised messages in sibling lists.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)


def metrics_window() -> timedelta:
    return timedelta(seconds=settings.METRICS_WINDOW_SECONDS)


@dataclass
class QueueFigures:
    """The webhook queue now: (provider, status) -> count, provider -> oldest
    unprocessed (received or processing) event's arrival."""

    depth: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest_unprocessed: dict[str, datetime] = field(default_factory=dict)


def webhook_queue_figures() -> QueueFigures:
    rows = (
        WebhookEvent.objects.filter(status__in=QUEUE_STATUSES)
        .order_by()
        .values("provider", "status")
        .annotate(count=Count("pk"), oldest=Min("received_at"))
    )
    figures = QueueFigures()
    for row in rows:
        figures.depth[(row["provider"], row["status"])] = row["count"]
        if row["status"] in UNPROCESSED_STATUSES:
            known = figures.oldest_unprocessed.get(row["provider"])
            figures.oldest_unprocessed[row["provider"]] = min(filter(None, [known, row["oldest"]]))
    return figures


@dataclass
class LatencyFigures:
    """A histogram of received -> processed, seconds: cumulative bucket counts."""

    buckets: dict[float, int]
    count: int
    total_seconds: float


@dataclass
class IntakeFigures:
    intake: dict[tuple[str, str], int]  # (provider, current status) -> received
    latency: dict[str, LatencyFigures]  # provider -> of those processed


def webhook_intake_figures(*, now: datetime) -> IntakeFigures:
    """Webhooks received in the window, by provider and their status now, and how
    long the processed ones took: one query on the received_at index."""
    took = ExpressionWrapper(F("processed_at") - F("received_at"), output_field=DurationField())
    processed = Q(status=EventStatus.PROCESSED, processed_at__isnull=False)
    buckets = {
        f"le_{i}": Count(
            "pk",
            filter=processed & Q(processed_at__lte=F("received_at") + timedelta(seconds=bound)),
        )
        for i, bound in enumerate(LATENCY_BUCKETS)
    }
    rows = (
        WebhookEvent.objects.filter(received_at__gte=now - metrics_window())
        .order_by()
        .values("provider", "status")
        .annotate(count=Count("pk"), took=Sum(took, filter=processed), **buckets)
    )
    figures = IntakeFigures(intake={}, latency={})
    for row in rows:
        figures.intake[(row["provider"], row["status"])] = row["count"]
        if row["status"] != EventStatus.PROCESSED:
            continue
        figures.latency[row["provider"]] = LatencyFigures(
            buckets={b: row[f"le_{i}"] for i, b in enumerate(LATENCY_BUCKETS)},
            count=row["count"],
            total_seconds=row["took"].total_seconds() if row["took"] else 0.0,
        )
    return figures


def send_outcomes(*, now: datetime) -> dict[tuple[str, str, str], int]:
    """(provider, outcome, error code) -> messages, from the outbox events of the
    window: `accepted` (message.sent: the provider took it), then the statuses it
    reported (delivered, read, failed with its code)."""
    providers = dict(Channel.objects.values_list("pk", "provider"))
    rows = (
        OutboxEvent.objects.filter(
            created_at__gte=now - metrics_window(), type__in=SEND_EVENT_TYPES
        )
        .order_by()
        .values("type", "channel_id", status=KT("body__status"), code=KT("body__error_code"))
        .annotate(count=Count("pk"))
    )
    outcomes: dict[tuple[str, str, str], int] = {}
    for row in rows:
        outcome = "accepted" if row["type"] == "message.sent" else row["status"] or "unknown"
        if outcome == "sent" and row["type"] != "message.sent":
            continue  # a status "sent" after the accept says nothing new
        code = (row["code"] or "") if outcome == "failed" else ""
        key = (providers.get(row["channel_id"], "unknown"), outcome, code)
        outcomes[key] = outcomes.get(key, 0) + row["count"]
    return outcomes


@dataclass
class DeliveryFigures:
    recent: dict[str, int]  # status -> deliveries created in the window
    waiting: dict[str, int]  # pending / sending now, whatever their age
    oldest_due: datetime | None  # the longest-waiting due delivery's due time


def delivery_figures(*, now: datetime) -> DeliveryFigures:
    """Event-subscription deliveries. The window's are read per subscription on
    (subscription, created_at): the subscriptions are few, the deliveries many."""
    subscriptions = list(Subscription.objects.values_list("pk", flat=True))
    recent = dict(
        Delivery.objects.filter(
            subscription_id__in=subscriptions, created_at__gte=now - metrics_window()
        )
        .order_by()
        .values_list("status")
        .annotate(Count("pk"))
    )
    unfinished = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
    waiting = dict(
        Delivery.objects.filter(unfinished).order_by().values_list("status").annotate(Count("pk"))
    )
    oldest_due = (
        Delivery.objects.filter(unfinished, next_attempt_at__lte=now)
        .order_by()
        .aggregate(oldest=Min("next_attempt_at"))["oldest"]
    )
    return DeliveryFigures(recent=recent, waiting=waiting, oldest_due=oldest_due)


def celery_queue_lengths(queues: tuple[str, ...]) -> dict[str, int] | None:
    """Each queue's waiting messages, or None when the broker cannot tell (down, or
    not Redis: the embedded file broker of development)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.llen(queue)
                for step in KOMBU_PRIORITY_STEPS:
                    pipe.llen(f"{queue}{KOMBU_PRIORITY_SEPARATOR}{step}")
            sizes = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        logger.warning("Celery queue lengths unavailable: %s", exc)
        return None
    finally:
        client.close()
    per_queue = len(KOMBU_PRIORITY_STEPS) + 1
    return {
        queue: sum(sizes[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


def send_refusals_today(*, now: datetime) -> dict[tuple[str, str], int]:
    """(provider, code) -> sends our checks refused (window expired, template not
    approved, rate limited, opted out...) on each organization's local today, from
    messaging's DailyRefusalCount."""
    zones = list(Organization.objects.order_by().values_list("timezone", flat=True).distinct())
    today = Q(pk__in=[])
    for zone in zones:
        today |= Q(organization__timezone=zone, day=now.astimezone(zoneinfo.ZoneInfo(zone)).date())
    providers = dict(Channel.objects.values_list("pk", "provider"))
    rows = DailyRefusalCount.objects.filter(today).order_by().values_list("channel_id", "code")
    refused: dict[tuple[str, str], int] = {}
    for channel_id, code, count in rows.annotate(total=Sum("count")):
        key = (providers.get(channel_id, "unknown"), code)
        refused[key] = refused.get(key, 0) + count
    return refused

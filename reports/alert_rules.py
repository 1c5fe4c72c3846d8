"""The operators' alert conditions, read from the database every minute.

Each rule returns readings: for a subject (a provider, a queue, a channel), whether
its condition holds now (`firing`) or not. A subject a rule cannot judge (the broker
did not answer, too few samples yet) gets no reading, and its incident stays as it is:
being blind is not a recovery.

- Webhook backlog: a provider's oldest unprocessed (received or processing) webhook
  is older than ALERT_WEBHOOK_BACKLOG_SECONDS (5 minutes).
- Queue growing: a Celery queue's length, sampled every minute, did not go down once
  in the last ALERT_QUEUE_GROWTH_SECONDS (10 minutes) and ended higher than it began.
  It clears when the queue is no longer than it was 10 minutes before (or empty).
- Channel quiet: a usually busy channel (reports.quiet) received no webhook for longer
  than its usual quiet period. It clears with the next webhook.
"""

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from config.celery import QUEUES
from providers import Provider
from reports import monitoring
from reports.alert_models import AlertKind, ChannelQuietPeriod, QueueLengthSample
from tenants.models import Channel
from webhooks.models import WebhookEvent

SAMPLES_KEPT = timedelta(hours=1)
# A sample may be taken a little late (the task waited in its queue).
SAMPLE_SLACK = timedelta(seconds=45)


@dataclass(frozen=True)
class Reading:
    kind: str
    key: str
    firing: bool
    summary: str  # one line, for the email's subject
    details: dict = field(default_factory=dict)
    organization_id: int | None = None
    channel_id: int | None = None


def webhook_backlog_readings(*, now: datetime) -> list[Reading]:
    limit = settings.ALERT_WEBHOOK_BACKLOG_SECONDS
    oldest = monitoring.webhook_queue_figures().oldest_unprocessed
    readings = []
    for provider in Provider:
        at = oldest.get(provider.value)
        age = (now - at).total_seconds() if at else 0
        readings.append(
            Reading(
                kind=AlertKind.WEBHOOK_BACKLOG,
                key=provider.value,
                firing=age > limit,
                summary=f"{provider.value} webhooks waiting {round(age / 60)} min",
                details={
                    "oldest_received_at": at.isoformat() if at else None,
                    "age_seconds": round(age),
                    "threshold_seconds": limit,
                },
            )
        )
    return readings


def queue_samples_record(*, now: datetime) -> bool:
    """Sample each Celery queue's length (and forget samples over an hour old);
    False when the broker did not answer."""
    QueueLengthSample.objects.filter(sampled_at__lt=now - SAMPLES_KEPT).delete()
    lengths = monitoring.celery_queue_lengths(QUEUES)
    if lengths is None:
        return False
    QueueLengthSample.objects.bulk_create(
        QueueLengthSample(queue=queue, length=length, sampled_at=now)
        for queue, length in lengths.items()
    )
    return True


def queue_growth_readings(*, now: datetime) -> list[Reading]:
    period = timedelta(seconds=settings.ALERT_QUEUE_GROWTH_SECONDS)
    samples: dict[str, list[tuple[datetime, int]]] = {}
    rows = QueueLengthSample.objects.filter(sampled_at__gte=now - period - SAMPLE_SLACK).order_by(
        "queue", "sampled_at"
    )
    for sample in rows:
        samples.setdefault(sample.queue, []).append((sample.sampled_at, sample.length))
    readings = []
    for queue, series in samples.items():
        # Judged only with the newest sample taken now and a first one that old.
        if now - series[-1][0] > SAMPLE_SLACK or now - series[0][0] < period - SAMPLE_SLACK:
            continue
        lengths = [length for _, length in series]
        growing = lengths[-1] > lengths[0] and all(b >= a for a, b in itertools.pairwise(lengths))
        cleared = lengths[-1] <= lengths[0] or lengths[-1] == 0
        if not growing and not cleared:
            continue  # up and down: neither a new incident nor a recovery
        readings.append(
            Reading(
                kind=AlertKind.QUEUE_GROWING,
                key=queue,
                firing=growing,
                summary=f"Celery queue {queue} grew from {lengths[0]} to {lengths[-1]}",
                details={"lengths": lengths, "period_seconds": int(period.total_seconds())},
            )
        )
    return readings


def channel_quiet_readings(*, now: datetime) -> list[Reading]:
    """Watched channels only (usually busy, active, of an active organization)."""
    periods = ChannelQuietPeriod.objects.filter(
        usual=True, channel__is_active=True, channel__organization__is_active=True
    ).select_related("channel")
    readings = []
    for period in periods:
        channel, quiet = period.channel, period.quiet_seconds
        last_at = _last_webhook_at(channel, since=now - timedelta(seconds=quiet))
        readings.append(
            Reading(
                kind=AlertKind.CHANNEL_QUIET,
                key=str(channel.pk),
                firing=last_at is None,
                summary=f"No webhook from {channel.name} for over {round(quiet / 60)} min",
                details={
                    "channel": channel.name,
                    "provider": channel.provider,
                    "last_webhook_at": last_at.isoformat() if last_at else None,
                    "usual_quiet_seconds": quiet,
                },
                organization_id=channel.organization_id,
                channel_id=channel.pk,
            )
        )
    return readings


def _last_webhook_at(channel: Channel, *, since: datetime) -> datetime | None:
    """The channel's newest webhook within its quiet period, or None. One short query
    per watched channel, each bounded by that channel's own period: walking the
    (organization, received_at) index backwards stops at the channel's newest webhook,
    at once for a busy channel, and never goes back further than its quiet period. (A
    single query would have to read every channel's traffic over the longest period.)"""
    return (
        WebhookEvent.objects.filter(
            organization_id=channel.organization_id, channel=channel, received_at__gte=since
        )
        .order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )

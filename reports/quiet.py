"""Each channel's usual quiet period: how long it normally goes without a webhook.

Learned once a day from the last ALERT_QUIET_LEARN_DAYS (14) days: the 99th
percentile (nearest rank) of the gaps between a channel's consecutive webhooks, at
least ALERT_QUIET_MIN_SECONDS (30 minutes: short silences of a busy channel are
normal). A channel with fewer than ALERT_QUIET_MIN_WEBHOOKS webhooks in those days has
no "usual" traffic and is not watched: its silence means nothing.

On PostgreSQL the gaps and their percentile are computed in one statement (LAG and
percentile_disc over the received_at index's range); elsewhere (the embedded SQLite
of development) in Python, over the same rows.
"""

import itertools
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from reports.alert_models import ChannelQuietPeriod
from webhooks.models import WebhookEvent

GAPS_SQL = """
SELECT channel_id, count(*) + 1, percentile_disc(0.99) WITHIN GROUP (ORDER BY gap)
FROM (
    SELECT channel_id, EXTRACT(EPOCH FROM received_at - lag(received_at)
        OVER (PARTITION BY channel_id ORDER BY received_at)) AS gap
    FROM {table}
    WHERE received_at >= %s AND received_at < %s AND channel_id IS NOT NULL
) gaps
WHERE gap IS NOT NULL
GROUP BY channel_id
"""


def p99_nearest_rank(gaps: list[float]) -> float:
    ordered = sorted(gaps)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


def _gaps_by_channel(since: datetime, now: datetime) -> dict[int, tuple[int, float]]:
    """channel id -> (webhooks, p99 gap in seconds), for channels with two or more."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(GAPS_SQL.format(table=WebhookEvent._meta.db_table), [since, now])
            return {row[0]: (row[1], float(row[2])) for row in cursor.fetchall()}
    times: dict[int, list[datetime]] = {}
    rows = (
        WebhookEvent.objects.filter(received_at__gte=since, received_at__lt=now)
        .exclude(channel_id=None)
        .order_by("channel_id", "received_at")
        .values_list("channel_id", "received_at")
    )
    for channel_id, received_at in rows.iterator():
        times.setdefault(channel_id, []).append(received_at)
    return {
        channel_id: (
            len(seen),
            p99_nearest_rank([(b - a).total_seconds() for a, b in itertools.pairwise(seen)]),
        )
        for channel_id, seen in times.items()
        if len(seen) > 1
    }


@transaction.atomic
def quiet_periods_learn(*, now: datetime) -> dict[str, int]:
    """Recompute every channel's quiet period; returns how many are watched."""
    since = now - timedelta(days=settings.ALERT_QUIET_LEARN_DAYS)
    learned = _gaps_by_channel(since, now)
    floor = settings.ALERT_QUIET_MIN_SECONDS
    for channel_id, (webhooks, p99) in learned.items():
        ChannelQuietPeriod.objects.update_or_create(
            channel_id=channel_id,
            defaults={
                "quiet_seconds": max(floor, math.ceil(p99)),
                "webhooks": webhooks,
                "usual": webhooks >= settings.ALERT_QUIET_MIN_WEBHOOKS,
                "computed_at": now,
            },
        )
    # A channel that fell silent for the whole period is no longer usually busy.
    ChannelQuietPeriod.objects.exclude(channel_id__in=learned).update(
        usual=False, webhooks=0, computed_at=now
    )
    watched = sum(
        1 for webhooks, _ in learned.values() if webhooks >= settings.ALERT_QUIET_MIN_WEBHOOKS
    )
    return {"channels": len(learned), "watched": watched}

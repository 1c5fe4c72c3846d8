"""Each channel's usual quiet period: how long it normally goes without a webhook.

Learned once a day from the last ALERT_QUIET_LEARN_DAYS (14) days of its webhooks, as
the longer of:
- the 99th percentile (nearest rank) of the gaps between consecutive webhooks: what a
  steadily busy channel's silences look like;
- the median, over the days, of each day's longest gap (by the UTC day the gap ended):
  a channel silent every night has a night-long gap nearly every day, while those
  nights are far fewer than 1% of its gaps, so the percentile alone would call every
  night an outage. An outage on one or two days of the fourteen moves the median
  little.
and at least ALERT_QUIET_MIN_SECONDS (30 minutes: short silences of a busy channel are
normal). A channel with fewer than ALERT_QUIET_MIN_WEBHOOKS webhooks in those days has
no "usual" traffic and is not watched: its silence means nothing.

On PostgreSQL this is one statement (LAG and percentile_disc over the received_at
index's range); elsewhere (the embedded SQLite of development) Python does the same
over the same rows.
"""

import itertools
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from reports.alert_models import ChannelQuietPeriod
from webhooks.models import WebhookEvent

GAPS_SQL = """
WITH gaps AS (
    SELECT channel_id, received_at, EXTRACT(EPOCH FROM received_at - lag(received_at)
        OVER (PARTITION BY channel_id ORDER BY received_at)) AS gap
    FROM {table}
    WHERE received_at >= %s AND received_at < %s AND channel_id IS NOT NULL
), daily AS (
    SELECT channel_id, max(gap) AS longest
    FROM gaps WHERE gap IS NOT NULL
    GROUP BY channel_id, date_trunc('day', received_at AT TIME ZONE 'UTC')
)
SELECT g.channel_id, g.webhooks, g.p99, d.median_longest
FROM (
    SELECT channel_id, count(*) + 1 AS webhooks,
        percentile_disc(0.99) WITHIN GROUP (ORDER BY gap) AS p99
    FROM gaps WHERE gap IS NOT NULL GROUP BY channel_id
) g
JOIN (
    SELECT channel_id, percentile_disc(0.5) WITHIN GROUP (ORDER BY longest) AS median_longest
    FROM daily GROUP BY channel_id
) d USING (channel_id)
"""


def nearest_rank(values: list[float], q: float) -> float:
    """The smallest value with at least a share `q` of the values at or below it
    (PostgreSQL's percentile_disc)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def _usual_quiet(times: list[datetime]) -> float:
    gaps = [(b - a, b) for a, b in itertools.pairwise(times)]
    daily: dict = {}
    for gap, ended in gaps:
        day = ended.date()
        daily[day] = max(daily.get(day, 0.0), gap.total_seconds())
    return max(
        nearest_rank([gap.total_seconds() for gap, _ in gaps], 0.99),
        nearest_rank(list(daily.values()), 0.5),
    )


def _gaps_by_channel(since: datetime, now: datetime) -> dict[int, tuple[int, float]]:
    """channel id -> (webhooks, usual quiet seconds), for channels with two or more."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(GAPS_SQL.format(table=WebhookEvent._meta.db_table), [since, now])
            return {row[0]: (row[1], max(float(row[2]), float(row[3]))) for row in cursor}
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
        channel_id: (len(seen), _usual_quiet(seen))
        for channel_id, seen in times.items()
        if len(seen) > 1
    }


@transaction.atomic
def quiet_periods_learn(*, now: datetime) -> dict[str, int]:
    """Recompute every channel's quiet period; returns how many are watched."""
    since = now - timedelta(days=settings.ALERT_QUIET_LEARN_DAYS)
    learned = _gaps_by_channel(since, now)
    floor = settings.ALERT_QUIET_MIN_SECONDS
    for channel_id, (webhooks, usual) in learned.items():
        ChannelQuietPeriod.objects.update_or_create(
            channel_id=channel_id,
            defaults={
                "quiet_seconds": max(floor, math.ceil(usual)),
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

"""How fast and how much a channel may send.

- Throughput: a per-channel rate shared by every web process and worker, kept in Redis
  with GCRA (the generic cell rate algorithm): one key per channel holding the
  theoretical arrival time of the next send, moved by a Lua script that reads Redis's
  own clock, so processes with skewed clocks agree and a check is one round trip.
  Without Redis (the embedded default) the same algorithm keeps its clock in a table,
  moved by one upsert: sends are paced there too, by this machine's clock.
- Daily caps: a counter per channel and UTC day in PostgreSQL, taken with one
  INSERT ... ON CONFLICT DO UPDATE that only counts while under the cap. Messages and
  LinkedIn invitations have a cap each (DailySendCount, DailyInvitationCount); a
  channel without its own takes its provider's default (LinkedIn through Unipile: 100
  messages and 25 invitations a day per account).

Both answer with how long to wait, which becomes RATE_LIMITED's retry_after.
"""

import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

from messaging.models import DailyInvitationCount, DailySendCount, SendLimit, ThroughputPace
from providers import Provider
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel

logger = logging.getLogger(__name__)

# Messages per second when a channel sets none: Meta's default per number, OpenPhone's
# per API key, Twilio's per long code; LinkedIn (Unipile) gets a cautious one.
DEFAULT_PER_SECOND = {
    Provider.WHATSAPP_CLOUD: 80,
    Provider.OPENPHONE: 10,
    Provider.TWILIO: 1,
    Provider.UNIPILE: 1,
}
# Sends per UTC day when a channel sets no cap: LinkedIn restricts accounts that send
# much more (Unipile's guidance), the others have no daily limit of ours.
DEFAULT_DAILY_CAP = {Provider.UNIPILE: 100}
# LinkedIn invitations per UTC day: Unipile warns that LinkedIn refuses beyond about
# 100 a day and 200 a week; 25 a working day stays well inside the weekly limit.
DEFAULT_DAILY_INVITATION_CAP = {Provider.UNIPILE: 25}
# Up to one second's worth of sends may go at once (a token bucket as deep as the rate):
# a person sending two messages quickly is not refused, and the rate holds over time.
BURST_SECONDS = 1.0

# KEYS[1]: the channel's key. ARGV: interval between sends and burst tolerance, in µs.
# Returns 0 when the send is admitted, else the µs to wait.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then
  return allowed_at - now
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""

# The same for up to ARGV[3] sends at once (a batch): admits as many as the bucket
# holds, in one step. Returns {admitted, µs to wait for the next one (0 if all went)}.
_GCRA_MANY = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if now < tat - tolerance then
  return {0, math.ceil(tat - tolerance - now)}
end
local admitted = math.min(wanted, math.floor((now + tolerance - tat) / interval) + 1)
local new_tat = tat + admitted * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
if admitted < wanted then
  return {admitted, math.max(1, math.ceil(new_tat - tolerance - now))}
end
return {admitted, 0}
"""


@dataclass(frozen=True)
class Limits:
    per_second: int
    daily_cap: int | None
    daily_invitation_cap: int | None = None


def limits_for(channel: Channel) -> Limits:
    own = SendLimit.objects.filter(channel=channel).first()
    return limits_of(channel, own)


def limits_of(channel: Channel, own: SendLimit | None) -> Limits:
    """The limits that apply: the channel's own where it set them, else its provider's."""
    provider = Provider(channel.provider)
    per_second = (own and own.per_second) or DEFAULT_PER_SECOND[provider]
    daily_cap = own.daily_cap if own and own.daily_cap is not None else None
    invitations = own.daily_invitation_cap if own else None
    return Limits(
        per_second=per_second,
        daily_cap=daily_cap if daily_cap is not None else DEFAULT_DAILY_CAP.get(provider),
        daily_invitation_cap=(
            invitations if invitations is not None else DEFAULT_DAILY_INVITATION_CAP.get(provider)
        ),
    )


def send_admit(*, channel: Channel, now: datetime | None = None) -> None:
    """Count one send against the channel's limits, or raise RATE_LIMITED saying how
    long to wait. The daily cap is checked last: a send refused for throughput does
    not use up the day."""
    limits = limits_for(channel)
    wait = throughput_take(channel_id=channel.pk, per_second=limits.per_second)
    if wait:
        raise _rate_limited(wait, f"More than {limits.per_second} sends per second.")
    if limits.daily_cap is not None:
        daily_cap_take(channel_id=channel.pk, cap=limits.daily_cap, now=now)


def indicator_admit(*, channel: Channel) -> None:
    """Count a typing indicator (or a read receipt) against the channel's throughput, or
    raise RATE_LIMITED: the provider counts them with the messages, but they are not
    messages, so no daily cap is used up."""
    per_second = limits_for(channel).per_second
    wait = throughput_take(channel_id=channel.pk, per_second=per_second)
    if wait:
        raise _rate_limited(wait, f"More than {per_second} sends per second.")


def send_admit_many(
    *, channel: Channel, count: int, now: datetime | None = None
) -> tuple[int, ApplicationError | None]:
    """`send_admit` for `count` sends at once (a batch): how many of them, the first
    ones, are admitted (and counted), and the refusal the others get (RATE_LIMITED, as
    `send_admit` would have given each). The same limits, read once: the throughput
    admits as many as its bucket holds in one step, the daily cap counts one by one
    (only capped channels have one; they send at most a few hundred a day)."""
    limits = limits_for(channel)
    admitted, wait = throughput_take_many(
        channel_id=channel.pk, per_second=limits.per_second, count=count
    )
    refusal = None
    if admitted < count:
        refusal = _rate_limited(wait, f"More than {limits.per_second} sends per second.")
    if limits.daily_cap is None:
        return admitted, refusal
    for taken in range(admitted):
        try:
            daily_cap_take(channel_id=channel.pk, cap=limits.daily_cap, now=now)
        except ApplicationError as capped:
            return taken, capped
    return admitted, refusal


def invitation_admit(*, channel: Channel, now: datetime | None = None) -> None:
    """Count one LinkedIn invitation against the channel's throughput (shared with its
    messages) and its daily invitation cap, or raise RATE_LIMITED saying how long to
    wait (for the cap: until the next UTC day)."""
    limits = limits_for(channel)
    wait = throughput_take(channel_id=channel.pk, per_second=limits.per_second)
    if wait:
        raise _rate_limited(wait, f"More than {limits.per_second} sends per second.")
    if limits.daily_invitation_cap is not None:
        _daily_take(
            DailyInvitationCount, channel.pk, limits.daily_invitation_cap, now, "invitations"
        )


def throughput_take(*, channel_id: int, per_second: int) -> float:
    """0 if a send may go now (and it is counted), else the seconds to wait.

    Without Redis (the embedded default) the clock is kept in the database. If Redis
    fails, sends go unpaced rather than not at all: the provider's own limit (130429,
    429) is retried by the send task.
    """
    interval = 1_000_000 / per_second
    tolerance = interval * max(0, math.floor(per_second * BURST_SECONDS) - 1)
    if not settings.REDIS_URL:
        return _database_gcra(channel_id, round(interval), round(tolerance)) / 1_000_000
    try:
        waited = _gcra()(keys=[_throughput_key(channel_id)], args=[interval, tolerance])
    except (RedisError, OSError) as exc:
        logger.warning("Redis unavailable, channel %s sends unpaced: %s", channel_id, exc)
        return 0.0
    return waited / 1_000_000


def throughput_take_many(*, channel_id: int, per_second: int, count: int) -> tuple[int, float]:
    """Up to `count` sends at once: how many may go now (counted), and the seconds to
    wait for the next one if not all."""
    interval = 1_000_000 / per_second
    tolerance = interval * max(0, math.floor(per_second * BURST_SECONDS) - 1)
    if not settings.REDIS_URL:  # the table's clock: one send at a time
        for admitted in range(count):
            wait = _database_gcra(channel_id, round(interval), round(tolerance))
            if wait:
                return admitted, wait / 1_000_000
        return count, 0.0
    try:
        admitted, waited = _gcra_many()(
            keys=[_throughput_key(channel_id)], args=[interval, tolerance, count]
        )
    except (RedisError, OSError) as exc:
        logger.warning("Redis unavailable, channel %s sends unpaced: %s", channel_id, exc)
        return count, 0.0
    return int(admitted), waited / 1_000_000


def _database_gcra(channel_id: int, interval: int, tolerance: int) -> int:
    """GCRA as one upsert: the row only moves when the send is admitted. Returns the µs
    to wait (0: admitted). On SQLite writers queue for the database's one write lock,
    so two processes never admit from the same reading."""
    now = time.time_ns() // 1000
    table = ThroughputPace._meta.db_table
    column = f"{table}.theoretical_arrival_us"
    tat = f"CASE WHEN {column} > %s THEN {column} ELSE %s END"  # the later of it and now
    sql = (
        f"INSERT INTO {table} (channel_id, theoretical_arrival_us) VALUES (%s, %s) "  # noqa: S608 - names from the model
        f"ON CONFLICT (channel_id) DO UPDATE SET theoretical_arrival_us = {tat} + %s "
        f"WHERE {tat} - %s <= %s RETURNING theoretical_arrival_us"
    )
    params = [channel_id, now + interval, now, now, interval, now, now, tolerance, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.fetchone() is not None:
            return 0
        cursor.execute(
            f"SELECT theoretical_arrival_us FROM {table} WHERE channel_id = %s",  # noqa: S608
            [channel_id],
        )
        (stored,) = cursor.fetchone()
    return max(stored - tolerance - now, 1)


def _throughput_key(channel_id: int) -> str:
    # Named after the database too: channel ids of different databases (test runs,
    # staging beside production on one Redis) never share a pace.
    return f"sends:throughput:{connection.settings_dict['NAME']}:{channel_id}"


def daily_cap_take(*, channel_id: int, cap: int, now: datetime | None = None) -> None:
    _daily_take(DailySendCount, channel_id, cap, now, "sends")


def usage_today(*, channel_ids: list[int], now: datetime | None = None) -> dict[int, tuple]:
    """(messages, invitations) counted today (UTC) per channel, two queries in all."""
    day = (now or datetime.now(UTC)).date()
    sends = dict(
        DailySendCount.objects.filter(channel_id__in=channel_ids, day=day).values_list(
            "channel_id", "count"
        )
    )
    invitations = dict(
        DailyInvitationCount.objects.filter(channel_id__in=channel_ids, day=day).values_list(
            "channel_id", "count"
        )
    )
    return {pk: (sends.get(pk, 0), invitations.get(pk, 0)) for pk in channel_ids}


def _daily_take(model, channel_id: int, cap: int, now: datetime | None, what: str) -> None:
    now = now or datetime.now(UTC)
    table = model._meta.db_table
    sql = (
        f"INSERT INTO {table} (channel_id, day, count) VALUES (%s, %s, 1) "  # noqa: S608 - names from the model
        f"ON CONFLICT (channel_id, day) DO UPDATE SET count = {table}.count + 1 "
        f"WHERE {table}.count < %s RETURNING count"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [channel_id, now.date(), cap])
        admitted = cursor.fetchone() is not None
    if not admitted:
        tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        raise _rate_limited(
            (tomorrow - now).total_seconds(),
            f"The channel's daily cap of {cap} {what} is used up.",
        )


def _rate_limited(wait: float, message: str) -> ApplicationError:
    return ApplicationError(
        ErrorCode.RATE_LIMITED, message, details={"retry_after": round(max(wait, 0.001), 3)}
    )


@cache
def _gcra():
    return _redis().register_script(_GCRA)


@cache
def _gcra_many():
    return _redis().register_script(_GCRA_MANY)


@cache
def _redis() -> redis.Redis:
    """One client per process; its pool reconnects after a fork."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)

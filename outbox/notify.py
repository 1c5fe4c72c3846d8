"""A notice on Redis pub/sub when events are committed, so that stream servers read
the outbox at once instead of at their next poll.

The notice is a hint, never the record: it carries only the largest event id the
transaction recorded (a reader that has not yet seen it knows events are on their way),
it is published after the commit, and it is dropped, silently for the writer, when
Redis is down; the readers poll the outbox then (integrations/stream.py). After a
failure, publishing pauses for a few seconds, so that a Redis outage costs a writer
one connect timeout, not one per transaction.
"""

import logging
import time

import redis
from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 0.2
PAUSE_AFTER_FAILURE_SECONDS = 5.0

_client: redis.Redis | None = None
_client_url: str | None = None
_paused_until = 0.0


def notice_channel() -> str:
    """One channel per database: servers of another database (a test run, a staging
    site on the same Redis) are never woken by this one's events."""
    return f"switchboard:outbox:{connection.settings_dict['NAME']}"


def events_recorded_notify(*, last_event_id: int) -> None:
    """Publish the notice once the current transaction commits (nothing on rollback)."""
    if not settings.OUTBOX_NOTIFY_URL:
        return
    channel = notice_channel()
    transaction.on_commit(lambda: _publish(channel, last_event_id))


def _publish(channel: str, last_event_id: int) -> None:
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    try:
        _redis().publish(channel, str(last_event_id))
    except (redis.RedisError, OSError) as error:
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
        logger.warning("Outbox notice not published (readers will poll): %s", error)


def _redis() -> redis.Redis:
    global _client, _client_url
    url = settings.OUTBOX_NOTIFY_URL
    if _client is None or _client_url != url:
        _client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=1.0
        )
        _client_url = url
    return _client


def notify_pause_reset() -> None:
    """Forget a past failure (tests that bring Redis back)."""
    global _paused_until
    _paused_until = 0.0

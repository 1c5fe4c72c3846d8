"""Hand events to the workers, without ever making a provider wait on the broker.

The stored row is the truth: if the broker cannot take the task, the event stays due
and the sweep enqueues it once the broker is back. After a failure, publishing is not
even tried for a short while, so that a broker outage costs each webhook request
nothing (process-local, an optimization only: correctness never depends on it).

A newly stored webhook needs a processing task that claims after it was committed:
every task takes all the webhooks waiting when it claims (in batches). So while one
task is queued and not yet started, a new webhook needs no task of its own; a flag in
Redis says so, set by whoever publishes and cleared by the task as it starts.

Asking Redis was still a round trip per webhook, so a web process that has just seen
the flag (or published) skips the question for the next WEBHOOK_WAKE_COALESCE_MS. That
is safe because a task, once it has cleared the flag, keeps claiming until a claim
that begins at least that long after the clearing finds nothing new. The flag was
cleared after the web process saw it set, so that last claim begins after every
webhook the process stored in its window was committed, and takes them.
"""

import logging
import time
from functools import cache

import redis
from django.conf import settings
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

BROKER_BACKOFF_SECONDS = 10.0
_broker_unavailable_until = 0.0
WAKEUP_KEY = "webhooks:wakeup-pending"
# Longer than a task normally waits in the queue; if it is lost, the flag lapses and the
# next webhook publishes again (and the sweep still catches what waits).
WAKEUP_SECONDS = 5


_wake_covered_until = 0.0


def webhook_events_wake(event_id: int) -> bool:
    """After a webhook is stored: make sure a processing task claims after it."""
    global _wake_covered_until
    now = time.monotonic()
    if now < _wake_covered_until:
        return True  # a task that clears the flag later takes this one: see above
    flag = _flag_set(event_id)
    if flag == _PENDING:
        _wake_covered_until = now + wake_coalesce_seconds()
        return True
    sent = webhook_event_enqueue(event_id)
    if not sent:
        webhook_wakeup_taken()  # nothing was queued: the next webhook must try again
    elif flag != _UNKNOWN:  # the task will find the flag set, or there is no Redis at all
        _wake_covered_until = now + wake_coalesce_seconds()
    return sent


_SET, _PENDING, _UNKNOWN = "set", "pending", "unknown"


def _flag_set(event_id: int) -> str | None:
    """Set the flag unless it is set. _PENDING: a queued task has not started yet;
    _SET: we set it; None: there is no Redis; _UNKNOWN: Redis failed."""
    flags = _flag_store()
    if flags is None:
        return None
    try:
        return _SET if flags.set(WAKEUP_KEY, event_id, nx=True, ex=WAKEUP_SECONDS) else _PENDING
    except (RedisError, OSError) as exc:
        logger.warning("Redis unavailable, publishing for event %s: %s", event_id, exc)
        return _UNKNOWN


def webhook_wakeup_taken() -> float:
    """A processing task is starting: webhooks stored from now on need a new task.

    Returns the time (monotonic) until which the task must keep claiming: for as long
    as web processes that saw the flag it cleared may skip asking. A task that found
    no flag (another task cleared it, or the sweep sent this one) need not wait.
    """
    flags = _flag_store()
    if flags is None:  # no flag to tell by: every task waits
        return time.monotonic() + wake_coalesce_seconds()
    try:
        cleared = flags.delete(WAKEUP_KEY)
    except (RedisError, OSError) as exc:
        # The flag lapses by itself within WAKEUP_SECONDS.
        logger.warning("Redis unavailable; the wake-up flag will lapse: %s", exc)
        cleared = True  # it may have been seen
    return time.monotonic() + (wake_coalesce_seconds() if cleared else 0.0)


def wake_coalesce_seconds() -> float:
    return settings.WEBHOOK_WAKE_COALESCE_MS / 1000


def wake_coverage_reset() -> None:
    global _wake_covered_until
    _wake_covered_until = 0.0


@cache
def _flag_store() -> redis.Redis | None:
    """One client per process (its pool reconnects after a fork). Django's cache would
    build a new client per call, which cost more than the publish it saves. Without
    Redis (the embedded development setup) every webhook simply publishes."""
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def webhook_event_enqueue(event_id: int) -> bool:
    """Queue processing of one event. Returns False if the broker could not take it."""
    global _broker_unavailable_until
    if time.monotonic() < _broker_unavailable_until:
        return False
    from webhooks.tasks import webhook_event_process_task  # tasks import this module

    try:
        webhook_event_process_task.delay(event_id)
    except (OperationalError, RedisError, OSError) as exc:
        _broker_unavailable_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("Broker unavailable; event %s waits for the sweep: %s", event_id, exc)
        return False
    return True


def broker_backoff_reset() -> None:
    global _broker_unavailable_until
    _broker_unavailable_until = 0.0

"""Hand events to the workers, without ever making a provider wait on the broker.

The stored row is the truth: if the broker cannot take the task, the event stays due
and the sweep enqueues it once the broker is back. After a failure, publishing is not
even tried for a short while, so that a broker outage costs each webhook request
nothing (process-local, an optimization only: correctness never depends on it).

A newly stored webhook needs a processing task that starts after it was committed:
every task takes all the webhooks waiting when it starts (in batches). So while one
task is queued and not yet started, a new webhook needs no task of its own; a flag in
Redis says so, set by whoever publishes and cleared by the task as it starts.
Under load this saves a publish (the costliest part of answering) per webhook.
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


def webhook_events_wake(event_id: int) -> bool:
    """After a webhook is stored: make sure a processing task starts after it."""
    flags = _flag_store()
    if flags is not None:
        try:
            if not flags.set(WAKEUP_KEY, event_id, nx=True, ex=WAKEUP_SECONDS):
                return True  # a queued task that has not started yet will take this one
        except (RedisError, OSError) as exc:
            logger.warning("Redis unavailable, publishing for event %s: %s", event_id, exc)
    sent = webhook_event_enqueue(event_id)
    if not sent:
        webhook_wakeup_taken()  # nothing was queued: the next webhook must try again
    return sent


def webhook_wakeup_taken() -> None:
    """A processing task is starting: webhooks stored from now on need a new task."""
    flags = _flag_store()
    if flags is None:
        return
    try:
        flags.delete(WAKEUP_KEY)
    except (RedisError, OSError) as exc:
        # The flag lapses by itself within WAKEUP_SECONDS.
        logger.warning("Redis unavailable; the wake-up flag will lapse: %s", exc)


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

"""Hand an event to the workers, without ever making a provider wait on the broker.

The stored row is the truth: if the broker cannot take the task, the event stays due
and the sweep enqueues it once the broker is back. After a failure, publishing is not
even tried for a short while, so that a broker outage costs each webhook request
nothing (process-local, an optimization only: correctness never depends on it).
"""

import logging
import time

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

BROKER_BACKOFF_SECONDS = 10.0
_broker_unavailable_until = 0.0


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

"""Counters of refused webhooks, kept in the cache (Redis in production).

Refused requests are not stored as events (anyone can send them), but operators need to
see that they happen: a sudden rise means a rotated secret or someone probing.
"""

import logging

from django.core.cache import cache
from django.utils import timezone
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEEP_SECONDS = 8 * 24 * 3600


def _key(provider: str, day: str) -> str:
    return f"webhooks:refused:{provider}:{day}"


def webhook_refused_count(provider: str, reason: str) -> None:
    key = _key(provider, timezone.now().date().isoformat())
    try:
        cache.add(key, 0, timeout=KEEP_SECONDS)
        cache.incr(key)
    except (RedisError, OSError, ValueError) as exc:
        # A counter must never turn a refusal into an error page.
        logger.warning("Could not count a refused %s webhook (%s): %s", provider, reason, exc)


def webhook_refused_today(provider: str) -> int:
    return cache.get(_key(provider, timezone.now().date().isoformat()), 0)

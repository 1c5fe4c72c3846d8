"""Kombu's Redis transport, made to survive a broker outage with tasks in flight.

kombu 5.7.0 (with celery 5.7.0, redis-py 8.1.0) kills the worker when Redis goes away
while it holds unacknowledged messages, which is normal with late acks and prefetch:

1. The consumer sees the connection drop and calls `Connection.collect()`. That
   closes the default channel (the one holding the unacked messages) first; a
   channel waiting on BRPOP begins by reading that reply, which fails before the
   channel is marked closed. The error is ignored, and the connection's other
   channels are closed next: one with an auto-delete fanout queue (gossip, the
   control box) fails to delete it, which ends the loop before the default channel
   is closed again. Then the transport is detached (`transport.client = None`).
2. Celery then calls `Connection.close()`, which closes the default channel again.
   This time it gets as far as restoring its unacknowledged messages, which needs a
   Redis client, whose connection pool is rebuilt from `transport.client.hostname`:
   `AttributeError: 'NoneType' object has no attribute 'hostname'`. That is not a
   connection error, so nothing ignores it and the worker exits ("Unrecoverable
   error") instead of reconnecting.

Here a channel whose transport was detached refuses to build a client with a
*connection* error, which kombu and Celery treat as what it is: the broker is
unreachable. The worker then reconnects as it does after any outage. The messages it
could not restore stay in Redis' unacked set and come back after the visibility
timeout, and every task's own work is leased in the database (webhook events,
reconciliation runs) so the sweeps retake it long before that.

Installed for `redis://` and `rediss://` URLs by config.celery. The same traceback is
reported upstream (celery/kombu issues 582 and 970); remove this module once the kombu
in requirements/base.txt closes the default channel before detaching the transport
(tests/config/test_broker.py then passes without it).
"""

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise RedisConnectionError("The broker connection is closed; reconnecting.")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


def redis_transport_install() -> None:
    """Make `redis://` and `rediss://` broker URLs use this transport."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"

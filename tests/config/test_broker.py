"""The Redis transport survives losing the broker with unacknowledged messages
(config.broker), against a real redis-server of the test's own."""

import contextlib
import os
import shutil

import pytest
from kombu import Connection, Exchange, Producer, Queue
from kombu.common import ignore_errors

from tests.worker import free_port, restartable_redis

# Under CI a missing redis-server fails the test (.ci/run checks for it first): never a
# quiet skip where the suite is meant to prove this.
pytestmark = pytest.mark.skipif(
    not shutil.which("redis-server") and not os.environ.get("CI"),
    reason="needs the redis-server program (apt-get install redis-server); CI has it",
)


def _consuming_connection(port: int) -> tuple[Connection, object]:
    """A connection as a worker holds it: a task taken and not acknowledged yet (late
    acks), BRPOP waiting for the next, and a second channel with an auto-delete fanout
    queue (Celery's gossip and control box)."""
    connection = Connection(f"redis://127.0.0.1:{port}/0")
    channel = connection.default_channel
    tasks = Queue("tasks", Exchange("tasks", type="direct"), routing_key="tasks")
    for n in range(2):
        Producer(channel).publish(
            {"n": n}, exchange=tasks.exchange, routing_key="tasks", declare=[tasks]
        )
    assert channel.basic_get("tasks", no_ack=False) is not None  # taken, not acked
    channel.basic_consume(
        "tasks", no_ack=False, callback=lambda message: None, consumer_tag="tasks"
    )
    gossip = connection.channel()
    fanout = Queue("gossip", Exchange("gossip", type="fanout"), auto_delete=True)
    fanout(gossip).declare()
    gossip.basic_consume(
        "gossip", no_ack=True, callback=lambda message: None, consumer_tag="gossip"
    )
    connection.transport.cycle.on_poll_start()  # what the event loop does: BRPOP sent
    return connection, channel


def test_losing_redis_with_unacked_messages_is_a_connection_error_not_a_crash():
    port = free_port()
    with restartable_redis(port) as redis:
        connection, channel = _consuming_connection(port)
        assert channel.qos._delivered
        assert channel._in_poll

        redis.stop()
        # What Celery's consumer does when the connection drops, before reconnecting.
        with contextlib.suppress(Exception):  # Celery ignores any error here too
            connection.collect(socket_timeout=1)
        ignore_errors(connection, connection.close)  # kombu 5.7.0 alone: AttributeError

        redis.start()
        with Connection(f"redis://127.0.0.1:{port}/0") as again:
            again.ensure_connection(max_retries=3)  # and the broker is usable again

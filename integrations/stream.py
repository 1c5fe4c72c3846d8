"""The live stream's engine: one tail of the outbox per server process, fanned out to
the connected clients of each organization.

A process serves thousands of idle SSE clients on one event loop. Reading the outbox
per client would cost a query per client per event, so one task (the tail) reads every
organization's new events in the outbox's reading order (outbox.readers) and puts
each on the bounded queue of every connected client of its organization whose role
may see it. The tail is woken by the outbox's Redis notice (outbox/notify.py) as soon
as a transaction that recorded events commits; while Redis is down it polls every
second, and every few seconds anyway, so a lost notice delays an event, never loses it.

A client that reads slower than events come is dropped when its queue is full (never
the others, never the tail): it reconnects with Last-Event-ID and replays from the
outbox (integrations/stream_view.py), which is the same path as any reconnect.

Database work runs in a few threads of this module's own (one connection each), so
the number of clients never sets the number of database connections.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import redis.asyncio as aioredis
from django.conf import settings
from django.db import close_old_connections, connection
from redis.exceptions import RedisError

from outbox.models import OutboxEvent
from outbox.notify import notice_channel
from outbox.readers import READ_LIMIT, Position, events_read, position_now
from tenants.models import Role

logger = logging.getLogger(__name__)

QUEUE_SIZE = 1_000  # events a client may lag behind before it is dropped (it resumes)
POLL_SECONDS = 1.0  # Redis down (or not configured): how often the tail reads
SAFETY_POLL_SECONDS = 5.0  # Redis up: a lost notice costs at most this long
HELD_BACK_RETRY_SECONDS = 0.02  # a noticed event is behind a running transaction
HELD_BACK_GIVE_UP_SECONDS = 10.0
REDIS_RETRY_SECONDS = 2.0
DATABASE_THREADS = 4

# Who sees what: the inbox's events are for everyone who reads the inbox (the API
# lets viewers read conversations and messages); consent changes are compliance work
# (agents); everything else, and any type added later, is for admins until decided.
ROLE_BY_PREFIX = {
    "conversation.": Role.VIEWER,
    "message.": Role.VIEWER,
    "contact.": Role.AGENT,
}


def role_required(event_type: str) -> Role:
    prefix = event_type.split(".", 1)[0] + "."
    return ROLE_BY_PREFIX.get(prefix, Role.ADMIN)


def sse_frame(event: OutboxEvent) -> str:
    """One event as an SSE message: its position is the `id:` a client resumes from."""
    data = {
        "id": event.position.token,
        "type": event.type,
        "version": event.version,
        "channel_id": event.channel_id,
        "conversation_id": event.conversation_id,
        "occurred_at": _iso(event.occurred_at),
        "created_at": _iso(event.created_at),
        "body": event.body,
    }
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event.position.token}\nevent: {event.type}\ndata: {text}\n\n"


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(eq=False)
class Subscriber:
    organization_id: int
    role: Role
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False  # its queue overflowed: it gets what is queued, then ends

    def may_see(self, event_type: str) -> bool:
        return self.role.allows(role_required(event_type))


class Hub:
    """The tail and its subscribers, on one event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.position: Position | None = None
        self.subscribers: dict[int, set[Subscriber]] = {}
        self.redis_up = False
        self._wake = asyncio.Event()
        self._noticed_id = 0  # the largest id a notice announced
        self._seen_id = 0  # the largest id the tail has read
        self._held_back_since: float | None = None
        self._started: asyncio.Task | None = None
        self._tasks: list[asyncio.Task] = []
        self._tail_thread = ThreadPoolExecutor(1, thread_name_prefix="stream-tail")
        self._threads = ThreadPoolExecutor(DATABASE_THREADS, thread_name_prefix="stream-db")

    async def subscribe(self, *, organization_id: int, role: Role) -> tuple[Subscriber, Position]:
        """A new subscriber, and the position after which its live events begin."""
        if self._started is None:
            self._started = self.loop.create_task(self._start())
        try:
            await asyncio.shield(self._started)
        except Exception:
            self._started = None  # the database was away: the next client tries again
            raise
        subscriber = Subscriber(organization_id, role)
        self.subscribers.setdefault(organization_id, set()).add(subscriber)
        return subscriber, self.position

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.get(subscriber.organization_id, set()).discard(subscriber)

    async def database(self, function: Callable, /, **kwargs):
        """Run ORM code in one of the stream's threads (not per client)."""
        return await self.loop.run_in_executor(
            self._threads, partial(_with_fresh_connection, function, **kwargs)
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for executor, threads in ((self._tail_thread, 1), (self._threads, DATABASE_THREADS)):
            # One close per thread: each waits for the others, so none runs two.
            barrier = threading.Barrier(threads, timeout=5)
            closes = [self.loop.run_in_executor(executor, _close, barrier) for _ in range(threads)]
            await asyncio.gather(*closes)
            executor.shutdown(wait=False)

    async def _start(self) -> None:
        self.position = await self._read(position_now)
        self._tasks = [self.loop.create_task(self._tail()), self.loop.create_task(self._listen())]

    async def _read(self, function: Callable, **kwargs):
        return await self.loop.run_in_executor(
            self._tail_thread, partial(_with_fresh_connection, function, **kwargs)
        )

    async def _tail(self) -> None:
        while True:
            try:
                await self._read_new()
            except Exception:
                logger.exception("The stream's tail failed to read the outbox; retrying.")
            await self._wait()

    async def _read_new(self) -> None:
        while True:
            page = await self._read(events_read, after=self.position)
            self._fan_out(page.events)
            self.position = page.position
            if len(page.events) < READ_LIMIT:
                return

    def _fan_out(self, events: list[OutboxEvent]) -> None:
        for event in events:
            self._seen_id = max(self._seen_id, event.pk)
            frame = None
            for subscriber in list(self.subscribers.get(event.organization_id, ())):
                if not subscriber.may_see(event.type):
                    continue
                frame = frame or sse_frame(event)
                try:
                    subscriber.queue.put_nowait((event.position, frame))
                except asyncio.QueueFull:
                    subscriber.dropped = True
                    self.unsubscribe(subscriber)

    async def _wait(self) -> None:
        timeout = SAFETY_POLL_SECONDS if self.redis_up else POLL_SECONDS
        if self._noticed_id > self._seen_id:
            # A committed event is not readable yet: an older transaction still runs.
            now = time.monotonic()
            self._held_back_since = self._held_back_since or now
            if now - self._held_back_since < HELD_BACK_GIVE_UP_SECONDS:
                timeout = HELD_BACK_RETRY_SECONDS
            else:  # a notice for events no longer there (purged, another database)
                self._noticed_id = self._seen_id
        else:
            self._held_back_since = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()

    async def _listen(self) -> None:
        url = settings.OUTBOX_NOTIFY_URL
        if not url:
            return
        channel = await self._read(notice_channel)
        warned = False
        while True:
            try:
                await self._listen_once(url, channel)
            except (RedisError, OSError) as error:
                if self.redis_up or not warned:  # once per outage, not per retry
                    logger.warning("Stream notices unavailable, polling the outbox: %s", error)
                warned = True
            finally:
                if self.redis_up:
                    self.redis_up = False
                    self._wake.set()  # the tail waits for a notice: poll from now on
            await asyncio.sleep(REDIS_RETRY_SECONDS)

    async def _listen_once(self, url: str, channel: str) -> None:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=1, health_check_interval=10)
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(channel)
                self.redis_up = True
                self._wake.set()  # notices published while it was down are lost
                while True:
                    message = await pubsub.get_message(timeout=SAFETY_POLL_SECONDS)
                    if message is not None:
                        self._noticed_id = max(self._noticed_id, int(message["data"]))
                        self._wake.set()
        finally:
            await client.aclose()


def _with_fresh_connection(function: Callable, **kwargs):
    # These threads outlive requests: drop a connection that broke or grew too old.
    close_old_connections()
    return function(**kwargs)


def _close(barrier: threading.Barrier) -> None:
    barrier.wait()
    connection.close()


_hub: Hub | None = None


def stream_hub() -> Hub:
    """This process's hub (one per event loop: tests start several loops)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = Hub()
    return _hub


async def stream_hub_close() -> None:
    global _hub
    if _hub is not None:
        await _hub.close()
        _hub = None

"""Driving the ASGI application in-process as an SSE client would, and reading what
it sends: the whole stack (middleware, the async view, the hub), no server."""

import asyncio
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from django.db import connection

from config.asgi import application
from integrations.stream import stream_hub_close


@dataclass
class Stream:
    status: int
    headers: dict[str, str]
    _sent: asyncio.Queue
    _disconnect: asyncio.Event
    _task: asyncio.Task
    _buffer: str = ""
    comments: list[str] = field(default_factory=list)
    ended: bool = False

    async def body(self) -> dict:
        """A non-stream answer's JSON."""
        chunks = []
        while not self.ended:
            await self._chunk(timeout=5)
            chunks.append(self._buffer)
            self._buffer = ""
        return json.loads("".join(chunks))

    async def messages(self, count: int, *, timeout: float = 20.0) -> list[dict]:
        """The next `count` SSE messages (fields by name; comments kept aside)."""
        found: list[dict] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < count:
            while "\n\n" not in self._buffer:
                if self.ended:
                    return found
                await self._chunk(timeout=max(0.0, deadline - loop.time()))
            block, self._buffer = self._buffer.split("\n\n", 1)
            message = _parse(block, self.comments)
            if message:
                found.append(message)
        return found

    async def events(self, count: int, *, timeout: float = 20.0) -> list[dict]:
        """The next `count` events (messages with data), skipping the opening one."""
        found = []
        while len(found) < count:
            batch = await self.messages(1, timeout=timeout)
            if not batch:
                break
            if "data" in batch[0]:
                found.append(batch[0])
        return found

    async def quiet_for(self, seconds: float) -> list[dict]:
        """Every event that arrives within `seconds` (expected: none)."""
        try:
            return await self.events(1, timeout=seconds)
        except TimeoutError:
            return []

    async def _chunk(self, *, timeout: float) -> None:
        message = await asyncio.wait_for(self._sent.get(), timeout)
        self._buffer += message.get("body", b"").decode()
        if not message.get("more_body", False):
            self.ended = True

    async def close(self) -> None:
        self._disconnect.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, 5)


def _parse(block: str, comments: list[str]) -> dict:
    message: dict = {}
    for line in block.split("\n"):
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(": ")
        message[name] = json.loads(value) if name == "data" else value
    return message


async def stream_open(
    headers: dict[str, str], path: str = "/api/v1/stream", method: str = "GET"
) -> Stream:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: asyncio.Queue = asyncio.Queue()
    disconnect = asyncio.Event()
    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    task = asyncio.create_task(application(scope, receive, sent.put))
    start = await asyncio.wait_for(sent.get(), 10)
    headers_sent = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Stream(start["status"], headers_sent, sent, disconnect, task)


_thread: ThreadPoolExecutor | None = None


def _close_connection() -> None:
    connection.close()  # this thread's: `connection` resolves where it is called


async def in_thread(function, *args, **kwargs):
    """Run ORM code (recording events) in the scenario's own thread, with its own
    connection, as another process would commit."""
    return await asyncio.get_running_loop().run_in_executor(
        _thread, partial(function, *args, **kwargs)
    )


def run(scenario) -> None:
    """Run an async scenario on a fresh loop, then close the connections it opened
    (the hub's threads, its own), so the test database can be dropped."""
    global _thread
    _thread = ThreadPoolExecutor(1)

    async def main():
        try:
            await scenario()
        finally:
            await stream_hub_close()
            await in_thread(_close_connection)

    try:
        asyncio.run(main())
    finally:
        _thread.shutdown()

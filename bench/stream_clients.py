"""The SSE clients of bench/stream.py, in a process of their own: `--idle` connections
that receive nothing but heartbeats (another organization's stream), and one client of
the benchmarked organization that notes when each message arrives.

    python bench/stream_clients.py --url URL --token T --idle-token T2 --idle 1000 \
        --expect 12000 --out arrivals.txt --ready ready.txt

Writes "<webhook index> <arrival unix time>" per event to --out, touches --ready when
every connection is open, exits when --expect events arrived or --timeout passed.
"""

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import httpx


async def main() -> None:
    options = _options()
    limits = httpx.Limits(max_connections=options.idle + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(10.0, read=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        opened = asyncio.Event()
        measuring = asyncio.create_task(_measure(client, options, opened))
        await opened.wait()
        idle_open = 0

        async def idle() -> None:
            nonlocal idle_open
            headers = {"Authorization": f"Token {options.idle_token}"}
            async with client.stream("GET", options.url, headers=headers) as answer:
                answer.raise_for_status()
                idle_open += 1
                async for _ in answer.aiter_bytes():
                    pass

        idlers = []
        for _ in range(options.idle):
            idlers.append(asyncio.create_task(idle()))
            await asyncio.sleep(0.002)  # no thundering herd on the accept queue
        while idle_open < options.idle:
            failed = [task.exception() for task in idlers if task.done() and task.exception()]
            if failed:
                sys.exit(f"an idle client failed: {failed[0]!r}")
            await asyncio.sleep(0.1)
        Path(options.ready).write_text(str(idle_open))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(measuring, options.timeout)
        for task in idlers:
            task.cancel()


async def _measure(client: httpx.AsyncClient, options, opened: asyncio.Event) -> None:
    headers = {"Authorization": f"Token {options.token}"}
    received = 0
    with Path(options.out).open("w", buffering=1) as out:  # by line: it may be killed
        async with client.stream("GET", options.url, headers=headers) as answer:
            answer.raise_for_status()
            opened.set()
            async for line in answer.aiter_lines():
                if not line.startswith("data: "):
                    continue
                arrived = time.time()
                text = json.loads(line[6:])["body"].get("text", "")
                if text.startswith("bench "):
                    out.write(f"{text.split()[1]} {arrived}\n")
                    received += 1
                    if received >= options.expect:
                        return


def _options():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--idle-token", required=True)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main())

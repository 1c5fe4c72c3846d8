"""Deliveries benchmark: signed webhook deliveries per second to a local receiver, and a
receiver that is down for 10 minutes then back.

    BENCH_DATABASE=bench_deliveries DATABASE_URL=postgres://postgres@127.0.0.1:5442/postgres \
    REDIS_URL=redis://127.0.0.1:6379/13 .venv/bin/python bench/deliveries.py

1. Throughput: --events outbox events over --conversations conversations, fanned out
   to one subscription, then sent by `deliveries_send_round` (claim, sign, POST, record)
   until none is left, to a receiver in its own process (http.server, keep-alive). Side
   by side in the same run, on the same deliveries (replayed between runs): signed with
   INTEGRATIONS_SEND_THREADS threads, unsigned with as many (the baseline: what signing
   costs), and signed with one thread (what the pool buys). Alternating rounds.
2. Down then back: events keep coming while the receiver is stopped (connection
   refused) for 10 minutes, then it is started again. The clock is the benchmark's: the
   sender is called with `now` advancing 5 s a step (600 s down, then until everything
   is delivered), not 10 real minutes; the receiver's own checks use the real clock.
   The receiver verifies every signature with `standardwebhooks`; at the end each
   event's webhook-id must have been accepted exactly once, in event order within each
   conversation.
Uses (and drops) the database $BENCH_DATABASE.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_environment, drop_database, free_port, fresh_database, setup_django


def _receive(port: int, secret: str, log_path: str, verify: bool) -> None:
    """The receiver process: 204 to every POST, one line per request in `log_path`.
    A minimal asyncio HTTP/1.1 server (keep-alive, Content-Length bodies): http.server
    answered 360 requests/s on this machine with nothing else to do, below the rate to
    be measured."""
    from standardwebhooks import Webhook

    webhook = Webhook(secret) if verify else None
    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    async def connection(reader, writer):
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                if webhook is not None:
                    webhook.verify(body, headers, json_parse=False)
                event = json.loads(body)
                log.write(
                    f"{headers.get('webhook-id', '-')} {event['conversation_id']} "
                    f"{event['id']} {time.time()}\n"
                )
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=512)
        await server.serve_forever()

    asyncio.run(serve())


class ReceiverProcess:
    def __init__(self, port: int, secret: str, log_path: str, verify: bool) -> None:
        self.args = (port, secret, log_path, verify)
        self.process = None

    def start(self) -> None:
        self.process = multiprocessing.Process(target=_receive, args=self.args, daemon=True)
        self.process.start()
        time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()


def main() -> None:
    options = _options()
    env = {
        **bench_environment(),
        "INTEGRATIONS_ALLOW_PRIVATE_URLS": "1",
        "INTEGRATIONS_ALLOW_HTTP": "1",
        "INTEGRATIONS_SEND_THREADS": str(options.threads),
    }
    fresh_database(env)
    setup_django(env)
    try:
        # The machine is shared: what else ran beside the figures.
        print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)\n")
        parts = {"1": _throughput, "2": _down_then_back, "3": _latency}
        for part in options.parts.split(","):
            parts[part](options)
    finally:
        drop_database(env)


def _world(port: int):
    from integrations.subscriptions import subscription_create
    from tenants.models import Organization

    organization = Organization.objects.create(name="Bench", slug=f"bench-{port}")
    subscription = subscription_create(
        organization=organization,
        url=f"http://127.0.0.1:{port}/hook",
        event_types=["conversation.assigned"],
    )
    return organization, subscription


def _record(organization, count: int, conversations: int, start: int = 0) -> None:
    from django.db import transaction

    from outbox.services import EventDraft, events_record_many
    from outbox.types import ConversationAssignedBody

    for first in range(start, start + count, 1000):
        drafts = []
        for n in range(first, min(first + 1000, start + count)):
            conversation = 1 + n % conversations
            body = ConversationAssignedBody(conversation, 1, n, None)
            drafts.append(
                EventDraft("conversation.assigned", organization.pk, body, 1, conversation)
            )
        with transaction.atomic():
            events_record_many(events=drafts)


def _send_everything(*, sign: bool, threads: int) -> float:
    from django.conf import settings

    from integrations import sending

    settings.INTEGRATIONS_SEND_THREADS = threads
    sending._pool = None
    started = time.perf_counter()
    while sending.deliveries_send_round(sign=sign):
        pass
    return time.perf_counter() - started


def _drain(sign: bool) -> None:
    """One sender process (as a Celery worker process would be): fresh connection,
    thread pool and HTTP clients, rounds until nothing is left."""
    from integrations import egress, sending

    sending._pool = None
    egress._clients.clear()
    while sending.deliveries_send_round(sign=sign):
        pass


def _send_in_processes(*, workers: int, threads: int) -> float:
    from django.conf import settings
    from django.db import connections

    settings.INTEGRATIONS_SEND_THREADS = threads
    connections.close_all()  # each forked process opens its own
    fork = multiprocessing.get_context("fork")
    started = time.perf_counter()
    processes = [fork.Process(target=_drain, args=(True,)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return time.perf_counter() - started


def _throughput(options) -> None:
    from integrations.fanout import deliveries_fan_out
    from integrations.models import Delivery, DeliveryStatus
    from integrations.subscriptions import deliveries_replay

    port = free_port()
    log_path = f"/tmp/bench_deliveries_{port}.log"  # noqa: S108 - a scratch file
    organization, subscription = _world(port)
    receiver = ReceiverProcess(port, subscription.secret, log_path, verify=False)
    receiver.start()
    try:
        _record(organization, options.events, options.conversations)
        started = time.perf_counter()
        deliveries_fan_out(max_pages=10_000)
        fan_out = time.perf_counter() - started
        mine = Delivery.objects.filter(subscription=subscription)
        total = mine.count()
        print(
            f"1. Throughput: {options.events:,} events over {options.conversations:,} "
            f"conversations -> {total:,} deliveries; fan-out {fan_out:.2f} s "
            f"({total / fan_out:,.0f} events/s)\n"
        )
        workers = options.workers
        variants = [
            (f"signed, 1 process x {options.threads} threads", True, options.threads, 1),
            (f"unsigned, 1 process x {options.threads} threads", False, options.threads, 1),
            ("signed, 1 process x 1 thread", True, 1, 1),
            (f"signed, {workers} processes x {options.threads} threads", True, options.threads, 0),
        ]
        rates: dict[str, list[float]] = {name: [] for name, *_ in variants}
        for _ in range(options.rounds):
            for name, sign, threads, single in variants:
                deliveries_replay(deliveries=mine)
                seconds = (
                    _send_everything(sign=sign, threads=threads)
                    if single
                    else _send_in_processes(workers=workers, threads=threads)
                )
                done = mine.filter(status=DeliveryStatus.SUCCEEDED).count()
                assert done == total, (name, done, total)
                rates[name].append(total / seconds)
        print(f"   {'variant':<40} deliveries/s (median of {options.rounds}; each run)")
        for name, values in rates.items():
            each = ", ".join(f"{v:,.0f}" for v in values)
            print(f"   {name:<40} {statistics.median(values):>8,.0f}   ({each})")
        print()
    finally:
        receiver.stop()


def _down_then_back(options) -> None:
    from django.utils import timezone

    from integrations import sending
    from integrations.fanout import deliveries_fan_out
    from integrations.models import Delivery, DeliveryStatus

    port = free_port()
    log_path = f"/tmp/bench_deliveries_{port}.log"  # noqa: S108 - a scratch file
    Path(log_path).unlink(missing_ok=True)
    organization, subscription = _world(port)
    receiver = ReceiverProcess(port, subscription.secret, log_path, verify=True)
    step, down_for, per_step = 5, 600, options.down_events // 120
    clock = timezone.now() + timedelta(seconds=1)
    started, recorded, elapsed = time.perf_counter(), 0, 0
    sent_while_down = 0
    while True:
        if elapsed == down_for:
            receiver.start()
        if elapsed < down_for:
            _record(organization, per_step, options.conversations // 10, start=recorded)
            recorded += per_step
        deliveries_fan_out(max_pages=100)
        while sent := sending.deliveries_send_round(now=clock + timedelta(seconds=elapsed)):
            sent_while_down += sent if elapsed < down_for else 0
        left = Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).count()
        if elapsed > down_for and left == 0:
            break
        if elapsed > 6 * 3600:
            print(f"   gave up: {left} not delivered")
            break
        elapsed += step
    real = time.perf_counter() - started
    receiver.stop()
    lines = [line.split() for line in Path(log_path).read_text().splitlines()]
    ids = [webhook_id for webhook_id, *_ in lines]
    by_conversation: dict[str, list[int]] = {}
    for _, conversation, event_id, _ in lines:
        by_conversation.setdefault(conversation, []).append(int(event_id))
    in_order = all(events == sorted(events) for events in by_conversation.values())
    dead = Delivery.objects.filter(subscription=subscription, status=DeliveryStatus.DEAD).count()
    print(
        f"2. Down then back: {recorded:,} events over {options.conversations // 10:,} "
        f"conversations while the receiver was down for {down_for} s (the benchmark's "
        f"clock, {step} s a step); attempts refused while down: {sent_while_down:,}\n"
        f"   everything delivered {elapsed - down_for:,} s (bench clock) after it came "
        f"back ({real:.1f} s real for the whole run): the first retries after an outage "
        "come at 5 min and 30 min of the schedule\n"
        f"   received {len(ids):,} requests, {len(set(ids)):,} distinct webhook-ids "
        f"(each once: {len(ids) == len(set(ids)) == recorded}), in event order within "
        f"every conversation: {in_order}, dead: {dead}"
    )


def _latency(options) -> None:
    """From an event's commit to its receipt, with the pump as beat runs it (a loop
    polling every INTEGRATIONS_POLL_SECONDS), events committed one at a time."""
    import threading

    from django.conf import settings
    from django.db import connections

    from integrations.sending import deliveries_pump

    port = free_port()
    log_path = f"/tmp/bench_deliveries_{port}.log"  # noqa: S108 - a scratch file
    Path(log_path).unlink(missing_ok=True)
    organization, subscription = _world(port)
    receiver = ReceiverProcess(port, subscription.secret, log_path, verify=True)
    receiver.start()
    committed: dict[int, float] = {}

    def pump():
        seconds = options.events_latency * 0.1 + 3
        deliveries_pump(seconds=seconds, poll=settings.INTEGRATIONS_POLL_SECONDS)
        connections.close_all()

    pumping = threading.Thread(target=pump)
    pumping.start()
    from outbox.models import OutboxEvent

    for n in range(options.events_latency):
        _record(organization, 1, 50, start=n)
        last = OutboxEvent.objects.order_by("-id").values_list("id", flat=True)[0]
        committed[last] = time.time()
        time.sleep(0.1)
    pumping.join()
    receiver.stop()
    lines = [line.split() for line in Path(log_path).read_text().splitlines()]
    arrived = {int(event_id): float(at) for _, _, event_id, at in lines}
    waits = sorted((arrived[i] - t) * 1000 for i, t in committed.items() if i in arrived)
    quantiles = statistics.quantiles(waits, n=100)
    print(
        f"3. Latency, commit to receipt, pump polling every "
        f"{settings.INTEGRATIONS_POLL_SECONDS} s: {len(waits)}/{len(committed)} events, "
        f"p50 {quantiles[49]:.0f} ms, p95 {quantiles[94]:.0f} ms, max {waits[-1]:.0f} ms"
    )


def _options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="sender processes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--down-events", type=int, default=6_000)
    parser.add_argument("--events-latency", type=int, default=100)
    parser.add_argument("--parts", default="1,2,3", help="which of 1,2,3 to run")
    return parser.parse_args()


if __name__ == "__main__":
    main()

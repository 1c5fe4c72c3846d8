"""Outbound benchmark: sends per second through the real task path, and the throughput
limiter holding a channel's configured rate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/outbound.py

1. Queues --messages text sends (message_send_text: window, limits, a queued row, the
   send task on commit), then starts real Celery workers on the `outbound` queue, which
   hand them to a local fake Graph API (bench/fake_provider.py) and record the wamids.
   Prints sends per second between the first and the last accepted send.
2. Two threads call message_send_text as fast as they can for --seconds on a channel
   limited to --rate sends per second; prints the admitted rate after the first second
   (the bucket starts full: one second's worth may go at once) against the target of
   the configured rate within 5%.
Uses (and drops) a database named switchboard_bench.
"""

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    bench_environment,
    celery_worker,
    free_port,
    fresh_database,
    running,
    setup_django,
    whatsapp_channel,
)


def main() -> None:
    options = _options()
    port = free_port()
    env = {
        **bench_environment(),
        "WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{port}",
    }
    fresh_database(env)
    setup_django(env)
    with running(
        [sys.executable, str(ROOT / "bench" / "fake_provider.py"), str(port)], env, ready_port=port
    ):
        sends_per_second = _task_path(options, env)
    admitted_rate, attempts = _limiter(options)
    _report(options, sends_per_second, admitted_rate, attempts)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4, help="worker processes")
    parser.add_argument("--rate", type=int, default=50, help="limiter: sends per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="limiter: duration")
    return parser.parse_args()


def _open_conversation(channel, n: int = 0):
    from django.utils import timezone

    from conversations.models import Contact, Conversation

    contact = Contact.objects.create(
        organization_id=channel.organization_id,
        name=f"Bench customer {n}",
        phone=f"+1650555{n:04d}",
    )
    now = timezone.now()
    return Conversation.objects.create(
        organization_id=channel.organization_id,
        channel=channel,
        contact=contact,
        last_user_message_at=now,
        window_expires_at=now + timezone.timedelta(hours=24),
        is_window_open=True,
    )


def _task_path(options, env) -> float:
    from django.db import transaction

    from messaging import services
    from messaging.models import SendLimit

    channel = whatsapp_channel()
    channel.access_token = "bench-token"
    channel.save()
    SendLimit.objects.create(channel=channel, per_second=1_000_000)  # measure the path
    # Sends spread over customers, as in life: one conversation's sends take its row
    # lock one at a time.
    conversations = [_open_conversation(channel, n) for n in range(options.customers)]
    for start in range(0, options.messages, 500):
        with transaction.atomic():  # tasks are queued as each block commits
            for n in range(start, min(start + 500, options.messages)):
                conversation = conversations[n % len(conversations)]
                services.message_send_text(conversation=conversation, text=f"Bench {n}")
    worker = celery_worker("outbound", options.concurrency)
    with running(worker, env):
        return _wait_until_sent(options.messages)


def _wait_until_sent(count: int, timeout: float = 600) -> float:
    from django.db.models import Max, Min

    from conversations.models import Message

    deadline = time.monotonic() + timeout
    accepted = Message.objects.exclude(provider_message_id="").filter(direction="outbound")
    while accepted.count() < count:
        if time.monotonic() > deadline:
            sys.exit(f"Only {accepted.count()} of {count} sends accepted after {timeout}s")
        time.sleep(0.5)
    span = accepted.aggregate(first=Min("updated_at"), last=Max("updated_at"))
    return count / max((span["last"] - span["first"]).total_seconds(), 1e-6)


def _limiter(options) -> tuple[float, int]:
    from django.db import connection

    from messaging import services
    from messaging.models import SendLimit
    from providers import Provider
    from tenants import services as tenants
    from tenants.errors import ApplicationError

    channel = tenants.channel_create(
        organization=tenants.organization_create(name="Limited", slug="limited"),
        provider=Provider.WHATSAPP_CLOUD,
        name="Limited WhatsApp",
        check_credentials=False,  # fake numbers: Meta would refuse them
        phone_number_id="20000000000001",
        waba_id="20000000000002",
        app_secret="bench-secret",  # noqa: S106 - a benchmark's throwaway channel
    )
    SendLimit.objects.create(channel=channel, per_second=options.rate)
    conversation = _open_conversation(channel, 9999)
    admitted: list[float] = []
    attempts = [0]
    started = time.monotonic()

    def sender():
        while time.monotonic() - started < options.seconds:
            attempts[0] += 1
            try:
                services.message_send_text(conversation=conversation, text="limited")
            except ApplicationError:
                continue
            admitted.append(time.monotonic() - started)
        connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The bucket starts full: skip the first second after the first admitted send, then
    # count sends per second between the first and the last admitted one.
    admitted.sort()
    after_burst = [t for t in admitted if t >= admitted[0] + 1.0]
    return (len(after_burst) - 1) / (after_burst[-1] - after_burst[0]), attempts[0]


def _report(options, sends_per_second: float, admitted_rate: float, attempts: int) -> None:
    deviation = (admitted_rate - options.rate) / options.rate
    print(
        f"\nsend task path: {options.messages:,} text sends to {options.customers} customers "
        f"through {options.concurrency} worker processes to a local fake Graph API: "
        f"{sends_per_second:,.0f} sends/s"
    )
    print(
        f"limiter: {attempts:,} attempts from 2 threads in {options.seconds:.0f} s at a "
        f"configured {options.rate}/s: {admitted_rate:.1f}/s admitted after the first "
        f"second ({deviation:+.1%}; target within 5%: "
        f"{'met' if abs(deviation) <= 0.05 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()

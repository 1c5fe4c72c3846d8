"""Apply benchmark: how many inbound messages per second real Celery workers apply end
to end (claim, parse, contact, conversation under its row lock, message, window), on
PostgreSQL with Redis as the broker, and whether any is lost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/apply.py

Stores the webhooks and queues their tasks first, then starts the workers; the rate is
measured between the first and the last event finished (so worker start-up does not
count). Target: >= 500 messages/s on this 2-core machine, none lost.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    bench_environment,
    celery_worker,
    fresh_database,
    purge_broker,
    running,
    setup_django,
    whatsapp_channel,
    whatsapp_signature,
    whatsapp_text_payload,
)


def main() -> None:
    options = _options()
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    channel = whatsapp_channel()
    purge_broker()
    _store_webhooks(channel, options)
    worker = celery_worker("webhooks", options.concurrency)
    with running(worker, env):
        _wait_until_done(options.events, timeout=options.timeout)
    _report(options)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000, help="webhooks to apply")
    parser.add_argument("--messages-per-event", type=int, default=1)
    parser.add_argument("--contacts", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=int, default=600)
    return parser.parse_args()


def _store_webhooks(channel, options) -> None:
    from django.utils import timezone

    from tenants.selectors import channel_webhook_route
    from webhooks.services import webhook_event_store

    route = channel_webhook_route(provider=channel.provider, key=channel.key)
    started = time.monotonic()
    for index in range(options.events):
        body = whatsapp_text_payload(
            index, messages=options.messages_per_event, contacts=options.contacts
        )
        webhook_event_store(
            provider=channel.provider,
            route=route,
            body=body,
            headers={"x-hub-signature-256": whatsapp_signature(body)},
            url="",
            received_at=timezone.now(),
        )
    print(f"stored and queued {options.events} webhooks in {time.monotonic() - started:.1f}s")


def _wait_until_done(expected: int, *, timeout: int) -> None:
    from webhooks.models import EventStatus, WebhookEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = WebhookEvent.objects.exclude(
            status__in=[EventStatus.RECEIVED, EventStatus.PROCESSING]
        ).count()
        if finished >= expected:
            return
        time.sleep(0.5)
    sys.exit(f"Only {finished} of {expected} events finished after {timeout}s")


def _report(options) -> None:
    from django.db.models import Count, Max, Min

    from conversations.models import Message
    from webhooks.models import WebhookEvent

    span = WebhookEvent.objects.aggregate(first=Min("processed_at"), last=Max("processed_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    statuses = dict(WebhookEvent.objects.values_list("status").annotate(n=Count("id")))
    expected = options.events * options.messages_per_event
    applied = Message.objects.count()
    print(
        f"\n{options.events} webhooks x {options.messages_per_event} message(s), "
        f"{options.contacts} customers, {options.concurrency} worker processes, "
        f"{os.cpu_count()} cores, PostgreSQL + Redis"
    )
    print(f"events by status: {statuses}")
    print(f"applied {applied} of {expected} messages ({expected - applied} lost) in {seconds:.1f}s")
    print(
        f"{applied / seconds:.0f} messages/s, {options.events / seconds:.0f} webhooks/s "
        f"(target >= 500 messages/s)"
    )


if __name__ == "__main__":
    main()

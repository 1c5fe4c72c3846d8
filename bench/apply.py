"""Apply benchmark: how many inbound messages per second real Celery workers apply end
to end (claim, parse, contact, conversation under its row lock, message, window,
consent keywords), on PostgreSQL with Redis as the broker, and whether any is lost.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/apply.py

Stores the webhooks and queues their tasks first, then starts the workers; the rate is
measured between the first and the last event finished (so worker start-up does not
count). Target: >= 500 messages/s on this 2-core machine, none lost.

Keywords (issue 14): `--keyword-share 0.1` makes that share of the webhooks (chosen at
random, the same ones every run) carry STOP, START or HELP as their text instead of an
ordinary message. Each is a consent change (STOP, START) and a pending auto-reply that
the applying worker sends once its batch commits; a worker on the `outbound` queue
hands the replies to a local fake Graph API (bench/fake_provider.py), never to Meta.
`--compare-keywords` runs 0% and the share in alternating rounds (0, share, 0, share
with --rounds 2), each on a fresh database, and prints them side by side. The outbound
worker runs in every round, keywords or not. `--no-replies` turns the channel's keyword
replies off: the keywords still change consent, nothing is answered.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    bench_environment,
    celery_worker,
    free_port,
    fresh_database,
    purge_broker,
    running,
    setup_django,
    whatsapp_channel,
    whatsapp_signature,
    whatsapp_text_payload,
)

KEYWORDS = ("STOP", "START", "HELP")


def main() -> None:
    options = _options()
    port = free_port()
    env = {**bench_environment(), "WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{port}"}
    setup_django(env)
    if options.compare_keywords:
        shares = [0.0, options.keyword_share or 0.1] * options.rounds
    else:
        shares = [options.keyword_share]
    fake_graph = [sys.executable, str(ROOT / "bench" / "fake_provider.py"), str(port)]
    with running(fake_graph, env, ready_port=port):
        results = [_round(options, env, share) for share in shares]
    if len(results) > 1:
        _side_by_side(results)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5_000, help="webhooks to apply")
    parser.add_argument("--messages-per-event", type=int, default=1)
    parser.add_argument("--contacts", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument(
        "--keyword-share", type=float, default=0.0, help="share of webhooks that are keywords"
    )
    parser.add_argument(
        "--compare-keywords",
        action="store_true",
        help="alternate rounds without keywords and with --keyword-share (default 0.1)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="with --compare-keywords")
    parser.add_argument(
        "--no-replies",
        action="store_true",
        help="the channel's keyword replies off: keywords change consent, nothing is sent",
    )
    return parser.parse_args()


def _round(options, env, share: float) -> dict:
    from django.db import connections

    from messaging.models import SendLimit

    connections.close_all()  # the database is dropped under this process's connection
    fresh_database(env)
    channel = whatsapp_channel()
    channel.access_token = "bench-token"
    if options.no_replies:
        channel.keyword_replies = "off"
    channel.save()
    # Auto-replies go through the channel's limits: measure the path, not Meta's 80/s.
    SendLimit.objects.create(channel=channel, per_second=1_000_000)
    purge_broker("webhooks", "outbound")
    keywords = _store_webhooks(channel, options, share)
    with (
        running(celery_worker("webhooks", options.concurrency), env),
        running(celery_worker("outbound", 1), env),
    ):
        _wait_until_done(options.events, timeout=options.timeout)
        _wait_until_replies_sent(timeout=120)
    return _report(options, share, keywords)


def _store_webhooks(channel, options, share: float) -> int:
    from django.utils import timezone

    from tenants.selectors import channel_webhook_route
    from webhooks.services import webhook_event_store

    route = channel_webhook_route(provider=channel.provider, key=channel.key)
    chooser = random.Random(14)  # the same webhooks are keywords in every round
    # With keywords, messages written in the last hours (in every round, keywords or
    # not): a keyword filed more than a day after it was written gets no reply.
    recent = options.keyword_share or options.compare_keywords
    first = int(time.time()) - options.events if recent else 1_760_000_000
    keywords = 0
    started = time.monotonic()
    for index in range(options.events):
        text = chooser.choice(KEYWORDS) if chooser.random() < share else None
        keywords += text is not None
        body = whatsapp_text_payload(
            index,
            messages=options.messages_per_event,
            contacts=options.contacts,
            text=text,
            timestamp=first + index,
        )
        webhook_event_store(
            provider=channel.provider,
            route=route,
            body=body,
            headers={"x-hub-signature-256": whatsapp_signature(body)},
            url="",
            received_at=timezone.now(),
        )
    print(
        f"stored and queued {options.events} webhooks ({keywords} keywords) "
        f"in {time.monotonic() - started:.1f}s"
    )
    return keywords


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


def _wait_until_replies_sent(*, timeout: int) -> None:
    """Until every reply queued for sending is accepted by the fake Graph API (or
    `timeout`: the report then shows how many were not)."""
    from conversations.consent_models import AutoReply, AutoReplyState
    from conversations.models import Message

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = AutoReply.objects.filter(state=AutoReplyState.SENT).count()
        accepted = (
            Message.objects.filter(direction="outbound").exclude(provider_message_id="").count()
        )
        if accepted >= queued:
            return
        time.sleep(0.5)


def _report(options, share: float, keywords: int) -> dict:
    from django.db.models import Count, Max, Min

    from conversations.consent_models import AutoReply, ConsentChange
    from conversations.models import Message
    from webhooks.models import WebhookEvent

    span = WebhookEvent.objects.aggregate(first=Min("processed_at"), last=Max("processed_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    statuses = dict(WebhookEvent.objects.values_list("status").annotate(n=Count("id")))
    expected = options.events * options.messages_per_event
    applied = Message.objects.filter(direction="inbound").count()
    replies = dict(AutoReply.objects.values_list("state").annotate(n=Count("id")))
    accepted = Message.objects.filter(direction="outbound").exclude(provider_message_id="").count()
    result = {
        "share": share,
        "rate": applied / seconds,
        "webhooks_rate": options.events / seconds,
        "lost": expected - applied,
        "keywords": keywords,
        "consent_changes": ConsentChange.objects.count(),
        "replies": sum(replies.values()),
        "replies_accepted": accepted,
    }
    print(
        f"\n{options.events} webhooks x {options.messages_per_event} message(s), "
        f"{options.contacts} customers, keywords in {share:.0%} of webhooks, "
        f"{options.concurrency} worker processes, {os.cpu_count()} cores, PostgreSQL + Redis"
    )
    print(f"events by status: {statuses}")
    print(f"applied {applied} of {expected} messages ({expected - applied} lost) in {seconds:.1f}s")
    print(
        f"{result['rate']:.0f} messages/s, {result['webhooks_rate']:.0f} webhooks/s "
        f"(target >= 500 messages/s)"
    )
    if share:
        print(
            f"{keywords} keyword webhooks: {result['consent_changes']} consent changes, "
            f"auto-replies by state {replies}, {accepted} accepted by the fake Graph API\n"
        )
    return result


def _side_by_side(results: list[dict]) -> None:
    print("\nround  keywords  messages/s  lost  keyword msgs  consent changes  replies  sent")
    for number, r in enumerate(results, 1):
        print(
            f"{number:>5}  {r['share']:>8.0%}  {r['rate']:>10.0f}  {r['lost']:>4}  "
            f"{r['keywords']:>12}  {r['consent_changes']:>15}  {r['replies']:>7}  "
            f"{r['replies_accepted']:>4}"
        )
    for share in sorted({r["share"] for r in results}):
        rates = [f"{r['rate']:.0f}" for r in results if r["share"] == share]
        print(f"keywords in {share:.0%}: {' / '.join(rates)} messages/s")


if __name__ == "__main__":
    main()

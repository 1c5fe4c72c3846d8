"""Campaign scheduler benchmark: how fast one scheduler claims, renders and hands due
steps to the send service, whether its memory stays flat as the campaign grows, and
what a tick with nothing due costs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/campaigns.py

What is measured: `scheduler_tick` in this process against PostgreSQL and Redis, for a
WhatsApp template campaign (one personalized template step, then a follow-up a working
day later) of --small and then --large enrollments (default 10,000 and 100,000).
Every step goes the whole way through `message_send_template` (channel, template and
parameter checks, the Redis rate limiter, the queued message and its conversation) and
the step's execution row; only the broker call that queues the send task is replaced
by a counter (the send task's own speed is bench/outbound.py's business). Each lead's
conversation exists beforehand (as after an import from existing contacts). Sending
hours are set to the whole day, every day, so the benchmark runs at any hour.

Prints steps/s, tracemalloc's peak and the RSS for each size, then the cost of a tick
with nothing due (and of its parts) with the whole campaign waiting for its next step.
Uses (and drops) a database named switchboard_bench_campaigns.
"""

import argparse
import os
import sys
import time
import tracemalloc
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BENCH_DATABASE", "switchboard_bench_campaigns")

from bench.common import bench_environment, drop_database, fresh_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    options = parser.parse_args()
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    try:
        queued = _stub_broker()
        channel, template = _channel()
        rows = []
        for index, size in enumerate((options.small, options.large)):
            campaign = _campaign(channel, template, size, offset=index * options.small)
            rows.append((size, *_run(campaign, options.batch, queued)))
        idle = _idle_tick()
        _report(rows, idle)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(env)


def _stub_broker() -> list[int]:
    """The send task's broker call, replaced by a list: what would have been queued."""
    from messaging import services

    queued: list[int] = []
    services._deliver_later = queued.append
    return queued


def _channel():
    from bench.common import whatsapp_channel
    from messaging.models import SendLimit
    from templates.models import MessageTemplate

    channel = whatsapp_channel()
    SendLimit.objects.create(channel=channel, per_second=1_000_000)  # measure the path
    template = MessageTemplate.objects.create(
        organization=channel.organization,
        channel=channel,
        provider_template_id="1387372356726668",
        name="spring_offer",
        language="en_US",
        category="MARKETING",
        parameter_format="NAMED",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hi {{first_name}}, {{company}} has news."}],
    )
    return channel, template


def _campaign(channel, template, size: int, *, offset: int):
    """A campaign of `size` leads, each with a contact and a conversation, written with
    COPY-speed bulk inserts (what is measured is the scheduler, not the import)."""
    from campaigns.models import Campaign, Enrollment, Step, StepKind
    from conversations.models import Contact, Conversation

    campaign = Campaign.objects.create(
        organization=channel.organization,
        channel=channel,
        name=f"Bench {size}",
        timezone="UTC",
        send_start=clock_time(0, 0),
        send_end=clock_time(23, 59, 59),
        send_days=list(range(7)),
    )
    Step.objects.create(
        campaign=campaign,
        position=1,
        kind=StepKind.WHATSAPP_TEMPLATE,
        template_name=template.name,
        template_language=template.language,
        template_parameters={
            "body": {"first_name": "{{first_name|there}}", "company": "{{company}}"}
        },
    )
    Step.objects.create(
        campaign=campaign, position=2, kind=StepKind.TEXT, text="Any news?", delay_amount=1
    )
    org = channel.organization_id
    for start in range(0, size, 10_000):
        numbers = range(offset + start, offset + min(start + 10_000, size))
        contacts = Contact.objects.bulk_create(
            [Contact(organization_id=org, name=f"Lead {n}", phone=f"+1650{n:07d}") for n in numbers]
        )
        Conversation.objects.bulk_create(
            [Conversation(organization_id=org, channel=channel, contact=c) for c in contacts]
        )
        Enrollment.objects.bulk_create(
            [
                Enrollment(
                    campaign=campaign,
                    contact=c,
                    fields={"first_name": f"Lead{c.pk}", "company": f"Company {c.pk}"},
                )
                for c in contacts
            ]
        )
    return campaign


def _run(campaign, batch: int, queued: list[int]) -> tuple[float, float, float]:
    from campaigns import services
    from campaigns.scheduler import scheduler_tick

    services.campaign_start(campaign=campaign)
    queued.clear()
    tracemalloc.start()
    started = time.perf_counter()
    report = scheduler_tick(batch_size=batch, budget_seconds=3600)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.claimed == len(queued), (report, len(queued))
    return len(queued) / elapsed, peak / 2**20, _rss_mib()


def _idle_tick() -> dict[str, float]:
    """Every lead waits for its follow-up: nothing is due. The tick and its parts."""
    from django.utils import timezone

    from campaigns.replies import replies_detect
    from campaigns.scheduler import enrollments_claim, scheduler_tick

    figures = {}
    for name, call in (
        ("whole tick", lambda: scheduler_tick()),
        ("claim query", lambda: enrollments_claim(now=timezone.now())),
        ("reply pass", lambda: replies_detect(now=timezone.now())),
    ):
        call()  # warm
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            call()
            runs.append((time.perf_counter() - started) * 1000)
        figures[name] = sorted(runs)[len(runs) // 2]
    return figures


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _report(rows, idle: dict[str, float]) -> None:
    print("\nCampaign scheduler: claim + render + message_send_template + step record")
    print(f"{'enrollments':>12} {'steps/s':>9} {'peak (tracemalloc)':>20} {'RSS':>9}")
    for size, rate, peak, rss in rows:
        print(f"{size:>12,} {rate:>9,.0f} {peak:>17.1f} MiB {rss:>5.0f} MiB")
    print("\nA tick with nothing due (median of 5), every lead waiting for its next step:")
    for name, ms in idle.items():
        print(f"  {name:<12} {ms:8.1f} ms")


if __name__ == "__main__":
    main()

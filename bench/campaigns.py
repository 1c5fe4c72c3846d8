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

`--against DIR` (another checkout, e.g. `git archive main | tar -x -C DIR`) runs the
same scenario with DIR's code first (its own bench/campaigns.py, in a process of its
own, on a database of its own: $BENCH_DATABASE + "_against"), then this tree's, each
`--rounds` times alternately, and prints their steps/s side by side.
"""

import argparse
import contextlib
import cProfile
import itertools
import os
import pstats
import re
import subprocess
import sys
import time
import tracemalloc
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("BENCH_DATABASE", "switchboard_bench_campaigns")

from bench.common import ROOT, bench_environment, drop_database, fresh_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--seconds",
        type=float,
        default=0,
        help="stop each campaign's tick after this long (0: run every lead's first step)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="also run a tick of this many steps under cProfile and print where it goes",
    )
    parser.add_argument("--against", type=Path, help="run the same scenario with this tree too")
    parser.add_argument("--rounds", type=int, default=1, help="with --against: alternations")
    options = parser.parse_args()
    if options.against:
        _side_by_side(options)
        return
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    try:
        queued = _stub_broker()
        channel, template = _channel()
        rows = []
        offsets = itertools.count(0, 1_000_000)
        # The same campaign through the single sends (one message_send_template a
        # step, as before the batch send), then the batch send: side by side.
        for label, size, batched in (
            ("single sends", options.small, False),
            ("batch send", options.small, True),
            ("batch send", options.large, True),
        ):
            campaign = _campaign(channel, template, size, offset=next(offsets))
            with _send_path(batched=batched):
                rows.append((label, size, *_run(campaign, options.batch, queued, options.seconds)))
            print(f"{label}, {size:,} enrollments: {rows[-1][2:]}", flush=True)
        alone = _campaign_side_only(
            channel, template, options.small, options.batch, offset=next(offsets)
        )
        if options.profile:
            _profile(channel, template, options.profile, options.batch, offset=next(offsets))
        idle = _idle_tick()
        _report(rows, idle, _round_trip_ms(), alone, options.small)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(env)


def _side_by_side(options) -> None:
    """Each tree's own bench/campaigns.py with the same options, alternately (the
    baseline first), each printing its report; then their steps/s in one table."""
    scenario = ["--small", str(options.small), "--large", str(options.large)]
    scenario += ["--batch", str(options.batch), "--seconds", str(options.seconds)]
    trees = [("baseline", options.against.resolve()), ("this tree", ROOT)]
    rates: dict[str, list[list[str]]] = {label: [] for label, _ in trees}
    for round_number in range(1, options.rounds + 1):
        for label, tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            if tree != ROOT:
                env["BENCH_DATABASE"] = os.environ["BENCH_DATABASE"] + "_against"
            print(f"\n=== round {round_number}, {label} ({tree}) ===", flush=True)
            output = subprocess.run(
                [sys.executable, str(tree / "bench" / "campaigns.py"), *scenario],
                cwd=tree,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            print(output, flush=True)
            rates[label].append(_rates(output))
    print("\nsteps/s, side by side (round: baseline -> this tree)")
    for round_number, (before, after) in enumerate(
        zip(rates["baseline"], rates["this tree"], strict=True), start=1
    ):
        for (name, was), (_, now) in zip(before, after, strict=True):
            print(f"  round {round_number} {name:<36} {was:>8} -> {now:>8}")


def _rates(output: str) -> list[tuple[str, str]]:
    """(run, steps/s) from a report: its "<path>, <n> enrollments: (...)" lines and the
    stubbed-send line."""
    found = [
        (f"{label}, {size}", f"{float(rate):,.0f}")
        for label, size, rate in re.findall(
            r"^(.+?), ([\d,]+) enrollments: \(\d+, ([\d.]+)", output, re.MULTILINE
        )
    ]
    stubbed = re.search(r"send service stubbed .*: ([\d,]+) steps/s", output)
    return [*found, ("send service stubbed", stubbed.group(1) if stubbed else "?")]


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


def _run(campaign, batch: int, queued: list[int], seconds: float):
    """The first tick of a started campaign: steps/s over `seconds` (or all leads),
    then a further 10 s under tracemalloc for the tick's peak (tracemalloc slows
    Python several times over: the rate is measured without it)."""
    from campaigns import services
    from campaigns.scheduler import scheduler_tick

    started = time.perf_counter()
    services.campaign_start(campaign=campaign)  # every lead activated in one UPDATE
    start_ms = (time.perf_counter() - started) * 1000
    queued.clear()
    started = time.perf_counter()
    report = scheduler_tick(batch_size=batch, budget_seconds=seconds or 24 * 3600)
    elapsed = time.perf_counter() - started
    assert report.outcomes.get("sent") == len(queued), (report, len(queued))
    sent = len(queued)
    tracemalloc.start()
    scheduler_tick(batch_size=batch, budget_seconds=10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return sent, sent / elapsed, peak / 2**20, _rss_mib(), start_ms


@contextlib.contextmanager
def _send_path(*, batched: bool):
    """`batched=False`: every step through message_send_text / message_send_template,
    one at a time (the runner's path for the kinds it does not batch)."""
    from campaigns import steps

    kinds = steps.BATCHED_KINDS
    steps.BATCHED_KINDS = kinds if batched else ()
    try:
        yield
    finally:
        steps.BATCHED_KINDS = kinds


def _profile(channel, template, size: int, batch: int, offset: int) -> None:
    """A tick of `size` steps under cProfile: the functions that take the time."""
    from campaigns import services
    from campaigns.scheduler import scheduler_tick

    campaign = _campaign(channel, template, size, offset=offset)
    services.campaign_start(campaign=campaign)
    profiler = cProfile.Profile()
    profiler.enable()
    scheduler_tick(batch_size=batch, budget_seconds=24 * 3600)
    profiler.disable()
    print(f"\ncProfile of a tick of {size:,} steps (cumulative, top 30):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def _campaign_side_only(channel, template, size: int, batch: int, offset: int) -> float:
    """The same tick with the send service replaced by a stub: what the campaign's own
    machinery (claim, batch reads, reply check, render, records) manages alone."""
    from campaigns import services, steps
    from campaigns.scheduler import scheduler_tick

    campaign = _campaign(channel, template, size, offset=offset)
    services.campaign_start(campaign=campaign)
    real = steps.items_send
    # The items are built (the lead's conversation, the rendered parameters) by the
    # campaign's code as always; only the batch send answers without sending.
    steps.items_send = lambda items: [None] * len(items)
    try:
        started = time.perf_counter()
        report = scheduler_tick(batch_size=batch, budget_seconds=24 * 3600)
        return report.outcomes.get("sent", 0) / (time.perf_counter() - started)
    finally:
        steps.items_send = real


def _round_trip_ms() -> float:
    """What one trivial query costs on this machine now: the unit every step pays
    (message_send_template makes five queries and two savepoint statements)."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(500):
            cursor.execute("SELECT 1")
        return (time.perf_counter() - started) * 2


def _idle_tick() -> dict[str, float]:
    """Every lead waits for its follow-up (those a time-bounded run did not reach are
    put there too): nothing is due. The tick and its parts."""
    from datetime import timedelta

    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from campaigns.models import Enrollment
    from campaigns.replies import REPLY_RESCAN, replies_detect
    from campaigns.scheduler import enrollments_claim, scheduler_tick

    tomorrow = timezone.now() + timedelta(days=1)
    Enrollment.objects.filter(next_run_at__lt=tomorrow).update(next_run_at=tomorrow)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does after the bulk writes

    figures = _idle_parts(
        {
            "whole tick": lambda: scheduler_tick(),
            "claim query": lambda: enrollments_claim(now=timezone.now()),
            "reply pass": lambda: replies_detect(now=timezone.now()),
        }
    )
    # Once the run's messages are older than the rescan window the cursor passes them
    # (aged here rather than waited for): the steady idle tick.
    from conversations.models import Message

    Message.objects.update(created_at=F("created_at") - REPLY_RESCAN - timedelta(seconds=1))
    replies_detect(now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    steady = _idle_parts(
        {
            "whole tick": lambda: scheduler_tick(),
            "reply pass": lambda: replies_detect(now=timezone.now()),
        }
    )
    figures.update({f"{name}, cursor caught up": ms for name, ms in steady.items()})
    return figures


def _idle_parts(calls) -> dict[str, float]:
    figures = {}
    for name, call in calls.items():
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


def _report(rows, idle: dict[str, float], round_trip: float, alone: float, stubbed: int) -> None:
    print("\nCampaign scheduler: claim + render + message_send_template + step record")
    header = ("path", "enrollments", "start", "steps run", "steps/s", "tick peak", "RSS")
    print("{:>13} {:>12} {:>10} {:>10} {:>8} {:>24} {:>8}".format(*header))
    for label, size, sent, rate, peak, rss, start_ms in rows:
        print(
            f"{label:>13} {size:>12,} {start_ms:>7.0f} ms {sent:>10,} {rate:>8,.0f} "
            f"{peak:>20.1f} MiB {rss:>4.0f} MiB"
        )
    print(f"\nOne SELECT 1 round trip: {round_trip:.2f} ms")
    print(f"The same with the send service stubbed ({stubbed:,} leads): {alone:,.0f} steps/s")
    print("\nA tick with nothing due (median of 5), every lead waiting for its next step:")
    for name, ms in idle.items():
        print(f"  {name:<34} {ms:8.1f} ms")


if __name__ == "__main__":
    main()

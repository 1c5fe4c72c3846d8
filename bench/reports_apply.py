"""Part 4 of the reports benchmark (bench/reports.py): what keeping the report rollups
current costs the apply path. Rounds alternate without and with the rollup passes
beside real Celery workers applying stored WhatsApp webhooks, each on a fresh
database; run as a script (`reports_apply.py STOP OUT`), this module is the process
that runs the passes.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BENCH_DB,
    ROOT,
    celery_worker,
    fresh_database,
    purge_broker,
    running,
    setup_django,
    whatsapp_channel,
    whatsapp_signature,
    whatsapp_text_payload,
)
from bench.cpu import BackendCpu, cpu_seconds, tree_cpu_seconds


def apply_cost(env: dict, options) -> None:
    print(
        f"\napply: {options.events} WhatsApp webhooks per round, {options.concurrency} "
        f"Celery workers; rounds alternate without and with the rollup passes (every 1 s)"
    )
    print(
        f"{'round':>5}  {'passes':>6}  {'msgs/s':>7}  {'lost':>4}  {'apply CPU s/1k':>14}  "
        f"{'passes CPU s/1k':>15}"
    )
    results = []
    for number, with_passes in enumerate([False, True] * options.rounds, 1):
        result = _apply_round(env, options, with_passes)
        results.append(result)
        passes = f"{result['passes_cpu']:15.3f}" if with_passes else f"{'-':>15}"
        print(
            f"{number:>5}  {'on' if with_passes else 'off':>6}  {result['rate']:7.0f}  "
            f"{result['lost']:>4}  {result['apply_cpu']:14.3f}{passes}"
        )
    off = statistics.mean(r["rate"] for r in results if not r["with_passes"])
    on = statistics.mean(r["rate"] for r in results if r["with_passes"])
    apply_cpu = statistics.mean(r["apply_cpu"] for r in results)
    passes_cpu = statistics.mean(r["passes_cpu"] for r in results if r["with_passes"])
    change = 100 * (off - on) / off
    print(
        f"apply without the passes {off:.0f} msgs/s, with them {on:.0f} msgs/s: "
        f"{abs(change):.1f}% {'slower' if change >= 0 else 'faster'} (target < 5% slower)"
    )
    print(
        f"CPU per 1,000 messages: apply {apply_cpu:.2f} s (workers and their backends), "
        f"rollup passes {passes_cpu:.3f} s (process and backend) = "
        f"{100 * passes_cpu / apply_cpu:.1f}% of the apply path's"
    )


def _apply_round(env: dict, options, with_passes: bool) -> dict:
    from django.db import connections

    connections.close_all()  # the database is dropped under this process's connection
    fresh_database(env)
    channel = whatsapp_channel()
    channel.keyword_replies = "off"
    channel.save()
    purge_broker("webhooks")
    _store_webhooks(channel, options.events)
    backends = BackendCpu(BENCH_DB)
    with tempfile.TemporaryDirectory() as folder:
        stop, out = Path(folder) / "stop", Path(folder) / "out.json"
        consumer = [sys.executable, __file__, str(stop), str(out)]
        passes = subprocess.Popen(consumer, cwd=ROOT, env=env) if with_passes else None
        with running(celery_worker("webhooks", options.concurrency), env) as workers:
            # From the first event finished: the workers' start-up is not the apply path.
            first = _wait_until_done(options.events, backends, workers.pid)
            worker_cpu = tree_cpu_seconds(workers.pid) - first["workers"]
        stop.touch()
        consumed = {"cpu": 0.0, "backend_pid": None}
        if passes is not None:
            passes.wait(timeout=300)
            consumed = json.loads(out.read_text())
            print(
                f"       {consumed['passes']} passes: CPU inbox {consumed['inbox']:.2f} s, "
                f"campaigns {consumed['campaigns']:.2f} s"
            )
    backends.sample()
    backend_cpu = sum(
        cpu - first["backends"].get(pid, 0.0)
        for pid, cpu in backends._seen.items()
        if pid != consumed["backend_pid"]
    )
    return _round_result(options, with_passes, worker_cpu + backend_cpu, consumed["cpu"])


def _store_webhooks(channel, count: int) -> None:
    from django.utils import timezone

    from tenants.selectors import channel_webhook_route
    from webhooks.services import webhook_event_store

    route = channel_webhook_route(provider=channel.provider, key=channel.key)
    first = int(time.time()) - count
    for index in range(count):
        body = whatsapp_text_payload(index, timestamp=first + index)
        webhook_event_store(
            provider=channel.provider,
            route=route,
            body=body,
            headers={"x-hub-signature-256": whatsapp_signature(body)},
            url="",
            received_at=timezone.now(),
        )


def _wait_until_done(expected: int, backends: BackendCpu, workers: int, timeout=600) -> dict:
    """Until every event is finished; the CPU the workers and the backends had spent
    when the first one was."""
    from webhooks.models import EventStatus, WebhookEvent

    deadline, first = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        backends.sample()
        finished = WebhookEvent.objects.exclude(
            status__in=[EventStatus.RECEIVED, EventStatus.PROCESSING]
        ).count()
        if finished and first is None:
            first = {"workers": tree_cpu_seconds(workers), "backends": dict(backends._seen)}
        if finished >= expected:
            return first
        time.sleep(0.2)
    sys.exit(f"Only {finished} of {expected} events finished after {timeout}s")


def _round_result(options, with_passes: bool, apply_cpu: float, passes_cpu: float) -> dict:
    from django.db.models import Max, Min

    from conversations.models import Message
    from webhooks.models import WebhookEvent

    span = WebhookEvent.objects.aggregate(first=Min("processed_at"), last=Max("processed_at"))
    applied = Message.objects.filter(direction="inbound").count()
    thousands = max(applied, 1) / 1000
    return {
        "with_passes": with_passes,
        "rate": applied / (span["last"] - span["first"]).total_seconds(),
        "lost": options.events - applied,
        "apply_cpu": apply_cpu / thousands,
        "passes_cpu": passes_cpu / thousands,
    }


def _consume(stop: str, out: str) -> None:
    """The rollup passes in a loop, as the maintenance worker runs them (the tasks'
    own code), every second until `stop` exists and a pass found nothing new; then
    their CPU (this process and its PostgreSQL backend) into `out`."""
    setup_django(dict(os.environ))
    from django.db import connection

    from reports.tasks import campaign_rollups_update_task, inbox_rollups_update_task

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    spent = {"inbox": 0.0, "campaigns": 0.0}
    passes = 0
    while True:
        found = {}
        for name, task in (
            ("inbox", inbox_rollups_update_task),
            ("campaigns", campaign_rollups_update_task),
        ):
            before = time.process_time() + cpu_seconds(backend)
            found[name] = (task() or {}).get("events") or 0
            spent[name] += time.process_time() + cpu_seconds(backend) - before
        passes += 1
        if not any(found.values()) and os.path.exists(stop):
            break
        time.sleep(1)
    result = {"cpu": sum(spent.values()), "backend_pid": backend, "passes": passes, **spent}
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    _consume(*sys.argv[1:3])

"""Outbound benchmark: sends per second through the real task path, where each send's
CPU goes, and the throughput limiter holding a channel's configured rate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/outbound.py \
        [--workers prefork:4:1 ...] [--against DIR] [--rounds 2]

1. For each worker configuration (`--workers POOL:PROCESSES[:PREFETCH]`, e.g.
   `prefork:4:1`, `threads:8:4`), and first for the first of them with the code of
   DIR (`--against`: another checkout, e.g. `git archive <commit> | tar -x -C DIR`,
   whose workers then run beside this tree's in the same run), all of it `--rounds`
   times, alternating: queues --messages text sends (message_send_text: window,
   limits, a queued row, the send task on commit), starts real Celery workers on the
   `outbound` queue, which hand them to a local fake Graph API
   (bench/fake_provider.py) and record the wamids. Prints sends per second between
   the first and the last accepted send, and the CPU milliseconds per send of the
   worker processes, their PostgreSQL backends and the fake provider.
2. Two threads call message_send_text as fast as they can for --seconds on a channel
   limited to --rate sends per second; prints the admitted rate after the first second
   (the bucket starts full: one second's worth may go at once) against the target of
   the configured rate within 5%.

`--limiter-only` measures only the limiter (2.); `--provider-alone` only the fake
provider: --messages requests from four processes, each keeping its connection, as the
workers do.
Uses (and drops) a database named switchboard_bench (or $BENCH_DATABASE).
"""

import argparse
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BENCH_DB,
    ROOT,
    bench_environment,
    celery_worker,
    free_port,
    fresh_database,
    running,
    setup_django,
    whatsapp_channel,
)
from bench.cpu import BackendCpu, cpu_seconds, tree_cpu_seconds

FAKE_PROVIDER = ROOT / "bench" / "fake_provider.py"


@dataclass(frozen=True)
class Run:
    label: str
    sends_per_second: float
    worker_ms: float  # CPU per send
    database_ms: float
    provider_ms: float
    hot_share: float  # of the message table's row updates during the run, the HOT ones


def main() -> None:
    options = _options()
    port = free_port()
    env = {**bench_environment(), "WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{port}"}
    if options.provider_alone:
        with running([sys.executable, str(options.provider), str(port)], env, ready_port=port):
            _provider_alone(options, port)
        return
    fresh_database(env)
    setup_django(env)
    options.fillfactor = _table_fillfactor()  # as this tree's migrations left it
    runs = [] if options.limiter_only else _task_paths(options, env, port)
    admitted_rate, attempts = _limiter(options)
    _report(options, runs, admitted_rate, attempts)


def _task_paths(options, env, port: int) -> list[Run]:
    runs = []
    with running([sys.executable, str(options.provider), str(port)], env, ready_port=port) as fake:
        conversations = _bench_conversations(options)
        for round_ in range(1, options.rounds + 1):
            for tree, spec in _configurations(options):
                label = f"{'baseline' if tree != ROOT else 'this tree'} {spec}, round {round_}"
                runs.append(_task_path(options, env, tree, spec, label, conversations, fake))
                print(_line(runs[-1]), flush=True)
    return runs


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument(
        "--workers",
        nargs="+",
        default=["prefork:4:1"],
        help="POOL:PROCESSES[:PREFETCH] per configuration (Celery pool, concurrency, "
        "prefetch multiplier)",
    )
    parser.add_argument("--against", type=Path, help="run each configuration with this tree too")
    parser.add_argument(
        "--against-fillfactor",
        type=int,
        default=100,
        help="conversations_message's fillfactor while the --against tree runs (its "
        "migrations are not applied: this tree's are; 100 is the table's before 0014)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--provider", type=Path, default=FAKE_PROVIDER, help="fake Graph API")
    parser.add_argument("--provider-alone", action="store_true")
    parser.add_argument("--limiter-only", action="store_true")
    parser.add_argument("--rate", type=int, default=50, help="limiter: sends per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="limiter: duration")
    return parser.parse_args()


def _configurations(options) -> list[tuple[Path, str]]:
    """The baseline (the first configuration with the code of --against) first."""
    baseline = [(options.against, options.workers[0])] if options.against else []
    return baseline + [(ROOT, spec) for spec in options.workers]


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


def _bench_conversations(options):
    from messaging.models import SendLimit

    channel = whatsapp_channel()
    channel.access_token = "bench-token"
    channel.save()
    SendLimit.objects.create(channel=channel, per_second=1_000_000)  # measure the path
    # Sends spread over customers, as in life: one conversation's sends take its row
    # lock one at a time.
    return [_open_conversation(channel, n) for n in range(options.customers)]


def _task_path(options, env, tree: Path, spec: str, label: str, conversations, fake) -> Run:
    from django.db import transaction

    from conversations.models import Message
    from messaging import services

    first_id = (Message.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    _fillfactor(options.against_fillfactor if tree != ROOT else options.fillfactor)
    before = _updates()
    for start in range(0, options.messages, 500):
        with transaction.atomic():  # tasks are queued as each block commits
            for n in range(start, min(start + 500, options.messages)):
                conversation = conversations[n % len(conversations)]
                services.message_send_text(conversation=conversation, text=f"Bench {n}")
    with running(_worker_command(spec), {**env, "PYTHONPATH": str(tree)}, cwd=tree) as worker:
        run = _wait_until_sent(label, first_id, options.messages, worker.pid, fake.pid)
    time.sleep(0.5)  # the workers' backends report their counts as they exit
    updates, hot = (end - begin for begin, end in zip(before, _updates(), strict=True))
    return replace(run, hot_share=hot / max(updates, 1))


def _fillfactor(value: int) -> None:
    """Pages filled from now on keep (100 - value)% free for HOT updates."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE conversations_message SET (fillfactor = {int(value)})")


def _table_fillfactor() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce((SELECT split_part(o, '=', 2)::int FROM unnest(reloptions) o "
            "WHERE o LIKE 'fillfactor=%%'), 100) FROM pg_class "
            "WHERE relname = 'conversations_message'"
        )
        return cursor.fetchone()[0]


def _updates() -> tuple[int, int]:
    """Row updates of the message table so far, and how many of them were HOT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname = 'conversations_message'"
        )
        return cursor.fetchone()


def _worker_command(spec: str) -> list[str]:
    pool, processes, *prefetch = spec.split(":")
    options = ["--pool", pool, "--prefetch-multiplier", prefetch[0] if prefetch else "1"]
    return [*celery_worker("outbound", int(processes)), *options]


def _wait_until_sent(label, first_id, count, worker_pid, fake_pid, timeout=600) -> Run:
    """Polls until every send of the batch is accepted; CPU is counted from the first
    accepted send to the last."""
    from django.db.models import Max, Min

    from conversations.models import Message

    backends = BackendCpu(BENCH_DB)
    accepted = Message.objects.filter(pk__gte=first_id, direction="outbound").exclude(
        provider_message_id=""
    )
    deadline = time.monotonic() + timeout
    start = None
    while True:
        done = accepted.count()
        reading = (
            done,
            tree_cpu_seconds(worker_pid),
            backends.sample(),
            cpu_seconds(fake_pid),
        )
        if start is None and done:
            start = reading
        if done >= count:
            break
        if time.monotonic() > deadline:
            sys.exit(f"Only {done} of {count} sends accepted after {timeout}s")
        time.sleep(0.2)
    span = accepted.aggregate(first=Min("updated_at"), last=Max("updated_at"))
    sent = max(reading[0] - start[0], 1)
    pairs = zip(start[1:], reading[1:], strict=True)
    worker, database, provider = ((end - begin) * 1000 / sent for begin, end in pairs)
    return Run(
        label=label,
        sends_per_second=count / max((span["last"] - span["first"]).total_seconds(), 1e-6),
        worker_ms=worker,
        database_ms=database,
        provider_ms=provider,
        hot_share=0.0,
    )


def _provider_alone(options, port: int) -> None:
    from multiprocessing import Process

    per_client = options.messages // 4
    clients = [Process(target=_post_many, args=(port, per_client)) for _ in range(4)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    print(
        f"\nfake provider alone ({options.provider.name}): {per_client * 4:,} sends from 4 "
        f"processes on kept-alive connections: {per_client * 4 / elapsed:,.0f} requests/s"
    )


def _post_many(port: int, count: int) -> None:
    from providers.whatsapp_client import WhatsAppClient

    with WhatsAppClient(
        access_token="bench-token",  # noqa: S106 - a fake provider's
        phone_number_id="106540352242922",
        base_url=f"http://127.0.0.1:{port}",
    ) as client:
        for n in range(count):
            client.send_text(to="+16505550001", text=f"Alone {n}")


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


def _line(run: Run) -> str:
    return (
        f"{run.label}: {run.sends_per_second:,.0f} sends/s; CPU per send: worker "
        f"{run.worker_ms:.1f} ms, PostgreSQL {run.database_ms:.1f} ms, fake provider "
        f"{run.provider_ms:.2f} ms; message updates HOT: {run.hot_share:.0%}"
    )


def _report(options, runs: list[Run], admitted_rate: float, attempts: int) -> None:
    deviation = (admitted_rate - options.rate) / options.rate
    if runs:
        print(
            f"\nsend task path: {options.messages:,} text sends to {options.customers} "
            f"customers per run, through Celery workers (POOL:PROCESSES:PREFETCH) to a "
            f"local fake Graph API:"
        )
    for run in runs:
        print(f"  {_line(run)}")
    print(
        f"limiter: {attempts:,} attempts from 2 threads in {options.seconds:.0f} s at a "
        f"configured {options.rate}/s: {admitted_rate:.1f}/s admitted after the first "
        f"second ({deviation:+.1%}; target within 5%: "
        f"{'met' if abs(deviation) <= 0.05 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()

"""Stream benchmark, end to end: a provider POSTs a signed WhatsApp webhook to the
real URL, a Celery worker applies it, and the message appears on a connected SSE
client (GET /api/v1/stream), while 1,000 idle clients hold their streams open.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/stream.py

The production layout on one machine: gunicorn serves the webhooks (WSGI), uvicorn the
stream (one process), one Celery worker the `webhooks` queue; the clients run in a
process of their own (bench/stream_clients.py). Webhooks are sent open-loop at --rate
per second for --seconds (each at its planned moment, whether or not the previous ones
were answered), each a text message from one of --contacts customers carrying its
index and send time. Prints p50/p95/p99 of: the POST's answer, POST to message stored
(the worker's insert, `Message.created_at`), and POST to the SSE client's receipt.
Target: p99 < 300 ms at 200/s for a minute with 1,000 idle clients.

`--against DIR` (a `git archive` of main) first measures POST to stored with that
tree's gunicorn and worker (main has no stream), in the same run, as the baseline.
Uses (and drops) a database named switchboard_bench (or $BENCH_DATABASE).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import (
    ROOT,
    bench_environment,
    celery_worker,
    drop_database,
    free_port,
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
    env.setdefault("OUTBOX_NOTIFY_URL", env["REDIS_URL"])
    fresh_database(env)
    setup_django(env)
    channel = whatsapp_channel()
    tokens = _tokens(channel.organization)
    rows = []
    if options.against:
        baseline = _run(options, env, cwd=Path(options.against), tokens=None, start=0)
        rows.append(("baseline (main): POST to stored", baseline["stored"], baseline))
    start = options.rate * options.seconds * (1 if options.against else 0)
    result = _run(options, env, cwd=ROOT, tokens=tokens, start=start)
    rows += [
        ("POST answered", result["answered"], result),
        ("POST to stored", result["stored"], result),
        ("POST to SSE client", result["streamed"], result),
        ("stored to SSE client", result["stream_step"], result),
    ]
    _report(options, rows)
    purge_broker()
    drop_database(env)


def _tokens(organization) -> tuple[str, str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tenants import services
    from tenants.models import Membership, Role

    idle = services.organization_create(name="Idle", slug="idle")
    users = get_user_model()
    tokens = []
    for name, org in (("watcher", organization), ("idler", idle)):
        user = users.objects.create_user(username=name, password=None)
        Membership.objects.create(user=user, organization=org, role=Role.AGENT)
        tokens.append(Token.objects.create(user=user).key)
    return tokens[0], tokens[1]


def _run(options, env, *, cwd: Path, tokens, start: int) -> dict:
    web_port, stream_port = free_port(), free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
    gunicorn += ["--workers", str(options.web_workers), "--bind", f"127.0.0.1:{web_port}"]
    gunicorn += ["--log-level", "warning", "--backlog", "2048"]
    uvicorn = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--lifespan", "off"]
    uvicorn += ["--port", str(stream_port), "--no-access-log", "--log-level", "warning"]
    worker = celery_worker("webhooks", options.worker_concurrency)
    count = options.rate * options.seconds
    with (
        tempfile.TemporaryDirectory() as scratch,
        running(gunicorn, env, ready_port=web_port, cwd=cwd),
        running(worker, env, cwd=cwd),
    ):
        arrivals, ready = Path(scratch, "arrivals"), Path(scratch, "ready")
        clients = None
        if tokens:
            stack = running(uvicorn, env, ready_port=stream_port)
            stack.__enter__()
            clients = subprocess.Popen(
                [
                    *(sys.executable, str(ROOT / "bench" / "stream_clients.py")),
                    *("--url", f"http://127.0.0.1:{stream_port}/api/v1/stream"),
                    *("--token", tokens[0], "--idle-token", tokens[1]),
                    *("--idle", str(options.idle), "--expect", str(count)),
                    *("--out", str(arrivals), "--ready", str(ready)),
                    *("--timeout", str(options.seconds + options.warmup + 60)),
                ],
                cwd=ROOT,
            )
            _wait_file(ready, clients, timeout=180)
            print(f"{ready.read_text()} idle clients connected", flush=True)
        _wait_answering(f"http://127.0.0.1:{web_port}/healthz", times=4 * options.web_workers)
        # Workers boot and warm up first (unmeasured "warm" texts, which no client counts).
        asyncio.run(_send(options, web_port, 10_000_000, options.rate * options.warmup, "warm"))
        time.sleep(2)
        sent, answered = asyncio.run(_send(options, web_port, start, count, "bench"))
        stored = _stored_times(start, count, timeout=60)
        result = {"sent": sent, "answered": answered, "stored": stored, "count": count}
        if clients:
            try:
                clients.wait(timeout=60)
            except subprocess.TimeoutExpired:  # some webhooks failed: not all will come
                clients.terminate()
            stack.__exit__(None, None, None)
            streamed = _arrivals(arrivals)
            result["streamed"] = {i: streamed[i] - sent[i] for i in streamed}
            result["stream_step"] = {i: streamed[i] - stored[i] for i in streamed if i in stored}
        result["stored"] = {i: stored[i] for i in stored}
    return result


async def _send(options, port: int, start: int, count: int, label: str) -> tuple[dict, dict]:
    """Open loop: webhook n goes at t0 + n/rate, answered or not."""
    url = f"http://127.0.0.1:{port}/webhooks/whatsapp/"
    sent, answered, failed = {}, {}, []
    # As many connections as it takes: a provider does not wait for our answers.
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60, pool=None)) as client:

        async def post(index: int) -> None:
            sent_at = time.time()
            text = f"{label} {index} {sent_at:.6f}"
            body = whatsapp_text_payload(index, contacts=options.contacts, text=text)
            headers = {"X-Hub-Signature-256": whatsapp_signature(body)}
            headers["Content-Type"] = "application/json"
            try:
                answer = await client.post(url, content=body, headers=headers)
                answer.raise_for_status()
            except httpx.HTTPError as error:
                failed.append(repr(error))
                return
            sent[index] = sent_at
            answered[index] = time.time() - sent_at

        t0 = time.monotonic()
        tasks = []
        for n in range(count):
            await asyncio.sleep(max(0.0, t0 + n / options.rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(start + n)))
        await asyncio.gather(*tasks)
        took = time.monotonic() - t0
    print(f"{label}: sent {count} webhooks in {took:.1f} s ({count / took:.0f}/s)", flush=True)
    if failed:
        print(f"  {len(failed)} failed, e.g. {failed[0]}", flush=True)
    return sent, answered


def _stored_times(start: int, count: int, *, timeout: float) -> dict[int, float]:
    """Each webhook's message: when the worker wrote it (unix time)."""
    from conversations.models import Message

    deadline = time.monotonic() + timeout
    while True:
        rows = Message.objects.filter(text__startswith="bench ").values_list("text", "created_at")
        found = {int(text.split()[1]): created.timestamp() for text, created in rows}
        found = {i: t for i, t in found.items() if start <= i < start + count}
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(1)


def _arrivals(path: Path) -> dict[int, float]:
    lines = path.read_text().split("\n") if path.exists() else []
    return {int(i): float(t) for i, t in (line.split() for line in lines if line)}


def _wait_answering(url: str, *, times: int, timeout: float = 180) -> None:
    """Until the server answers `times` in a row (every worker has booted Django)."""
    deadline, answered = time.monotonic() + timeout, 0
    while answered < times and time.monotonic() < deadline:
        try:
            answered = answered + 1 if httpx.get(url, timeout=5).status_code == 200 else 0
        except httpx.HTTPError:
            answered = 0
            time.sleep(0.5)


def _wait_file(path: Path, process: subprocess.Popen, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("the SSE clients did not all connect")
        time.sleep(0.2)


def _percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "no data"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return " ".join(f"p{p} {cuts[p - 1] * 1000:7.1f} ms" for p in (50, 95, 99))


def _report(options, rows) -> None:
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"\nload average at the end: {load} (on {os.cpu_count()} cores)")
    print(
        f"{options.rate} webhooks/s for {options.seconds} s, {options.idle} idle SSE clients, "
        f"gunicorn {options.web_workers} workers, Celery worker concurrency "
        f"{options.worker_concurrency}, {options.contacts} customers"
    )
    for label, values, result in rows:
        if label.startswith(("POST to stored", "baseline")):
            values = {i: t - result["sent"][i] for i, t in values.items() if i in result["sent"]}
        got = len(values)
        print(f"  {label:32} {_percentiles(list(values.values()))}  ({got}/{result['count']})")


def _options():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=200, help="webhooks per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--idle", type=int, default=1000, help="idle SSE clients")
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=10, help="seconds, unmeasured")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--against", help="a git archive of main: its POST-to-stored first")
    return parser.parse_args()


if __name__ == "__main__":
    main()

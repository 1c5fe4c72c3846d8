"""Ingest benchmark: signed WhatsApp webhooks at the real endpoint under gunicorn on
PostgreSQL, next to a minimal Django view doing one INSERT, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/ingest.py

Prints requests/s and p50/p99 latency of each at 32 concurrent connections, and the
ratio. Targets: ingest >= 0.8 of the baseline's requests/s, p99 < 50 ms. The two
endpoints are measured in alternating rounds, so that this shared machine's changes of
speed fall on both alike; the p99 reported is the worst round's. Needs wrk
(`apt-get install wrk`). Uses (and drops) a database named switchboard_bench.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    bench_environment,
    free_port,
    fresh_database,
    purge_broker,
    require,
    running,
    setup_django,
    whatsapp_channel,
    whatsapp_signature,
    whatsapp_text_payload,
)

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def main() -> None:
    options = _options()
    require("wrk", "apt-get install wrk")
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    _create_baseline_table()
    whatsapp_channel()
    requests_file = _signed_requests(options.bodies)
    env = {**env, "BENCH_REQUESTS": str(requests_file), "BENCH_THREADS": str(options.threads)}
    port = free_port()
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "bench.wsgi:application",
        "--workers",
        str(options.workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    with running(gunicorn, env, ready_port=port):
        base = f"http://127.0.0.1:{port}"
        _wrk(f"{base}/bench/insert/", options, env, seconds=5)  # workers boot, warm up
        baseline, ingest = _alternating_rounds(base, options, env)
    _report(options, baseline, ingest)
    purge_broker()


def _alternating_rounds(base: str, options, env) -> tuple[list[dict], list[dict]]:
    baseline, ingest = [], []
    sent = 0  # each round posts bodies not sent before: a repeat is a cheap duplicate
    for _ in range(options.rounds):
        baseline.append(_wrk(f"{base}/bench/insert/", options, env))
        ingest.append(_wrk(f"{base}/webhooks/whatsapp/", options, env, offset=sent))
        sent += ingest[-1]["requests"] + 1000  # and those wrk left in flight
        if sent >= options.bodies:
            sys.exit(f"Ran out of distinct bodies: run again with --bodies {2 * sent}")
    return baseline, ingest


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="per endpoint and round")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--bodies", type=int, default=60_000, help="distinct payloads")
    return parser.parse_args()


def _create_baseline_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_baseline ("
            " id bigserial PRIMARY KEY, body bytea NOT NULL, received_at timestamptz NOT NULL)"
        )


def _signed_requests(count: int) -> Path:
    path = Path(tempfile.mkdtemp()) / "requests.tsv"
    with path.open("w") as handle:
        for index in range(count):
            body = whatsapp_text_payload(index)
            handle.write(f"{whatsapp_signature(body)}\t{body.decode()}\n")
    return path


def _wrk(url: str, options, env, *, seconds: int | None = None, offset: int = 0) -> dict:
    command = [
        "wrk",
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{seconds or options.seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / "signed_requests.lua"),
        url,
    ]
    env = {**env, "BENCH_OFFSET": str(offset)}
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return _parse_wrk(output)


def _parse_wrk(output: str) -> dict:
    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * _UNITS_MS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def _report(options, baseline: list[dict], ingest: list[dict]) -> None:
    from webhooks.models import WebhookEvent

    print(
        f"\n{options.connections} connections, {options.rounds} alternating rounds of "
        f"{options.seconds}s per endpoint, gunicorn {options.workers} sync workers, "
        f"PostgreSQL + Redis, {os.cpu_count()} cores"
    )
    print(f"{'endpoint':<28}{'round':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    endpoints = (("baseline (one INSERT)", baseline), ("ingest /webhooks/whatsapp/", ingest))
    for name, rounds in endpoints:
        for number, row in enumerate(rounds, start=1):
            print(
                f"{name:<28}{number:>6}{row['rps']:>9.0f}{row['p50']:>9.1f}{row['p99']:>9.1f}"
                f"{row['errors']:>9}"
            )
    base_rps, ingest_rps = _mean(baseline, "rps"), _mean(ingest, "rps")
    worst_p99 = max(row["p99"] for row in ingest)
    print(
        f"baseline {base_rps:.0f} req/s, p99 {max(row['p99'] for row in baseline):.1f} ms; "
        f"ingest {ingest_rps:.0f} req/s, p50 {_mean(ingest, 'p50'):.1f} ms, "
        f"p99 {worst_p99:.1f} ms (worst round)"
    )
    print(
        f"ratio ingest/baseline: {ingest_rps / base_rps:.2f} (target >= 0.80); "
        f"ingest p99 {worst_p99:.1f} ms (target < 50)"
    )
    answered_ok = sum(row["requests"] - row["errors"] for row in ingest)
    stored = WebhookEvent.objects.count()
    # wrk stops counting at the deadline; requests still in flight may be stored too.
    print(
        f"webhooks answered 200: {answered_ok}, stored: {stored}, "
        f"lost (answered but not stored): {max(0, answered_ok - stored)}"
    )


def _mean(rounds: list[dict], key: str) -> float:
    return sum(row[key] for row in rounds) / len(rounds)


if __name__ == "__main__":
    main()

"""Reconciliation benchmark: a run over a local fake Twilio with many messages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/reconcile.py

For each count (default 25,000, 50,000 and 100,000, from 5,000 customers, a third of
them sent by the business and delivered), a fresh database and one reconciliation run
in a process of its own, reading pages of 1,000 from bench/fake_twilio.py and applying
them through the same services as webhooks. Prints messages per second (target
>= 2,000) and the process's peak memory (target under 300 MB, flat as the count grows).
Uses (and drops) a database named switchboard_bench.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, bench_environment, free_port, fresh_database, running, setup_django


def main() -> None:
    options = _options()
    if options.child:
        print(json.dumps(_one_run(options.child, options.port)))
        return
    print(f"{'messages':>9} {'seconds':>8} {'messages/s':>11} {'peak MB':>8} {'filed':>9}")
    for count in options.counts:
        row = _measure(count)
        print(
            f"{count:>9,} {row['seconds']:>8.1f} {row['rate']:>11,.0f} "
            f"{row['peak_mb']:>8.0f} {row['filed']:>9,}"
        )


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def _measure(count: int) -> dict:
    port = free_port()
    env = {**bench_environment(), "TWILIO_API_URL": f"http://127.0.0.1:{port}"}
    fresh_database(env)
    server = [sys.executable, str(ROOT / "bench" / "fake_twilio.py"), str(port), str(count)]
    with running(server, env, ready_port=port):
        child = [sys.executable, str(Path(__file__)), "--child", str(count), "--port", str(port)]
        output = subprocess.run(child, env=env, capture_output=True, text=True, check=False)
    if output.returncode:
        sys.exit(f"The run of {count:,} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _one_run(count: int, port: int) -> dict:
    env = {**bench_environment(), "TWILIO_API_URL": f"http://127.0.0.1:{port}"}
    setup_django(env)
    from conversations.models import Message
    from providers import Provider
    from reconciliation import services
    from reconciliation.models import RunTrigger
    from tenants import services as tenants

    channel = tenants.channel_create(
        organization=tenants.organization_create(name="Bench", slug="bench"),
        provider=Provider.TWILIO,
        name="Bench Twilio",
        account_id="AC" + "1" * 32,
        auth_token="bench-token",  # noqa: S106 - the fake server takes any
        display_phone_number="+14155550100",
    )
    run = services.run_create(channel=channel, trigger=RunTrigger.COMMAND)
    started = time.perf_counter()
    run = services.run_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    assert run.status == "succeeded", run.error
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "rate": run.fetched / seconds,
        "peak_mb": peak_kb / 1024,
        "filed": Message.objects.filter(channel=channel).count(),
    }


if __name__ == "__main__":
    main()

"""Reports benchmark (issue 17): with 10 million messages and 1 million conversations
across 100 organizations, how fast every report endpoint answers a 90-day range, how
long the backfill takes, and what keeping the rollups current costs the apply path.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/reports.py [--scale 0.1]

1. Data (bench/reports_data.py): 100 organizations in ten timezones, each with 2-3
   channels, 3-6 agents, 10,000 conversations and 100,000 messages over the last 180
   days (three in ten closed, seven in ten assigned), three campaigns enrolling a tenth
   of its SMS conversations each, send counts and refusals per day. `--scale 0.1`
   makes it a tenth (1M messages) for a quick run.
2. The rollups built by `manage.py reports_backfill` and `reports_backfill_campaigns`
   (timed), then one organization's 90 days recounted from the messages, conversations
   and campaigns' history and compared with the reports ("agree").
3. Every report endpoint of /api/v1/reports/ through the whole Django stack in process
   (test client, production settings: DEBUG off, token auth, middleware, renderers),
   with an org admin's token, a 90-day range, organizations drawn at random,
   --requests requests per endpoint as JSON and as many as CSV: p50/p95/p99. Target:
   p99 under 300 ms.
4. Apply throughput (bench/reports_apply.py; bench/apply.py's way: webhooks applied by real
   Celery workers) with the rollup passes (reports.tasks, the two readers of the
   outbox) running beside it or not, in alternating rounds on a fresh database each;
   the passes run every second (production: every minute), so their cost here is an
   upper bound. Prints both rates, their ratio, and the CPU seconds (process and its
   PostgreSQL backend) the passes spend per 1,000 messages beside the apply path's.
   Target: under 5% slower.

The machine's load average is printed at the start and end: the figures are only as
quiet as the machine. Uses, then drops, $BENCH_DATABASE (switchboard_bench unless set).
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    ROOT,
    bench_environment,
    drop_database,
    fresh_database,
    setup_django,
)
from bench.reports_apply import apply_cost

ENDPOINTS = [
    "inbox/days",
    "inbox/summary",
    "inbox/agents",
    "inbox/channels",
    "campaigns",
    "campaigns/{campaign}/steps",
    "campaigns/days",
    "usage",
]
RANGE_DAYS = 90


def main() -> None:
    options = _options()
    print(f"load average at start: {_load()}")
    env = bench_environment()
    setup_django(env)
    _print_server(env)
    if not options.only_apply:
        organizations = _build(env, options)
        _agree(organizations[1])
        _latency(organizations, options.requests)
    if not options.skip_apply:
        apply_cost(env, options)
    if not options.keep:
        drop_database(env)
    print(f"load average at end: {_load()}")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="0.1: a tenth of the data")
    parser.add_argument("--organizations", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint and format")
    parser.add_argument("--events", type=int, default=4_000, help="webhooks per apply round")
    parser.add_argument("--rounds", type=int, default=2, help="apply rounds of each kind")
    parser.add_argument("--concurrency", type=int, default=2, help="apply worker processes")
    parser.add_argument("--skip-apply", action="store_true", help="parts 1-3 only")
    parser.add_argument("--only-apply", action="store_true", help="part 4 only")
    parser.add_argument("--keep", action="store_true", help="keep the database to explore it")
    return parser.parse_args()


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg()) + f" ({os.cpu_count()} cores)"


def _print_server(env: dict) -> None:
    import psycopg

    server = urlunsplit(urlsplit(env["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(server) as conn:
        settings = "current_setting('server_version'), current_setting('fsync')"
        version, fsync = conn.execute(f"SELECT {settings}").fetchone()
    print(f"PostgreSQL {version}, fsync {fsync}")


# 1. Data and 2. rollups


def _build(env: dict, options) -> list[dict]:
    from bench.reports_data import MESSAGES_PER_CONVERSATION, load, organizations_create

    fresh_database(env)
    import config.wsgi  # noqa: F401 - serve as the WSGI entry point would (it freezes the GC)

    conversations = int(10_000 * options.scale)
    started = time.perf_counter()
    organizations = organizations_create(options.organizations)
    setup = time.perf_counter() - started
    timings = load(organizations, conversations)
    total = setup + sum(timings.values())
    messages = conversations * MESSAGES_PER_CONVERSATION * options.organizations
    print(
        f"\nloaded {options.organizations} organizations, "
        f"{conversations * options.organizations:,} conversations, {messages:,} messages "
        f"in {total:.0f} s"
    )
    print(f"  organizations, channels, users, campaigns (ORM): {setup:.1f} s")
    for label, seconds in timings.items():
        print(f"  {label}: {seconds:.1f} s")
    _backfill(env)
    return organizations


def _backfill(env: dict) -> None:
    from django.db import connection

    print("\nrollups rebuilt from history:")
    for command in ("reports_backfill", "reports_backfill_campaigns"):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", command],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"  manage.py {command}: {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        for table in ("reports_inboxday", "reports_conversationfact", "reports_campaigndayrollup"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - constant names
            print(f"  {table}: {cursor.fetchone()[0]:,} rows")


def _span(organization_id: int):
    from django.utils import timezone

    from reports.ranges import DateRange, local_day, organization_tz
    from tenants.models import Organization

    organization = Organization.objects.get(pk=organization_id)
    tz = organization_tz(organization)
    today = local_day(timezone.now(), tz)
    return organization, DateRange(today - timedelta(days=RANGE_DAYS - 1), today, tz)


def _agree(sample: dict) -> None:
    """The reports' daily counts of one organization against a recount of the rows."""
    from reports.campaign_reports import campaign_days
    from reports.inbox import inbox_days

    organization, span = _span(sample["id"])
    reported = {
        row["day"]: {
            name: row[name]
            for name in (
                "messages_in",
                "messages_out",
                "conversations_opened",
                "conversations_closed",
            )
        }
        for row in inbox_days(organization=organization, span=span)
    }
    for row in campaign_days(organization=organization, span=span):
        reported[row["day"]].update(enrolled=row["enrolled"], sent=row["sent"])
    recounted = _recount(organization, span)
    differ = [day for day in span.days if reported[day] != recounted[day]]
    totals = {name: sum(r[name] for r in recounted.values()) for name in recounted[span.start]}
    verdict = "agree" if not differ else f"DISAGREE on {len(differ)} days, first {differ[0]}"
    figures = ", ".join(f"{name} {total:,}" for name, total in totals.items())
    print(
        f"\n{organization.slug} ({organization.timezone}), {span.start} to {span.end}: reports "
        f"and a recount of the rows {verdict} ({figures})"
    )
    if differ:
        print(f"  reported {reported[differ[0]]}\n  recount  {recounted[differ[0]]}")


RECOUNT = """
WITH days AS (SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date,
                                                         interval '1 day') d),
m AS (SELECT (occurred_at AT TIME ZONE %(tz)s)::date AS day,
        count(*) FILTER (WHERE direction = 'inbound') AS messages_in,
        count(*) FILTER (WHERE direction = 'outbound' AND provider_message_id <> '')
            AS messages_out
      FROM conversations_message WHERE organization_id = %(org)s
        AND occurred_at >= %(from)s AND occurred_at < %(to)s GROUP BY 1),
o AS (SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
      FROM conversations_conversation WHERE organization_id = %(org)s GROUP BY 1),
c AS (SELECT (updated_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
      FROM conversations_conversation WHERE organization_id = %(org)s AND status = 'closed'
      GROUP BY 1),
e AS (SELECT (e.created_at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
      FROM campaigns_enrollment e JOIN campaigns_campaign cp ON cp.id = e.campaign_id
      WHERE cp.organization_id = %(org)s GROUP BY 1),
s AS (SELECT (s.at AT TIME ZONE %(tz)s)::date AS day, count(*) AS n
      FROM campaigns_enrollmentstep s JOIN campaigns_enrollment e ON e.id = s.enrollment_id
      JOIN campaigns_campaign cp ON cp.id = e.campaign_id
      WHERE cp.organization_id = %(org)s AND s.execution GROUP BY 1)
SELECT days.day, coalesce(m.messages_in, 0), coalesce(m.messages_out, 0),
    coalesce(o.n, 0), coalesce(c.n, 0), coalesce(e.n, 0), coalesce(s.n, 0)
FROM days LEFT JOIN m USING (day) LEFT JOIN o USING (day) LEFT JOIN c USING (day)
    LEFT JOIN e USING (day) LEFT JOIN s USING (day)
"""


def _recount(organization, span) -> dict:
    from django.db import connection

    names = (
        "messages_in",
        "messages_out",
        "conversations_opened",
        "conversations_closed",
        "enrolled",
        "sent",
    )
    params = {
        "start": span.start,
        "end": span.end,
        "tz": span.tz.key,
        "org": organization.pk,
        "from": span.start_at,
        "to": span.end_before,
    }
    with connection.cursor() as cursor:
        cursor.execute(RECOUNT, params)
        return {row[0]: dict(zip(names, row[1:], strict=True)) for row in cursor.fetchall()}


# 3. Latency


def _latency(organizations: list[dict], requests: int) -> None:
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="127.0.0.1")
    chooser = random.Random(17)
    spans = {o["id"]: _span(o["id"])[1] for o in organizations}
    print(
        f"\nGET /api/v1/reports/..., {RANGE_DAYS}-day range, {requests} requests per endpoint "
        f"and format, organizations at random (Django test client in process, DEBUG off)"
    )
    print(f"{'endpoint':28} {'format':6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'rows':>6}")
    worst = 0.0
    for endpoint in ENDPOINTS:
        for fmt in ("json", "csv"):
            timings, rows = [], []
            for n in range(requests + 5):  # 5 to warm up
                organization = chooser.choice(organizations)
                span = spans[organization["id"]]
                path = endpoint.format(campaign=chooser.choice(organization["campaigns"]))
                url = f"/api/v1/reports/{path}?from={span.start}&to={span.end}&format={fmt}"
                client.credentials(
                    HTTP_AUTHORIZATION=f"Token {organization['token']}",
                    HTTP_X_ORGANIZATION=organization["slug"],
                )
                started = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, (url, response.content[:300])
                if n >= 5:
                    timings.append(elapsed)
                    rows.append(_rows(response, fmt))
            p50, p95, p99 = _percentiles(timings)
            worst = max(worst, p99)
            print(
                f"{endpoint:28} {fmt:6} {p50:8.1f} {p95:8.1f} {p99:8.1f} "
                f"{statistics.mean(rows):6.0f}"
            )
    print(f"slowest p99: {worst:.0f} ms (target < 300 ms)")


def _rows(response, fmt: str) -> int:
    if fmt == "csv":
        return max(0, response.content.count(b"\n") - 1)
    rows = response.json()["rows"]
    return len(rows) if isinstance(rows, list) else 1


def _percentiles(timings: list[float]) -> tuple[float, float, float]:
    ordered = sorted(timings)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

    return statistics.median(ordered), at(0.95), at(0.99)


if __name__ == "__main__":
    main()

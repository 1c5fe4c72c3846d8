"""Window benchmark: close_expired_windows over a million conversations on PostgreSQL,
and the cost of one window-status call.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/windows.py

Creates --conversations conversations (default 1,000,000) across 10 organizations, all
flagged open, half of them with a window that has expired; then times one run of
`windows_close_expired` (target: under 10 s) and counts its queries, checks that
exactly the expired half was closed, and times `window_status` on a loaded
conversation (it must need no query). Uses (and drops) a database named
switchboard_bench.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_environment, fresh_database, setup_django

ORGANIZATIONS = 10


def main() -> None:
    options = _options()
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    started = time.perf_counter()
    _create_conversations(options.conversations)
    print(
        f"created {options.conversations:,} conversations in {time.perf_counter() - started:.1f} s"
    )
    closed, seconds, queries = _close_expired()
    per_call_us, status_queries = _window_status_cost(options.calls)
    _report(options, closed, seconds, queries, per_call_us, status_queries)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=100_000, help="window-status calls")
    return parser.parse_args()


def _create_conversations(count: int) -> None:
    """Set-based inserts: one contact per conversation, spread over the channels."""
    from django.db import connection

    from conversations.models import Contact, Conversation
    from providers import Provider
    from tenants import services

    channels = [
        services.channel_create(
            organization=services.organization_create(name=f"Bench {n}", slug=f"bench-{n}"),
            provider=Provider.WHATSAPP_CLOUD,
            name=f"Bench WhatsApp {n}",
            check_credentials=False,  # fake numbers: Meta would refuse them
            phone_number_id=f"10000000000{n:02d}",
            waba_id=f"20000000000{n:02d}",
            app_secret="bench-secret",  # noqa: S106 - a benchmark's throwaway channel
        )
        for n in range(ORGANIZATIONS)
    ]
    channel_ids = "ARRAY[" + ",".join(str(c.pk) for c in channels) + "]::bigint[]"
    org_ids = "ARRAY[" + ",".join(str(c.organization_id) for c in channels) + "]::bigint[]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Contact._meta.db_table} (organization_id, name, phone, created_at, updated_at) "  # noqa: S608, E501
            f"SELECT ({org_ids})[1 + mod(n, {ORGANIZATIONS})], 'Customer ' || n, "
            "'+1650' || lpad(n::text, 7, '0'), now(), now() FROM generate_series(0, %s - 1) n",
            [count],
        )
        # Even rows expired an hour ago or more; odd rows expire within the next day.
        cursor.execute(
            f"""
            INSERT INTO {Conversation._meta.db_table} (
                organization_id, channel_id, contact_id, status, unread_count,
                last_activity_at, last_message_at, last_message_preview,
                provider_conversation_ref, last_user_message_at, window_expires_at,
                is_window_open, created_at, updated_at)
            SELECT c.organization_id, ({channel_ids})[1 + mod(c.id - first.id, {ORGANIZATIONS})],
                c.id, 'open', 0, t.at, t.at, 'hello', '', t.at, t.at + interval '24 hours',
                true, now(), now()
            FROM {Contact._meta.db_table} c
            CROSS JOIN (SELECT min(id) AS id FROM {Contact._meta.db_table}) first
            CROSS JOIN LATERAL (
                SELECT CASE WHEN mod(c.id - first.id, 2) = 0
                    THEN now() - interval '25 hours' - (mod(c.id, 10000) || ' minutes')::interval
                    ELSE now() - (mod(c.id, 1380) || ' minutes')::interval
                END AS at
            ) t
            """  # noqa: S608 - names from the models
        )
        cursor.execute(f"VACUUM ANALYZE {Conversation._meta.db_table}")


def _close_expired() -> tuple[int, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.maintenance import windows_close_expired

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        report = windows_close_expired()
        seconds = time.perf_counter() - started
    return sum(report.closed.values()), seconds, len(queries)


def _window_status_cost(calls: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.models import Conversation
    from conversations.window import window_status

    conversation = Conversation.objects.select_related("channel").order_by("-pk").first()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        for _ in range(calls):
            window_status(conversation)
        seconds = time.perf_counter() - started
    return seconds / calls * 1e6, len(queries)


def _report(options, closed: int, seconds: float, queries: int, per_call_us, status_queries):
    from conversations.models import Conversation

    expected = (options.conversations + 1) // 2
    still_open = Conversation.objects.filter(is_window_open=True).count()
    from django.conf import settings

    from conversations.maintenance import CLOSE_BATCH_SIZE

    print(
        f"close_expired_windows: closed {closed:,} of {options.conversations:,} windows in "
        f"{seconds:.2f} s (target < 10 s): {queries} queries on the calling connection, "
        f"UPDATEs of {CLOSE_BATCH_SIZE:,} ids each over {settings.WINDOW_CLOSE_WORKERS} "
        "connections"
    )
    correct = closed == expected and still_open == options.conversations - expected
    print(
        f"  expected to close {expected:,}; flagged open afterwards: {still_open:,}"
        f" ({'correct' if correct else 'WRONG'})"
    )
    print(
        f"window_status on a loaded conversation: {per_call_us:.2f} us per call, "
        f"{status_queries} queries in {options.calls:,} calls"
    )


if __name__ == "__main__":
    main()

"""Inbox benchmark: GET /api/v1/conversations with filters and searches over 100,000
conversations and a million messages.

    BENCH_DATABASE=switchboard_bench DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/inbox.py

Creates --conversations conversations in one organization (3 channels, a mix of
statuses, assignees, unread counts and windows) plus a second organization of a fifth
the size, and --messages messages spread over them (eight words each from a skewed
vocabulary, see VOCABULARY), then requests pages of 50 through the whole Django stack
in process (token auth, middleware, serializers) for each filter, following the cursor
to later pages, and for searches of contact fields and of message text: a word in most
messages, one in a few percent, one in 20, one in none, a prefix, two words, an
accent left out. Prints how many messages hold each searched word, p50/p99 per filter
and search (target: p99 under 100 ms) and the queries a page costs at page sizes 5 and
50 (must be equal: no N+1). Builds in about two minutes; uses, then drops,
$BENCH_DATABASE (switchboard_bench unless set; --keep keeps it to explore).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_environment, drop_database, fresh_database, setup_django

PAGE = 50


def main() -> None:
    options = _options()
    env = bench_environment()
    fresh_database(env)
    setup_django(env)
    import config.wsgi  # noqa: F401 - serve as the WSGI entry point would (it freezes the GC)

    started = time.perf_counter()
    client, channel_ids, user_id = _inbox(options.conversations)
    print(
        f"created {options.conversations:,} conversations in {time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    _fill_messages(options.messages)
    print(f"created {options.messages:,} messages in {time.perf_counter() - started:.1f} s")
    _report_words()
    _report_queries(client)
    print(f"\nGET /api/v1/conversations, page_size={PAGE}, {options.requests} requests per filter")
    print(f"{'filter':42} {'p50 ms':>8} {'p99 ms':>8} {'items/page':>11}")
    for label, query in _filters(channel_ids, user_id):
        _report_latency(client, label, query, options.requests)
    if not options.keep:
        drop_database(env)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument(
        "--messages", type=int, default=1_000_000, help="over both organizations' conversations"
    )
    parser.add_argument("--requests", type=int, default=200, help="per filter")
    parser.add_argument("--keep", action="store_true", help="keep the database to explore it")
    return parser.parse_args()


def _filters(channel_ids: list[int], user_id: int) -> list[tuple[str, str]]:
    return [
        ("(none)", ""),
        ("status=open", "status=open"),
        ("status=snoozed", "status=snoozed"),
        ("channel", f"channel={channel_ids[1]}"),
        ("assignee", f"assignee={user_id}"),
        ("unassigned=true", "unassigned=true"),
        ("window=open", "window=open"),
        ("window=expired", "window=expired"),
        ("unread=true", "unread=true"),
        ("updated_since (last hour)", "updated_since=__HOUR_AGO__"),
        ("status=open&unread=true&window=open", "status=open&unread=true&window=open"),
        (
            "channel&unassigned&window=expired",
            f"channel={channel_ids[0]}&unassigned=true&window=expired",
        ),
        ("q=name", "q=Customer 4242"),
        ("q=phone", "q=16500004242"),
        ("q=provider id (wa_id)", "q=wa-4242"),
        *((f"q=message text, {label}", f"q={word}") for label, word in SEARCHED_WORDS),
    ]


def _inbox(count: int):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from providers import Provider
    from tenants import services
    from tenants.models import Role

    user = get_user_model().objects.create_user("bench-agent")
    channel_ids = []
    for org_index, size in enumerate((count, count // 5)):
        organization = services.organization_create(
            name=f"Bench {org_index}", slug=f"bench-{org_index}"
        )
        services.membership_set(organization=organization, user=user, role=Role.AGENT)
        channels = [
            services.channel_create(
                organization=organization,
                provider=provider,
                name=f"Bench {provider} {org_index}",
                check_credentials=False,  # fake numbers: Meta would refuse them
                **_credentials(provider, org_index),
            )
            for provider in (Provider.WHATSAPP_CLOUD, Provider.TWILIO, Provider.OPENPHONE)
        ]
        _fill(organization.pk, [c.pk for c in channels], user.pk, size, offset=org_index * count)
        if org_index == 0:
            channel_ids = [c.pk for c in channels]
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}",
        HTTP_X_ORGANIZATION="bench-0",
    )
    return client, channel_ids, user.pk


def _credentials(provider, index: int) -> dict:
    from providers import Provider

    return {
        Provider.WHATSAPP_CLOUD: {
            "phone_number_id": f"1000000000{index}",
            "waba_id": f"2000000000{index}",
            "app_secret": "bench-secret",
        },
        Provider.TWILIO: {
            "display_phone_number": f"+1415555010{index}",
            "account_id": "AC" + "1" * 32,
            "auth_token": "bench-secret",
        },
        Provider.OPENPHONE: {
            "display_phone_number": f"+1415555020{index}",
            "signing_key": "YmVuY2gtc2VjcmV0",
        },
    }[provider]


def _fill(
    organization_id: int, channel_ids: list[int], user_id: int, count: int, offset: int
) -> None:
    """Contacts with a wa_id identity, one conversation each, in set-based INSERTs."""
    from django.db import connection

    channels = "ARRAY[" + ",".join(map(str, channel_ids)) + "]::bigint[]"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO conversations_contact "
            "(organization_id, name, phone, created_at, updated_at) "
            "SELECT %s, 'Customer ' || n, '+1650' || lpad(n::text, 7, '0'), now(), now() "
            "FROM generate_series(%s, %s) n",
            [organization_id, offset, offset + count - 1],
        )
        cursor.execute(
            "INSERT INTO conversations_contactidentity (contact_id, channel_id, kind, value) "  # noqa: S608
            f"SELECT c.id, ({channels})[1], 'wa_id', 'wa-' || substr(c.name, 10) "
            "FROM conversations_contact c WHERE c.organization_id = %s",
            [organization_id],
        )
        cursor.execute(
            f"""
            INSERT INTO conversations_conversation (
                organization_id, channel_id, contact_id, status, snoozed_until, assignee_id,
                unread_count, last_activity_at, last_message_at, last_message_preview,
                provider_conversation_ref, last_user_message_at, window_expires_at,
                is_window_open, created_at, updated_at)
            SELECT c.organization_id, ({channels})[1 + mod(c.id, 3)], c.id,
                CASE WHEN mod(c.id, 20) < 14 THEN 'open' WHEN mod(c.id, 20) < 16 THEN 'pending'
                     WHEN mod(c.id, 20) = 16 THEN 'snoozed' ELSE 'closed' END,
                CASE WHEN mod(c.id, 20) = 16 THEN now() + interval '1 day' END,
                CASE WHEN mod(c.id, 5) < 3 THEN %s END,
                CASE WHEN mod(c.id, 10) < 3 THEN 1 + mod(c.id, 4) ELSE 0 END,
                t.at, t.at, 'Does it come in another colour?', '', t.at, t.at + interval '24 hours',
                t.at > now() - interval '24 hours', t.at, t.at
            FROM conversations_contact c
            CROSS JOIN LATERAL (
                SELECT now() - (mod(c.id * 7919, 43200) || ' minutes')::interval AS at
            ) t
            WHERE c.organization_id = %s
            """,  # noqa: S608 - channel ids are integers from the database
            [user_id, organization_id],
        )


# Message texts: eight words each, half drawn from the support vocabulary below with a
# skewed distribution (its first words are in a large share of messages, its last in
# few), one in four an order number ("sku123456", 200,000 of them), the others from a
# long tail of 30,000 words; one message in 50,000 mentions a chargeback.
VOCABULARY = [
    "order",
    "thanks",
    "hello",
    "delivery",
    "please",
    "when",
    "where",
    "parcel",
    "help",
    "refund",
    "size",
    "colour",
    "address",
    "payment",
    "invoice",
    "return",
    "tracking",
    "café",
    "reçu",
    "shipped",
    "late",
    "broken",
    "wrong",
    "cancel",
    "change",
    "exchange",
    "discount",
    "voucher",
    "account",
    "password",
    "login",
    "email",
    "phone",
    "yesterday",
    "today",
    "tomorrow",
    "morning",
    "evening",
    "week",
    "store",
    "pickup",
    "courier",
    "label",
    "box",
    "damaged",
    "missing",
    "receipt",
    "warranty",
    "repair",
    "replace",
    "price",
    "promo",
    "stock",
    "available",
    "Größe",
    "naïve",
    "résumé",
    "crème",
    "brûlée",
]
SEARCHED_WORDS = [
    ("often", "order"),
    ("sometimes", "warranty"),
    ("rare", "chargeback"),
    ("never", "zeppelin"),
    ("prefix", "deliv"),
    ("two words", "damaged parcel"),
    ("accent folded", "cafe"),
]


def _fill_messages(count: int) -> None:
    """`count` messages spread evenly over every conversation, in one INSERT ... SELECT
    from generate_series (a minute for a million), then VACUUM ANALYZE."""
    from django.db import connection

    words = "(ARRAY[" + ",".join(f"'{word}'" for word in VOCABULARY) + "])"
    # power(random(), 3): a skewed pick, the vocabulary's first words are the common ones.
    pick = f"{words}[1 + floor(power(random(), 3) * {len(VOCABULARY)})::int]"
    # The long tail of a language: 30,000 other words (letters from md5), the first
    # ones far more common than the last, as in any text. PostgreSQL keeps the most
    # common lexemes in its statistics; a vocabulary of a few dozen words is not text
    # and leaves it guessing (it estimates any prefix search at 2% of the rows then).
    tail = (
        "translate(substr(md5(floor(power(random(), 3) * 30000)::text), 1, 7), "
        "'0123456789', 'ghijklmnop')"
    )
    word = (
        "CASE WHEN random() < 0.25 THEN 'sku' || floor(random() * 200000)::int "
        f"WHEN random() < 0.33 THEN {tail} ELSE {pick} END"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        # A shared server: a plan gone wrong fails here instead of filling the disk.
        cursor.execute("SET temp_file_limit = '4GB'")
        cursor.execute(
            f"""
            WITH conversations AS MATERIALIZED (
                SELECT id, organization_id, channel_id, last_activity_at,
                    row_number() OVER (ORDER BY id) - 1 AS k
                FROM conversations_conversation
            )
            INSERT INTO conversations_message (
                organization_id, channel_id, conversation_id, direction, type, text, media,
                payload, context, provider_message_id, status, provider_timestamp,
                occurred_at, revisions, error_code, error_title, status_details,
                error_history, created_at, updated_at)
            SELECT c.organization_id, c.channel_id, c.id,
                CASE WHEN mod(n, 2) = 0 THEN 'inbound' ELSE 'outbound' END, 'text',
                concat_ws(' ', {", ".join([word] * 8)},
                    CASE WHEN mod(n, 50000) = 7 THEN 'chargeback' END),
                '{{}}', '{{}}', '{{}}', 'bench.' || n, 'delivered', t.at, t.at, '[]', '', '',
                '{{}}', '[]', t.at, t.at
            FROM generate_series(1, %s) n
            JOIN conversations c
                ON c.k = mod(n, (SELECT count(*) FROM conversations_conversation))
            CROSS JOIN LATERAL (
                SELECT c.last_activity_at - (n / 1000) * interval '1 minute' AS at
            ) t
            """,  # noqa: S608 - the words are the constants above
            [count],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _report_words() -> None:
    """How many messages hold each searched word (as the search reads it)."""
    from conversations.models import Message
    from conversations.text_search import message_text_matches, text_search

    print("messages holding each searched word:")
    for label, word in SEARCHED_WORDS:
        found = Message.objects.filter(message_text_matches(text_search(word))).count()
        print(f"  {label:12} {word!r:18} {found:>9,}")


def _report_queries(client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for query in ("", "&q=order", "&q=chargeback"):
        counts = {}
        for size in (5, PAGE):
            with CaptureQueriesContext(connection) as queries:
                url = f"/api/v1/conversations?page_size={size}{query}"
                assert client.get(url).status_code == 200
            counts[size] = len(queries)
        verdict = "constant" if counts[5] == counts[PAGE] else "NOT CONSTANT"
        print(
            f"queries per page{query.replace('&', ', ') or ''}: {counts[5]} at page_size=5, "
            f"{counts[PAGE]} at page_size={PAGE} ({verdict})"
        )


def _report_latency(client, label: str, query: str, requests: int) -> None:
    from django.utils import timezone

    query = query.replace(
        "__HOUR_AGO__",
        (timezone.now() - timezone.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    )
    url = f"/api/v1/conversations?page_size={PAGE}&{query}"
    timings, items, next_url = [], [], url
    for _ in range(5):  # warm up: a running server has compiled and cached this already
        client.get(url)
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(next_url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        items.append(len(body["results"]))
        # Walk a few pages deep, then start over: later pages cost what first ones do.
        next_url = body["next"] if body["next"] and len(items) % 5 else url
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"{label:42} {statistics.median(timings):8.1f} {p99:8.1f} {statistics.mean(items):11.1f}")


if __name__ == "__main__":
    main()

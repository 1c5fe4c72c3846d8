"""The reports benchmark's data (bench/reports.py): organizations in many timezones,
each with channels, agents, conversations, messages over the last ~180 days, campaigns
with enrollments and their step history, send counts and refusals.

The few rows that need our services (organizations, channels with their encrypted
secrets, users, tokens, campaigns and steps) go through the ORM; the millions of
contacts, conversations and messages are INSERT ... SELECT over generate_series, with
the big tables' secondary indexes and constraints dropped during the load and rebuilt
after it (as a restore does: one sorted build is far cheaper than ten million index
insertions).
"""

import time

TIMEZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Africa/Lagos",
    "Pacific/Auckland",
]
DAYS = 180
MESSAGES_PER_CONVERSATION = 10
CAMPAIGNS_PER_ORGANIZATION = 3
STEPS = 3
# The tables whose indexes are rebuilt after the load instead of kept during it.
BIG_TABLES = ("conversations_message", "conversations_conversation", "conversations_contact")


def organizations_create(count: int) -> list[dict]:
    """`count` organizations through the services: channels (WhatsApp and SMS, and
    LinkedIn for every third), 3 to 6 agents, an admin with an API token, campaigns
    with their steps. Returns what the load and the requests need of each."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from campaigns.models import Campaign, CampaignStatus, Step, StepKind
    from providers import Provider
    from tenants import services
    from tenants.models import Role

    users = get_user_model().objects
    created = []
    for index in range(count):
        organization = services.organization_create(
            name=f"Bench {index}", slug=f"bench-{index}", timezone=TIMEZONES[index % 10]
        )
        providers = [Provider.WHATSAPP_CLOUD, Provider.TWILIO]
        if index % 3 == 0:
            providers.append(Provider.UNIPILE)
        channels = [
            services.channel_create(
                organization=organization,
                provider=provider,
                name=f"{provider.label} {index}",
                check_credentials=False,  # fake numbers: Meta would refuse them
                **_credentials(provider, index),
            )
            for provider in providers
        ]
        agents = [users.create_user(f"agent-{index}-{n}") for n in range(3 + index % 4)]
        for agent in agents:
            services.membership_set(organization=organization, user=agent, role=Role.AGENT)
        admin = users.create_user(f"admin-{index}")
        services.membership_set(organization=organization, user=admin, role=Role.ADMIN)
        sms = channels[1]
        campaigns = []
        for n in range(CAMPAIGNS_PER_ORGANIZATION):
            campaign = Campaign.objects.create(
                organization=organization,
                channel=sms,
                name=f"Campaign {n} of {index}",
                status=CampaignStatus.COMPLETED if n == 0 else CampaignStatus.RUNNING,
            )
            Step.objects.bulk_create(
                Step(campaign=campaign, position=p, kind=StepKind.TEXT, text=f"Step {p}")
                for p in range(1, STEPS + 1)
            )
            campaigns.append(campaign.pk)
        created.append(
            {
                "id": organization.pk,
                "slug": organization.slug,
                "channels": [c.pk for c in channels],
                "agents": [a.pk for a in agents],
                "token": Token.objects.create(user=admin).key,
                "campaigns": campaigns,
            }
        )
    return created


def _credentials(provider, index: int) -> dict:
    from providers import Provider

    return {
        Provider.WHATSAPP_CLOUD: {
            "phone_number_id": f"{1_000_000_000 + index}",
            "waba_id": f"{2_000_000_000 + index}",
            "app_secret": "bench-secret",
        },
        Provider.TWILIO: {
            "display_phone_number": f"+1415555{index:04d}",
            "account_id": "AC" + "1" * 32,
            "auth_token": "bench-secret",
        },
        Provider.UNIPILE: {
            "account_id": f"unipile-{index}",
            "api_base_url": "https://api1.unipile.com:13111",
            "shared_secret": "bench-secret",
        },
    }[provider]


def load(organizations: list[dict], conversations: int) -> dict[str, float]:
    """`conversations` contacts and conversations per organization, ten messages each,
    campaigns' enrollments and history, day counters. Returns seconds per phase."""
    from django.db import connection

    timings = {}
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        _organizations_table(cursor, organizations)
        started = time.perf_counter()
        dropped = _secondary_drop(cursor)
        timings["drop indexes"] = time.perf_counter() - started
        for label, statements in (
            ("contacts", [CONTACTS]),
            ("conversations", [CONVERSATIONS]),
            ("messages", [MESSAGES.replace("{slice}", str(n)) for n in range(10)]),
        ):
            started = time.perf_counter()
            for sql in statements:
                cursor.execute(sql, {"n": conversations})
            timings[label] = time.perf_counter() - started
        started = time.perf_counter()
        for sql in dropped:
            cursor.execute(sql)
        timings["rebuild indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        for sql in (ENROLLMENTS, ENROLLMENT_STEPS, SEND_COUNTS, INVITATION_COUNTS, REFUSALS):
            cursor.execute(sql, {"n": max(1, conversations // 10)})
        timings["campaigns, counters"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("ANALYZE")
        timings["analyze"] = time.perf_counter() - started
    return timings


def _organizations_table(cursor, organizations: list[dict]) -> None:
    cursor.execute(
        "CREATE TEMP TABLE bench_org (id bigint, idx int, channels bigint[], agents int[])"
    )
    cursor.executemany(
        "INSERT INTO bench_org VALUES (%s, %s, %s, %s)",
        [(o["id"], n, o["channels"], o["agents"]) for n, o in enumerate(organizations)],
    )


def _secondary_drop(cursor) -> list[str]:
    """Drop the big tables' constraints (but their primary keys) and other indexes;
    return the statements that make them again."""
    cursor.execute(
        """
        SELECT format('ALTER TABLE %%I DROP CONSTRAINT %%I', conrelid::regclass, conname),
               format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', conrelid::regclass, conname,
                      pg_get_constraintdef(oid))
        FROM pg_constraint
        WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f')
        ORDER BY contype DESC
        """,
        [list(BIG_TABLES)],
    )
    constraints = cursor.fetchall()
    for drop, _ in constraints:
        cursor.execute(drop)
    cursor.execute(
        """
        SELECT format('DROP INDEX %%I', indexname), indexdef FROM pg_indexes
        WHERE tablename = ANY(%s) AND indexname NOT LIKE '%%pkey'
        """,
        [list(BIG_TABLES)],
    )
    indexes = cursor.fetchall()
    for drop, _ in indexes:
        cursor.execute(drop)
    # Indexes first: the unique constraints and foreign keys check faster with them.
    return [make for _, make in indexes] + [make for _, make in reversed(constraints)]


# An organization's contacts get consecutive ids (ORDER BY): the mixes below are
# taken modulo the id, and would be one status per organization otherwise.
CONTACTS = """
INSERT INTO conversations_contact (organization_id, name, phone, created_at, updated_at)
SELECT o.id, 'Customer ' || o.idx || '-' || n, '+1650' || lpad((o.idx * 1000000 + n)::text, 8, '0'),
    now(), now()
FROM bench_org o CROSS JOIN generate_series(1, %(n)s) n
ORDER BY o.idx, n
"""

# Every time derives from the contact's id: opened in the last 180 days, ten messages
# a few minutes to ten hours apart (customer first, then the team, in turn), never in
# the future. Three in ten are closed half an hour after their last message; of the
# others, one in ten has unread messages. Seven in ten are assigned.
_OPENED = "now() - mod(ct.id * 7919, 259200) * interval '1 minute'"
_GAP = "(2 + mod(ct.id * 31, 600)) * interval '1 minute'"
_AT = "LEAST({opened} + ({k} - 1) * {gap}, now() - (11 - {k}) * interval '1 minute')"

CONVERSATIONS = f"""
INSERT INTO conversations_conversation (
    organization_id, channel_id, contact_id, status, unread_count, last_activity_at,
    last_message_at, last_message_preview, provider_conversation_ref, last_user_message_at,
    window_expires_at, is_window_open, assignee_id, bot_active, created_at, updated_at)
SELECT o.id, o.channels[1 + mod(ct.id, array_length(o.channels, 1))], ct.id,
    CASE WHEN mod(ct.id, 10) < 3 THEN 'closed' WHEN mod(ct.id, 10) = 3 THEN 'pending'
         ELSE 'open' END,
    CASE WHEN mod(ct.id, 10) = 5 THEN 1 + mod(ct.id, 3) ELSE 0 END,
    t.last, t.last, 'Thanks, that helps', '', t.customer, t.customer + interval '24 hours',
    t.customer > now() - interval '24 hours',
    CASE WHEN mod(ct.id, 10) < 7 THEN o.agents[1 + mod(ct.id / 10, array_length(o.agents, 1))] END,
    false, t.opened,
    CASE WHEN mod(ct.id, 10) < 3 THEN LEAST(t.last + interval '30 minutes', now()) ELSE t.last END
FROM conversations_contact ct
JOIN bench_org o ON o.id = ct.organization_id
CROSS JOIN LATERAL (SELECT
    {_OPENED} AS opened,
    {_AT.format(opened=_OPENED, k=9, gap=_GAP)} AS customer,
    {_AT.format(opened=_OPENED, k=10, gap=_GAP)} AS last) t
"""  # noqa: S608 - constants only

# One tenth of the organizations per statement (by their index), for progress and to
# keep each transaction's size moderate.
MESSAGES = f"""
INSERT INTO conversations_message (
    organization_id, channel_id, conversation_id, direction, type, text, media, payload,
    context, provider_message_id, status, provider_timestamp, sent_at, occurred_at,
    revisions, error_code, error_title, status_details, error_history, created_at,
    updated_at)
SELECT c.organization_id, c.channel_id, c.id,
    CASE WHEN mod(k, 2) = 1 THEN 'inbound' ELSE 'outbound' END, 'text',
    (ARRAY['Hello, where is my order?', 'It has shipped today', 'Can I change the address',
           'Done, anything else?', 'Thanks, that helps'])[1 + mod(k + c.id::int, 5)],
    '{{}}', '{{}}', '{{}}', 'bench.' || c.id || '.' || k,
    CASE WHEN mod(k, 2) = 1 THEN 'received' WHEN mod(c.id + k, 50) = 0 THEN 'failed'
         WHEN mod(c.id + k, 3) = 0 THEN 'read' ELSE 'delivered' END,
    CASE WHEN mod(k, 2) = 1 THEN t.at END, CASE WHEN mod(k, 2) = 0 THEN t.at END, t.at,
    '[]', '', '', '{{}}', '[]', t.at, t.at
FROM conversations_conversation c
JOIN conversations_contact ct ON ct.id = c.contact_id
JOIN bench_org o ON o.id = c.organization_id AND mod(o.idx, 10) = {{slice}}
CROSS JOIN generate_series(1, {MESSAGES_PER_CONVERSATION}) k
CROSS JOIN LATERAL (SELECT {_AT.format(opened=_OPENED, k="k", gap=_GAP)} AS at) t
"""  # noqa: S608 - constants only

# Each campaign enrolls a tenth of its organization's SMS conversations (`n`), started
# at their first message; each lead gets its first step sent (the conversation's
# first answer), six in ten the second, three in ten the third; one in five replied
# (a day after its first step), one in thirty opted out.
ENROLLMENTS = """
INSERT INTO campaigns_enrollment (
    campaign_id, contact_id, conversation_id, state, current_position, fields, wait_reason,
    stop_reason, stop_detail, claim_token, started_at, replied_at, created_at, updated_at)
SELECT cp.id, c.contact_id, c.id,
    CASE WHEN mod(c.id, 5) = 0 THEN 'replied' WHEN mod(c.id, 30) = 1 THEN 'opted_out'
         ELSE 'completed' END,
    3, '{}', '', '', '', '', c.created_at,
    CASE WHEN mod(c.id, 5) = 0 THEN c.created_at + interval '1 day' END,
    c.created_at, c.created_at
FROM campaigns_campaign cp
CROSS JOIN LATERAL (
    SELECT c.* FROM conversations_conversation c
    WHERE c.organization_id = cp.organization_id AND c.channel_id = cp.channel_id
    ORDER BY c.id OFFSET mod(cp.id, 3) * %(n)s LIMIT %(n)s) c
"""

ENROLLMENT_STEPS = """
INSERT INTO campaigns_enrollmentstep (
    enrollment_id, step_id, position, execution, at, outcome, detail, message_id)
SELECT e.id, s.id, s.position, true, m.occurred_at, 'sent', '', m.id
FROM campaigns_enrollment e
JOIN campaigns_step s ON s.campaign_id = e.campaign_id
CROSS JOIN LATERAL (
    SELECT m.id, m.occurred_at FROM conversations_message m
    WHERE m.conversation_id = e.conversation_id AND m.direction = 'outbound'
    ORDER BY m.occurred_at, m.id OFFSET s.position - 1 LIMIT 1) m
WHERE s.position = 1 OR (s.position = 2 AND mod(e.id, 10) < 6)
    OR (s.position = 3 AND mod(e.id, 10) < 3)
"""

# What the send limiter counts per SMS and LinkedIn channel and UTC day, and the
# invitations of LinkedIn ones.
SEND_COUNTS = """
INSERT INTO messaging_dailysendcount (channel_id, day, count)
SELECT ch.id, d::date, 50 + mod(ch.id * 7 + extract(doy FROM d)::int, 400)
FROM tenants_channel ch
CROSS JOIN generate_series(now() - interval '180 days', now(), interval '1 day') d
WHERE ch.provider IN ('twilio', 'openphone', 'unipile')
"""

INVITATION_COUNTS = """
INSERT INTO messaging_dailyinvitationcount (channel_id, day, count)
SELECT ch.id, d::date, mod(ch.id + extract(doy FROM d)::int, 80)
FROM tenants_channel ch
CROSS JOIN generate_series(now() - interval '180 days', now(), interval '1 day') d
WHERE ch.provider = 'unipile'
"""

# Refused sends per organization, channel, agent, day and code.
REFUSALS = """
INSERT INTO messaging_dailyrefusalcount (organization_id, channel_id, agent_id, day, code, count)
SELECT o.id, o.channels[1 + mod(extract(doy FROM d)::int, array_length(o.channels, 1))],
    o.agents[1 + mod(extract(doy FROM d)::int, array_length(o.agents, 1))], d::date, code,
    1 + mod(o.idx + extract(doy FROM d)::int, 7)
FROM bench_org o
CROSS JOIN generate_series(now() - interval '180 days', now(), interval '1 day') d
CROSS JOIN unnest(ARRAY['WINDOW_EXPIRED', 'RATE_LIMITED', 'CONTACT_OPTED_OUT']) code
"""

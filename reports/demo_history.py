"""A month of history for the demo tenant, so that `make run` shows a Reports page with
something in it (`manage.py seed_demo_history`, run by `make run` after `seed_demo`).

It lives here, not in tenants.demo: the history spans conversations, messaging and
campaigns, which tenants (low in the import order) must not import.

What it writes, relative to now (the organization's local days):
- two agents (members with no usable password: assignees, not logins);
- 50 customer conversations over the last four weeks across the demo's channels, each
  shaped by SHAPES: answered quickly or slowly, some back and forth, most closed; the
  last three are recent and still waiting, unread;
- a few refused sends (messaging's DailyRefusalCount, the only record of them), and
  the LinkedIn channel's daily send counts (what its cap is measured against);
- one completed SMS campaign (reports.demo_campaign).
Rows are written directly (bulk_create), with the fields the services would have set
(reports.demo_rows); no outbox events, so no subscriber hears of them. The rollups are
then rebuilt from that history by the backfills, as an operator would.

Running it again adds nothing: an organization that has the demo's contacts already
is left as it is. Everything is one transaction.
"""

import random
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations.models import Contact, ConversationStatus, Direction
from messaging.limits import limits_for
from messaging.models import DailyRefusalCount, DailySendCount
from providers import Provider
from reports.campaign_backfill import campaign_rollups_rebuild
from reports.demo_campaign import campaign_history_write
from reports.demo_rows import Thread, contacts_make, demo_phone, local_moment, threads_write
from reports.inbox_backfill import inbox_backfill
from reports.ranges import local_day, organization_tz
from tenants import services as tenants
from tenants.errors import ErrorCode
from tenants.models import Channel, Organization, Role

AGENTS = [("ana.agent", "Ana", "Ruiz"), ("ben.agent", "Ben", "Okafor")]
CONVERSATIONS = 50
WAITING = 3  # the most recent ones, not answered yet
# Each conversation's shape, in turn: minutes to the first answer, exchanges (customer,
# then agent), and how it ends ("closed"; "pending": our answer was last and we wait;
# "open": the customer said thanks and nobody closed it).
SHAPES = [
    (4, 2, "closed"),
    (9, 1, "closed"),
    (150, 2, "closed"),
    (12, 1, "pending"),
    (300, 1, "closed"),
    (25, 3, "closed"),
    (45, 1, "open"),
    (7, 2, "closed"),
]
# The channels, in turn (WhatsApp carries the most). Seven of them against eight
# shapes: each channel gets every shape in turn, not always the same ones.
CHANNEL_TURNS = [
    Provider.WHATSAPP_CLOUD,
    Provider.OPENPHONE,
    Provider.WHATSAPP_CLOUD,
    Provider.TWILIO,
    Provider.UNIPILE,
    Provider.WHATSAPP_CLOUD,
    Provider.OPENPHONE,
]
ASSIGNEE_TURNS = [0, 1, 0, 1, None]  # index into the agents; None: nobody took it
# (days ago, channel, agent index or None, code, count)
REFUSALS = [
    (6, Provider.WHATSAPP_CLOUD, 0, ErrorCode.WINDOW_EXPIRED, 2),
    (15, Provider.WHATSAPP_CLOUD, 1, ErrorCode.TEMPLATE_NOT_APPROVED, 1),
    (9, Provider.UNIPILE, 1, ErrorCode.RATE_LIMITED, 1),
    (12, Provider.TWILIO, None, ErrorCode.CONTACT_OPTED_OUT, 1),
]
OPENERS = [
    "Hi, is my order #{n} on its way?",
    "Can I change the delivery address on my order?",
    "Are you open on Saturday?",
    "I think I was charged twice for my last order.",
    "Is the blue one back in stock?",
    "How do I reset my password?",
    "Can I move my appointment to next week?",
    "Do you ship abroad?",
]
ANSWERS = [
    "Hi {first}, thanks for writing! Let me check that for you.",
    "It left our warehouse this morning: you will get a tracking link today.",
    "Done. Anything else I can help with?",
    "Sorry about that, I have refunded the duplicate charge.",
    "Yes, 9:00 to 17:00 on Saturdays.",
]
FOLLOW_UPS = ["Great, thanks!", "And how long does it take?", "Could you send the link again?"]


def demo_history_seed(*, organization: Organization, now: datetime | None = None) -> dict | None:
    """Write the demo history and rebuild the reports' rollups from it; what it wrote,
    or None when the organization has it already."""
    now = now or timezone.now()
    with transaction.atomic():
        # Two seeds at once (two `make run`s) would both find nothing: one waits.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        if demo_history_present(organization):
            return None
        agents = _agents(organization)
        channels = {
            Provider(c.provider): c
            for c in Channel.objects.filter(organization=organization).order_by("pk")
        }
        threads = _customer_threads(organization, channels, agents, now)
        campaign = campaign_history_write(
            organization=organization, channel=channels[Provider.TWILIO], agents=agents, now=now
        )
        threads_write(threads + campaign.threads, now=now)
        campaign.history_write()
        refused = _refusals_write(organization, channels, agents, now)
        _send_counts_write([*threads, *campaign.threads])
        inbox_backfill(organization=organization)
        campaign_rollups_rebuild(organization=organization)
    every = threads + campaign.threads
    return {
        "conversations": len(every),
        "messages_in": sum(1 for t in every for s in t.said if s.direction == Direction.INBOUND),
        "messages_out": sum(1 for t in every for s in t.said if s.direction == Direction.OUTBOUND),
        "refused": refused,
        "enrollments": len(campaign.threads),
    }


def demo_history_present(organization: Organization) -> bool:
    """Its first customer (on WhatsApp: with a number) is the history's mark."""
    return Contact.objects.filter(organization=organization, phone=demo_phone(0)).exists()


def _agents(organization: Organization) -> list:
    """The demo's agents: members who can be assigned, with no password to log in."""
    agents = []
    for username, first, last in AGENTS:
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@demo.example"},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        tenants.membership_set(organization=organization, user=user, role=Role.AGENT)
        agents.append(user)
    return agents


def _customer_threads(organization, channels: dict, agents: list, now: datetime) -> list[Thread]:
    # The same shapes every time, only "now" moves them (a demo, not a secret).
    rng = random.Random(2026)  # noqa: S311
    tz = organization_tz(organization)
    today = local_day(now, tz)
    turns = [channels[CHANNEL_TURNS[n % len(CHANNEL_TURNS)]] for n in range(CONVERSATIONS)]
    contacts = contacts_make(organization, turns, start=0)
    threads = []
    for n, (channel, contact) in enumerate(zip(turns, contacts, strict=True)):
        thread = Thread(channel=channel, contact=contact)
        first = contact.name.split()[0]
        if n >= CONVERSATIONS - WAITING:
            _waiting(thread, now - timedelta(hours=3 + 4 * (CONVERSATIONS - n)), n, rng)
        else:
            # From 27 days ago to 3 days ago, in office hours: every thread (at most a
            # day and a half long) is over before today began, whatever the hour now.
            day = today - timedelta(days=27 - n * 25 // (CONVERSATIONS - WAITING))
            start = local_moment(day, time(8 + rng.randrange(10), rng.randrange(60)), tz)
            turn = ASSIGNEE_TURNS[n % len(ASSIGNEE_TURNS)]
            thread.assignee = agents[turn] if turn is not None else None
            # Nobody took the unassigned ones; whoever was free answered.
            author = thread.assignee or agents[n % len(agents)]
            _answered(thread, start, SHAPES[n % len(SHAPES)], (author, first, n), rng)
        threads.append(thread)
    return threads


def _answered(thread: Thread, at: datetime, shape: tuple, who: tuple, rng) -> None:
    minutes, exchanges, ending = shape
    agent, first, n = who
    thread.inbound(at, OPENERS[n % len(OPENERS)].format(n=4100 + n))
    at += timedelta(minutes=minutes + rng.randrange(3))
    for exchange in range(exchanges):
        if exchange:
            at += timedelta(minutes=5 + rng.randrange(60))
            thread.inbound(at, FOLLOW_UPS[(n + exchange) % len(FOLLOW_UPS)])
            at += timedelta(minutes=2 + rng.randrange(20))
        text = ANSWERS[(n + exchange) % len(ANSWERS)].format(first=first)
        thread.outbound(at, text, author=agent)
    if ending == "closed":
        thread.status = ConversationStatus.CLOSED
        thread.closed_at = at + timedelta(hours=1 + n % 20)
    elif ending == "pending":
        thread.status = ConversationStatus.PENDING
    else:  # the customer's thanks, read; nobody closed it
        thread.inbound(at + timedelta(minutes=30), "Thanks, that's all for now.")


def _waiting(thread: Thread, at: datetime, n: int, rng) -> None:
    """A recent customer nobody has answered yet: open, unassigned, unread."""
    thread.inbound(at, OPENERS[n % len(OPENERS)].format(n=4100 + n))
    if n % 2:
        thread.inbound(at + timedelta(minutes=1 + rng.randrange(10)), "Hello? Anyone there?")
    thread.unread = len(thread.said)


def _refusals_write(organization, channels: dict, agents: list, now: datetime) -> int:
    today = local_day(now, organization_tz(organization))
    DailyRefusalCount.objects.bulk_create(
        [
            DailyRefusalCount(
                organization=organization,
                channel_id=channels[provider].pk,
                agent_id=agents[agent].pk if agent is not None else 0,
                day=today - timedelta(days=days_ago),
                code=code.value,
                count=count,
            )
            for days_ago, provider, agent, code, count in REFUSALS
        ]
    )
    return sum(row[-1] for row in REFUSALS)


def _send_counts_write(threads: list[Thread]) -> None:
    """The sends counted against channels with a daily cap, per UTC day, as the
    limiter counted them when they were admitted (messaging.limits)."""
    counts: dict[tuple[int, object], int] = {}
    capped: dict[int, bool] = {}
    for thread in threads:
        channel = thread.channel
        if channel.pk not in capped:
            capped[channel.pk] = limits_for(channel).daily_cap is not None
        if not capped[channel.pk]:
            continue
        for said in thread.said:
            if said.direction == Direction.OUTBOUND:
                key = (channel.pk, said.at.astimezone(UTC).date())
                counts[key] = counts.get(key, 0) + 1
    DailySendCount.objects.bulk_create(
        [DailySendCount(channel_id=c, day=d, count=n) for (c, d), n in counts.items()]
    )

"""Rebuilding the inbox rollups from history: `manage.py reports_backfill`.

History is the messages (each one's day, direction and whether the provider accepted
it), the conversations (their channel and assignee now) and the episodes already
recorded (reports.inbox_models.ConversationFact: when each opening, reopening and close
happened, which no other table keeps). A conversation without any episode yet (from
before the reports existed) gets one: opened when it was created and, if it is closed
now, closed at its last change (the best guess history has).

From those it recomputes every episode's first customer message and first response,
and every day's counts in the range, exactly as the outbox reader
(reports.inbox_rollup) would have: the two agree (tests/reports). Refused sends need no
rebuilding: their counter (messaging.DailyRefusalCount) is their history.

The reader is drained first and held (its cursor row locked) while the rebuild runs,
so nothing is counted twice by both; an event committed while the rebuild reads may
still be, and running the command again settles it.
"""

from collections import defaultdict
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from conversations.models import Conversation, ConversationStatus, Direction, Message
from outbox.models import OutboxCursor
from reports.inbox_models import ConversationFact, InboxDay
from reports.inbox_rollup import COUNTERS, READER, automated_message_ids, inbox_rollups_update
from reports.ranges import DateRange, local_day, organization_tz
from tenants.models import Organization

CHUNK = 500


def inbox_backfill(
    *, organization: Organization, start: date | None = None, end: date | None = None
) -> dict[str, int]:
    """Rebuild the organization's episodes, and its daily counts from `start` to `end`
    (local days, both included; by default its whole history). Returns counts."""
    inbox_rollups_update()
    with transaction.atomic():
        OutboxCursor.objects.get_or_create(name=READER)
        OutboxCursor.objects.select_for_update().filter(name=READER).first()
        inbox_rollups_update()  # what committed meanwhile (the lock is ours already)
        conversations = {
            c.pk: c
            for c in Conversation.objects.filter(organization=organization).only(
                "channel_id", "assignee_id", "status", "created_at", "updated_at"
            )
        }
        facts = _facts_rebuild(organization, conversations)
        span = _span(organization, start, end)
        days = _days_rebuild(organization, span, conversations, facts)
    return {"conversations": len(conversations), "episodes": len(facts), "days": days}


def _span(organization: Organization, start: date | None, end: date | None) -> DateRange:
    tz = organization_tz(organization)
    first = Message.objects.filter(organization=organization).aggregate(at=Min("occurred_at"))
    created = Conversation.objects.filter(organization=organization).aggregate(at=Min("created_at"))
    moments = [m for m in (first["at"], created["at"]) if m is not None] or [timezone.now()]
    start = start or local_day(min(moments), tz)
    return DateRange(start, end or local_day(timezone.now(), tz) + timedelta(days=1), tz)


def _facts_rebuild(organization, conversations: dict) -> list[ConversationFact]:
    episodes = defaultdict(list)
    for fact in ConversationFact.objects.filter(organization=organization).order_by(
        "opened_at", "pk"
    ):
        episodes[fact.conversation_id].append(fact)
    ids = sorted(conversations)
    rebuilt = []
    for n in range(0, len(ids), CHUNK):
        chunk = ids[n : n + CHUNK]
        messages = _messages_of(chunk)
        for conversation_id in chunk:
            conversation = conversations[conversation_id]
            found = episodes.get(conversation_id) or [_first_episode(conversation)]
            rebuilt += _episodes(conversation, found, messages.get(conversation_id, []))
    ConversationFact.objects.filter(organization=organization).delete()
    ConversationFact.objects.bulk_create(rebuilt, batch_size=CHUNK)
    return rebuilt


def _first_episode(conversation: Conversation) -> ConversationFact:
    closed = conversation.status == ConversationStatus.CLOSED
    return ConversationFact(
        opened_at=conversation.created_at, closed_at=conversation.updated_at if closed else None
    )


def _messages_of(conversation_ids: list[int]) -> dict[int, list[tuple]]:
    rows = list(
        Message.objects.filter(conversation_id__in=conversation_ids)
        .order_by("occurred_at", "pk")
        .values_list(
            "conversation_id", "pk", "direction", "occurred_at", "created_at", "provider_message_id"
        )
    )
    automated = automated_message_ids([r[1] for r in rows if r[2] == Direction.OUTBOUND])
    found = defaultdict(list)
    for conversation_id, pk, direction, occurred_at, created_at, provider_id in rows:
        found[conversation_id].append(
            (direction, occurred_at, created_at, provider_id, pk in automated)
        )
    return found


def _episodes(conversation: Conversation, found: list, messages: list) -> list[ConversationFact]:
    """Each episode's first customer message and first response, from the messages
    filed while it was the conversation's latest (after the previous one closed)."""
    rebuilt, after = [], None
    for fact in found:
        mine = [
            m
            for m in messages
            if (after is None or m[2] > after)
            and (fact.closed_at is None or m[2] <= fact.closed_at)
        ]
        customer = [m[1] for m in mine if m[0] == Direction.INBOUND]
        first = min(customer, default=None)
        responses = [
            m[1]
            for m in mine
            if m[0] == Direction.OUTBOUND
            and m[3]
            and not m[4]
            and first is not None
            and m[1] >= first
        ]
        rebuilt.append(
            ConversationFact(
                organization_id=conversation.organization_id,
                conversation_id=conversation.pk,
                channel_id=conversation.channel_id,
                agent_id=conversation.assignee_id or 0,
                opened_at=fact.opened_at,
                first_customer_at=first,
                first_response_at=min(responses, default=None),
                closed_at=fact.closed_at,
            )
        )
        after = fact.closed_at
    return rebuilt


def _days_rebuild(organization, span: DateRange, conversations: dict, facts: list) -> int:
    tz = span.tz
    counts: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))

    def add(conversation_id: int, at, name: str) -> None:
        if at is not None and span.start_at <= at < span.end_before:
            counts[(conversation_id, local_day(at, tz))][name] += 1

    for fact in facts:
        add(fact.conversation_id, fact.opened_at, "conversations_opened")
        add(fact.conversation_id, fact.closed_at, "conversations_closed")
    messages = Message.objects.filter(
        organization=organization, occurred_at__gte=span.start_at, occurred_at__lt=span.end_before
    ).values_list("conversation_id", "direction", "occurred_at", "provider_message_id")
    for conversation_id, direction, occurred_at, provider_id in messages.iterator(CHUNK):
        if direction == Direction.INBOUND:
            add(conversation_id, occurred_at, "messages_in")
        elif provider_id:  # accepted by the provider: what message.sent reports
            add(conversation_id, occurred_at, "messages_out")
    InboxDay.objects.filter(
        organization=organization, day__gte=span.start, day__lte=span.end
    ).delete()
    rows = [
        InboxDay(
            organization=organization,
            conversation_id=conversation_id,
            channel_id=conversations[conversation_id].channel_id,
            agent_id=conversations[conversation_id].assignee_id or 0,
            day=day,
            **figures,
        )
        for (conversation_id, day), figures in counts.items()
    ]
    InboxDay.objects.bulk_create(rows, batch_size=CHUNK)
    return len(rows)

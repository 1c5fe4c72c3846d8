"""Keeping the inbox rollups current from the outbox (reader "reports.inbox").

Every minute (reports.tasks) the events since the reader's cursor are handed to
`inbox_events_handle` in the cursor's transaction (outbox.readers.events_consume):
each event is counted exactly once, and a crash repeats nothing. Per page, the
conversations' latest episodes are read in one query, changed in memory, and written
back with one query per table.

What each event does (the figures' meaning is in reports.inbox):
- conversation.created: an episode opens; "opened" counts on its day.
- conversation.status_changed: to closed, the open episode closes ("closed" counts);
  from closed to anything else, a new episode opens ("opened" counts again).
- message.received: "messages in" on the day of the provider's timestamp; the first
  customer message of the episode is the earliest of them. One filed while the
  episode is closed reopens it (whichever of the message and the status change comes
  first in the outbox).
- message.sent (what the provider accepted, and echoes of sends from the provider's
  own app): "messages out"; the earliest not automated one at or after the first
  customer message, while the episode is open, is its first response.
- conversation.assigned: the conversation's rows move to the new assignee.

A reader stopped for longer than the outbox keeps its events (the organization's
outbox retention) misses some: `manage.py reports_backfill` rebuilds from history.
"""

from collections.abc import Callable
from datetime import datetime

from django.db import connection

from campaigns.models import EnrollmentStep
from conversations.models import Conversation, ConversationStatus, Message
from messaging.checks import Exemption
from outbox.models import OutboxEvent
from outbox.readers import events_consume
from reports.inbox_models import ConversationFact, InboxDay
from reports.ranges import local_day, organization_tz
from tenants.models import Organization

READER = "reports.inbox"
COUNTERS = ("conversations_opened", "conversations_closed", "messages_in", "messages_out")
AUTOMATED = (Exemption.AUTO_REPLY.value, Exemption.HEALTH_CHECK.value)


def inbox_rollups_update() -> int | None:
    """Handle every event the reader has not seen yet; how many (None: another process
    is at it)."""
    total = 0
    while handled := events_consume(name=READER, handle=inbox_events_handle):
        total += handled
    return total if handled is not None else (total or None)


def automated_message_ids(message_ids: list[int]) -> set[int]:
    """The sends no person wrote: keyword auto-replies and health checks (marked in
    their payload) and campaign steps. API sends carry no author: a person's frontend
    and a bot through the API look the same, and both count as responses."""
    if not message_ids:
        return set()
    marked = Message.objects.filter(pk__in=message_ids, payload__exempt__in=AUTOMATED)
    campaign = EnrollmentStep.objects.filter(message_id__in=message_ids)
    return set(marked.values_list("pk", flat=True)) | set(
        campaign.values_list("message_id", flat=True)
    )


class _Page:
    """One page of events' effect, gathered in memory and written at the end."""

    def __init__(self, events: list[OutboxEvent]) -> None:
        conversation_ids = {e.conversation_id for e in events}
        self.facts: dict[int, ConversationFact] = {}
        for fact in ConversationFact.objects.filter(conversation_id__in=conversation_ids).order_by(
            "opened_at", "pk"
        ):
            self.facts[fact.conversation_id] = fact  # the latest episode wins
        self.conversations = {
            c.pk: c
            for c in Conversation.objects.filter(pk__in=conversation_ids - set(self.facts)).only(
                "assignee_id", "status", "created_at", "updated_at"
            )
        }
        zones = Organization.objects.filter(pk__in={e.organization_id for e in events})
        self.zones = {o.pk: organization_tz(o) for o in zones}
        sent = [e.body["message_id"] for e in events if e.type == "message.sent"]
        self.automated = automated_message_ids(sent)
        self.counts: dict[tuple[int, object], dict[str, int]] = {}
        self.changed: dict[int, ConversationFact] = {}
        self.moved: dict[int, int] = {}  # conversation -> new agent

    def fact(self, event: OutboxEvent) -> ConversationFact | None:
        """The conversation's latest episode; for a conversation from before the
        reader began, one from its row (not counted as opened: the backfill does)."""
        fact = self.facts.get(event.conversation_id)
        if fact is None and (row := self.conversations.get(event.conversation_id)):
            fact = self.episode(event, row.created_at, row.assignee_id or 0)
            if row.status == ConversationStatus.CLOSED:
                fact.closed_at = row.updated_at  # the best guess history has
        return fact

    def episode(self, event: OutboxEvent, at: datetime, agent_id: int) -> ConversationFact:
        fact = ConversationFact(
            organization_id=event.organization_id,
            conversation_id=event.conversation_id,
            channel_id=event.channel_id,
            agent_id=agent_id,
            opened_at=at,
        )
        self.facts[event.conversation_id] = self.changed[id(fact)] = fact
        return fact

    def count(self, event: OutboxEvent, fact: ConversationFact, at: datetime, name: str) -> None:
        day = local_day(at, self.zones[event.organization_id])
        key = (event.conversation_id, day)
        if key not in self.counts:
            self.counts[key] = {"fact": fact, **dict.fromkeys(COUNTERS, 0)}
        self.counts[key][name] += 1

    def touch(self, fact: ConversationFact) -> None:
        self.changed[id(fact)] = fact

    def save(self) -> None:
        facts = list(self.changed.values())
        ConversationFact.objects.bulk_create([f for f in facts if f.pk is None])
        _facts_update([f for f in facts if f.pk is not None])
        for conversation_id, agent_id in self.moved.items():
            InboxDay.objects.filter(conversation_id=conversation_id).update(agent_id=agent_id)
            ConversationFact.objects.filter(conversation_id=conversation_id).update(
                agent_id=agent_id
            )
        self._save_counts()

    def _save_counts(self) -> None:
        """Add the page's counts in one upsert: a Django bulk_update's CASE per row
        cost more CPU than applying the messages did (bench/reports.py)."""
        rows = [
            (
                added["fact"].organization_id,
                conversation_id,
                added["fact"].channel_id,
                added["fact"].agent_id,
                day,
                *(added[name] for name in COUNTERS),
            )
            for (conversation_id, day), added in self.counts.items()
        ]
        if not rows:
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One statement for the page: its rows as arrays, one per column.
                columns = [list(column) for column in zip(*rows, strict=True)]
                cursor.execute(_COUNTS_UPSERT_ARRAYS, columns)
            else:
                cursor.executemany(_COUNTS_UPSERT, rows)


_DAYS = InboxDay._meta.db_table
_COUNTS_UPSERT = (
    f"INSERT INTO {_DAYS} (organization_id, conversation_id, channel_id, agent_id, day, "  # noqa: S608 - names from the model
    f"{', '.join(COUNTERS)}) VALUES (%s, %s, %s, %s, %s, {', '.join(['%s'] * len(COUNTERS))}) "
    f"ON CONFLICT (conversation_id, day) DO UPDATE SET "
    + ", ".join(f"{name} = {_DAYS}.{name} + excluded.{name}" for name in COUNTERS)
)
_COUNTS_UPSERT_ARRAYS = _COUNTS_UPSERT.replace(
    f"VALUES (%s, %s, %s, %s, %s, {', '.join(['%s'] * len(COUNTERS))})",
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::date[], "  # noqa: S608 - constants
    + ", ".join(["%s::integer[]"] * len(COUNTERS))
    + ")",
)
_FACT_FIELDS = ("agent_id", "first_customer_at", "first_response_at", "closed_at")
_FACTS_UPDATE = (
    f"UPDATE {ConversationFact._meta.db_table} SET "  # noqa: S608 - names from the model
    + ", ".join(f"{name} = %s" for name in _FACT_FIELDS)
    + " WHERE id = %s"
)


def _facts_update(facts: list[ConversationFact]) -> None:
    """One UPDATE by primary key per changed episode, sent as a batch (bulk_update's
    CASE over the whole page costs more CPU, in Django and in PostgreSQL)."""
    if facts:
        with connection.cursor() as cursor:
            cursor.executemany(
                _FACTS_UPDATE,
                [(*(getattr(f, name) for name in _FACT_FIELDS), f.pk) for f in facts],
            )


def inbox_events_handle(events: list[OutboxEvent]) -> None:
    """The outbox reader's handler: runs inside the cursor's transaction."""
    relevant = [e for e in events if e.type in _HANDLERS and e.conversation_id]
    if not relevant:
        return
    page = _Page(relevant)
    for event in relevant:
        _HANDLERS[event.type](page, event)
    page.save()


def _created(page: _Page, event: OutboxEvent) -> None:
    if event.conversation_id in page.facts:
        return  # already seen (a message of it was read first)
    fact = page.episode(event, event.occurred_at, 0)
    page.count(event, fact, event.occurred_at, "conversations_opened")


def _status_changed(page: _Page, event: OutboxEvent) -> None:
    fact = page.fact(event)
    if fact is None:
        return
    closing = event.body["status"] == ConversationStatus.CLOSED
    if closing and fact.closed_at is None:
        fact.closed_at = event.occurred_at
        page.touch(fact)
        page.count(event, fact, event.occurred_at, "conversations_closed")
    elif not closing and fact.closed_at is not None:
        _reopened(page, event, fact, event.occurred_at)


def _reopened(page: _Page, event: OutboxEvent, closed: ConversationFact, at: datetime):
    fact = page.episode(event, at, closed.agent_id)
    page.count(event, fact, at, "conversations_opened")
    return fact


def _assigned(page: _Page, event: OutboxEvent) -> None:
    fact = page.fact(event)
    if fact is None:
        return
    agent_id = event.body["assignee_id"] or 0
    fact.agent_id = agent_id
    page.touch(fact)
    page.moved[event.conversation_id] = agent_id
    for added in page.counts.values():
        if added["fact"].conversation_id == event.conversation_id:
            added["fact"].agent_id = agent_id


def _received(page: _Page, event: OutboxEvent) -> None:
    fact = page.fact(event)
    if fact is None:
        return
    if fact.closed_at is not None:
        fact = _reopened(page, event, fact, event.created_at)
    at = datetime.fromisoformat(event.body["occurred_at"])
    page.count(event, fact, at, "messages_in")
    if fact.first_customer_at is None or at < fact.first_customer_at:
        fact.first_customer_at = at
        page.touch(fact)


def _sent(page: _Page, event: OutboxEvent) -> None:
    fact = page.fact(event)
    if fact is None:
        return
    at = datetime.fromisoformat(event.body["occurred_at"])
    page.count(event, fact, at, "messages_out")
    answers = (
        fact.closed_at is None
        and fact.first_customer_at is not None
        and at >= fact.first_customer_at
        and event.body["message_id"] not in page.automated
    )
    if answers and (fact.first_response_at is None or at < fact.first_response_at):
        fact.first_response_at = at
        page.touch(fact)


_HANDLERS: dict[str, Callable[[_Page, OutboxEvent], None]] = {
    "conversation.created": _created,
    "conversation.status_changed": _status_changed,
    "conversation.assigned": _assigned,
    "message.received": _received,
    "message.sent": _sent,
}

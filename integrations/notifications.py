"""Reply notifications: an email when a customer writes, to the conversation's
assignee, or to the organization's notification addresses (its admins when it has
none) while it is unassigned; at most one per conversation every
REPLY_EMAIL_INTERVAL.

Messages a bot handles (its conversation's `bot_active` on, on a channel with a
responder) are not told: the responder answers them (integrations.bots).

Two steps, both run by the periodic "Send reply notifications" (every minute):
1. `reply_events_consume` reads `message.received` from the outbox with a durable
   cursor (outbox.readers.events_consume): in the transaction that moves the cursor it
   adds the messages to their conversation's `ReplyNotification` and sets when its
   email may go: now, or REPLY_EMAIL_INTERVAL after the last one. No mail is sent
   there, so a crash repeats nothing and loses nothing.
2. `reply_notifications_send_due` claims the due notifications one at a time
   (SKIP LOCKED: two workers never take the same one) and empties one only once its
   email went out, in the transaction that holds it. A mail server that refuses keeps
   it pending, retried a few minutes later (RETRY_DELAYS).

What a burst becomes: the first message of a quiet conversation is told on the next
tick (a customer who types three lines in a row gets one email with the three); what
they write in the 15 minutes after an email is gathered into the next one, sent when
the 15 minutes are up and listing every message since (the latest PENDING_SHOWN, with
a count of the rest). Nothing is ever dropped for being inside the interval.
"""

import logging
import time
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from conversations.models import Conversation
from integrations.bots import responder_channels
from integrations.notifications_email import ReplyEmail, reply_email_build
from integrations.notifications_models import ReplyNotification
from outbox.models import OutboxCursor, OutboxEvent
from outbox.readers import READ_LIMIT, events_consume, position_now

logger = logging.getLogger(__name__)

READER = "reply_notifications"
REPLY_EMAIL_INTERVAL = timedelta(minutes=15)
# Ids kept per pending email: it lists the latest ones, and counts the rest.
PENDING_KEPT = 20
# After the mail server refused the email: wait 1, 2, 5, then 15 minutes between tries.
RETRY_DELAYS = [timedelta(minutes=m) for m in (1, 2, 5, 15)]
SEND_LIMIT = 200
# A run stops sending after this long, well before the next one is due (EMAIL_TIMEOUT
# bounds each email).
SEND_BUDGET_SECONDS = 40.0
# Pages of the outbox read per tick (every event type is read, so a busy minute can
# hold more than one page of them); the rest is read by the next tick.
MAX_PAGES = 20


def reply_events_consume(*, now: datetime | None = None, pages: int = MAX_PAGES) -> int | None:
    """Handle the message.received events after the reader's cursor, a page (one
    transaction) at a time until caught up or `pages` were read. How many events were
    read (of every type); None when another worker is reading now."""
    _cursor_ensure()
    total = 0
    for _ in range(pages):
        handled = events_consume(
            name=READER, handle=lambda events: reply_events_handle(events, now=now)
        )
        if handled is None:
            return None if total == 0 else total
        total += handled
        if handled < READ_LIMIT:
            break
    return total


def _cursor_ensure() -> None:
    """A new reader starts at the outbox's end: installing this must not email about
    the week of messages the outbox retains."""
    if not OutboxCursor.objects.filter(name=READER).exists():
        start = position_now()
        OutboxCursor.objects.get_or_create(
            name=READER, defaults={"xid": start.xid, "event_id": start.event_id}
        )


def reply_events_handle(events: list[OutboxEvent], *, now: datetime | None = None) -> None:
    """Inside the reader's transaction: the customers' messages added to their
    conversations' pending emails."""
    now = now or timezone.now()
    received: dict[int, list[int]] = {}
    for event in _told(events):
        received.setdefault(event.conversation_id, []).append(event.body["message_id"])
    if not received:
        return
    # A conversation deleted since (its contact removed) has nobody to tell about.
    organizations = dict(
        Conversation.objects.filter(pk__in=received).values_list("pk", "organization_id")
    )
    # In conversation order, the order the sender never holds more than one of.
    pending = {
        row.conversation_id: row
        for row in ReplyNotification.objects.select_for_update()
        .filter(conversation_id__in=organizations)
        .order_by("conversation_id")
    }
    created = []
    for conversation_id, organization_id in sorted(organizations.items()):
        row = pending.get(conversation_id)
        if row is None:
            row = ReplyNotification(
                conversation_id=conversation_id, organization_id=organization_id
            )
            created.append(row)
        _pending_add(row, received[conversation_id], now)
    ReplyNotification.objects.bulk_create(created)
    fields = ["message_ids", "pending_count", "due_at", "updated_at"]
    ReplyNotification.objects.bulk_update(list(pending.values()), fields)


def _told(events: list[OutboxEvent]) -> list[OutboxEvent]:
    """The customers' messages agents are told about: not those a bot handles (filed
    while the conversation's bot was on, on a channel with a responder). Once an agent
    took the conversation over, its messages are filed with the bot off, and told."""
    messages = [
        event
        for event in events
        if event.type == "message.received" and event.conversation_id is not None
    ]
    if not any(event.body.get("bot_active") for event in messages):
        return messages
    answered = set(responder_channels().values_list("channel_id", flat=True))
    return [
        event
        for event in messages
        if not (event.body.get("bot_active") and event.channel_id in answered)
    ]


def _pending_add(row: ReplyNotification, message_ids: list[int], now: datetime) -> None:
    known = set(row.message_ids)
    fresh = [pk for pk in dict.fromkeys(message_ids) if pk not in known]
    row.message_ids = [*row.message_ids, *fresh][-PENDING_KEPT:]
    row.pending_count += len(fresh)
    row.updated_at = now
    if row.due_at is None and fresh:
        row.due_at = now
        if row.last_sent_at is not None:
            row.due_at = max(now, row.last_sent_at + REPLY_EMAIL_INTERVAL)


def reply_notifications_send_due(*, now: datetime | None = None, limit: int = SEND_LIMIT) -> int:
    """Send the emails that are due; returns how many went. One that fails stays
    pending and is tried again later; the others still go."""
    now = now or timezone.now()
    ids = list(
        ReplyNotification.objects.filter(due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent, started = 0, time.monotonic()
    for notification_id in ids:
        if time.monotonic() - started > SEND_BUDGET_SECONDS:
            break  # a slow mail server: the rest go with the next run, not after it
        try:
            sent += reply_notification_send(notification_id=notification_id, now=now)
        except Exception as exc:  # the mail server: kept pending, retried later
            logger.exception("Reply notification %s failed", notification_id)
            _failure_record(notification_id, exc, now)
    return sent


def reply_notification_send(*, notification_id: int, now: datetime | None = None) -> bool:
    """Email one due notification, holding its row until the mail went out: another
    worker skips it, and the reader adds to it only after. Returns whether it went."""
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            ReplyNotification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, due_at__lte=now)
            .first()
        )
        if row is None:
            return False  # another worker has it, or it went already
        email = reply_email_build(notification=row)
        if email is not None:
            send_mail(email.subject, email.body, None, email.recipients)
        _sent_record(row, email, now)
    return email is not None


def _sent_record(row: ReplyNotification, email: ReplyEmail | None, now: datetime) -> None:
    row.message_ids, row.pending_count, row.due_at = [], 0, None
    row.attempts, row.last_error = 0, ""
    if email is not None:
        row.last_sent_at, row.sent_count = now, row.sent_count + 1
        row.last_recipients = ", ".join(email.recipients)
    row.save()


def _failure_record(notification_id: int, error: Exception, now: datetime) -> None:
    row = ReplyNotification.objects.filter(pk=notification_id).first()
    if row is None or row.due_at is None:
        return
    delay = RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS) - 1)]
    ReplyNotification.objects.filter(pk=notification_id, due_at__isnull=False).update(
        attempts=row.attempts + 1,
        last_error=f"{type(error).__name__}: {error}"[:500],
        due_at=now + delay,
        updated_at=now,
    )


def reply_notifications_run(*, now: datetime | None = None) -> dict:
    """The periodic task's work: read what was filed, then send what is due."""
    handled = reply_events_consume(now=now)
    return {"events": handled, "sent": reply_notifications_send_due(now=now)}

"""Bulk upkeep of conversations: set-based statements in batches, never a loop of saves.

- `windows_close_expired`: the stored `is_window_open` flag follows the clock
  (DESIGN.md: the flag is a copy for filtering; the truth is `window_expires_at`).
- `windows_backfill`: window fields recomputed from stored messages, for data that was
  imported or repaired.
- `conversations_unsnooze_due`: snoozed conversations whose time has come reopen.
- `windows_expiring_record`: `window.expiring` in the outbox, once per window expiry.
"""

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from conversations import events
from conversations.models import (
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageReaction,
)
from conversations.window import EXPIRING_WITHIN, WINDOW
from conversations.window_models import WindowExpiringNotice
from outbox.services import EventDraft, events_record_many
from providers.events import MessageType
from tenants.models import WindowPolicy

logger = logging.getLogger(__name__)

CLOSE_BATCH_SIZE = 50_000
EXPIRING_BATCH_SIZE = 2_000
BACKFILL_BATCH_SIZE = 5_000


@dataclass
class WindowsClosed:
    closed: Counter = field(default_factory=Counter)  # organization id -> windows closed
    reopened: Counter = field(default_factory=Counter)  # flag said closed, clock says open
    checked_at: datetime | None = None

    def as_dict(self) -> dict:
        return {
            "closed": sum(self.closed.values()),
            "reopened": sum(self.reopened.values()),
            "by_organization": {
                str(org): {"closed": self.closed[org], "reopened": self.reopened[org]}
                for org in sorted(self.closed.keys() | self.reopened.keys())
            },
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


def windows_close_expired(
    *,
    now: datetime | None = None,
    batch_size: int = CLOSE_BATCH_SIZE,
    workers: int | None = None,
) -> WindowsClosed:
    """Bring `is_window_open` in line with the clock for every organization.

    One pass over the table in ranges of `batch_size` ids, each one UPDATE ... RETURNING
    in its own short transaction: a flag that says open while the window has expired is
    closed, and one that says closed while it is open (data written around the rules)
    is reopened. Flipped rows get `window_status_last_checked_at`.

    The ranges are shared by `workers` connections at once (WINDOW_CLOSE_WORKERS): each
    flipped row costs PostgreSQL its index insertions and their WAL, work one backend
    does on one core, so two streams nearly halve a big backlog (bench/windows.py).
    Ranges are disjoint and rows are taken in id order, the order webhook processing
    locks conversations in, so nothing waits on anything for long.
    """
    report = WindowsClosed(checked_at=now or timezone.now())
    for closed, reopened in _flip_ranges(report.checked_at, _id_ranges(batch_size), workers):
        report.closed.update(closed)
        report.reopened.update(reopened)
    for organization_id in sorted(report.closed.keys() | report.reopened.keys()):
        logger.info(
            "Windows of organization %s: %s closed, %s reopened",
            organization_id,
            report.closed[organization_id],
            report.reopened[organization_id],
        )
    return report


def _id_ranges(size: int) -> list[tuple[int, int]]:
    bounds = Conversation.objects.aggregate(first=Min("id"), last=Max("id"))
    if bounds["first"] is None:
        return []
    return [(low, low + size) for low in range(bounds["first"], bounds["last"] + 1, size)]


def _flip_ranges(now: datetime, ranges: list[tuple[int, int]], workers: int | None):
    workers = workers or settings.WINDOW_CLOSE_WORKERS
    # Other connections cannot see an enclosing transaction's rows, and SQLite has one
    # writer at a time: both stay on this connection.
    parallel = (
        workers > 1
        and len(ranges) > 1
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )
    if not parallel:
        return (_flip(now, *id_range) for id_range in ranges)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="close-windows") as pool:
        return list(pool.map(partial(_flip_on_own_connection, now), ranges))


def _flip_on_own_connection(now: datetime, id_range: tuple[int, int]) -> tuple[Counter, Counter]:
    try:
        return _flip(now, *id_range)
    finally:
        connection.close()  # this thread's connection, not the caller's


def _flip(now: datetime, low: int, high: int) -> tuple[Counter, Counter]:
    """Flip the flags in [low, high) that disagree with the clock; count per
    organization the windows closed and those reopened."""
    table = Conversation._meta.db_table
    sql = (
        f"UPDATE {table} SET is_window_open = NOT is_window_open, "  # noqa: S608 - names from the model
        "window_status_last_checked_at = %s "
        "WHERE id >= %s AND id < %s AND ("
        " (is_window_open AND window_expires_at <= %s)"
        " OR (NOT is_window_open AND window_expires_at > %s)) "
        "RETURNING organization_id, is_window_open"
    )
    closed, reopened = Counter(), Counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [now, low, high, now, now])
        for organization_id, is_open in cursor.fetchall():
            (reopened if is_open else closed)[organization_id] += 1
    return closed, reopened


@dataclass
class BackfillProgress:
    conversations: int = 0
    total: int = 0
    open_windows: int = 0


def windows_backfill(
    *,
    organization_id: int | None = None,
    channel_id: int | None = None,
    conversation_ids: list[int] | None = None,
    now: datetime | None = None,
    batch_size: int = BACKFILL_BATCH_SIZE,
    on_progress: Callable[[BackfillProgress], None] | None = None,
) -> BackfillProgress:
    """Recompute every window field from the stored messages.

    The latest customer message (inbound, not a system notice) gives
    `last_user_message_at`; the latest template the business sent gives
    `last_template_message_at`; the channel's policy turns them into the expiry.
    Conversations are taken in id ranges, each range a handful of UPDATEs.
    `conversation_ids` narrows it to those conversations (the admin's action).
    """
    now = now or timezone.now()
    scope = Conversation.objects.all()
    if organization_id is not None:
        scope = scope.filter(organization_id=organization_id)
    if channel_id is not None:
        scope = scope.filter(channel_id=channel_id)
    if conversation_ids is not None:
        scope = scope.filter(pk__in=conversation_ids)
    progress = BackfillProgress(total=scope.count())
    ids = scope.order_by("pk").values_list("pk", flat=True)
    last_id = 0
    while batch := list(ids.filter(pk__gt=last_id)[:batch_size]):
        last_id = batch[-1]
        with transaction.atomic():
            _backfill_range(scope.filter(pk__gte=batch[0], pk__lte=last_id), now)
        progress.conversations += len(batch)
        if on_progress:
            on_progress(progress)
    progress.open_windows = scope.filter(is_window_open=True).count()
    return progress


def _backfill_range(conversations: QuerySet, now: datetime) -> None:
    def latest(messages: QuerySet) -> Subquery:
        return Subquery(
            messages.filter(conversation=OuterRef("pk"))
            .order_by()
            .values("conversation")
            .annotate(at=Max(Coalesce("provider_timestamp", "created_at")))
            .values("at")
        )

    inbound = Message.objects.filter(direction=Direction.INBOUND).exclude(type=MessageType.SYSTEM)
    templates = Message.objects.filter(direction=Direction.OUTBOUND, type=MessageType.TEMPLATE)
    # A customer's reaction moves the window like a message (conversations.amendments).
    reactions = Subquery(
        MessageReaction.objects.filter(conversation=OuterRef("pk"), direction=Direction.INBOUND)
        .order_by()
        .values("conversation")
        .annotate(at=Max("reacted_at"))
        .values("at")
    )
    conversations.update(
        # Greatest() is NULL on SQLite when either is: coalesce each with the other.
        last_user_message_at=Greatest(
            Coalesce(latest(inbound), reactions), Coalesce(reactions, latest(inbound))
        ),
        last_template_message_at=latest(templates),
    )
    by_policy = {
        WindowPolicy.META: F("last_user_message_at") + WINDOW,
        # Greatest() is NULL on SQLite when either is: coalesce each with the other.
        WindowPolicy.TEMPLATE_OPENS: Greatest(
            Coalesce("last_user_message_at", "last_template_message_at"),
            Coalesce("last_template_message_at", "last_user_message_at"),
        )
        + WINDOW,
    }
    for policy, expires in by_policy.items():
        conversations.filter(channel__window_policy=policy).update(window_expires_at=expires)
    conversations.exclude(channel__window_policy=WindowPolicy.ALWAYS_OPEN).update(
        # "IS NOT NULL" too: a NULL expiry would make the comparison NULL, not false.
        is_window_open=ExpressionWrapper(
            Q(window_expires_at__isnull=False, window_expires_at__gt=now), BooleanField()
        ),
        window_status_last_checked_at=now,
    )
    conversations.filter(channel__window_policy=WindowPolicy.ALWAYS_OPEN).update(
        window_expires_at=None, is_window_open=True, window_status_last_checked_at=now
    )


def conversations_unsnooze_due(*, now: datetime | None = None) -> int:
    """Reopen snoozed conversations whose `snoozed_until` has come. Returns how many."""
    return Conversation.objects.filter(
        status=ConversationStatus.SNOOZED, snoozed_until__lte=now or timezone.now()
    ).update(status=ConversationStatus.OPEN, snoozed_until=None, updated_at=timezone.now())


def windows_expiring_record(
    *, now: datetime | None = None, batch_size: int = EXPIRING_BATCH_SIZE
) -> int:
    """Record `window.expiring` for every window with an hour or less left that has not
    had one for its current expiry. Returns how many were recorded.

    Each batch is one INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING into
    WindowExpiringNotice and the events of the rows it inserted, in one transaction: a
    run that overlaps another (or runs twice) inserts nothing the other did, so records
    nothing twice; a run that dies records nothing it did not also note. The notices
    of windows expired by now are deleted first (they can never match again).
    """
    now = now or timezone.now()
    WindowExpiringNotice.objects.filter(window_expires_at__lte=now).delete()
    recorded = 0
    while True:
        with transaction.atomic():
            noted = _note_expiring(now, batch_size)
            events_record_many(events=_expiring_events(noted, now))
        recorded += len(noted)
        if len(noted) < batch_size:
            return recorded


def _note_expiring(now: datetime, limit: int) -> list[int]:
    """Insert the notices of up to `limit` windows expiring within the hour; returns
    the ids of those this statement inserted."""
    noticed = WindowExpiringNotice.objects.filter(
        conversation_id=OuterRef("pk"), window_expires_at=OuterRef("window_expires_at")
    )
    expiring = (
        # The flag too: open windows are a small partial index (conversation_open_windows).
        Conversation.objects.filter(
            is_window_open=True,
            window_expires_at__gt=now,
            window_expires_at__lte=now + EXPIRING_WITHIN,
        )
        .exclude(channel__window_policy=WindowPolicy.ALWAYS_OPEN)
        .filter(~Exists(noticed))
        .order_by("window_expires_at", "id")
        .values_list("id", "window_expires_at")[:limit]
    )
    select, params = expiring.query.sql_with_params()
    sql = (
        f"INSERT INTO {WindowExpiringNotice._meta.db_table} "  # noqa: S608 - names from the model
        "(conversation_id, window_expires_at, created_at) "
        # "WHERE true": without a WHERE, SQLite reads ON CONFLICT as a join's ON.
        f"SELECT e.id, e.window_expires_at, %s FROM ({select}) e WHERE true "
        "ON CONFLICT (conversation_id, window_expires_at) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), *params])
        return [row[0] for row in cursor.fetchall()]


def _expiring_events(notice_ids: list[int], now: datetime) -> list[EventDraft]:
    """The events of these notices: the expiry noted, not the conversation's current
    one (a customer message may have moved it since; it gets its own event)."""
    if not notice_ids:
        return []
    notices = dict(
        WindowExpiringNotice.objects.filter(pk__in=notice_ids).values_list(
            "conversation_id", "window_expires_at"
        )
    )
    rows = Conversation.objects.filter(pk__in=notices).order_by("window_expires_at", "id")
    return [
        events.window_expiring({**row, "window_expires_at": notices[row["id"]]}, now)
        for row in rows.values("id", "organization_id", "channel_id", "contact_id")
    ]

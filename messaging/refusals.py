"""Counting refused sends (messaging.models.DailyRefusalCount), which nothing else
records: a refusal is an ApplicationError, and the caller's transaction usually rolls
back with it (an idempotent request, a send to a number).

The count is one upsert, made where the send is refused (`refusals_counted` around a
single send's checks, one per group for a batch's answers). When that upsert ran inside
a transaction the exception then left, the transaction (or savepoint) rolled it back;
the layer that catches the refusal outside it calls `refusal_kept`, which counts it
again there. The error remembers how deep in transactions it was counted: deeper than
where it is caught means its count was rolled back. A caller that catches a refusal
inside the transaction it commits (the campaign scheduler) needs to do nothing.

Counted: the single sends (API, admin composer and actions, campaign steps, resends)
and batch sends. Not counted: health checks (the operator's own test number), keyword
auto-replies (sent by a task, not asked for by anyone) and LinkedIn invitations (not
messages).
"""

import math
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from conversations.models import Conversation
from messaging.models import DailyRefusalCount
from tenants.errors import ApplicationError
from tenants.models import Organization

_TABLE = DailyRefusalCount._meta.db_table


@dataclass(frozen=True)
class Refused:
    """Where a refusal counts: the conversation's organization, channel, assignee."""

    organization_id: int
    channel_id: int
    agent_id: int
    at: datetime

    @classmethod
    def of(cls, conversation: Conversation) -> "Refused":
        return cls(
            conversation.organization_id,
            conversation.channel_id,
            conversation.assignee_id or 0,
            timezone.now(),
        )


@contextmanager
def refusals_counted(conversation: Conversation) -> Iterator[None]:
    """Count an ApplicationError raised inside as a refused send on `conversation`."""
    try:
        yield
    except ApplicationError as error:
        if getattr(error, "refused", None) is None:
            error.refused = Refused.of(conversation)
            _count(error)
        raise


def refusal_kept(error: Exception) -> None:
    """Call where a refusal is caught: counts it again if the transaction it was
    counted in has since been rolled back (left by the exception)."""
    if getattr(error, "refused", None) is not None and error.counted_depth > _depth():
        _count(error)


def refusals_count_many(refusals: list[tuple[Conversation, ApplicationError]]) -> None:
    """A batch's refusals (answers, not exceptions: the batch commits), one upsert per
    (channel, assignee, code)."""
    now = timezone.now()
    groups = Counter(
        (Refused(c.organization_id, c.channel_id, c.assignee_id or 0, now), error.code.value)
        for c, error in refusals
    )
    for (refused, code), count in groups.items():
        _upsert(refused, code, count)


def _count(error: ApplicationError) -> None:
    if connection.needs_rollback:
        # The transaction is already lost: leave the count to whoever catches it.
        error.counted_depth = math.inf
        return
    _upsert(error.refused, error.code.value, 1)
    error.counted_depth = _depth()


def _depth() -> int:
    return len(connection.atomic_blocks)


def _upsert(refused: Refused, code: str, count: int) -> None:
    """One statement: the organization's local day is computed by the database on
    PostgreSQL; SQLite reads the timezone first."""
    if connection.vendor == "postgresql":
        day_sql, params = "(%s::timestamptz AT TIME ZONE o.timezone)::date", [refused.at]
    else:
        tz = Organization.objects.values_list("timezone", flat=True).get(pk=refused.organization_id)
        day_sql, params = "%s", [timezone.localtime(refused.at, zoneinfo.ZoneInfo(tz)).date()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_TABLE} (organization_id, channel_id, agent_id, day, code, count) "  # noqa: S608 - constants
            f"SELECT o.id, %s, %s, {day_sql}, %s, %s FROM {Organization._meta.db_table} o "
            "WHERE o.id = %s "
            "ON CONFLICT (organization_id, day, channel_id, agent_id, code) "
            f"DO UPDATE SET count = {_TABLE}.count + excluded.count",
            [refused.channel_id, refused.agent_id, *params, code, count, refused.organization_id],
        )

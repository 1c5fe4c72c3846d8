"""Reading the outbox in order, each event once, none skipped.

An event's id is taken when it is inserted, but it becomes visible when its
transaction commits: a reader that remembered "the last id I read" would skip an
event whose transaction took a smaller id and committed after a larger one had been
read. So a reader's position is (writing transaction id, event id), and it reads only
events of transactions older than the oldest one still running
(from `pg_current_snapshot()`): every such transaction has finished, so no event can
ever appear behind the position. The price is that a reader waits for
the oldest writing transaction to end (the house's are short: a webhook batch, a send).
Transaction ids are the whole server's: a transaction left open in another database
of the same PostgreSQL server holds readers back too (set
`idle_in_transaction_session_timeout`; tests that read the outbox while other test
runs share the server see the same delay).

Order: events of one conversation are written under its row lock, so their ids follow
their commits; a reader that delivers per conversation in event-id order delivers in
commit order. Across transactions, the reading order is by transaction id.

SQLite lets one writer at a time commit, so its ids are committed in order: the
position there is the event id alone (xid 0).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

from outbox.models import OutboxCursor, OutboxEvent

READ_LIMIT = 500

# The oldest transaction still running, other than the reader's own: every event of a
# transaction below it is committed (or never will be). The reader's own transaction
# does not hold it back, so a reader sees what it wrote itself (a test's transaction,
# a handler that records events), as PostgreSQL's visibility rules already let it.
_FINISHED_BELOW = (
    "WITH snapshot AS (SELECT pg_current_snapshot() AS s, "
    "pg_current_xact_id_if_assigned() AS own) "
    "SELECT LEAST("
    "(SELECT min(x) FROM pg_snapshot_xip(s) AS x WHERE x IS DISTINCT FROM own), "
    "CASE WHEN pg_snapshot_xmax(s) = own "
    "THEN ((own::text::bigint + 1)::text)::xid8 ELSE pg_snapshot_xmax(s) END) "
    "FROM snapshot"
)


@dataclass(frozen=True, order=True)
class Position:
    xid: int = 0
    event_id: int = 0

    @property
    def token(self) -> str:
        """As a resume token (an SSE `id:`): "xid-event_id"."""
        return f"{self.xid}-{self.event_id}"

    @classmethod
    def parse(cls, token: str) -> "Position":
        """A token back into a position; ValueError when it is not one."""
        xid, dash, event_id = token.strip().partition("-")
        if not dash or not xid.isdigit() or not event_id.isdigit():
            raise ValueError(f"Not an outbox position: {token!r}")
        return cls(int(xid), int(event_id))


@dataclass(frozen=True)
class Page:
    events: list[OutboxEvent]
    position: Position  # after the last event of the page (or where it started)


def events_read(
    *, after: Position, limit: int = READ_LIMIT, organization_id: int | None = None
) -> Page:
    """The next committed events after `after`, in reading order. Each event carries
    its `position`."""
    if connection.vendor != "postgresql":
        return _read_by_id(after=after, limit=limit, organization_id=organization_id)
    by_organization = "AND organization_id = %s " if organization_id is not None else ""
    params = [str(after.xid), after.event_id]
    if organization_id is not None:
        params.append(organization_id)
    table = OutboxEvent._meta.db_table
    events = list(
        OutboxEvent.objects.raw(
            f"SELECT *, xid::text::bigint AS xid_value FROM {table} "  # noqa: S608 - the model's table
            f"WHERE (xid, id) > (%s::text::xid8, %s) AND xid < ({_FINISHED_BELOW}) "
            f"{by_organization}ORDER BY xid, id LIMIT %s",
            [*params, limit],
        )
    )
    for event in events:
        event.position = Position(event.xid_value, event.pk)
    return Page(events, events[-1].position if events else after)


def _read_by_id(*, after: Position, limit: int, organization_id: int | None) -> Page:
    events = OutboxEvent.objects.filter(pk__gt=after.event_id).order_by("pk")
    if organization_id is not None:
        events = events.filter(organization_id=organization_id)
    page = list(events[:limit])
    for event in page:
        event.position = Position(0, event.pk)
    return Page(page, page[-1].position if page else after)


def events_consume(
    *, name: str, handle: Callable[[list[OutboxEvent]], None], limit: int = READ_LIMIT
) -> int | None:
    """Hand the events after reader `name`'s cursor to `handle` and move the cursor past
    them, in one transaction: `handle` records what it makes of them (rows, not
    network calls) in that transaction, so a crash repeats nothing and loses nothing.
    None when another process holds this reader's cursor (it is reading now);
    otherwise how many events were handled."""
    OutboxCursor.objects.get_or_create(name=name)
    with transaction.atomic():
        cursor = OutboxCursor.objects.select_for_update(skip_locked=True).filter(name=name).first()
        if cursor is None:
            return None
        page = events_read(after=Position(cursor.xid, cursor.event_id), limit=limit)
        if page.events:
            handle(page.events)
            cursor.xid, cursor.event_id = page.position.xid, page.position.event_id
            cursor.save(update_fields=["xid", "event_id", "updated_at"])
        return len(page.events)


def position_now() -> Position:
    """Where a reader starting now begins: after every event committed so far (a new
    subscription receives what happens from now on, not the retained past)."""
    if connection.vendor != "postgresql":
        last = OutboxEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        return Position(0, last or 0)
    with connection.cursor() as cursor:
        # Past every finished transaction and what is already visible; what a running
        # one commits later is ahead.
        cursor.execute(
            f"SELECT ({_FINISHED_BELOW})::text::bigint - 1, "  # noqa: S608 - constants
            "pg_current_xact_id_if_assigned()::text::bigint, "
            f"(SELECT max(id) FROM {OutboxEvent._meta.db_table})"
        )
        xid, own, last = cursor.fetchone()
    if own is not None and own <= xid:
        # Called inside a transaction that writes: what it records after this must
        # still be read, so the position stays at its own id (events of transactions
        # that finished since it began come after it too: a few from just before
        # now, rather than any of its own lost).
        xid = own
    return Position(xid, last or 0)

"""Raw webhook bodies of a forgotten contact, or past an organization's retention.

Registered with conversations' erasure and retention (webhooks.apps): conversations
sits below webhooks and cannot call it.

Bodies are redacted in place, not the rows deleted: the row keeps its dedupe key (a
hash), so a byte-identical redelivery of an erased message is still a no-op instead of
filing the message again under a new contact; it keeps its times, status and result
counts for metrics. A redacted row has an empty body, no headers (they carried the
signature of the old body) and no refs, and says why in `last_error`. One that was
waiting for processing or an operator (received, failed, dead, unroutable) is
discarded: replaying it would have nothing to parse, and would bring the data back.
Replay refuses redacted rows (webhooks.services).

A body may carry other customers' events too (a WhatsApp batch): the whole body goes.
Their messages were applied already; only their raw copy is lost, as it is anyway
after WEBHOOK_RETENTION_PROCESSED_DAYS.
"""

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q

from conversations.erasure import ErasureSubject
from conversations.models import Message
from webhooks.models import EventStatus, WebhookEvent

SCAN_BATCH = 1_000
# Waiting for processing or an operator: discarded when redacted.
_WAITING = (
    EventStatus.RECEIVED,
    EventStatus.PROCESSING,
    EventStatus.FAILED,
    EventStatus.DEAD,
    EventStatus.UNROUTABLE,
)


def webhook_bodies_redact_for_contact(subject: ErasureSubject) -> int:
    """Redact every stored webhook that speaks of the contact: those their messages
    came from, and every body of their organization (or of none: unroutable) that
    mentions one of their identifiers, received up to the erasure's request (later
    ones belong to whoever writes from the number next). Returns how many."""
    reason = f"Body redacted: contact erasure #{subject.erasure_id}."
    linked = (
        Message.objects.filter(
            conversation__contact_id=subject.contact_id, webhook_event_id__isnull=False
        )
        .values_list("webhook_event_id", flat=True)
        .distinct()
    )
    redacted = 0
    linked_ids = sorted(set(linked))
    for start in range(0, len(linked_ids), SCAN_BATCH):
        redacted += _redact(linked_ids[start : start + SCAN_BATCH], reason)
    if not subject.needles:
        return redacted
    events = WebhookEvent.objects.filter(
        Q(organization_id=subject.organization_id) | Q(organization__isnull=True),
        received_at__lte=subject.requested_at,
    )
    last = 0
    while ids := list(
        events.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:SCAN_BATCH]
    ):
        redacted += _redact(ids, reason, needles=subject.needles)
        last = ids[-1]
    return redacted


def webhook_bodies_redact_before(*, organization_id: int, before: datetime) -> int:
    """Retention: redact the organization's webhooks received before `before`, oldest
    first along the webhook_org_recent index, one short UPDATE per batch. Rows the
    purge (WEBHOOK_RETENTION_*_DAYS) deletes anyway go sooner when the organization's
    retention is shorter; rows redacted already are skipped."""
    reason = "Body redacted: the organization's message retention."
    batch_size = settings.ERASURE_BATCH_SIZE
    events = WebhookEvent.objects.filter(organization_id=organization_id, received_at__lt=before)
    redacted, cursor = 0, None
    while True:
        rows = events
        if cursor is not None:
            rows = rows.filter(
                Q(received_at__gt=cursor[0]) | Q(received_at=cursor[0], pk__gt=cursor[1])
            )
        batch = list(
            rows.order_by("received_at", "pk").values_list("received_at", "pk")[:batch_size]
        )
        if not batch:
            return redacted
        redacted += _redact([pk for _, pk in batch], reason)
        cursor = batch[-1]


def _redact(ids: list[int], reason: str, *, needles: tuple[str, ...] = ()) -> int:
    """Redact the rows among `ids` not redacted yet (and, with `needles`, only those
    whose body holds one of them). One statement: the match is read in the database."""
    if not ids:
        return 0
    table = WebhookEvent._meta.db_table
    waiting = [status.value for status in _WAITING]
    find = (
        "position(%s::bytea in body) > 0"
        if connection.vendor == "postgresql"
        else ("instr(body, %s) > 0")
    )
    mentions = " OR ".join([find] * len(needles)) or "TRUE"
    id_list = ", ".join(["%s"] * len(ids))
    status_list = ", ".join(["%s"] * len(waiting))
    sql = f"""
        UPDATE {table} SET
            body = %s, headers = %s, refs = '', last_error = %s,
            next_attempt_at = CASE WHEN status IN ({status_list}) THEN NULL
                ELSE next_attempt_at END,
            status = CASE WHEN status IN ({status_list}) THEN %s ELSE status END
        WHERE id IN ({id_list}) AND length(body) > 0 AND ({mentions})
    """  # noqa: S608 - names from the model, values bound
    params = [b"", "{}", reason, *waiting, *waiting, EventStatus.DISCARDED.value, *ids]
    params += [needle.encode() for needle in needles]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount

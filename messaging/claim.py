"""The send task's claim and load of queued messages, in one statement.

A send claimed its message (an UPDATE) and then read it with its channel, contact and
the contact's WhatsApp id (a SELECT): two round trips, each compiled anew by Django's
ORM (its SQL compilation was 17% of a worker's samples, bench/outbound.py). Here both
are one `WITH … UPDATE … RETURNING … SELECT …`, written out once per process, so that
psycopg prepares it on the server after a few sends (DATABASE_PREPARE_THRESHOLD).

A task claims its own message and, with it, up to `siblings` other queued messages of
the same channel that no task has claimed yet (oldest first, `FOR UPDATE SKIP
LOCKED`: rows another task is claiming are left to it), and sends them all: the
siblings' own tasks then find them claimed and send nothing. Per send, that is one
task's claim, contact check and accepted transaction shared by the batch.

The guarantee is the claim's: the UPDATE commits (the task runs in autocommit) before
anything is sent, and matches only a message still queued, without a provider id, and
not claimed within the lease; a second run of the task (a redelivery, the sweep) gets
no row and sends nothing. Only the task's own message may be one whose lease ran out
(a worker died holding it, or a transient error set it aside): siblings are messages
never claimed, so a message waiting for its retry is never sent early by another batch.
"""

from datetime import datetime, timedelta
from functools import cache

from django.db import connection, transaction
from django.db.models import Model, OuterRef, Q, Subquery

from conversations.models import Contact, ContactIdentity, Conversation, IdentityKind, Message
from tenants.models import Channel

_JOINED = (("channel", Channel), ("conversation", Conversation), ("contact", Contact))
_UNSENT = Q(direction="outbound", status="queued", provider_message_id="")


def message_claim_for_send(*, message_id: int, now: datetime, lease: timedelta) -> Message | None:
    """Claim the queued message alone (no siblings); see messages_claim_for_send."""
    claimed = messages_claim_for_send(message_id=message_id, now=now, lease=lease, siblings=0)
    return claimed[0] if claimed else None


def messages_claim_for_send(
    *, message_id: int, now: datetime, lease: timedelta, siblings: int
) -> list[Message]:
    """Claim the queued message and up to `siblings` never-claimed queued messages of
    its channel; return them, the task's own first, then by id, each with `channel`,
    `conversation`, `conversation.contact` and `recipient_wa_id` loaded (one instance
    per conversation, so that a chat one send starts is seen by the next). Empty when
    the task's own message is not free to send (claimed by a live task, sent, failed,
    or gone): then nothing is claimed."""
    if connection.vendor != "postgresql":
        return _claimed_one_by_one(message_id=message_id, now=now, lease=lease, siblings=siblings)
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [message_id, now - lease, message_id, siblings, now])
        rows = cursor.fetchall()
    conversations: dict[int, Conversation] = {}
    messages = [_message(row, conversations) for row in rows]
    return sorted(messages, key=lambda m: (m.pk != message_id, m.pk))


def _message(row, conversations: dict[int, Conversation]) -> Message:
    values = iter(row)
    message = _built(Message, values)
    channel, conversation, contact = (_built(model, values) for _, model in _JOINED)
    conversation.contact = contact
    message.channel = channel
    message.conversation = conversations.setdefault(conversation.pk, conversation)
    message.recipient_wa_id = next(values)
    return message


def _claimed_one_by_one(
    *, message_id: int, now: datetime, lease: timedelta, siblings: int
) -> list[Message]:
    """The same claim with the ORM, for the embedded SQLite (no UPDATE inside WITH, no
    SKIP LOCKED): each message by its own conditional UPDATE, which only one task can
    win, committed before the load and the send just the same."""
    free = Q(send_claimed_at__isnull=True) | Q(send_claimed_at__lt=now - lease)
    own = Message.objects.filter(_UNSENT, free, pk=message_id)
    if own.update(send_claimed_at=now) != 1:
        return []
    ids = [message_id]
    channel_id = Message.objects.values_list("channel_id", flat=True).get(pk=message_id)
    candidates = (
        Message.objects.filter(_UNSENT, channel_id=channel_id, send_claimed_at__isnull=True)
        .exclude(pk=message_id)
        .order_by("pk")
        .values_list("pk", flat=True)[:siblings]
    )
    for pk in list(candidates) if siblings else []:
        with transaction.atomic():
            unclaimed = Message.objects.filter(_UNSENT, pk=pk, send_claimed_at__isnull=True)
            if unclaimed.update(send_claimed_at=now) == 1:
                ids.append(pk)
    wa_id = ContactIdentity.objects.filter(
        contact_id=OuterRef("conversation__contact_id"),
        channel_id=OuterRef("channel_id"),
        kind=IdentityKind.WA_ID,
    ).values("value")[:1]
    loaded = {
        m.pk: m
        for m in Message.objects.select_related("channel", "conversation__contact")
        .annotate(recipient_wa_id=Subquery(wa_id))
        .filter(pk__in=ids)
    }
    conversations: dict[int, Conversation] = {}
    for message in loaded.values():
        message.conversation = conversations.setdefault(
            message.conversation_id, message.conversation
        )
    return [loaded[pk] for pk in ids if pk in loaded]


@cache
def _statement() -> str:
    """Parameters: the task's message id, the lease's cutoff, its id again, how many
    siblings, now. The task's own row is locked waiting (as the UPDATE did: a row
    being changed is claimed once that change commits, if still free); the siblings'
    rows are skipped when locked. Rows of other channels are never touched."""
    q = connection.ops.quote_name
    message = Message._meta.db_table
    columns = ", ".join(q(f.column) for f in Message._meta.concrete_fields)
    selected = ", ".join(
        f"{alias}.{q(f.column)}" for alias, model in _JOINED for f in model._meta.concrete_fields
    )
    unsent = "direction = 'outbound' AND status = 'queued' AND provider_message_id = ''"
    return (
        f"WITH own AS (SELECT id, channel_id FROM {message} "  # noqa: S608 - names from the models
        f"WHERE id = %s AND {unsent} AND (send_claimed_at IS NULL OR send_claimed_at < %s) "
        "FOR UPDATE), "
        f"siblings AS (SELECT sibling.id FROM {message} sibling "
        "WHERE sibling.channel_id = (SELECT channel_id FROM own) AND sibling.id <> %s "
        f"AND sibling.{unsent.replace(' AND ', ' AND sibling.')} "
        "AND sibling.send_claimed_at IS NULL "
        "ORDER BY sibling.id LIMIT %s FOR UPDATE SKIP LOCKED), "
        f"claimed AS (UPDATE {message} SET send_claimed_at = %s "
        "WHERE id IN (SELECT id FROM own UNION ALL SELECT id FROM siblings) "
        f"RETURNING {columns}) "
        f"SELECT claimed.*, {selected}, "
        f"(SELECT identity.value FROM {ContactIdentity._meta.db_table} identity "
        "WHERE identity.contact_id = conversation.contact_id "
        f"AND identity.channel_id = claimed.channel_id AND identity.kind = '{IdentityKind.WA_ID}' "
        "LIMIT 1) "
        f"FROM claimed JOIN {Channel._meta.db_table} channel ON channel.id = claimed.channel_id "
        f"JOIN {Conversation._meta.db_table} conversation "
        "ON conversation.id = claimed.conversation_id "
        f"JOIN {Contact._meta.db_table} contact ON contact.id = conversation.contact_id"
    )


def _built(model: type[Model], values) -> Model:
    """An instance from the next columns of the row, converted as the ORM would
    (JSON, encrypted secrets)."""
    fields = model._meta.concrete_fields
    converted = []
    for field in fields:
        value = next(values)
        for converter in field.get_db_converters(connection):
            value = converter(value, None, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)

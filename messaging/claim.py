"""The send task's claim and load of a queued message, in one statement.

A send claimed its message (an UPDATE) and then read it with its channel, contact and
the contact's WhatsApp id (a SELECT): two round trips, each compiled anew by Django's
ORM (its SQL compilation was 17% of a worker's samples, bench/outbound.py). Here both
are one `WITH claimed AS (UPDATE … RETURNING …) SELECT …`, written out once per
process, so that psycopg prepares it on the server after a few sends
(DATABASE_PREPARE_THRESHOLD). The guarantee is the claim's: the UPDATE commits (the
task runs in autocommit) before anything is sent, and matches only a message still
queued, without a provider id, and not claimed within SEND_CLAIM_LEASE; a second run of
the task (a redelivery, the sweep) gets no row and sends nothing.
"""

from datetime import datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import Model, OuterRef, Q, Subquery

from conversations.models import Contact, ContactIdentity, Conversation, IdentityKind, Message
from tenants.models import Channel

_JOINED = (("channel", Channel), ("conversation", Conversation), ("contact", Contact))


def message_claim_for_send(*, message_id: int, now: datetime, lease: timedelta) -> Message | None:
    """Claim the queued message and return it with `channel`, `conversation`,
    `conversation.contact` and `recipient_wa_id` loaded; None when it is not free to
    send (claimed by a live task, sent, failed, or gone)."""
    if connection.vendor != "postgresql":
        return _claimed_in_two(message_id=message_id, now=now, lease=lease)
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [now, message_id, now - lease])
        row = cursor.fetchone()
    if row is None:
        return None
    values = iter(row)
    message = _built(Message, values)
    channel, conversation, contact = (_built(model, values) for _, model in _JOINED)
    conversation.contact = contact
    message.channel = channel
    message.conversation = conversation
    message.recipient_wa_id = next(values)
    return message


def _claimed_in_two(*, message_id: int, now: datetime, lease: timedelta) -> Message | None:
    """The same claim and load as two ORM statements, for the embedded SQLite (which
    has no UPDATE inside WITH): the claim commits first just the same."""
    free = Q(send_claimed_at__isnull=True) | Q(send_claimed_at__lt=now - lease)
    queued = Message.objects.filter(
        free, pk=message_id, direction="outbound", status="queued", provider_message_id=""
    )
    if queued.update(send_claimed_at=now) != 1:
        return None
    wa_id = ContactIdentity.objects.filter(
        contact_id=OuterRef("conversation__contact_id"),
        channel_id=OuterRef("channel_id"),
        kind=IdentityKind.WA_ID,
    ).values("value")[:1]
    return (
        Message.objects.select_related("channel", "conversation__contact")
        .annotate(recipient_wa_id=Subquery(wa_id))
        .get(pk=message_id)
    )


@cache
def _statement() -> str:
    q = connection.ops.quote_name
    message = Message._meta.db_table
    columns = ", ".join(q(f.column) for f in Message._meta.concrete_fields)
    selected = ", ".join(
        f"{alias}.{q(f.column)}" for alias, model in _JOINED for f in model._meta.concrete_fields
    )
    return (
        f"WITH claimed AS (UPDATE {message} SET send_claimed_at = %s "  # noqa: S608 - names from the models
        "WHERE id = %s AND direction = 'outbound' AND status = 'queued' "
        "AND provider_message_id = '' AND (send_claimed_at IS NULL OR send_claimed_at < %s) "
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

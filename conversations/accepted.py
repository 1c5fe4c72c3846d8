"""Outbound messages the provider accepted, recorded together: the send task hands
over every message of its batch (messaging.claim) in one transaction.

The rules are `batch.outbound_accepted`'s, message by message: the provider's id is
stored, statuses that came for that id first are applied, a copy filed under it is
adopted, and `message.sent` goes to the outbox. The locks are taken in the order every
writer takes them (batch.py): the keys' advisory locks, sorted, in one statement; then
the rows of the conversations where something waits for a key, sorted; then the
messages. Per batch that is one transaction, one round trip for the locks and "does
anything wait?", the UPDATEs in one pipeline and one INSERT for the events, instead of
all of those per message.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F

from conversations import events
from conversations.batch import (
    _adopt_filed_copy,
    _advance,
    _anything_waits,
    _apply_pending_statuses,
    _Batch,
    _lock_id,
    _save,
)
from conversations.models import Conversation, Message, PendingStatusUpdate
from providers.events import MessageStatus
from tenants.db import rows_update, server_bound_cursor


@dataclass(frozen=True)
class Accepted:
    """A message as the send task loaded it (with its conversation's contact id), and
    what the provider answered."""

    message: Message
    provider_message_id: str
    status: MessageStatus


@transaction.atomic
def outbound_accepted_many(*, accepted: list[Accepted], at: datetime) -> None:
    if not accepted:
        return
    waiting = _locked_then_waiting(accepted)
    batch = _Batch()
    if waiting:
        batch.conversations = _conversations_locked(
            {a.message.conversation_id for a in accepted if a.message.pk in waiting}
        )
    # "queued" with nothing waiting (WhatsApp's answer) advances nothing: the id is
    # stored without reading the row again (bench/outbound.py).
    quick = [
        a
        for a in accepted
        if a.message.pk not in waiting and MessageStatus(a.status) == MessageStatus.QUEUED
    ]
    quick_ids = {a.message.pk for a in quick}
    full = [a for a in accepted if a.message.pk not in quick_ids]
    if full:
        _accepted_in_full(batch, full, waiting, at)
    for item in quick:
        item.message.provider_message_id, item.message.updated_at = item.provider_message_id, at
    sent = sorted((a.message for a in quick), key=lambda m: m.pk)
    rows_update(sent, ["provider_message_id", "updated_at"])
    batch.events += [events.message_sent(m, m.conversation.contact_id) for m in sent]
    _save(batch)


def _accepted_in_full(batch: _Batch, full: list[Accepted], waiting: set[int], at) -> None:
    """The messages read again under their row locks (in id order): their status moves,
    a status kept pending or a filed copy is applied."""
    answers = {a.message.pk: a for a in full}
    locked = (
        Message.objects.select_for_update(of=("self",))
        .annotate(contact_of_conversation=F("conversation__contact_id"))
        .filter(pk__in=answers)
        .order_by("pk")
    )
    adopted = []
    for message in locked:
        answer = answers[message.pk]
        message.provider_message_id = answer.provider_message_id
        changed = {"provider_message_id", *_advance(message, status=answer.status, at=at)}
        batch.events.append(events.message_sent(message, message.contact_of_conversation))
        if message.pk in waiting:
            changed.update(_adopt_filed_copy(message))
            adopted.append(message)
        batch.messages[(message.channel_id, message.provider_message_id)] = message
        batch.changed_messages[message.pk] = changed
    if adopted:
        _apply_pending_statuses(batch, adopted)


def _conversations_locked(ids: set[int]) -> dict[int, Conversation]:
    locked = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {conversation.pk: conversation for conversation in locked}


def _locked_then_waiting(accepted: list[Accepted]) -> set[int]:
    """The keys' advisory locks (sorted), then the messages whose key something waits
    for (a status kept pending, a copy filed under it): on PostgreSQL both in one round
    trip (a pipeline), the second run once the locks are held, with a snapshot taken
    then, so it sees what an earlier holder of a lock committed."""
    keys = [(a.message.pk, a.message.channel_id, a.provider_message_id) for a in accepted]
    if connection.vendor != "postgresql":
        return {pk for pk, channel_id, key in keys if _anything_waits(channel_id, key, pk)}
    lock_ids = sorted({_lock_id(channel_id, key) for _, channel_id, key in keys})
    ids, channel_ids, provider_ids = (list(column) for column in zip(*keys, strict=True))
    with server_bound_cursor(connection) as lock, server_bound_cursor(connection) as waits:
        with lock.connection.pipeline():
            # No ORDER BY: unnest() gives, and locks, the array's (sorted) order.
            lock.execute(
                "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [lock_ids]
            )
            waits.execute(_WAITING, [ids, channel_ids, provider_ids])
        return {row[0] for row in waits.fetchall()}


# `<> ''` lets the generic plan of a prepared statement use the partial unique index
# on (channel, provider id).
_WAITING = f"""
    SELECT k.id FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS k(id, channel_id, key)
    WHERE EXISTS (SELECT 1 FROM {PendingStatusUpdate._meta.db_table} p
                  WHERE p.channel_id = k.channel_id AND p.provider_message_id = k.key)
       OR EXISTS (SELECT 1 FROM {Message._meta.db_table} m
                  WHERE m.channel_id = k.channel_id AND m.provider_message_id = k.key
                  AND m.provider_message_id <> '' AND m.id <> k.id)
"""  # noqa: S608 - names from the models

"""Replies: a lead who writes on the campaign's channel after their enrollment started
is stopped as `replied` before any next step, their conversation is put in front of
an agent, and the campaign's owner is emailed.

Asked, not told (DESIGN.md "Things that must react"): the conversation's
`last_user_message_at` is the latest customer message it has filed, from a webhook or
from a reconciliation that fills in a missed one later, whatever the provider. The
scheduler asks it inside each batch's transaction (`conversations_locked`), and each
tick asks it for the live enrollments of the conversations that filed an inbound
message since the last pass (`replies_detect`), so a reply is noticed even while no
step is due.

The owner's email is durable: `reply_notified_at` is set only once it went out; it is
sent after the commit that recorded the reply and retried by every tick until then.
"""

import logging
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from campaigns.events import enrollments_replied_record
from campaigns.models import Campaign, Enrollment, EnrollmentState, ReplyCursor
from conversations import services as conversations
from conversations.models import Conversation, Direction, Message
from tenants.alerts import admin_url

logger = logging.getLogger(__name__)

REPLIED = "replied"


def conversations_locked(*, enrollments: list[Enrollment]) -> dict[tuple[int, int], Conversation]:
    """For a batch: each lead's conversation on its campaign's channel, by (contact_id,
    channel_id), locked in id order (the order inbound filing locks them in) until
    the batch commits: a reply being filed now is either seen here or waits for the
    batch, so at most one step races it."""
    pairs = {(e.contact_id, e.campaign.channel_id) for e in enrollments}
    if not pairs:
        return {}
    rows = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(contact_id__in={c for c, _ in pairs}, channel_id__in={k for _, k in pairs})
        .order_by("pk")
    )
    return {
        (row.contact_id, row.channel_id): row
        for row in rows
        if (row.contact_id, row.channel_id) in pairs
    }


def reply_after_start(enrollment: Enrollment, last_user_message_at) -> datetime | None:
    started = enrollment.started_at
    # From the start's own second on: providers stamp messages to the second, and a
    # reply missed keeps the follow-ups going, which is worse than one counted early.
    if started is None or last_user_message_at is None or last_user_message_at < started:
        return None
    return last_user_message_at


def enrollment_mark_replied(*, enrollment: Enrollment, at: datetime, now: datetime) -> None:
    """Inside the caller's transaction: stop it as replied and hand the conversation to
    the agents; the owner's email goes after the commit."""
    Enrollment.objects.filter(pk=enrollment.pk).update(
        state=EnrollmentState.REPLIED,
        stop_reason=REPLIED,
        replied_at=at,
        next_run_at=None,
        finished_at=now,
        updated_at=now,
    )
    _hand_to_agents(enrollment_ids=[enrollment.pk])
    enrollments_replied_record(enrollment_ids=[enrollment.pk])
    _notify_on_commit([enrollment.pk])


def replies_detect(*, now: datetime | None = None) -> list[int]:
    """Every live enrollment whose lead wrote since it started, stopped as replied in
    one statement. Returns their ids.

    Only the conversations with an inbound message filed since the cursor
    (ReplyCursor) are looked at, so a pass costs what was filed since, not the number
    of leads. Message ids are taken when a row is inserted but seen when it commits,
    which may be out of order: the cursor therefore moves only up to messages filed
    more than REPLY_RESCAN ago, and the newer ones are read again by the next pass
    (harmless: a lead already stopped is no longer live). A reply filed late by
    reconciliation is a new row, so it is seen too. Two schedulers: the one holding
    the cursor's row runs the pass, the other skips it this tick."""
    now = now or timezone.now()
    with transaction.atomic():
        cursor_row = _cursor_locked()
        if cursor_row is None:
            return []  # another scheduler's pass is running now
        since = cursor_row.message_id
        with connection.cursor() as cursor:
            # Nothing filed since the cursor (the idle case): one backward step in the
            # primary key, whatever the planner's statistics say of the table.
            cursor.execute(f"SELECT MAX(id) FROM {Message._meta.db_table}")  # noqa: S608
            (last,) = cursor.fetchone()
            if last is None or last <= since:
                return []
            cursor.execute(_detect_sql(), [since, *_detect_params(now)])
            ids = [row[0] for row in cursor.fetchall()]
            cursor.execute(_advance_sql(), [since, now - REPLY_RESCAN])
            (reached,) = cursor.fetchone()
        if reached is not None and reached > since:
            ReplyCursor.objects.filter(pk=cursor_row.pk).update(message_id=reached, updated_at=now)
        if ids:
            _hand_to_agents(enrollment_ids=ids)
            enrollments_replied_record(enrollment_ids=ids)
            _notify_on_commit(ids)
    return ids


# How long after a message's insert its transaction can still be committing: the
# cursor never passes messages younger than this. Far longer than any transaction
# that files messages (a webhook batch, a campaign batch: seconds).
REPLY_RESCAN = timedelta(minutes=2)
_CURSOR = 1


def _cursor_locked() -> ReplyCursor | None:
    """The cursor's row, locked until the pass commits; None if another pass holds it."""
    for _ in range(2):
        found = ReplyCursor.objects.select_for_update(skip_locked=True).filter(pk=_CURSOR).first()
        if found is not None:
            return found
        if ReplyCursor.objects.filter(pk=_CURSOR).exists():
            return None
        # First pass (or a flushed test database): from the first message.
        ReplyCursor.objects.bulk_create([ReplyCursor(pk=_CURSOR)], ignore_conflicts=True)
    return None


def _detect_sql() -> str:
    """Starting from the messages (materialized: the planner must not start from the
    leads): each conversation that filed an inbound message since the cursor, its
    campaigns on that channel, their live leads that are that contact."""
    enrollment, campaign = Enrollment._meta.db_table, Campaign._meta.db_table
    conversation, message = Conversation._meta.db_table, Message._meta.db_table
    return (
        f"WITH fresh AS MATERIALIZED (SELECT DISTINCT m.conversation_id FROM {message} m "  # noqa: S608 - names from the models
        f"WHERE m.id > %s AND m.direction = '{Direction.INBOUND}') "
        f"UPDATE {enrollment} AS e SET state = %s, stop_reason = %s, "
        "replied_at = c.last_user_message_at, next_run_at = NULL, finished_at = %s, "
        "updated_at = %s "
        f"FROM fresh f JOIN {conversation} c ON c.id = f.conversation_id "
        f"JOIN {campaign} k ON k.channel_id = c.channel_id "
        "WHERE e.campaign_id = k.id AND e.contact_id = c.contact_id AND e.state IN (%s, %s) "
        "AND e.started_at IS NOT NULL AND c.last_user_message_at >= e.started_at "
        # SQLite's RETURNING names the target's columns unqualified only.
        + ("RETURNING e.id" if connection.vendor == "postgresql" else "RETURNING id")
    )


def _detect_params(now: datetime) -> list:
    return [EnrollmentState.REPLIED, REPLIED, now, now, *_STARTED_STATES]


def _advance_sql() -> str:
    """The highest message id filed before the horizon (read by the primary key from
    the cursor on)."""
    message = Message._meta.db_table
    return f"SELECT MAX(id) FROM {message} WHERE id > %s AND created_at < %s"  # noqa: S608


_STARTED_STATES = (EnrollmentState.ACTIVE, EnrollmentState.WAITING)


def _hand_to_agents(*, enrollment_ids: list[int]) -> None:
    """Unassigned and unread: the reply shows in the agents' queue, not the bot's."""
    rows = Enrollment.objects.filter(pk__in=enrollment_ids).values_list(
        "pk", "contact_id", "campaign__channel_id"
    )
    for enrollment_id, contact_id, channel_id in rows:
        found = Conversation.objects.filter(contact_id=contact_id, channel_id=channel_id).first()
        if found is None:
            continue
        # A lead who replied before their first step: the email links the thread too.
        Enrollment.objects.filter(pk=enrollment_id, conversation=None).update(conversation=found)
        conversations.conversation_assign(conversation=found, assignee_id=None)
        conversations.conversation_mark_unread(conversation=found)


def _notify_on_commit(enrollment_ids: list[int]) -> None:
    for enrollment_id in enrollment_ids:
        # robust: a failed email is logged and left for the tick's retry, never an
        # exception in whoever committed the reply.
        transaction.on_commit(lambda pk=enrollment_id: reply_notify(enrollment_id=pk), robust=True)


def reply_notify(*, enrollment_id: int, now: datetime | None = None) -> bool:
    """Email the campaign's owner about one reply, once. Returns whether it was sent
    now. The row stays locked while the mail goes: two ticks never both send it."""
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("campaign__owner", "campaign__organization", "contact")
            .filter(pk=enrollment_id, state=EnrollmentState.REPLIED, reply_notified_at=None)
            .first()
        )
        if enrollment is None:
            return False
        recipients = _recipients(enrollment.campaign)
        if recipients:
            send_mail(*_email(enrollment), None, recipients)
        else:
            logger.error("Reply in campaign %s with nobody to tell", enrollment.campaign_id)
        enrollment.reply_notified_at = now or timezone.now()
        enrollment.save(update_fields=["reply_notified_at", "updated_at"])
    return True


def reply_notifications_retry(*, limit: int = 100) -> int:
    """Send the owner emails that have not gone out (the mail server was down)."""
    ids = list(
        Enrollment.objects.filter(state=EnrollmentState.REPLIED, reply_notified_at=None)
        .order_by("replied_at")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for enrollment_id in ids:
        try:
            sent += reply_notify(enrollment_id=enrollment_id)
        except Exception:  # the mail server: logged, retried by the next tick
            logger.exception("Reply email for enrollment %s failed", enrollment_id)
    return sent


def _recipients(campaign: Campaign) -> list[str]:
    if campaign.owner is not None and campaign.owner.email:
        return [campaign.owner.email]
    return campaign.organization.alert_email_list


def _email(enrollment: Enrollment) -> tuple[str, str]:
    contact, campaign = enrollment.contact, enrollment.campaign
    subject = f"[Switchboard] {contact} replied to {campaign.name}"
    lines = [
        f"{contact} replied in the campaign {campaign.name!r}; their next steps are "
        "stopped and the conversation is waiting for an agent (unassigned, unread).",
    ]
    if enrollment.conversation_id:
        url = admin_url("admin:conversations_conversation_change", enrollment.conversation_id)
        lines.append(f"Conversation: {url}")
    return subject, "\n\n".join(lines)

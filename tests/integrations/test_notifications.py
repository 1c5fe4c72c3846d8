"""Reply notifications end to end: a customer's message filed, the outbox read, the
email sent (Django's locmem backend), with the clock frozen."""

from datetime import timedelta

import pytest
from django.core import mail

from campaigns.models import Campaign, Enrollment, EnrollmentState
from conversations.erasure import contact_erase
from conversations.services import conversation_assign
from integrations import notifications
from integrations.models import ReplyNotification
from integrations.notifications import reply_notifications_run
from integrations.notifications_settings import notification_setting_update
from outbox.models import OutboxCursor
from tenants.models import Membership
from tests.integrations.conftest import T0, conversation_of, write

pytestmark = pytest.mark.django_db


def at(clock, minutes: float) -> None:
    clock.move_to(T0 + timedelta(minutes=minutes))


def test_a_burst_is_one_email_and_what_follows_goes_15_minutes_later(team, reader, clock):
    first = write(team["channel"], "Hi")
    write(team["channel"], "My order 1042 has not arrived")
    conversation_assign(conversation=conversation_of(first), assignee_id=team["agent"].pk)
    at(clock, 1)
    reply_notifications_run()

    (email,) = mail.outbox
    assert email.to == ["ada@acme.example"]
    assert email.subject == "[Switchboard] Carla Diaz sent 2 messages on Front desk · WhatsApp"
    assert "Hi" in email.body
    assert "My order 1042 has not arrived" in email.body
    assert f"/admin/conversations/conversation/{first.conversation_id}/change/" in email.body
    assert "assigned to you" in email.body

    for minute in (2, 5, 9):  # she keeps writing
        at(clock, minute)
        write(team["channel"], f"Still waiting at minute {minute}")
        reply_notifications_run()
    at(clock, 15.9)
    reply_notifications_run()
    assert len(mail.outbox) == 1  # within 15 minutes of the first email: none

    at(clock, 16)
    reply_notifications_run()
    assert len(mail.outbox) == 2
    second = mail.outbox[1]
    assert "sent 3 messages" in second.subject
    assert "Still waiting at minute 2" in second.body
    assert "minute 9" in second.body
    assert "order 1042" not in second.body  # told already

    at(clock, 40)
    reply_notifications_run()
    assert len(mail.outbox) == 2  # nothing new, nothing sent


def test_a_quiet_conversation_is_told_at_once_after_the_interval(team, reader, clock):
    write(team["channel"], "Hello")
    reply_notifications_run()
    at(clock, 20)
    write(team["channel"], "Anyone there?")
    reply_notifications_run()

    assert [e.subject.endswith("wrote on Front desk · WhatsApp") for e in mail.outbox] == [
        True,
        True,
    ]
    assert "Anyone there?" in mail.outbox[1].body


def test_unassigned_goes_to_the_notification_addresses_else_the_admins(team, reader, clock):
    organization = team["organization"]
    write(team["channel"], "Hello", phone="+16505550101")
    reply_notifications_run()
    assert mail.outbox[0].to == ["bea@acme.example"]  # the admins, not the agents nor ops

    organization.notification_emails = "support@acme.example, desk@acme.example"
    organization.save()
    write(team["channel"], "Hello", phone="+16505550102", name="Dan")
    reply_notifications_run()
    assert mail.outbox[1].to == ["support@acme.example", "desk@acme.example"]
    assert "Nobody who can be reached holds the conversation" in mail.outbox[1].body


def test_the_assignee_only_and_the_one_it_is_assigned_to_when_it_goes(team, reader, clock):
    message = write(team["channel"], "Hello")
    conversation = conversation_of(message)
    conversation_assign(conversation=conversation, assignee_id=team["boss"].pk)
    reply_notifications_run()
    assert mail.outbox[0].to == ["bea@acme.example"]

    at(clock, 3)
    write(team["channel"], "Hello again")
    reply_notifications_run()
    conversation_assign(conversation=conversation, assignee_id=team["agent"].pk)
    at(clock, 15)
    reply_notifications_run()

    assert [e.to for e in mail.outbox] == [["bea@acme.example"], ["ada@acme.example"]]


def test_a_person_who_turned_them_off_gets_none(team, reader, clock):
    notification_setting_update(user=team["agent"], reply_emails=False)
    notification_setting_update(user=team["boss"], reply_emails=False)
    team["organization"].notification_emails = "bea@acme.example, desk@acme.example"
    team["organization"].save()
    assigned = write(team["channel"], "To Ada", phone="+16505550101")
    conversation_assign(conversation=conversation_of(assigned), assignee_id=team["agent"].pk)
    write(team["channel"], "To the desk", phone="+16505550102", name="Dan")

    reply_notifications_run()

    (email,) = mail.outbox
    assert email.to == ["desk@acme.example"]  # Bea is listed, but said no
    assert "To the desk" in email.body
    assert ReplyNotification.objects.filter(due_at__isnull=False).count() == 0


def test_the_mail_server_down_then_back_sends_it_once(team, reader, clock, settings):
    write(team["channel"], "Hello")
    backend = settings.EMAIL_BACKEND
    # A real SMTP connection to a port nobody listens on: refused.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    reply_notifications_run()
    row = ReplyNotification.objects.get()
    assert mail.outbox == []
    assert row.attempts == 1
    assert "ConnectionRefused" in row.last_error

    settings.EMAIL_BACKEND = backend  # the server is back
    at(clock, 0.5)
    reply_notifications_run()
    assert mail.outbox == []  # waits its retry delay
    at(clock, 1)
    reply_notifications_run()
    at(clock, 2)
    reply_notifications_run()

    (email,) = mail.outbox
    assert "Hello" in email.body
    row.refresh_from_db()
    assert (row.attempts, row.last_error, row.due_at, row.sent_count) == (0, "", None, 1)


def test_a_reader_that_crashes_mid_page_loses_and_repeats_nothing(team, reader, clock, monkeypatch):
    write(team["channel"], "From Carla", phone="+16505550101")
    write(team["channel"], "From Dan", phone="+16505550102", name="Dan")
    cursor_before = OutboxCursor.objects.get(name=notifications.READER).event_id
    real_add, calls = notifications._pending_add, []

    def crash_on_the_second(row, message_ids, now):
        calls.append(row)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        real_add(row, message_ids, now)

    monkeypatch.setattr(notifications, "_pending_add", crash_on_the_second)
    with pytest.raises(RuntimeError):
        notifications.reply_events_consume()
    assert ReplyNotification.objects.count() == 0
    assert OutboxCursor.objects.get(name=notifications.READER).event_id == cursor_before

    monkeypatch.undo()
    reply_notifications_run()
    reply_notifications_run()

    assert sorted(e.subject for e in mail.outbox) == [
        "[Switchboard] Carla Diaz wrote on Front desk · WhatsApp",
        "[Switchboard] Dan wrote on Front desk · WhatsApp",
    ]
    assert sorted(ReplyNotification.objects.values_list("sent_count", flat=True)) == [1, 1]


def test_an_erased_contact_s_words_are_never_mailed(team, reader, clock):
    message = write(team["channel"], "My card number is 4242")
    notifications.reply_events_consume()  # read before the erasure, mailed after it
    contact_erase(organization=team["organization"], contact_id=message.conversation.contact_id)

    reply_notifications_run()

    (email,) = mail.outbox
    assert "4242" not in email.body
    assert "Carla" not in email.body + email.subject
    assert "(contents erased)" in email.body


# Committed one by one, as in production: the reader's first run places its cursor
# after what the outbox already holds.
@pytest.mark.django_db(transaction=True)
def test_messages_filed_before_the_reader_existed_are_not_mailed(team, clock):
    write(team["channel"], "Last week's message")  # retained in the outbox

    reply_notifications_run()
    write(team["channel"], "Today's")
    reply_notifications_run()

    (email,) = mail.outbox
    assert "Today's" in email.body
    assert "Last week" not in email.body


def test_a_campaign_owner_is_not_mailed_twice_for_one_reply(team, reader, clock):
    message = write(team["channel"], "Not interested")
    conversation = conversation_of(message)
    campaign = Campaign.objects.create(
        organization=team["organization"],
        channel=team["channel"],
        name="Spring",
        owner=team["boss"],
    )
    Enrollment.objects.create(
        campaign=campaign,
        contact_id=conversation.contact_id,
        state=EnrollmentState.REPLIED,
        started_at=T0 - timedelta(days=1),
        replied_at=T0,
    )
    team["organization"].notification_emails = "bea@acme.example, desk@acme.example"
    team["organization"].save()

    reply_notifications_run()

    (email,) = mail.outbox
    assert email.to == ["desk@acme.example"]  # Bea has the campaign's email about it


def test_an_assignee_who_left_the_organization_is_replaced_by_its_addresses(team, reader, clock):
    message = write(team["channel"], "Hello")
    conversation_assign(conversation=conversation_of(message), assignee_id=team["agent"].pk)
    Membership.objects.filter(user=team["agent"]).delete()  # Ada left Acme

    reply_notifications_run()

    (email,) = mail.outbox
    assert email.to == ["bea@acme.example"]
    assert "Nobody who can be reached holds the conversation" in email.body

"""Window upkeep and snoozes: the close-expired task, backfill_windows, unsnoozing."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from conversations import maintenance
from conversations.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageReaction,
)
from conversations.tasks import windows_close_expired_task
from providers import Provider
from providers.events import MessageType
from tenants.models import WindowPolicy
from tests.factories import OrganizationFactory
from tests.markers import postgresql_only
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _conversation(channel, *, expires: datetime | None, flag: bool, **fields) -> Conversation:
    contact = Contact.objects.create(organization=channel.organization, name="Ada")
    return Conversation.objects.create(
        organization=channel.organization,
        channel=channel,
        contact=contact,
        window_expires_at=expires,
        last_user_message_at=expires - timedelta(hours=24) if expires else None,
        is_window_open=flag,
        **fields,
    )


def _message(conversation, *, direction, at, type=MessageType.TEXT) -> Message:
    return Message.objects.create(
        organization=conversation.organization,
        channel=conversation.channel,
        conversation=conversation,
        direction=direction,
        type=type,
        provider_timestamp=at,
    )


@pytest.fixture
def whatsapp(db):
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def test_close_expired_windows_flips_only_expired_flags_and_counts_per_organization(whatsapp):
    other = make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD, phone_number_id="2")
    expired = [
        _conversation(whatsapp, expires=NOW - timedelta(minutes=m), flag=True) for m in (0, 5)
    ]
    other_expired = _conversation(other, expires=NOW - timedelta(hours=3), flag=True)
    still_open = _conversation(whatsapp, expires=NOW + timedelta(seconds=1), flag=True)

    report = maintenance.windows_close_expired(now=NOW)

    assert report.as_dict()["by_organization"] == {
        str(whatsapp.organization_id): {"closed": 2, "reopened": 0},
        str(other.organization_id): {"closed": 1, "reopened": 0},
    }
    flags = dict(Conversation.objects.values_list("pk", "is_window_open"))
    assert flags == {
        expired[0].pk: False,
        expired[1].pk: False,
        other_expired.pk: False,
        still_open.pk: True,
    }
    checked = Conversation.objects.get(pk=other_expired.pk).window_status_last_checked_at
    assert checked == NOW


def test_close_expired_windows_reopens_a_flag_the_clock_contradicts(whatsapp):
    conversation = _conversation(whatsapp, expires=NOW + timedelta(hours=2), flag=False)

    report = maintenance.windows_close_expired(now=NOW)

    assert report.as_dict()["reopened"] == 1
    assert Conversation.objects.get(pk=conversation.pk).is_window_open


def test_close_expired_windows_works_through_many_batches(whatsapp):
    for _ in range(7):
        _conversation(whatsapp, expires=NOW - timedelta(hours=1), flag=True)

    report = maintenance.windows_close_expired(now=NOW, batch_size=3)

    assert report.as_dict()["closed"] == 7
    assert not Conversation.objects.filter(is_window_open=True).exists()


@postgresql_only(
    "SQLite has one writer at a time, so there the batches are closed one after another "
    "on the caller's connection (test_close_expired_windows_works_through_many_batches)"
)
@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_closed_by_several_connections_at_once(whatsapp, monkeypatch):
    threads = set()
    flip = maintenance._flip

    def flip_noting_the_thread(now, low, high):
        threads.add(threading.get_ident())
        return flip(now, low, high)

    monkeypatch.setattr(maintenance, "_flip", flip_noting_the_thread)
    expired = [
        _conversation(whatsapp, expires=NOW - timedelta(hours=1), flag=True) for _ in range(9)
    ]
    still_open = _conversation(whatsapp, expires=NOW + timedelta(hours=1), flag=True)

    report = maintenance.windows_close_expired(now=NOW, batch_size=2, workers=2)

    assert report.as_dict()["closed"] == 9
    assert threads  # the batches were closed...
    assert threading.get_ident() not in threads  # ...by other threads than this one
    flags = dict(Conversation.objects.values_list("pk", "is_window_open"))
    assert flags == {**{c.pk: False for c in expired}, still_open.pk: True}


def test_a_second_run_has_nothing_to_do(whatsapp):
    _conversation(whatsapp, expires=NOW - timedelta(hours=1), flag=True)
    maintenance.windows_close_expired(now=NOW)

    again = maintenance.windows_close_expired(now=NOW)

    assert again.as_dict()["closed"] == again.as_dict()["reopened"] == 0


def test_close_expired_windows_command_reports_per_organization(whatsapp, capsys):
    _conversation(whatsapp, expires=timezone.now() - timedelta(hours=1), flag=True)

    call_command("close_expired_windows")

    out = capsys.readouterr().out
    assert whatsapp.organization.slug in out
    assert "1 window(s) closed, 0 reopened." in out


def test_the_task_returns_its_counts(whatsapp):
    _conversation(whatsapp, expires=timezone.now() - timedelta(hours=1), flag=True)

    result = windows_close_expired_task.delay().get()

    assert result["closed"] == 1
    assert result["by_organization"][str(whatsapp.organization_id)]["closed"] == 1


def test_backfill_recomputes_windows_from_stored_messages(whatsapp):
    conversation = _conversation(whatsapp, expires=None, flag=False)
    _message(conversation, direction=Direction.INBOUND, at=NOW - timedelta(hours=30))
    _message(conversation, direction=Direction.INBOUND, at=NOW - timedelta(hours=2))
    _message(conversation, direction=Direction.OUTBOUND, at=NOW - timedelta(hours=1))
    _message(
        conversation, direction=Direction.INBOUND, at=NOW, type=MessageType.SYSTEM
    )  # a notice, not the customer writing

    progress = maintenance.windows_backfill(now=NOW)

    conversation.refresh_from_db()
    assert conversation.last_user_message_at == NOW - timedelta(hours=2)
    assert conversation.window_expires_at == NOW + timedelta(hours=22)
    assert conversation.is_window_open
    assert conversation.window_status_last_checked_at == NOW
    assert (progress.conversations, progress.open_windows) == (1, 1)


def test_backfill_counts_a_customers_reaction_as_the_live_path_does(whatsapp):
    conversation = _conversation(whatsapp, expires=None, flag=False)
    _message(conversation, direction=Direction.INBOUND, at=NOW - timedelta(hours=30))
    for direction, hours in ((Direction.INBOUND, 3), (Direction.OUTBOUND, 1)):
        MessageReaction.objects.create(
            organization=whatsapp.organization,
            channel=whatsapp,
            conversation=conversation,
            message_provider_id="wamid.reacted",
            reactor=str(direction),
            direction=direction,
            emoji="👍",
            reacted_at=NOW - timedelta(hours=hours),
            event_id=f"test:{direction}",
        )

    maintenance.windows_backfill(now=NOW)

    conversation.refresh_from_db()
    assert conversation.last_user_message_at == NOW - timedelta(hours=3)  # not ours at -1 h
    assert conversation.window_expires_at == NOW + timedelta(hours=21)


def test_backfill_follows_each_channels_policy(whatsapp):
    opens = make_channel(
        whatsapp.organization,
        Provider.WHATSAPP_CLOUD,
        phone_number_id="2",
        window_policy=WindowPolicy.TEMPLATE_OPENS,
    )
    sms = make_channel(whatsapp.organization, Provider.TWILIO)
    meta_rule = _conversation(whatsapp, expires=None, flag=True)
    template_rule = _conversation(opens, expires=None, flag=False)
    no_window = _conversation(sms, expires=NOW, flag=False)
    for conversation in (meta_rule, template_rule, no_window):
        _message(
            conversation,
            direction=Direction.OUTBOUND,
            at=NOW - timedelta(hours=1),
            type=MessageType.TEMPLATE,
        )

    maintenance.windows_backfill(now=NOW)

    windows = {
        c.pk: (c.window_expires_at, c.is_window_open, c.last_template_message_at)
        for c in Conversation.objects.all()
    }
    sent = NOW - timedelta(hours=1)
    assert windows[meta_rule.pk] == (None, False, sent)
    assert windows[template_rule.pk] == (sent + timedelta(hours=24), True, sent)
    assert windows[no_window.pk] == (None, True, sent)


def test_backfill_windows_command_limits_itself_to_a_channel(whatsapp, capsys):
    other = make_channel(whatsapp.organization, Provider.WHATSAPP_CLOUD, phone_number_id="2")
    mine = _conversation(whatsapp, expires=None, flag=False)
    not_mine = _conversation(other, expires=None, flag=False)
    for conversation in (mine, not_mine):
        _message(conversation, direction=Direction.INBOUND, at=timezone.now())

    call_command(
        "backfill_windows",
        "--organization",
        whatsapp.organization.slug,
        f"--channel={whatsapp.key}",
    )

    assert Conversation.objects.get(pk=mine.pk).is_window_open
    assert not Conversation.objects.get(pk=not_mine.pk).is_window_open
    out = capsys.readouterr().out
    assert "1 / 1 (100%)" in out
    assert "Recomputed 1 conversation(s); 1 have an open window now." in out


def test_backfill_windows_command_refuses_an_unknown_organization(db):
    with pytest.raises(CommandError, match="No organization"):
        call_command("backfill_windows", "--organization", "nope")


def test_snoozed_conversations_reopen_when_their_time_comes(whatsapp):
    due = _conversation(
        whatsapp, expires=None, flag=False, status=ConversationStatus.SNOOZED, snoozed_until=NOW
    )
    later = _conversation(
        whatsapp,
        expires=None,
        flag=False,
        status=ConversationStatus.SNOOZED,
        snoozed_until=NOW + timedelta(minutes=1),
    )

    with time_machine.travel(NOW, tick=False):
        reopened = maintenance.conversations_unsnooze_due()

    assert reopened == 1
    assert Conversation.objects.get(pk=due.pk).status == ConversationStatus.OPEN
    assert Conversation.objects.get(pk=due.pk).snoozed_until is None
    assert Conversation.objects.get(pk=later.pk).status == ConversationStatus.SNOOZED

"""message.reaction and window.expiring: each recorded once, in the transaction of the
change (a reaction filed; a window's expiry noted by the schedule), never for a
redelivery, a rolled-back batch or a second run."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction

from conversations import maintenance, services
from conversations.batch import Inbound, events_apply
from conversations.models import Conversation, Message
from conversations.tasks import windows_expiring_record_task
from conversations.window_models import WindowExpiringNotice
from outbox.models import OutboxEvent
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageReaction, MessageType
from reconciliation.schedules import PERIODIC_TASKS
from tenants.models import WindowPolicy
from tests.factories import OrganizationFactory
from tests.markers import postgresql_only
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WA_ID = "16505551234"


@pytest.fixture
def whatsapp(db):
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def _message(message_id: str, at: datetime = T0, wa_id: str = WA_ID) -> InboundMessage:
    return InboundMessage(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"test:{message_id}",
        occurred_at=at,
        raw={},
        message_id=message_id,
        contact=ContactRef(phone=f"+{wa_id}", wa_id=wa_id),
        type=MessageType.TEXT,
        text=f"message {message_id}",
    )


def _reaction(reacted: str, emoji: str, at: datetime, *, from_me: bool = False) -> MessageReaction:
    return MessageReaction(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"whatsapp:message:reaction:{reacted}:{at.isoformat()}",
        occurred_at=at,
        raw={},
        message_id=reacted,
        contact=ContactRef(phone=f"+{WA_ID}", wa_id=WA_ID),
        reactor="business" if from_me else WA_ID,
        emoji=emoji,
        from_me=from_me,
    )


def _react(channel, *reactions: MessageReaction) -> list[str]:
    outcomes, _ = events_apply(inbound=[Inbound(channel, r) for r in reactions], statuses=[])
    return outcomes


def _events(type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type).order_by("id"))


# --- message.reaction ---------------------------------------------------------------


def test_a_customer_s_reaction_records_the_message_it_names_and_who(whatsapp):
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1"))
    message = Message.objects.get()
    at = T0 + timedelta(minutes=5)

    assert _react(whatsapp, _reaction("wamid.1", "👍", at)) == ["reacted"]

    (event,) = _events("message.reaction")
    assert (event.conversation_id, event.channel_id) == (message.conversation_id, whatsapp.pk)
    assert event.occurred_at == at
    assert event.body == {
        "message_id": message.pk,
        "provider_message_id": "wamid.1",
        "conversation_id": message.conversation_id,
        "channel_id": whatsapp.pk,
        "contact_id": Conversation.objects.get().contact_id,
        "reactor": WA_ID,
        "direction": "inbound",
        "emoji": "👍",
        "occurred_at": at.isoformat(),
    }


def test_a_changed_then_removed_reaction_records_each_change_and_a_repeat_nothing(whatsapp):
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1"))
    first = _reaction("wamid.1", "👍", T0 + timedelta(minutes=1))
    changed = _reaction("wamid.1", "❤️", T0 + timedelta(minutes=2))
    removed = _reaction("wamid.1", "", T0 + timedelta(minutes=3))

    _react(whatsapp, first)
    _react(whatsapp, first)  # a redelivery
    _react(whatsapp, changed, removed)
    assert _react(whatsapp, changed) == ["unchanged"]  # older than the removal, late

    assert [e.body["emoji"] for e in _events("message.reaction")] == ["👍", "❤️", ""]


def test_the_business_s_own_reaction_is_outbound(whatsapp):
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1"))

    _react(whatsapp, _reaction("wamid.1", "🙏", T0 + timedelta(minutes=1), from_me=True))

    (event,) = _events("message.reaction")
    assert (event.body["reactor"], event.body["direction"]) == ("business", "outbound")


def test_a_reaction_before_its_message_names_only_the_provider_s_id(whatsapp):
    _react(whatsapp, _reaction("wamid.later", "👍", T0))

    (event,) = _events("message.reaction")
    assert event.body["message_id"] is None
    assert event.body["provider_message_id"] == "wamid.later"


def test_the_same_emoji_again_or_an_unseen_removal_records_nothing(whatsapp):
    """A reconciliation's copy of a reaction, then the webhook's later one: one event."""
    _react(whatsapp, _reaction("wamid.1", "👍", T0))
    _react(whatsapp, _reaction("wamid.1", "👍", T0 + timedelta(minutes=1)))
    _react(whatsapp, _reaction("wamid.2", "", T0))

    assert len(_events("message.reaction")) == 1


def _fails_after(change) -> None:
    with transaction.atomic():
        change()
        raise RuntimeError("the change failed")


def test_a_rolled_back_reaction_records_nothing(whatsapp):
    with pytest.raises(RuntimeError, match="the change failed"):
        _fails_after(lambda: _react(whatsapp, _reaction("wamid.1", "👍", T0)))

    assert not OutboxEvent.objects.exists()


# --- window.expiring ----------------------------------------------------------------


def _open_window(channel, wa_id: str, last_message_at: datetime) -> Conversation:
    """A customer's message at `last_message_at`, filed as it arrives: their window
    closes 24 hours later."""
    message = _message(f"wamid.{wa_id}.{last_message_at:%d%H%M}", last_message_at, wa_id)
    with time_machine.travel(last_message_at, tick=False):
        services.inbound_message_apply(channel=channel, message=message)
    return Conversation.objects.get(contact__phone=f"+{wa_id}")


def test_a_window_with_an_hour_left_is_announced_once(whatsapp):
    expiring = _open_window(whatsapp, "16505550001", T0 - timedelta(hours=23, minutes=30))
    _open_window(whatsapp, "16505550002", T0 - timedelta(hours=22))  # two hours left
    _open_window(whatsapp, "16505550003", T0 - timedelta(hours=25))  # expired

    assert maintenance.windows_expiring_record(now=T0) == 1
    assert maintenance.windows_expiring_record(now=T0 + timedelta(minutes=1)) == 0

    (event,) = _events("window.expiring")
    assert (event.conversation_id, event.channel_id) == (expiring.pk, whatsapp.pk)
    assert event.organization_id == whatsapp.organization_id
    assert event.occurred_at == T0
    assert event.body == {
        "conversation_id": expiring.pk,
        "channel_id": whatsapp.pk,
        "contact_id": expiring.contact_id,
        "window_expires_at": (T0 + timedelta(minutes=30)).isoformat(),
    }


def test_a_window_moved_by_a_new_message_is_announced_again_for_its_new_expiry(whatsapp):
    conversation = _open_window(whatsapp, "16505550001", T0 - timedelta(hours=23, minutes=30))
    maintenance.windows_expiring_record(now=T0)

    _open_window(whatsapp, "16505550001", T0)  # the customer writes: 24 hours again
    maintenance.windows_expiring_record(now=T0 + timedelta(minutes=1))
    maintenance.windows_expiring_record(now=T0 + timedelta(hours=23, minutes=1))
    maintenance.windows_expiring_record(now=T0 + timedelta(hours=23, minutes=2))

    expiries = [e.body["window_expires_at"] for e in _events("window.expiring")]
    assert expiries == [
        (T0 + timedelta(minutes=30)).isoformat(),
        (T0 + timedelta(hours=24)).isoformat(),
    ]
    assert {e.conversation_id for e in _events("window.expiring")} == {conversation.pk}
    # The first expiry's notice went once it passed; the current one stays.
    assert list(WindowExpiringNotice.objects.values_list("window_expires_at", flat=True)) == [
        T0 + timedelta(hours=24)
    ]


def test_always_open_channels_have_no_window_to_announce(whatsapp):
    sms = make_channel(whatsapp.organization, Provider.TWILIO)
    conversation = _open_window(whatsapp, "16505550001", T0 - timedelta(hours=23, minutes=30))
    # Data from before the channel's policy changed: an expiry on an always-open channel.
    Conversation.objects.filter(pk=conversation.pk).update(channel=sms)
    assert sms.window_policy == WindowPolicy.ALWAYS_OPEN

    assert maintenance.windows_expiring_record(now=T0) == 0


def test_a_run_that_rolls_back_notes_nothing_and_the_next_one_records(whatsapp, monkeypatch):
    _open_window(whatsapp, "16505550001", T0 - timedelta(hours=23, minutes=30))

    def failing(*, events):
        raise RuntimeError("the outbox insert failed")

    monkeypatch.setattr(maintenance, "events_record_many", failing)
    with pytest.raises(RuntimeError, match="outbox insert failed"):
        maintenance.windows_expiring_record(now=T0)
    assert not WindowExpiringNotice.objects.exists()
    monkeypatch.undo()

    assert maintenance.windows_expiring_record(now=T0) == 1


def test_many_windows_are_announced_in_batches(whatsapp):
    for n in range(5):
        _open_window(whatsapp, f"1650555000{n}", T0 - timedelta(hours=23, minutes=50 - n))

    assert maintenance.windows_expiring_record(now=T0, batch_size=2) == 5

    assert len(_events("window.expiring")) == 5


@postgresql_only("SQLite has one writer at a time: two runs cannot overlap there")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_announce_each_window_once():
    whatsapp = make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    for n in range(3):
        _open_window(whatsapp, f"1650555000{n}", T0 - timedelta(hours=23, minutes=30))
    first_noted, release = threading.Event(), threading.Event()
    counts = {}

    def first_run():
        try:
            with transaction.atomic():  # held open until the second run is under way
                counts["first"] = maintenance.windows_expiring_record(now=T0)
                first_noted.set()
                release.wait(10)
        finally:
            connection.close()

    def second_run():
        try:
            counts["second"] = maintenance.windows_expiring_record(now=T0)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_run), threading.Thread(target=second_run)]
    threads[0].start()
    assert first_noted.wait(10)
    threads[1].start()
    time.sleep(0.5)  # the second run's INSERT now waits for the first's notices
    release.set()
    for thread in threads:
        thread.join(10)

    assert counts == {"first": 3, "second": 0}
    assert OutboxEvent.objects.filter(type="window.expiring").count() == 3


def test_the_task_is_scheduled_every_minute_on_the_sweeps():
    (spec,) = [s for s in PERIODIC_TASKS if s.task.endswith(".windows_expiring_record_task")]
    assert (spec.every_seconds, spec.queue) == (60, "sweeps")
    assert spec.expires < spec.every_seconds
    assert windows_expiring_record_task.name == spec.task

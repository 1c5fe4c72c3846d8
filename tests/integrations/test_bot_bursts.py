"""A channel's responder gets its customers' messages as bursts: once they are quiet
(or after the maximum wait), one burst per conversation at a time and in order, none
lost when a worker dies; a hand-off cancels the burst and tells the responder; every
other subscription is unaffected. The clock is frozen (conftest T0) and moved by hand."""

import json
from datetime import timedelta

import pytest
from django.db import transaction

from conversations.services import conversation_bot_resume, conversation_hand_off
from integrations import bots
from integrations.bots import bursts_emit_due
from integrations.fanout import deliveries_fan_out
from integrations.models import Burst, BurstState, Delivery
from outbox.models import OutboxEvent
from tests.integrations.conftest import T0, conversation_of, subscribe, write

pytestmark = pytest.mark.django_db

BOT_URL = "https://bot.example.com/hook"


@pytest.fixture
def bot(team):
    """The Front desk line's responder; it asked for message.received only."""
    return subscribe(
        team["organization"],
        BOT_URL,
        channel=team["channel"],
        responder=True,
        event_types=["message.received"],
    )


def at(clock, seconds: float) -> None:
    clock.move_to(T0 + timedelta(seconds=seconds))


def pump() -> int:
    """One round of the pump's work that does not need the network."""
    emitted = bursts_emit_due()
    deliveries_fan_out()
    return emitted


def to(subscription, event_type: str | None = None) -> list[dict]:
    """What the subscription was sent (its deliveries' envelopes), in event order."""
    deliveries = Delivery.objects.filter(subscription=subscription).order_by("event_id")
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    return [json.loads(delivery.payload) for delivery in deliveries]


def texts(envelope: dict) -> list[str]:
    return [message["text"] for message in envelope["body"]["messages"]]


def test_a_burst_of_three_messages_a_second_apart_goes_once_after_the_quiet_period(
    clock, team, bot
):
    channel = team["channel"]
    for second, text in enumerate(["hi", "I need", "a table for two"]):
        at(clock, second)
        write(channel, text)
        assert pump() == 0

    at(clock, 4.9)  # the last message came at 2 s: quiet for 2.9 s only
    assert pump() == 0
    assert to(bot) == []
    at(clock, 5)
    assert pump() == 1
    assert pump() == 0

    (burst,) = to(bot)
    assert burst["type"] == "conversation.burst"
    assert texts(burst) == ["hi", "I need", "a table for two"]
    body = burst["body"]
    assert body["first_at"] == T0.isoformat()
    assert body["last_at"] == (T0 + timedelta(seconds=2)).isoformat()
    assert body["channel_id"] == channel.pk
    first = body["messages"][0]
    assert set(first) == {"message_id", "provider_message_id", "type", "text", "occurred_at"}
    assert first["type"] == "text"
    assert first["provider_message_id"].startswith("wamid.")
    assert Burst.objects.get().state == BurstState.EMITTED


def test_the_quiet_period_counts_from_when_messages_were_recorded_not_read(clock, team, bot):
    at(clock, 0)
    write(team["channel"], "one")
    at(clock, 1)
    write(team["channel"], "two")
    at(clock, 10)  # the pump was busy: both are read late, at once
    deliveries_fan_out()

    assert Burst.objects.get().due_at == T0 + timedelta(seconds=4)
    assert pump() == 1
    assert texts(to(bot)[0]) == ["one", "two"]


def test_a_customer_who_never_stops_typing_gets_a_burst_at_the_maximum_wait(clock, team, bot):
    for second in range(0, 30, 2):  # every 2 s, never 3 s quiet
        at(clock, second)
        write(team["channel"], f"at {second}")
        pump()
    # Due at 20 s (the maximum wait), emitted before the pump read the one of 20 s.
    assert [len(b["body"]["messages"]) for b in to(bot)] == [10]

    at(clock, 30.9)  # the next burst began at 20 s; quiet since 28 s
    pump()
    assert len(to(bot)) == 1
    at(clock, 31)
    pump()
    first, second = to(bot)
    assert texts(first)[-1] == "at 18"
    assert texts(second) == ["at 20", "at 22", "at 24", "at 26", "at 28"]
    assert first["id"] < second["id"]


def test_one_burst_per_conversation_at_a_time_in_order_and_others_independent(clock, team, bot):
    channel = team["channel"]
    at(clock, 0)
    carla = conversation_of(write(channel, "carla 1"))
    pump()
    at(clock, 2)
    dan = conversation_of(write(channel, "dan 1", phone="+16505550102", name="Dan"))
    pump()

    at(clock, 3)  # Carla quiet for 3 s; Dan only for 1 s
    assert pump() == 1
    at(clock, 4)
    write(channel, "carla 2")  # after her first burst went: the next one
    pump()
    assert Burst.objects.filter(state=BurstState.COLLECTING).count() == 2  # one each
    at(clock, 5)
    assert pump() == 1  # Dan's
    at(clock, 7)
    assert pump() == 1  # Carla's second

    per_conversation = {}
    for burst in to(bot):
        per_conversation.setdefault(burst["conversation_id"], []).append(texts(burst))
    assert per_conversation == {carla.pk: [["carla 1"], ["carla 2"]], dan.pk: [["dan 1"]]}
    assert not Burst.objects.filter(state=BurstState.COLLECTING).exists()


def test_a_worker_killed_mid_emission_loses_nothing_and_sends_once(clock, team, bot, monkeypatch):
    at(clock, 0)
    write(team["channel"], "are you open?")
    pump()
    at(clock, 3)
    real = bots.event_record

    def killed_after_recording(**kwargs):
        real(**kwargs)
        raise RuntimeError("worker killed between claim and commit")

    monkeypatch.setattr(bots, "event_record", killed_after_recording)
    with pytest.raises(RuntimeError):
        bursts_emit_due()
    assert not OutboxEvent.objects.filter(type="conversation.burst").exists()
    assert Burst.objects.get().state == BurstState.COLLECTING  # rolled back: still due

    monkeypatch.setattr(bots, "event_record", real)
    assert pump() == 1
    assert pump() == 0
    assert [texts(b) for b in to(bot)] == [["are you open?"]]
    assert OutboxEvent.objects.filter(type="conversation.burst").count() == 1


def test_a_worker_killed_mid_fan_out_collects_each_message_once(clock, team, bot, monkeypatch):
    at(clock, 0)
    write(team["channel"], "hello")
    write(team["channel"], "anyone?")
    real = bots.bursts_apply

    def killed_after_collecting(actions):
        real(actions)
        raise RuntimeError("worker killed mid-fan-out")

    monkeypatch.setattr("integrations.fanout.bursts_apply", killed_after_collecting)
    with pytest.raises(RuntimeError), transaction.atomic():
        deliveries_fan_out()
    assert not Burst.objects.exists()

    monkeypatch.setattr("integrations.fanout.bursts_apply", real)
    deliveries_fan_out()
    deliveries_fan_out()
    assert len(Burst.objects.get().message_ids) == 2


def test_a_hand_off_cancels_the_collecting_burst_and_tells_the_responder(clock, team, bot):
    at(clock, 0)
    conversation = conversation_of(write(team["channel"], "I want a human"))
    pump()
    at(clock, 1)
    conversation_hand_off(conversation=conversation, by_user_id=team["agent"].pk)
    pump()

    assert Burst.objects.get().state == BurstState.CANCELLED
    (handed_off,) = to(bot)  # not among its event types: a responder gets it anyway
    assert handed_off["type"] == "conversation.handed_off"
    assert handed_off["body"]["by_user_id"] == team["agent"].pk

    at(clock, 2)
    write(team["channel"], "hello human")  # the agent's now: no burst, told as it was
    at(clock, 30)
    assert pump() == 0
    assert [e["type"] for e in to(bot)] == ["conversation.handed_off", "message.received"]
    assert to(bot)[-1]["body"]["bot_active"] is False

    conversation_bot_resume(conversation=conversation)  # given back: bursts again
    write(team["channel"], "thanks, bot")
    pump()
    at(clock, 33)
    pump()
    assert texts(to(bot, "conversation.burst")[0]) == ["thanks, bot"]


def test_a_burst_due_after_a_hand_off_not_yet_read_is_cancelled_not_sent(clock, team, bot):
    at(clock, 0)
    conversation = conversation_of(write(team["channel"], "hello"))
    pump()
    conversation_hand_off(conversation=conversation, by_user_id=None)
    at(clock, 5)

    bursts_emit_due()  # before the fan-out has read the hand-off

    assert Burst.objects.get().state == BurstState.CANCELLED
    assert not OutboxEvent.objects.filter(type="conversation.burst").exists()


def test_other_subscriptions_still_get_every_message_and_no_burst(clock, team, bot):
    crm = subscribe(
        team["organization"], "https://crm.example.com/in", event_types=["message.received"]
    )
    other_line = subscribe(
        team["organization"],
        "https://other.example.com/in",
        event_types=["message.received", "conversation.burst"],
    )
    at(clock, 0)
    write(team["channel"], "one")
    write(team["channel"], "two")
    at(clock, 3)
    pump()
    pump()

    assert [e["body"]["text"] for e in to(crm)] == ["one", "two"]
    assert [e["type"] for e in to(crm)] == ["message.received"] * 2
    assert to(bot, "message.received") == []  # the responder got them as a burst
    assert [e["type"] for e in to(other_line)] == ["message.received"] * 2 + ["conversation.burst"]


def test_a_disabled_responder_gathers_nothing(clock, team, bot):
    from integrations.subscriptions import subscription_update

    subscription_update(subscription=bot, enabled=False)
    write(team["channel"], "hello")
    at(clock, 10)
    pump()
    assert not Burst.objects.exists()


def test_agents_are_not_emailed_about_what_the_bot_handles_until_they_take_over(
    clock, team, reader
):
    from django.core import mail

    from integrations.notifications import reply_notifications_run

    subscribe(
        team["organization"],
        BOT_URL,
        channel=team["channel"],
        responder=True,
        event_types=["message.received"],
    )
    conversation = conversation_of(write(team["channel"], "what are your hours?"))
    at(clock, 60)
    reply_notifications_run()
    assert mail.outbox == []

    conversation_hand_off(conversation=conversation, by_user_id=team["agent"].pk)
    write(team["channel"], "I'd rather talk to a person")
    at(clock, 120)
    reply_notifications_run()
    (email,) = mail.outbox
    assert "rather talk to a person" in email.body
    assert "your hours" not in email.body

"""While a responder prepares its answer, a WhatsApp customer sees "typing…": once per
emitted burst, on its last message, within the channel's limits; never on SMS. Meta's
API is faked at the HTTP layer."""

import json
from datetime import timedelta

import pytest
import respx

from conversations.models import Conversation
from integrations.bots import bursts_emit_due
from integrations.fanout import deliveries_fan_out
from messaging import limits
from messaging.typing_indicators import TypingOutcome, typing_indicator_show
from providers import Provider
from tests.factories import ChannelFactory
from tests.integrations.conftest import T0, subscribe, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def meta(team):
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(
            f"https://graph.facebook.com/v23.0/{team['channel'].phone_number_id}/messages"
        ).respond(200, json={"success": True})
        yield route


def _responder(organization, channel):
    return subscribe(
        organization,
        f"https://bot.example.com/{channel.pk}",
        channel=channel,
        responder=True,
        event_types=["message.received"],
    )


def _burst_of(clock, channel, texts: list[str], start: float, capture) -> None:
    """The customer writes, goes quiet, and the pump emits their burst (its
    after-commit work run, as a committed transaction would)."""
    clock.move_to(T0 + timedelta(seconds=start))
    for text in texts:
        write(channel, text)
    deliveries_fan_out()
    clock.move_to(T0 + timedelta(seconds=start + 3))
    with capture(execute=True):
        assert bursts_emit_due() == 1


def test_each_emitted_burst_shows_the_indicator_once_on_its_last_message(
    clock, team, meta, django_capture_on_commit_callbacks
):
    _responder(team["organization"], team["channel"])
    _burst_of(
        clock, team["channel"], ["hi", "table for two?"], 0, django_capture_on_commit_callbacks
    )
    _burst_of(clock, team["channel"], ["at 8"], 10, django_capture_on_commit_callbacks)

    bodies = [json.loads(call.request.content) for call in meta.calls]
    assert len(bodies) == 2
    assert bodies[0]["typing_indicator"] == {"type": "text"}
    assert bodies[0]["status"] == "read"
    last_of_first = team["channel"].messages.get(text="table for two?")
    assert bodies[0]["message_id"] == last_of_first.provider_message_id


def test_never_on_sms(clock, team, django_capture_on_commit_callbacks):
    sms = ChannelFactory(organization=team["organization"], provider=Provider.OPENPHONE)
    _responder(team["organization"], sms)
    with respx.mock(assert_all_called=False) as mock:  # any request would fail the test
        _burst_of(clock, sms, ["hello"], 0, django_capture_on_commit_callbacks)
        assert mock.calls.call_count == 0


def test_refused_by_the_channel_s_limiter_it_is_not_sent(clock, team, meta, monkeypatch):
    message = write(team["channel"], "hello")
    monkeypatch.setattr(limits, "throughput_take", lambda **kwargs: 0.4)

    assert typing_indicator_show(message_id=message.pk) == TypingOutcome.RATE_LIMITED
    assert meta.call_count == 0


def test_a_closed_window_or_a_switched_off_channel_shows_nothing(clock, team, meta):
    message = write(team["channel"], "hello")
    Conversation.objects.update(window_expires_at=T0 - timedelta(minutes=1))
    assert typing_indicator_show(message_id=message.pk) == TypingOutcome.WINDOW_CLOSED
    Conversation.objects.update(window_expires_at=T0 + timedelta(hours=1))
    type(team["channel"]).objects.update(is_active=False)
    assert typing_indicator_show(message_id=message.pk) == TypingOutcome.CHANNEL_OFF
    assert meta.call_count == 0


def test_a_provider_failure_is_logged_not_retried(clock, team, meta, caplog):
    message = write(team["channel"], "hello")
    meta.respond(500, json={"error": {"message": "down", "code": 1}})

    assert typing_indicator_show(message_id=message.pk) == TypingOutcome.FAILED
    assert meta.call_count == 1
    assert "Typing indicator" in caplog.text

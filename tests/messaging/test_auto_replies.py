"""Keyword auto-replies: sent through the send path once per keyword message, however
often the webhook comes, whoever races to send it, and after a crash by the sweep."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conversations.consent_models import AutoReply, AutoReplyState, Consent
from conversations.models import Message
from messaging import auto_replies
from messaging.auto_replies import auto_replies_sweep, message_send_auto_reply
from providers import Provider
from tenants.errors import ApplicationError, ErrorCode
from tests.conversations.consent_helpers import file, inbound
from tests.messaging.conftest import SEND_URL, accepted
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint, fixture_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(organization):
    return make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")


def _replies() -> list[Message]:
    return list(Message.objects.filter(direction="outbound", payload__has_key="auto_reply"))


def _keyword_webhook(text: str) -> str:
    payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "text"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"] = text
    message["timestamp"] = str(int(time.time()))  # written just now
    return json.dumps(payload)


def test_a_stop_by_webhook_is_confirmed_once_however_often_the_webhook_comes(
    client, channel, graph
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    whatsapp = Endpoint(Provider.WHATSAPP_CLOUD, channel)
    body = _keyword_webhook("Stop")

    whatsapp.deliver_text(client, body)
    whatsapp.deliver_text(client, body.replace("\n", "\r\n"))  # same message, other bytes
    whatsapp.deliver_text(client, body)  # byte-identical: not even stored twice

    (reply,) = _replies()
    assert reply.provider_message_id  # accepted by Meta
    assert route.call_count == 1
    sent = json.loads(route.calls.last.request.content)
    assert sent["text"]["body"].startswith("You are unsubscribed")
    assert AutoReply.objects.get().state == AutoReplyState.SENT
    assert Consent.objects.filter(state="opted_out").count() == 2


def test_the_reply_goes_though_the_window_is_closed_and_the_contact_opted_out(
    channel, django_capture_on_commit_callbacks
):
    file(inbound(channel, "STOP"))
    reply = AutoReply.objects.get()
    conversation = reply.conversation
    conversation.window_expires_at = timezone.now() - timedelta(hours=1)
    conversation.save()

    message = message_send_auto_reply(auto_reply_id=reply.pk)

    assert message.text.startswith("You are unsubscribed")


def test_sending_again_creates_nothing(channel):
    file(inbound(channel, "HELP"))
    reply = AutoReply.objects.get()

    first = message_send_auto_reply(auto_reply_id=reply.pk)
    second = message_send_auto_reply(auto_reply_id=reply.pk)

    assert first is not None
    assert second is None
    assert len(_replies()) == 1
    reply.refresh_from_db()
    assert reply.reply_message == first


def test_the_sweep_sends_a_reply_whose_sender_died(channel, django_capture_on_commit_callbacks):
    # The batch committed with its pending reply, then the worker died before sending.
    file(inbound(channel, "STOP"), on_replies_pending=None)
    later = timezone.now() + timedelta(minutes=2)

    assert auto_replies_sweep(now=later) == 1
    assert auto_replies_sweep(now=later) == 0
    assert len(_replies()) == 1


def test_the_sweep_leaves_a_fresh_reply_to_its_sender(channel):
    file(inbound(channel, "STOP"))

    assert auto_replies_sweep() == 0
    assert AutoReply.objects.get().state == AutoReplyState.PENDING


def test_a_reply_refused_by_the_channels_limit_waits_and_is_sent_later(channel, monkeypatch):
    file(inbound(channel, "STOP"))
    reply = AutoReply.objects.get()

    def over_the_limit(*, channel):
        raise ApplicationError(ErrorCode.RATE_LIMITED, "Daily cap.", {"retry_after": 30})

    with monkeypatch.context() as patched:
        patched.setattr(auto_replies, "send_admit", over_the_limit)
        assert message_send_auto_reply(auto_reply_id=reply.pk) is None

    reply.refresh_from_db()
    assert (reply.state, reply.attempts) == (AutoReplyState.PENDING, 1)
    assert reply.next_attempt_at > timezone.now()
    assert auto_replies_sweep(now=reply.next_attempt_at + timedelta(minutes=1)) == 1


def test_a_switched_off_channel_sends_no_reply(channel):
    file(inbound(channel, "STOP"))
    channel.is_active = False
    channel.save()

    assert message_send_auto_reply(auto_reply_id=AutoReply.objects.get().pk) is None

    reply = AutoReply.objects.get()
    assert reply.state == AutoReplyState.SKIPPED
    assert "switched off" in reply.last_error
    assert not _replies()


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_send_one_reply(organization, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    channel = make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")
    file(inbound(channel, "STOP"))
    reply_id = AutoReply.objects.get().pk
    start = threading.Barrier(4)
    results = []

    def worker():
        try:
            start.wait()
            results.append(message_send_auto_reply(auto_reply_id=reply_id))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len([r for r in results if r is not None]) == 1
    assert len(_replies()) == 1
    assert route.call_count == 1

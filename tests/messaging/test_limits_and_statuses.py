"""The shared throughput limit, and a sent message's life through status webhooks."""

import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from conversations.models import Message
from messaging import services
from messaging.limits import throughput_take
from messaging.models import SendLimit
from providers import Provider
from providers.events import MessageStatus
from tests.messaging.conftest import SEND_URL, WAMID, accepted
from tests.webhooks.delivery import Endpoint, fixture_text

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["redis", "database"])
def pacing_clock(request, settings):
    """Where the shared pace is kept: Redis when REDIS_URL is set, else the database."""
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("Redis only: REDIS_URL is not set (the embedded default); CI sets it")
    if request.param == "database":
        settings.REDIS_URL = ""
    return request.param


@pytest.mark.django_db(transaction=True)  # the threads' own connections see the pace table
def test_two_workers_together_stay_within_one_channels_rate(pacing_clock):
    rate, attempts_each = 20, 150
    admitted = []

    def worker():
        try:
            admitted.extend(
                1
                for _ in range(attempts_each)
                if throughput_take(channel_id=987_001, per_second=rate) == 0
            )
        finally:
            connection.close()  # this thread's own

    threads = [threading.Thread(target=worker) for _ in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # A full bucket (one second's worth) at once, then the rate: never more.
    assert rate <= len(admitted) <= rate + int(elapsed * rate) + 1


def test_a_refused_send_says_when_to_retry(agent_client, conversation, pacing_clock):
    SendLimit.objects.create(channel=conversation.channel, per_second=1)
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    agent_client.post(url, {"text": "one"}, format="json")

    refused = agent_client.post(url, {"text": "two"}, format="json")

    assert refused.status_code == 429
    assert refused.json()["code"] == "RATE_LIMITED"
    assert 0 < refused.json()["details"]["retry_after"] <= 1
    assert refused.headers["Retry-After"] == "1"


def _endpoint(conversation) -> Endpoint:
    return Endpoint(Provider.WHATSAPP_CLOUD, conversation.channel)


def _refused_131047(wamid: str) -> str:
    """Meta's failed status for `wamid`: re-engagement (window closed)."""
    payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "status_failed"))
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["id"] = wamid
    status["errors"] = [{"code": 131047, "title": "Re-engagement message"}]
    return json.dumps(payload)


def test_a_send_then_its_status_webhooks_end_read_with_every_time(
    conversation, graph, django_capture_on_commit_callbacks
):
    graph.post(SEND_URL).mock(return_value=accepted())
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send_text(conversation=conversation, text="Read me")
    assert Message.objects.get(pk=message.pk).webhook_confirmed_at is None  # accepted only
    endpoint = _endpoint(conversation)

    for name in ("status_read", "status_sent", "status_delivered"):  # out of order
        assert endpoint.deliver(Client(), name).status_code == 200

    message = Message.objects.get(pk=message.pk)
    assert message.provider_message_id == WAMID
    assert message.status == MessageStatus.READ
    assert None not in (message.sent_at, message.delivered_at, message.read_at)
    assert message.webhook_confirmed_at is not None  # the webhooks reached us


def test_a_status_that_beats_the_providers_answer_is_applied_when_the_id_is_stored(
    conversation, graph
):
    graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Fast webhook")
    _endpoint(conversation).deliver(Client(), "status_delivered")

    services.message_deliver(message_id=message.pk)

    message = Message.objects.get(pk=message.pk)
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None


def test_a_131047_failure_webhook_closes_the_window(conversation, graph):
    graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Too late")
    services.message_deliver(message_id=message.pk)

    _endpoint(conversation).deliver_text(Client(), _refused_131047(WAMID))

    message = Message.objects.get(pk=message.pk)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "131047")
    conversation.refresh_from_db()
    assert not conversation.is_window_open

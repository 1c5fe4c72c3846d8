"""Under load one worker applies many waiting webhooks in one transaction: the same
results as one at a time, and one bad webhook never holds back the others."""

import json
import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection

from conversations.models import Contact, Conversation, Message
from providers import Provider
from tests.webhooks.delivery import fixture_text
from webhooks import processing, services
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_event_process

pytestmark = pytest.mark.django_db

TEXT = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "text"))


def _text(message_id: str, *, wa_id: str = "16505551234", at: int = 1749416383) -> str:
    payload = json.loads(json.dumps(TEXT))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0].update({"wa_id": wa_id, "user_id": f"US.{wa_id}"})
    value["messages"][0].update({"id": message_id, "from": wa_id, "timestamp": str(at)})
    return json.dumps(payload)


def _anonymous(message_id: str) -> str:
    """A message naming no one: applying it fails."""
    payload = json.loads(_text(message_id))
    value = payload["entry"][0]["changes"][0]["value"]
    del value["contacts"]
    del value["messages"][0]["from"]
    return json.dumps(payload)


def _store(client, whatsapp, *payloads: str) -> list[int]:
    for payload in payloads:
        whatsapp.post(client, *whatsapp.request_text(payload))  # stored, not processed
    return list(WebhookEvent.objects.order_by("id").values_list("id", flat=True))


def test_one_call_applies_every_waiting_webhook(client, whatsapp):
    ids = _store(client, whatsapp, *[_text(f"wamid.B{i}", at=1749416383 + i) for i in range(5)])

    assert webhook_event_process(event_id=ids[0]) == "processed"

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert all(event.result == {"created": 1} for event in WebhookEvent.objects.all())
    conversation = Conversation.objects.get()
    assert (Contact.objects.count(), Message.objects.count()) == (1, 5)
    assert conversation.unread_count == 5
    assert conversation.last_message_preview == "Does it come in another color?"


def test_the_same_message_twice_in_one_batch_is_one_message(client, whatsapp):
    ids = _store(client, whatsapp, _text("wamid.SAME"), _text("wamid.SAME") + " ")

    webhook_event_process(event_id=ids[0])

    assert Message.objects.count() == 1
    assert [e.result for e in WebhookEvent.objects.order_by("id")] == [
        {"created": 1},
        {"duplicate": 1},
    ]


def test_a_bad_webhook_in_a_batch_fails_alone(client, whatsapp):
    ids = _store(client, whatsapp, _text("wamid.OK1"), _anonymous("wamid.BAD"), _text("wamid.OK2"))

    webhook_event_process(event_id=ids[0])

    statuses = list(WebhookEvent.objects.order_by("id").values_list("status", "last_error"))
    assert statuses[0] == ("processed", "")
    assert statuses[1][0] == "failed"
    assert "MissingContactError" in statuses[1][1]
    assert statuses[2] == ("processed", "")
    assert set(Message.objects.values_list("provider_message_id", flat=True)) == {
        "wamid.OK1",
        "wamid.OK2",
    }


def test_a_status_before_its_message_in_one_batch_is_applied(client, endpoints):
    unipile = endpoints[Provider.UNIPILE]
    for name in ("message_read", "message_received_own"):
        unipile.post(client, *unipile.request(name))
    first = WebhookEvent.objects.order_by("id").first()

    webhook_event_process(event_id=first.id)

    message = Message.objects.get()
    assert (message.direction, message.status) == ("outbound", "read")
    assert not message.conversation.channel.conversations.filter(unread_count__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_customers_agree(client, whatsapp):
    customers = [f"1650555{n:04d}" for n in range(5)]
    payloads = [_text(f"wamid.C{i}", wa_id=customers[i % 5], at=1749416383 + i) for i in range(40)]
    ids = _store(client, whatsapp, *payloads)
    errors: list[Exception] = []

    def work(event_id: int) -> None:
        try:
            webhook_event_process(event_id=event_id)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(event_id,)) for event_id in ids[::5]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Contact.objects.count() == 5
    assert Conversation.objects.count() == 5
    assert Message.objects.count() == 40
    assert sorted(Conversation.objects.values_list("unread_count", flat=True)) == [8] * 5


@pytest.mark.django_db(transaction=True)
def test_a_task_takes_the_webhooks_committed_until_its_claim_window_ends(
    client, whatsapp, monkeypatch
):
    # Web processes that saw a task queued let their webhooks ride on it (queueing).
    monkeypatch.setattr(services, "webhook_events_wake", lambda event_id: True)
    [first] = _store(client, whatsapp, _text("wamid.L1"))
    returned = threading.Event()

    def task() -> None:
        try:
            webhook_event_process(event_id=first, claim_until=time.monotonic() + 0.6)
        finally:
            connection.close()
            returned.set()

    thread = threading.Thread(target=task)
    thread.start()
    time.sleep(0.3)
    assert not returned.is_set()  # caught up, and still claiming
    _store(client, whatsapp, _text("wamid.L2", at=1749416400))
    thread.join(timeout=10)

    assert returned.is_set()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Message.objects.count() == 2


def test_a_task_past_its_time_budget_hands_the_backlog_to_a_fresh_task(
    client, whatsapp, settings, monkeypatch
):
    # Under steady load every batch is full; a task that kept claiming ran into its
    # time limit mid-batch.
    settings.WEBHOOK_PROCESSING_BATCH = 2
    ids = _store(client, whatsapp, *[_text(f"wamid.T{i}", at=1749416383 + i) for i in range(5)])
    handed = []
    monkeypatch.setattr(processing, "_time_budget", lambda: -1.0)  # spent at once
    monkeypatch.setattr(processing, "webhook_event_enqueue", handed.append)

    webhook_event_process(event_id=ids[0])

    statuses = list(WebhookEvent.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["processed", "processed", "received", "received", "received"]
    assert handed == [ids[2]]


def test_a_time_limit_during_a_batch_is_not_retried_one_event_at_a_time(
    client, whatsapp, monkeypatch
):
    ids = _store(client, whatsapp, *[_text(f"wamid.L{i}", at=1749416383 + i) for i in range(3)])
    calls = []

    def out_of_time(*, inbound, statuses, **_):
        calls.append(len(inbound))
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(processing, "apply_conversation_events", out_of_time)

    with pytest.raises(SoftTimeLimitExceeded):
        webhook_event_process(event_id=ids[0])

    assert calls == [3]  # the batch once, not then each of its events until the hard limit
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processing"}

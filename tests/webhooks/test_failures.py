"""The failed-webhook queue: backoff, dead letters with an alert, replay, sweep, retention."""

from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from conversations.models import Message
from providers import Provider
from webhooks import processing
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process
from webhooks.services import (
    webhook_events_discard,
    webhook_events_purge,
    webhook_events_replay,
    webhook_events_sweep,
    webhook_failure_rate_check,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_inbound(monkeypatch):
    """Applying inbound messages fails, as a bug or a database outage would make it."""

    def explode(*, inbound, statuses, **_):
        raise RuntimeError("conversation store unavailable")

    monkeypatch.setattr(processing, "apply_conversation_events", explode)
    return monkeypatch


def _process_again(event: WebhookEvent) -> WebhookEvent:
    with TestCase.captureOnCommitCallbacks(execute=True):  # alerts are sent on commit
        webhook_event_process(event_id=event.id)
    event.refresh_from_db()
    return event


def test_a_processing_error_puts_the_event_in_the_queue_with_its_next_attempt(
    client, whatsapp, broken_inbound
):
    before = timezone.now()
    whatsapp.deliver(client, "text")

    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert event.attempts == 1
    assert event.last_error == "RuntimeError: conversation store unavailable"
    assert before + timedelta(minutes=1) <= event.next_attempt_at
    assert event.next_attempt_at <= timezone.now() + timedelta(minutes=1)
    assert not Message.objects.exists()


def test_retries_follow_the_backoff_then_the_event_is_dead_and_one_email_goes_out(
    client, whatsapp, broken_inbound, mailoutbox
):
    whatsapp.deliver(client, "text")
    event = WebhookEvent.objects.get()
    delays = []
    for _ in range(5):  # the five retries
        delays.append(round((event.next_attempt_at - timezone.now()).total_seconds() / 60))
        assert mailoutbox == []
        event = _process_again(event)

    assert delays == [1, 2, 4, 8, 16]
    assert (event.status, event.attempts, event.next_attempt_at) == ("dead", 6, None)
    assert len(mailoutbox) == 1
    alert = mailoutbox[0]
    assert alert.to == ["oncall@example.com", "lead@example.com"]
    assert f"Webhook #{event.id} is dead" in alert.subject
    assert "conversation store unavailable" in alert.body
    assert f"/admin/webhooks/webhookevent/{event.id}/change/" in alert.body


def test_replay_of_a_fixed_event_processes_it(client, whatsapp, broken_inbound, mailoutbox):
    whatsapp.deliver(client, "text")
    event = WebhookEvent.objects.get()
    for _ in range(5):
        event = _process_again(event)
    assert event.status == EventStatus.DEAD
    broken_inbound.undo()  # the bug is fixed

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert webhook_events_replay(event_ids=[event.id]) == 1

    event.refresh_from_db()
    assert (event.status, event.result, event.last_error) == ("processed", {"created": 1}, "")
    assert Message.objects.count() == 1


def test_a_processed_event_can_be_replayed_without_changing_anything(client, whatsapp):
    whatsapp.deliver(client, "text")
    event = WebhookEvent.objects.get()

    webhook_events_replay(event_ids=[event.id], enqueue=False)
    event = _process_again(event)

    assert (event.status, event.result) == ("processed", {"duplicate": 1})
    assert Message.objects.count() == 1


def test_discarded_events_leave_the_queue_and_are_not_retried(client, whatsapp, broken_inbound):
    whatsapp.deliver(client, "text")
    event = WebhookEvent.objects.get()

    assert webhook_events_discard(event_ids=[event.id]) == 1

    event.refresh_from_db()
    assert (event.status, event.next_attempt_at) == ("discarded", None)
    assert webhook_events_sweep(now=timezone.now() + timedelta(days=1))["due"] == 0


def test_the_sweep_sends_due_retries_and_events_whose_task_was_lost(client, whatsapp):
    whatsapp.post(client, *whatsapp.request("text"))  # stored; its task never ran
    event = WebhookEvent.objects.get()
    assert webhook_events_sweep()["due"] == 0  # its lease has not run out yet

    with TestCase.captureOnCommitCallbacks(execute=True):
        report = webhook_events_sweep(now=event.next_attempt_at + timedelta(seconds=1))

    assert report == {"due": 1, "enqueued": 1, "broker_down": 0}
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED


def test_a_worker_that_died_mid_event_is_taken_over_after_its_lease(client, whatsapp):
    whatsapp.post(client, *whatsapp.request("text"))
    event = WebhookEvent.objects.get()
    lease_ends = timezone.now() + timedelta(minutes=5)
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=EventStatus.PROCESSING, next_attempt_at=lease_ends
    )
    assert webhook_event_process(event_id=event.id) == "skipped"  # someone holds the lease
    assert webhook_events_sweep(now=lease_ends - timedelta(seconds=1))["due"] == 0

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert webhook_events_sweep(now=lease_ends + timedelta(seconds=1))["enqueued"] == 1

    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    assert Message.objects.count() == 1


def test_retention_purges_old_processed_and_keeps_dead_longer(client, whatsapp):
    now = timezone.now()
    for status, age_days in [("processed", 31), ("processed", 29), ("dead", 31), ("dead", 91)]:
        WebhookEvent.objects.create(
            provider=Provider.WHATSAPP_CLOUD,
            body=b"{}",
            received_at=now - timedelta(days=age_days),
            dedupe_key=f"{status}-{age_days}",
            status=status,
        )

    deleted = webhook_events_purge(now=now, batch_size=1)

    assert deleted == {"processed": 1, "dead": 1}
    assert sorted(WebhookEvent.objects.values_list("dedupe_key", flat=True)) == [
        "dead-31",
        "processed-29",
    ]


def test_hourly_failure_rate_check_alerts_above_the_threshold(whatsapp, settings, mailoutbox):
    settings.WEBHOOK_FAILURE_RATE_MIN_EVENTS = 10
    settings.WEBHOOK_FAILURE_RATE_THRESHOLD = 0.2
    organization = whatsapp.channel.organization
    for i in range(10):
        WebhookEvent.objects.create(
            provider=Provider.WHATSAPP_CLOUD,
            organization=organization,
            body=b"{}",
            received_at=timezone.now() - timedelta(minutes=10),
            dedupe_key=f"rate-{i}",
            status="failed" if i < 3 else "processed",
        )

    alerted = webhook_failure_rate_check()

    assert [(a["organization"], a["failed"], a["total"]) for a in alerted] == [
        (organization.id, 3, 10)
    ]
    assert len(mailoutbox) == 1
    assert "30%" in mailoutbox[0].subject


def test_failure_rate_below_the_threshold_sends_nothing(whatsapp, settings, mailoutbox):
    settings.WEBHOOK_FAILURE_RATE_MIN_EVENTS = 10
    for i in range(10):
        WebhookEvent.objects.create(
            provider=Provider.WHATSAPP_CLOUD,
            organization=whatsapp.channel.organization,
            body=b"{}",
            received_at=timezone.now(),
            dedupe_key=f"ok-{i}",
            status="processed",
        )

    assert webhook_failure_rate_check() == []
    assert mailoutbox == []

"""A task that hits its time limit frees its worker and leaves its work retryable:
the webhook stays leased (not failed, not lost) and is applied once after the lease."""

import time

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Conversation, Message
from providers import Provider
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint
from tests.webhooks.test_resilience import (
    _another_message_queued_while_no_worker_runs,
    _conversation_locked,
)
from tests.worker import celery_worker, process_env, wait_for
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process
from webhooks.services import webhook_events_sweep
from webhooks.tasks import webhook_event_process_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


def test_a_webhook_task_over_its_time_limit_is_retried_not_lost(
    client, settings, tmp_path, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("Holds a conversation's row lock from another connection (PostgreSQL).")
    # Time limits travel with the message, from the sender's settings (config.celery).
    monkeypatch.setattr(webhook_event_process_task, "time_limit", 3)
    monkeypatch.setattr(webhook_event_process_task, "soft_time_limit", 2)
    monkeypatch.setattr(webhook_event_process_task, "_exec_options", None)
    settings.WEBHOOK_PROCESSING_LEASE_SECONDS = 5
    env = process_env(WEBHOOK_PROCESSING_LEASE_SECONDS="5", TASK_TIME_LIMIT_WEBHOOKS="3")
    endpoint = Endpoint(
        Provider.WHATSAPP_CLOUD, make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    )
    endpoint.post(client, *endpoint.request("text"))
    webhook_event_process(event_id=WebhookEvent.objects.get().id)  # the conversation exists
    second = _another_message_queued_while_no_worker_runs(client, endpoint)

    with celery_worker(
        queues="webhooks", env=env, log_dir=tmp_path, pool="prefork", concurrency=1
    ) as worker:
        with _conversation_locked(Conversation.objects.get().pk):  # the task waits on it
            wait_for(lambda: "SoftTimeLimitExceeded" in worker.log(), timeout=20)
            event = WebhookEvent.objects.get(pk=second)
            assert event.status == EventStatus.PROCESSING  # still leased: retryable
            assert event.attempts == 1
        time.sleep(max(0.0, (event.next_attempt_at - timezone.now()).total_seconds()) + 0.1)
        webhook_events_sweep()  # beat's sweep, once the lease is up
        wait_for(lambda: WebhookEvent.objects.get(pk=second).status == EventStatus.PROCESSED)
        assert worker.process.poll() is None  # the same worker, freed by its time limit

    assert Message.objects.count() == 2
    assert Conversation.objects.get().unread_count == 2

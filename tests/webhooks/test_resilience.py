"""Nothing is lost when the broker is down or a worker dies: real processes, real Redis."""

import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
from django.db import connection, transaction
from django.utils import timezone

from conversations.models import Conversation, Message
from providers import Provider
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint, fixture_text
from tests.worker import (
    ROOT,
    celery_worker,
    free_port,
    process_env,
    redis_server,
    stop,
    wait_for,
    web_server,
)
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process
from webhooks.services import webhook_events_sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

SWEEP = (
    "import django; django.setup();"
    "from webhooks.services import webhook_events_sweep;"
    "print(webhook_events_sweep())"
)


@pytest.fixture
def whatsapp_endpoint():
    return Endpoint(
        Provider.WHATSAPP_CLOUD, make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    )


def _status(event_id: int) -> str:
    return WebhookEvent.objects.get(pk=event_id).status


def test_with_redis_stopped_webhooks_are_stored_and_answered_then_processed(
    whatsapp_endpoint, tmp_path
):
    redis_port, web_port = free_port(), free_port()
    env = process_env(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", WEBHOOK_PROCESSING_LEASE_SECONDS="1"
    )
    body, content_type, headers = whatsapp_endpoint.request("text")

    with redis_server(redis_port) as redis, web_server(port=web_port, env=env, log_dir=tmp_path):
        stop(redis)  # the broker goes away
        started = time.monotonic()
        response = httpx.post(
            f"http://127.0.0.1:{web_port}/webhooks/whatsapp/",
            content=body,
            headers={**headers, "Content-Type": content_type},
            timeout=30,
        )
        answered_in = time.monotonic() - started

    assert response.status_code == 200
    assert answered_in < 10
    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.RECEIVED
    assert not Message.objects.exists()

    with (
        redis_server(redis_port),  # the broker is back
        celery_worker(queues="webhooks", env=env, log_dir=tmp_path),
    ):
        time.sleep(1.1)  # past the event's lease
        subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
            [sys.executable, "-c", SWEEP], cwd=ROOT, env=env, check=True, timeout=60
        )
        wait_for(lambda: _status(event.id) == EventStatus.PROCESSED)

    assert Message.objects.count() == 1


def test_webhooks_riding_on_a_started_task_are_processed_without_the_sweep(
    whatsapp_endpoint, tmp_path
):
    """Pairs of webhooks: the first publishes a task, the second arrives while that task
    runs and publishes nothing (coalescing). A lease far beyond the test means only the
    task, never the sweep, can take the second."""
    env = process_env(WEBHOOK_WAKE_COALESCE_MS="200", WEBHOOK_PROCESSING_LEASE_SECONDS="600")
    web_port = free_port()
    text = fixture_text(Provider.WHATSAPP_CLOUD, "text")

    with (
        web_server(port=web_port, env=env, log_dir=tmp_path),
        celery_worker(queues="webhooks", env=env, log_dir=tmp_path),
    ):
        for n in range(20):
            body, content_type, headers = whatsapp_endpoint.request_text(
                text.replace("wamid.HBgL", f"wamid.PAIR{n}")
            )
            response = httpx.post(
                f"http://127.0.0.1:{web_port}/webhooks/whatsapp/",
                content=body,
                headers={**headers, "Content-Type": content_type},
                timeout=30,
            )
            assert response.status_code == 200
            time.sleep(0.3 if n % 2 else 0)
        wait_for(lambda: not WebhookEvent.objects.exclude(status=EventStatus.PROCESSED).exists())

    assert Message.objects.count() == 20


def test_a_worker_killed_mid_event_loses_nothing(whatsapp_endpoint, tmp_path, client, settings):
    # The same short lease here (where the webhook is stored) as in the workers.
    settings.WEBHOOK_PROCESSING_LEASE_SECONDS = 2
    env = process_env(WEBHOOK_PROCESSING_LEASE_SECONDS="2")
    whatsapp_endpoint.post(client, *whatsapp_endpoint.request("text"))
    webhook_event_process(event_id=WebhookEvent.objects.get().id)  # the conversation exists
    conversation = Conversation.objects.get()
    second = _another_message_queued_while_no_worker_runs(client, whatsapp_endpoint)

    with (
        _conversation_locked(conversation.pk),
        celery_worker(queues="webhooks", env=env, log_dir=tmp_path) as worker,
    ):
        _wait_until_worker_is_inside(second, worker)
        stop(worker.process, sig=signal.SIGKILL)  # the worker and its pool, mid-event
    assert _status(second) != EventStatus.PROCESSED

    with celery_worker(queues="webhooks", env=env, log_dir=tmp_path):
        time.sleep(2.1)  # past the dead worker's lease
        webhook_events_sweep(now=timezone.now())
        wait_for(lambda: _status(second) == EventStatus.PROCESSED)

    assert Message.objects.count() == 2
    assert Conversation.objects.get().unread_count == 2


def _another_message_queued_while_no_worker_runs(client, endpoint: Endpoint) -> int:
    text = fixture_text(Provider.WHATSAPP_CLOUD, "text").replace("wamid.HBgL", "wamid.SECOND")
    endpoint.post(client, *endpoint.request_text(text.replace("1749416383", "1749416400")))
    return WebhookEvent.objects.latest("id").id


@contextmanager
def _conversation_locked(conversation_id: int):
    """Hold the conversation's row lock from another connection (PostgreSQL), or the
    database's write lock (SQLite), until the block ends."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=conversation_id)
                held.set()
                release.wait(timeout=120)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=10)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=30)


def _wait_until_worker_is_inside(event_id: int, worker) -> None:
    if connection.vendor == "postgresql":
        # Its claim committed; it now waits for the conversation's row lock.
        wait_for(lambda: _status(event_id) == EventStatus.PROCESSING)
    else:
        # SQLite: it took the task and waits for the write lock to claim it.
        wait_for(lambda: "webhook_event_process_task" in worker.log())
    time.sleep(0.5)

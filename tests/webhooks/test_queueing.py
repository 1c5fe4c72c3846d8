"""While a processing task is queued and not yet started, new webhooks publish no task
of their own: that task takes them all when it starts."""

import time

import pytest

from tests.worker import free_port, redis_server
from webhooks import queueing, tasks


@pytest.fixture
def published(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(
        queueing, "webhook_event_enqueue", lambda event_id: sent.append(event_id) or True
    )
    return sent


@pytest.fixture
def own_redis(settings):
    port = free_port()
    with redis_server(port):
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        queueing._flag_store.cache_clear()
        yield
    queueing._flag_store.cache_clear()


def test_webhooks_stored_while_a_task_waits_publish_nothing_more(own_redis, published):
    for event_id in (1, 2, 3):
        queueing.webhook_events_wake(event_id)

    assert published == [1]


def test_once_the_task_starts_the_next_webhook_publishes_again(own_redis, published, monkeypatch):
    queueing.webhook_events_wake(1)
    monkeypatch.setattr(tasks, "webhook_event_process", lambda **_: "processed")

    tasks.webhook_event_process_task(1)  # the task starts: it clears the flag first
    queueing.webhook_events_wake(2)

    assert published == [1, 2]


@pytest.mark.parametrize("coalesce_ms", [0, 200], ids=["every webhook asks", "coalescing"])
def test_a_failed_publish_lets_the_next_webhook_try_again(
    own_redis, monkeypatch, settings, coalesce_ms
):
    settings.WEBHOOK_WAKE_COALESCE_MS = coalesce_ms  # a failure opens no window either
    attempts: list[int] = []
    monkeypatch.setattr(
        queueing, "webhook_event_enqueue", lambda event_id: attempts.append(event_id) and False
    )

    queueing.webhook_events_wake(1)
    queueing.webhook_events_wake(2)

    assert attempts == [1, 2]


def test_without_redis_every_webhook_publishes(settings, published):
    settings.REDIS_URL = ""
    queueing._flag_store.cache_clear()
    try:
        for event_id in (1, 2):
            queueing.webhook_events_wake(event_id)
    finally:
        queueing._flag_store.cache_clear()

    assert published == [1, 2]


def test_with_redis_down_every_webhook_still_publishes(settings, published):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    queueing._flag_store.cache_clear()
    try:
        queueing.webhook_events_wake(1)
        queueing.webhook_events_wake(2)
    finally:
        queueing._flag_store.cache_clear()

    assert published == [1, 2]


@pytest.fixture
def coalescing(settings):
    settings.WEBHOOK_WAKE_COALESCE_MS = 200


def test_after_seeing_a_task_queued_a_process_asks_again_only_after_the_window(
    own_redis, published, coalescing
):
    queueing.webhook_events_wake(1)  # publishes: no task was queued
    queueing.webhook_wakeup_taken()  # the task starts and clears the flag

    queueing.webhook_events_wake(2)  # within 200 ms: rides on that task, asks nothing
    time.sleep(0.25)
    queueing.webhook_events_wake(3)  # past the window: asks, and publishes again

    assert published == [1, 3]


def test_without_coalescing_every_webhook_asks(own_redis, published, settings):
    settings.WEBHOOK_WAKE_COALESCE_MS = 0
    queueing.webhook_events_wake(1)
    queueing.webhook_wakeup_taken()

    queueing.webhook_events_wake(2)

    assert published == [1, 2]


def test_only_a_task_that_clears_the_flag_keeps_claiming(own_redis, published, coalescing):
    queueing.webhook_events_wake(1)  # sets the flag and publishes a task

    clearing = queueing.webhook_wakeup_taken()  # that task starts: it clears the flag
    flagless = queueing.webhook_wakeup_taken()  # one the sweep sent finds no flag
    now = time.monotonic()

    assert clearing > now + 0.1  # web processes may have seen its flag: it waits them out
    assert flagless <= now

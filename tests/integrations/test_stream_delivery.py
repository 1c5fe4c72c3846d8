"""How events reach the stream: woken by the Redis notice at once, by polling the
outbox when Redis is down (and again when it is back), and through a real uvicorn."""

import asyncio
import subprocess
import sys
import time

import httpx
import pytest
from django.test import override_settings

from integrations import stream
from outbox import notify
from tenants.models import Role
from tests.factories import OrganizationFactory
from tests.integrations.sse import in_thread, run, stream_open
from tests.integrations.test_stream import auth, record
from tests.worker import ROOT, free_port, process_env, restartable_redis, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.05)


def test_the_notice_wakes_the_stream_at_once_and_polling_covers_redis_being_down(
    monkeypatch,
):
    # Polls so rare (60 s) that only the notice can deliver within seconds while Redis is
    # up; while it is down, only the 1 s poll can.
    monkeypatch.setattr(stream, "SAFETY_POLL_SECONDS", 60.0)
    monkeypatch.setattr(stream, "REDIS_RETRY_SECONDS", 0.2)
    monkeypatch.setattr(notify, "PAUSE_AFTER_FAILURE_SECONDS", 0.0)
    organization = OrganizationFactory()
    headers = auth(organization, Role.AGENT)
    port = free_port()

    async def scenario():
        client = await stream_open(headers)
        await client.messages(1)
        hub = stream.stream_hub()
        await _until(lambda: hub.redis_up)

        first = await in_thread(record, organization.pk, "message.received", 1)
        assert [e["id"] for e in await client.events(1, timeout=10.0)] == [first]

        redis.stop()
        await _until(lambda: not hub.redis_up)
        # The writer is not failed by the notice it cannot publish; the poll delivers.
        second = await in_thread(record, organization.pk, "message.received", 2)
        assert [e["id"] for e in await client.events(1, timeout=10.0)] == [second]

        redis.start()
        await _until(lambda: hub.redis_up)
        notify.notify_pause_reset()
        third = await in_thread(record, organization.pk, "message.received", 3)
        assert [e["id"] for e in await client.events(1, timeout=10.0)] == [third]
        await client.close()

    with (
        restartable_redis(port) as redis,
        override_settings(OUTBOX_NOTIFY_URL=f"redis://127.0.0.1:{port}/0"),
    ):
        run(scenario)


def test_with_the_notice_pointing_at_a_dead_port_events_still_arrive(monkeypatch):
    organization = OrganizationFactory()
    headers = auth(organization)

    async def scenario():
        client = await stream_open(headers)
        await client.messages(1)
        assert not stream.stream_hub().redis_up
        token = await in_thread(record, organization.pk, "conversation.created", 1)
        assert [e["id"] for e in await client.events(1, timeout=10.0)] == [token]
        await client.close()

    with override_settings(OUTBOX_NOTIFY_URL=f"redis://127.0.0.1:{free_port()}/0"):
        run(scenario)


def test_a_real_uvicorn_serves_the_stream_and_the_admins_static_files(tmp_path):
    organization = OrganizationFactory()
    headers = auth(organization)
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("w")
    server = subprocess.Popen(  # noqa: S603 - our own interpreter running uvicorn
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--port",
            str(port),
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=process_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/healthz"))
        assert httpx.get(f"{base}/static/admin/css/base.css").status_code == 200
        with httpx.stream("GET", f"{base}/api/v1/stream", headers=headers, timeout=10) as answer:
            assert answer.status_code == 200
            lines = answer.iter_lines()
            assert next(lines).startswith("retry: ")
            token = record(organization.pk, "conversation.created", 1)
            received = [next(lines) for _ in range(5)]
        assert f"id: {token}" in received
        assert "event: conversation.created" in received
    finally:
        stop(server)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

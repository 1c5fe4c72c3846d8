"""Webhook traffic against a real web process, and what must hold after it.

The reliability tests start real processes (web, workers, a Redis of their own) and
break one of them under this load; every webhook the web process acknowledged must
then be applied exactly once, by the processes healing on their own.
"""

import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.db import connection

from conversations.models import Conversation, Message
from providers import Provider
from tests.webhooks.delivery import Endpoint, fixture_text
from tests.worker import ROOT, wait_for
from webhooks.models import EventStatus, WebhookEvent

# Sweeps as beat would, only every half second instead of every minute.
SWEEPER = """
import time, django
django.setup()
from django.db import close_old_connections
from webhooks.services import webhook_events_sweep
while True:
    close_old_connections()  # as the worker does around each task (config.celery)
    try:
        webhook_events_sweep()
    except Exception as exc:  # the database or broker is down: beat would try again too
        print("sweep failed:", exc, flush=True)
    time.sleep(0.5)
"""


class WebhookLoad:
    """Distinct signed WhatsApp messages posted one after another from a thread."""

    def __init__(self, endpoint: Endpoint, port: int, *, first: int = 0) -> None:
        self.endpoint, self.port, self.first = endpoint, port, first
        self.acknowledged: list[str] = []
        self.refused = 0
        self._template = fixture_text(Provider.WHATSAPP_CLOUD, "text")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "WebhookLoad":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def wait_for_acknowledged(self, count: int) -> None:
        wait_for(lambda: len(self.acknowledged) >= count, timeout=30, interval=0.05)

    def _run(self) -> None:
        with httpx.Client(timeout=15) as client:
            n = self.first
            while not self._stop.is_set():
                n += 1
                message_id = f"wamid.LOAD{n:05d}"
                body, content_type, headers = self.endpoint.request_text(
                    self._template.replace(
                        "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                        message_id,
                    ).replace("1749416383", str(1749416383 + n))
                )
                try:
                    response = client.post(
                        f"http://127.0.0.1:{self.port}/webhooks/whatsapp/",
                        content=body,
                        headers={**headers, "Content-Type": content_type},
                    )
                except httpx.HTTPError:
                    self.refused += 1
                    continue
                if response.status_code == 200:
                    self.acknowledged.append(message_id)
                else:
                    self.refused += 1


@contextmanager
def sweeper(*, env: dict[str, str], log_dir: Path):
    """Beat's webhook sweep, in its own process."""
    from tests.worker import stop

    log = (log_dir / "sweeper.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", SWEEPER],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop(process)
        log.close()


def database_backends_terminate() -> int:
    """Terminate every other connection to the test database (only ours: the
    PostgreSQL server is shared), as a database restart or failover would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def all_applied() -> bool:
    return not WebhookEvent.objects.exclude(status=EventStatus.PROCESSED).exists()


def assert_applied_exactly_once(acknowledged: list[str], *, timeout: float = 30) -> None:
    """Every acknowledged webhook became one message, and no message counted twice."""
    assert acknowledged
    wait_for(all_applied, timeout=timeout, interval=0.2)
    filed = list(Message.objects.values_list("provider_message_id", flat=True))
    assert len(filed) == len(set(filed))
    assert set(acknowledged) <= set(filed)
    assert WebhookEvent.objects.count() == len(filed)
    conversation = Conversation.objects.get()
    assert conversation.unread_count == len(filed)  # each applied once, counted once

"""A real HTTP receiver on 127.0.0.1 for delivery tests, and helpers to record events."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from integrations.subscriptions import subscription_create
from outbox.services import event_record
from outbox.types import ConversationAssignedBody

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers every POST with `answer(request) -> (status, headers, body)`."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answer: Callable = lambda request: (200, {}, b"ok")
    server: ThreadingHTTPServer | None = None

    def events(self) -> list[dict]:
        return [request.event for request in self.received]


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            request = Received(self.path, dict(self.headers.items()), self.rfile.read(length))
            receiver.received.append(request)
            status, headers, body = receiver.answer(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if callable(body):  # a generator of chunks: a streamed answer
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in body():
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    return  # the client stopped reading: as it should
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receiver(settings):
    settings.INTEGRATIONS_ALLOW_PRIVATE_URLS = True
    settings.INTEGRATIONS_ALLOW_HTTP = True
    found = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    found.server = server
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def record(organization, *, conversation_id: int | None, assignee: int = 1, channel_id=None):
    """One conversation.assigned event (the assignee tells events apart)."""
    body = ConversationAssignedBody(
        conversation_id=conversation_id or 0,
        channel_id=channel_id or 0,
        assignee_id=assignee,
        previous_assignee_id=None,
    )
    with transaction.atomic():
        return event_record(
            type="conversation.assigned",
            organization_id=organization.pk,
            body=body,
            conversation_id=conversation_id,
            channel_id=channel_id,
        )


def subscribe(organization, url: str, **kwargs):
    return subscription_create(
        organization=organization,
        url=url,
        event_types=kwargs.pop("event_types", ["conversation.assigned"]),
        **kwargs,
    )

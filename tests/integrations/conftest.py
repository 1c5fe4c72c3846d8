"""Shared by the integrations tests: the notifications' team and clock, a real HTTP
receiver on 127.0.0.1 for delivery tests, and helpers to record events."""

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Max

from conversations.models import Conversation, Message
from conversations.services import inbound_message_apply
from integrations.notifications import READER, reply_events_consume
from integrations.subscriptions import subscription_create
from outbox.models import OutboxCursor, OutboxEvent
from outbox.services import event_record
from outbox.types import ConversationAssignedBody
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tenants.models import Role
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory, UserFactory

# Wednesday 4 March 2026, 10:00 UTC: a frozen clock, never today's.
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team():
    """An organization with an admin (Bea), an agent (Ada) and a WhatsApp line."""
    organization = OrganizationFactory(name="Acme", alert_emails="ops@acme.example")
    boss = UserFactory(username="bea", email="bea@acme.example")
    agent = UserFactory(username="ada", email="ada@acme.example")
    MembershipFactory(user=boss, organization=organization, role=Role.ADMIN)
    MembershipFactory(user=agent, organization=organization, role=Role.AGENT)
    channel = ChannelFactory(organization=organization, name="Front desk")
    return {"organization": organization, "boss": boss, "agent": agent, "channel": channel}


@pytest.fixture
def reader(clock):
    """The reader's cursor at the outbox's end, before the test writes anything.

    Inside a test's one transaction it is placed by hand: position_now() (what the
    reader uses in production, in autocommit) puts it past every transaction begun on
    the server so far, and one that began after this test's would put it past the
    test's own later events, whose transaction id is older."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        reply_events_consume()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        (own,) = cursor.fetchone()
    last = OutboxEvent.objects.aggregate(last=Max("pk"))["last"] or 0
    OutboxCursor.objects.create(name=READER, xid=own, event_id=last)


def write(channel, text: str, *, phone: str = "+16505550101", name: str = "Carla Diaz") -> Message:
    """The customer writes: a message filed as a webhook files it."""
    message_id = f"wamid.test{next(_ids)}"
    inbound_message_apply(
        channel=channel,
        message=InboundMessage(
            provider=Provider.WHATSAPP_CLOUD,
            event_id=f"test:{message_id}",
            occurred_at=datetime.now(UTC),
            raw={},
            message_id=message_id,
            contact=ContactRef(phone=phone, wa_id=phone.lstrip("+"), name=name),
            type=MessageType.TEXT,
            text=text,
        ),
    )
    return Message.objects.get(provider_message_id=message_id)


def conversation_of(message: Message) -> Conversation:
    return Conversation.objects.get(pk=message.conversation_id)


# The subscriptions' tests' clock (the notifications' is SUBS_T0 above).
SUBS_T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


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

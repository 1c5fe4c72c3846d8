"""GET /api/v1/stream through the ASGI application: who sees what, resuming with
Last-Event-ID without a gap or a repeat, heartbeats, errors, and delivery with Redis
up (woken at once) and down (polling)."""

from datetime import UTC, datetime

import pytest
from django.db import transaction
from rest_framework.authtoken.models import Token

from integrations import stream, stream_view
from outbox.readers import Position, events_read
from outbox.services import event_record
from outbox.types import ConsentBody, ConversationBody, MessageBody, TemplateStatusBody
from tenants.models import Role
from tests.factories import MembershipFactory, OrganizationFactory
from tests.integrations.sse import in_thread, run, stream_open

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _body(event_type: str, n: int):
    if event_type.startswith("message."):
        return MessageBody(
            n, n, 1, 1, "inbound", "text", f"hello {n}", f"wamid.{n}", "received", T0
        )
    if event_type.startswith("conversation."):
        return ConversationBody(n, 1, 1, "open", T0)
    if event_type.startswith("contact."):
        return ConsentBody(n, "sms", "marketing", "opted_out", "unknown", "keyword", None, T0)
    return TemplateStatusBody(n, 1, "welcome", "en", "APPROVED", "PENDING", "", "webhook", T0)


def record(organization_id: int, event_type: str = "message.received", n: int = 1) -> str:
    """Commit one event; its resume token."""
    with transaction.atomic():
        event = event_record(
            type=event_type, organization_id=organization_id, body=_body(event_type, n)
        )
    page = events_read(after=Position(), organization_id=organization_id, limit=10_000)
    return next(e.position.token for e in page.events if e.pk == event.pk)


async def arecord(*args) -> str:
    return await in_thread(record, *args)


def auth(organization, role: Role = Role.ADMIN) -> dict[str, str]:
    membership = MembershipFactory(organization=organization, role=role)
    return {"Authorization": f"Token {Token.objects.create(user=membership.user)}"}


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch):
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(stream, "SAFETY_POLL_SECONDS", 0.1)


def test_a_client_gets_its_organizations_events_as_they_are_committed():
    organization = OrganizationFactory()
    headers = auth(organization)

    async def scenario():
        client = await stream_open(headers)
        assert client.status == 200
        assert client.headers["content-type"].startswith("text/event-stream")
        (opening,) = await client.messages(1)
        assert opening["retry"] == "3000"
        assert Position.parse(opening["id"])
        token = await arecord(organization.pk, "message.received", 7)
        (event,) = await client.events(1)
        assert event["id"] == token
        assert event["event"] == "message.received"
        assert event["data"]["body"]["text"] == "hello 7"
        assert event["data"]["type"] == "message.received"
        assert event["data"]["version"] == 1
        await client.close()

    run(scenario)


def test_each_role_sees_its_events_and_no_organization_sees_anothers():
    organization, other = OrganizationFactory(), OrganizationFactory()
    viewer, agent, admin = (auth(organization, role) for role in Role)
    outsider = auth(other, Role.ADMIN)
    types = ["message.received", "conversation.created", "contact.opted_out"]
    types.append("template.status_changed")

    async def scenario():
        clients = [await stream_open(headers) for headers in (viewer, agent, admin, outsider)]
        for client in clients:
            await client.messages(1)
        for n, event_type in enumerate(types):
            await arecord(organization.pk, event_type, n)
        await arecord(other.pk, "conversation.created", 99)
        seen = [
            [e["event"] for e in await c.events(n)]
            for c, n in zip(clients, [2, 3, 4, 1], strict=True)
        ]
        assert seen[0] == ["message.received", "conversation.created"]
        assert seen[1] == ["message.received", "conversation.created", "contact.opted_out"]
        assert seen[2] == types
        assert seen[3] == ["conversation.created"]
        for client in clients:
            assert await client.quiet_for(0.5) == []
            await client.close()

    run(scenario)


def test_resuming_replays_what_was_missed_then_joins_the_live_feed_once(monkeypatch):
    organization = OrganizationFactory()
    headers = auth(organization, Role.AGENT)
    before = [record(organization.pk, "message.received", n) for n in range(4)]
    during: list[str] = []
    real_read = events_read

    def slow_replay(**kwargs):
        # Events committed while the replay runs, page by page: the live feed has them.
        if len(during) < 3:
            during.append(record(organization.pk, "message.received", 10 + len(during)))
        return real_read(**{**kwargs, "limit": 1})

    monkeypatch.setattr(stream_view, "events_read", slow_replay)

    async def scenario():
        client = await stream_open({**headers, "Last-Event-ID": before[0]})
        (opening,) = await client.messages(1)
        assert opening["id"] == before[0]
        events = await client.events(6)
        assert [e["id"] for e in events] == before[1:] + during
        assert await client.quiet_for(0.5) == []
        await client.close()

    run(scenario)


def test_a_client_ahead_of_this_process_gets_nothing_twice():
    organization = OrganizationFactory()
    headers = auth(organization)
    tokens = [record(organization.pk, "conversation.created", n) for n in range(3)]

    async def scenario():
        first = await stream_open(headers)
        await first.messages(1)
        # This process's tail is behind the client (it read from a faster one): it
        # reads the same events again, live.
        stream.stream_hub().position = Position()
        client = await stream_open({**headers, "Last-Event-ID": tokens[1]})
        later = await arecord(organization.pk, "conversation.created", 3)
        assert [e["id"] for e in await client.events(2)] == [tokens[2], later]
        assert await client.quiet_for(0.5) == []
        await client.close()
        await first.close()

    run(scenario)


@pytest.mark.parametrize("bad", ["abc", "12", "1-2-3", " -5"])
def test_a_last_event_id_that_is_not_one_is_a_400_in_the_house_format(bad):
    headers = auth(OrganizationFactory())

    async def scenario():
        client = await stream_open({**headers, "Last-Event-ID": bad})
        assert client.status == 400
        error = await client.body()
        assert error["code"] == "VALIDATION_ERROR"
        assert "Last-Event-ID" in error["details"]

    run(scenario)


def test_a_last_event_id_ahead_of_the_stream_is_a_400():
    headers = auth(OrganizationFactory())

    async def scenario():
        client = await stream_open({**headers, "Last-Event-ID": "999999999999-1"})
        assert client.status == 400
        assert (await client.body())["code"] == "VALIDATION_ERROR"

    run(scenario)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Token not-a-real-token"}])
def test_without_valid_credentials_the_answer_is_401(headers):
    async def scenario():
        client = await stream_open(headers)
        assert client.status == 401
        assert client.headers["www-authenticate"] == "Token"
        assert (await client.body())["code"] == "NOT_AUTHENTICATED"

    run(scenario)


def test_another_method_is_405_in_the_house_format():
    headers = auth(OrganizationFactory())

    async def scenario():
        client = await stream_open(headers, method="OPTIONS")
        assert client.status == 405
        assert (await client.body())["code"] == "METHOD_NOT_ALLOWED"

    run(scenario)


def test_a_quiet_stream_sends_heartbeats(monkeypatch):
    monkeypatch.setattr(stream_view, "HEARTBEAT_SECONDS", 0.1)
    headers = auth(OrganizationFactory())

    async def scenario():
        client = await stream_open(headers)
        assert await client.quiet_for(0.5) == []
        assert client.comments[:2] == ["heartbeat", "heartbeat"]
        await client.close()

    run(scenario)


def test_a_client_too_slow_is_dropped_and_resumes_without_a_gap(monkeypatch):
    monkeypatch.setattr(stream, "QUEUE_SIZE", 2)
    organization = OrganizationFactory()
    headers = auth(organization)

    async def scenario():
        client = await stream_open(headers)
        await client.messages(1)
        await in_thread(_record_many, organization.pk, 5)  # one commit, five events
        got = await client.events(5, timeout=3)
        assert len(got) == 2
        assert client.ended
        assert client.comments[-1].startswith("too far behind")
        again = await stream_open({**headers, "Last-Event-ID": got[-1]["id"]})
        rest = await again.events(3)
        assert [e["data"]["body"]["conversation_id"] for e in got + rest] == list(range(5))
        await again.close()

    run(scenario)


def _record_many(organization_id: int, count: int) -> None:
    with transaction.atomic():
        for n in range(count):
            event_record(
                type="conversation.created",
                organization_id=organization_id,
                body=_body("conversation.created", n),
            )

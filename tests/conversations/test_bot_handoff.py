"""Taking a conversation over from the bot (and giving it back): the flag, the
`conversation.handed_off` event, what a filed message says about it, the API and the
admin's controls."""

from datetime import UTC, datetime

import pytest
from django.db.models import F

from conversations import bots, services
from conversations.models import Conversation
from outbox.models import OutboxEvent
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tenants.models import Channel, Role
from tests.conversations.test_admin_thread import _member, _page, _work
from tests.factories import ConversationFactory, OrganizationFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def responder_on_every_channel():
    """Every channel has a responder (integrations registers the real query)."""
    previous = bots._responder_channels
    bots.responder_channels_register(
        lambda: Channel.objects.annotate(channel_id=F("pk")).values("channel_id")
    )
    yield
    bots._responder_channels = previous


def _handed_off() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type="conversation.handed_off"))


def test_taking_over_stops_the_bot_and_tells_the_responder_once(organization):
    conversation = ConversationFactory(organization=organization)

    services.conversation_hand_off(conversation=conversation, by_user_id=7, now=T0)
    services.conversation_hand_off(conversation=conversation, by_user_id=7, now=T0)

    assert Conversation.objects.get().bot_active is False
    (event,) = _handed_off()
    assert event.conversation_id == conversation.pk
    assert event.body == {
        "conversation_id": conversation.pk,
        "channel_id": conversation.channel_id,
        "by_user_id": 7,
        "occurred_at": T0.isoformat(),
    }


def test_giving_back_turns_the_bot_on_again_without_an_event(organization):
    conversation = ConversationFactory(organization=organization, bot_active=False)

    services.conversation_bot_resume(conversation=conversation)

    assert Conversation.objects.get().bot_active is True
    assert _handed_off() == []


def _inbound(message_id: str) -> InboundMessage:
    return InboundMessage(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"test:{message_id}",
        occurred_at=T0,
        raw={},
        message_id=message_id,
        contact=ContactRef(phone="+16505551234", wa_id="16505551234"),
        type=MessageType.TEXT,
        text="hello",
    )


def test_a_filed_message_says_whether_the_bot_may_answer_as_it_was_then():
    channel = make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    services.inbound_message_apply(channel=channel, message=_inbound("wamid.1"))
    services.conversation_hand_off(conversation=Conversation.objects.get(), by_user_id=None)
    services.inbound_message_apply(channel=channel, message=_inbound("wamid.2"))

    received = OutboxEvent.objects.filter(type="message.received").order_by("id")
    assert [e.body["bot_active"] for e in received] == [True, False]


def test_the_api_hands_off_and_gives_back(agent_client, organization):
    conversation = ConversationFactory(organization=organization)
    url = f"/api/v1/conversations/{conversation.pk}"

    handed = agent_client.post(f"{url}/hand-off")
    assert handed.status_code == 200
    assert handed.json()["bot_active"] is False
    assert _handed_off()[0].body["by_user_id"] == agent_client.user.pk

    resumed = agent_client.post(f"{url}/bot-resume")
    assert resumed.status_code == 200
    assert resumed.json()["bot_active"] is True


def test_a_viewer_may_not_hand_off_and_another_organization_is_not_found(
    viewer_client, agent_client, organization
):
    mine = ConversationFactory(organization=organization)
    theirs = ConversationFactory()

    assert viewer_client.post(f"/api/v1/conversations/{mine.pk}/hand-off").status_code == 403
    assert agent_client.post(f"/api/v1/conversations/{theirs.pk}/hand-off").status_code == 404
    assert Conversation.objects.filter(bot_active=False).count() == 0


def test_without_a_responder_the_admin_shows_no_bot(client, organization):
    conversation = ConversationFactory(organization=organization)
    agent = _member(client, organization, Role.AGENT)

    page = _page(agent, conversation)

    assert 'id="hand-off"' not in page
    listed = agent.get("/admin/conversations/conversation/").content.decode()
    assert "sb-bot" not in listed


def test_the_admin_shows_the_bot_and_an_agent_takes_over(
    client, organization, responder_on_every_channel
):
    conversation = ConversationFactory(organization=organization)
    agent = _member(client, organization, Role.AGENT)

    assert "the bot (automated responder)" in _page(agent, conversation)
    assert "sb-bot" in agent.get("/admin/conversations/conversation/").content.decode()

    after = _work(agent, conversation, do="hand_off").content.decode()

    assert "You have taken over" in after
    assert 'id="bot-resume"' in after
    assert Conversation.objects.get().bot_active is False
    assert _handed_off()[0].body["by_user_id"] == agent.user.pk
    assert "sb-bot" not in agent.get("/admin/conversations/conversation/").content.decode()


def test_a_viewer_sees_the_bot_but_cannot_take_over(
    client, organization, responder_on_every_channel
):
    conversation = ConversationFactory(organization=organization)
    viewer = _member(client, organization, Role.VIEWER)

    assert 'id="hand-off"' not in _page(viewer, conversation)
    assert _work(viewer, conversation, do="hand_off").status_code == 403
    assert Conversation.objects.get().bot_active is True

"""A LinkedIn message to someone the account has no chat with yet starts the chat
(Unipile's POST /api/v1/chats), keeps its id on the conversation, and the chat's
webhooks then file into that same conversation."""

import json

import pytest

from conversations.models import ContactIdentity, Conversation, Direction, IdentityKind, Message
from messaging import services
from messaging.models import SendLimit
from messaging.services import NO_LINKEDIN_ID
from providers import Provider
from tests.factories import ContactFactory, ConversationFactory
from tests.providers.test_unipile_relations import ACCOUNT_ID, DSN, JULIEN, fixture
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint, fixture_text

pytestmark = pytest.mark.django_db

CHATS_API = f"{DSN}/api/v1/chats"
STARTED = fixture("chat_started")
CHAT_ID = STARTED["chat_id"]


@pytest.fixture
def linkedin(organization):
    channel = make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id=ACCOUNT_ID,
        api_base_url=DSN,
        window_policy="always_open",
    )
    SendLimit.objects.create(channel=channel, per_second=1000)  # not the pace's test
    return channel


@pytest.fixture
def conversation(organization, linkedin):
    """A lead the invitation flow knows by provider id, and no chat yet."""
    contact = ContactFactory(organization=organization, name="Julien", phone="")
    ContactIdentity.objects.create(
        contact=contact, channel=linkedin, kind=IdentityKind.PROVIDER_ID, value=JULIEN
    )
    return ConversationFactory(
        organization=organization, channel=linkedin, contact=contact, provider_conversation_ref=""
    )


def _deliver(conversation, text: str) -> Message:
    message = services.message_send_text(conversation=conversation, text=text)
    services.message_deliver(message_id=message.pk)
    return Message.objects.get(pk=message.pk)


def _form(request) -> str:
    return request.content.decode()


def test_the_first_message_starts_the_chat_and_the_next_goes_into_it(conversation, respx_mock):
    start = respx_mock.post(CHATS_API).respond(201, json=STARTED)
    into_chat = respx_mock.post(f"{CHATS_API}/{CHAT_ID}/messages").respond(
        201, json={"object": "MessageSent", "message_id": "m-2"}
    )

    # when the first message is sent
    first = _deliver(conversation, "Thanks for connecting, Julien!")

    # then the chat was started with the lead's provider id and the text
    assert start.call_count == 1
    body = _form(start.calls.last.request)
    assert f'name="attendees_ids"\r\n\r\n{JULIEN}' in body
    assert "Thanks for connecting, Julien!" in body
    assert (first.provider_message_id, first.status) == (STARTED["message_id"], "sent")
    # and the conversation knows the chat now
    conversation.refresh_from_db()
    assert conversation.provider_conversation_ref == CHAT_ID

    # when a second message is sent, it goes into that chat: no second chat is started
    second = _deliver(conversation, "Shall we talk next week?")
    assert (start.call_count, into_chat.call_count) == (1, 1)
    assert (second.provider_message_id, second.status) == ("m-2", "sent")


def test_the_lead_s_reply_in_the_new_chat_lands_in_the_same_conversation(
    client, conversation, linkedin, respx_mock
):
    respx_mock.post(CHATS_API).respond(201, json=STARTED)
    _deliver(conversation, "Thanks for connecting, Julien!")

    # when the lead answers in the chat we started (Unipile's webhook)
    payload = json.loads(fixture_text(Provider.UNIPILE, "message_received"))
    sender = {**payload["sender"], "attendee_provider_id": JULIEN, "attendee_name": "Julien"}
    payload.update(chat_id=CHAT_ID, message_id="reply-1", message="Happy to talk", sender=sender)
    payload["attendees"][1] = sender
    Endpoint(Provider.UNIPILE, linkedin).deliver_text(client, json.dumps(payload))

    # then it is filed in the lead's one conversation, next to our message
    assert Conversation.objects.filter(channel=linkedin).count() == 1
    reply = Message.objects.get(provider_message_id="reply-1")
    assert reply.direction == Direction.INBOUND
    assert reply.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.provider_conversation_ref == CHAT_ID


def test_recording_the_chat_keeps_the_first_one(conversation):
    from conversations import services as conversations

    assert conversations.conversation_ref_record(conversation_id=conversation.pk, ref="chat-a")
    assert not conversations.conversation_ref_record(conversation_id=conversation.pk, ref="chat-b")
    conversation.refresh_from_db()
    assert conversation.provider_conversation_ref == "chat-a"


def test_without_a_provider_id_the_message_fails_clearly_and_unipile_is_not_called(
    organization, linkedin, respx_mock
):
    start = respx_mock.post(CHATS_API).respond(201, json=STARTED)
    contact = ContactFactory(organization=organization, name="Nobody", phone="+16505550199")
    conversation = ConversationFactory(
        organization=organization, channel=linkedin, contact=contact, provider_conversation_ref=""
    )

    message = _deliver(conversation, "Hello")

    assert not start.called
    assert (message.status, message.error_code) == ("failed", NO_LINKEDIN_ID)
    assert "LinkedIn id" in message.error_title


def test_two_messages_sent_in_one_batch_start_one_chat(conversation, respx_mock):
    start = respx_mock.post(CHATS_API).respond(201, json=STARTED)
    into_chat = respx_mock.post(f"{CHATS_API}/{CHAT_ID}/messages").respond(
        201, json={"object": "MessageSent", "message_id": "m-2"}
    )
    # given two messages queued before either was sent
    first = services.message_send_text(conversation=conversation, text="Hello Julien")
    second = services.message_send_text(conversation=conversation, text="And one more thing")

    # when the first's task sends both (the second is its sibling)
    services.message_deliver(message_id=first.pk)

    # then one chat was started, and the second message went into it
    assert start.call_count == 1
    assert into_chat.call_count == 1
    assert "And one more thing" in _form(into_chat.calls.last.request)
    sent = [Message.objects.get(pk=m.pk).provider_message_id for m in (first, second)]
    assert sent == [STARTED["message_id"], "m-2"]
    assert services.message_deliver(message_id=second.pk).outcome == "skipped"

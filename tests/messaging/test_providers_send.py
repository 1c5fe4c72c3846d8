"""Each provider's send, from a queued message to the provider's HTTP API and back."""

import json
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from conversations.models import Message
from messaging import services
from providers import Provider
from tests.factories import ContactFactory, ConversationFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

CHANNELS = {
    Provider.OPENPHONE: {
        "access_token": "op-key",
        "phone_number_id": "PNtoDbDhuz",
        "window_policy": "always_open",
    },
    Provider.TWILIO: {
        "account_id": "AC" + "1" * 32,
        "display_phone_number": "+14155550100",
        "window_policy": "always_open",
    },
    Provider.UNIPILE: {
        "access_token": "unipile-key",
        "account_id": "dfXlh46vQYCsMbVarumWlg",
        "api_base_url": "https://api1.unipile.com:13111",
        "window_policy": "always_open",
    },
}


def _conversation(organization, provider):
    channel = make_channel(organization, provider, **CHANNELS[provider])
    contact = ContactFactory(organization=organization, phone="+16505551234")
    return ConversationFactory(
        organization=organization,
        channel=channel,
        contact=contact,
        provider_conversation_ref="R8J-xM9WX7eoHLp6gSVtWQ" if provider == Provider.UNIPILE else "",
    )


def _deliver(conversation) -> Message:
    message = services.message_send_text(conversation=conversation, text="See you at 6")
    services.message_deliver(message_id=message.pk)
    return Message.objects.get(pk=message.pk)


@respx.mock
def test_openphone_sends_from_the_number_to_the_contact(organization):
    route = respx.post("https://api.openphone.com/v1/messages").mock(
        return_value=httpx.Response(202, json={"data": {"id": "AC24a8b8321c", "status": "queued"}})
    )

    message = _deliver(_conversation(organization, Provider.OPENPHONE))

    request = route.calls.last.request
    assert request.headers["Authorization"] == "op-key"
    assert json.loads(request.content) == {
        "content": "See you at 6",
        "from": "PNtoDbDhuz",
        "to": ["+16505551234"],
    }
    assert message.provider_message_id == "AC24a8b8321c"


@respx.mock
def test_twilio_asks_for_status_callbacks_at_the_channels_webhook(organization):
    conversation = _conversation(organization, Provider.TWILIO)
    sid = "AC" + "1" * 32
    route = respx.post(f"https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json").mock(
        return_value=httpx.Response(201, json={"sid": "SM" + "2" * 32, "status": "queued"})
    )

    message = _deliver(conversation)

    sent = parse_qs(route.calls.last.request.content.decode())
    assert sent["To"] == ["+16505551234"]
    assert sent["From"] == ["+14155550100"]
    assert sent["Body"] == ["See you at 6"]
    assert sent["StatusCallback"] == [conversation.channel.webhook_url]
    assert message.provider_message_id == "SM" + "2" * 32


@respx.mock
def test_unipile_sends_into_the_linkedin_chat(organization):
    route = respx.post(
        "https://api1.unipile.com:13111/api/v1/chats/R8J-xM9WX7eoHLp6gSVtWQ/messages"
    ).mock(return_value=httpx.Response(201, json={"object": "MessageSent", "message_id": "m-1"}))

    message = _deliver(_conversation(organization, Provider.UNIPILE))

    assert route.calls.last.request.headers["X-API-KEY"] == "unipile-key"
    assert b"See you at 6" in route.calls.last.request.content
    assert (message.provider_message_id, message.status) == ("m-1", "sent")

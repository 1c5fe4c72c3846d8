"""A provider's "this recipient opted out" refusal sets the consent: when the provider
refuses the send at once, and when a failed status webhook says so later."""

import json

import httpx
import pytest
import respx

from conversations.consent_models import Consent, ConsentChange
from conversations.models import Contact, Conversation, Message
from messaging import services
from providers import Provider
from tests.factories import ContactFactory, ConversationFactory
from tests.messaging.conftest import SEND_URL, graph_error
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint, fixture_text

pytestmark = pytest.mark.django_db

TWILIO_SID = "AC" + "1" * 32
TWILIO_SEND = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def _states(contact, kind: str) -> dict[str, tuple[str, str]]:
    rows = Consent.objects.filter(contact=contact, kind=kind)
    return {row.scope: (row.state, row.source) for row in rows}


def _twilio_conversation(organization) -> Conversation:
    channel = make_channel(
        organization,
        Provider.TWILIO,
        account_id=TWILIO_SID,
        display_phone_number="+14155550100",
        window_policy="always_open",
    )
    contact = ContactFactory(organization=organization, phone="+14155550198")
    return ConversationFactory(organization=organization, channel=channel, contact=contact)


@respx.mock
def test_twilio_refusing_21610_at_once_opts_out_of_sms(organization):
    conversation = _twilio_conversation(organization)
    respx.post(TWILIO_SEND).mock(
        return_value=httpx.Response(
            400,
            json={
                "code": 21610,
                "message": "Attempt to send to unsubscribed recipient",
                "status": 400,
            },
        )
    )
    message = services.message_send_text(conversation=conversation, text="See you at 6")

    assert services.message_deliver(message_id=message.pk).outcome == "failed"

    opted_out = ("opted_out", "provider_error")
    assert _states(conversation.contact, "sms") == {"service": opted_out, "marketing": opted_out}
    change = ConsentChange.objects.filter(scope="service").get()
    assert (change.label, change.message_id) == ("twilio 21610", message.pk)


def test_whatsapp_refusing_131050_at_once_opts_out_of_marketing_only(conversation, graph):
    graph.post(SEND_URL).mock(
        return_value=graph_error(131050, "User has stopped marketing messages")
    )
    message = services.message_send_text(conversation=conversation, text="Hi")

    services.message_deliver(message_id=message.pk)

    assert _states(conversation.contact, "whatsapp") == {
        "marketing": ("opted_out", "provider_error")
    }


def test_another_refusal_changes_no_consent(conversation, graph):
    graph.post(SEND_URL).mock(return_value=graph_error(131026, "Message undeliverable"))
    message = services.message_send_text(conversation=conversation, text="Hi")

    services.message_deliver(message_id=message.pk)

    assert not Consent.objects.exists()


def _outbound(channel, provider_message_id: str, phone: str) -> Message:
    contact = Contact.objects.create(organization=channel.organization, phone=phone)
    conversation = Conversation.objects.create(
        organization=channel.organization, channel=channel, contact=contact
    )
    return Message.objects.create(
        organization=channel.organization,
        channel=channel,
        conversation=conversation,
        direction="outbound",
        provider_message_id=provider_message_id,
        status="sent",
    )


def test_a_twilio_failed_status_with_21610_opts_out_once_however_often_it_comes(
    client, organization
):
    twilio = Endpoint(Provider.TWILIO, make_channel(organization, Provider.TWILIO))
    payload = json.loads(fixture_text(Provider.TWILIO, "status_undelivered_with_error"))
    payload["ErrorCode"] = "21610"
    message = _outbound(twilio.channel, payload["MessageSid"], "+14155550198")

    twilio.deliver_text(client, json.dumps(payload))
    twilio.deliver_text(client, json.dumps(payload))  # redelivered

    contact = message.conversation.contact
    assert set(_states(contact, "sms")) == {"service", "marketing"}
    assert ConsentChange.objects.count() == 2
    assert set(ConsentChange.objects.values_list("message_id", flat=True)) == {message.pk}


def test_a_whatsapp_failed_status_with_131050_opts_out_of_marketing(client, organization):
    whatsapp = Endpoint(
        Provider.WHATSAPP_CLOUD, make_channel(organization, Provider.WHATSAPP_CLOUD)
    )
    payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "status_failed"))
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["errors"][0]["code"] = 131050
    message = _outbound(whatsapp.channel, status["id"], "+16505551234")

    whatsapp.deliver_text(client, json.dumps(payload))

    assert _states(message.conversation.contact, "whatsapp") == {
        "marketing": ("opted_out", "provider_error")
    }

from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from conversations.models import ContactIdentity, IdentityKind
from providers import Provider
from templates.models import MessageTemplate
from tests.factories import ContactFactory, ConversationFactory
from tests.webhooks.conftest import make_channel

GRAPH = "https://graph.facebook.com/v23.0"
SEND_URL = f"{GRAPH}/106540352242922/messages"
WAMID = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQUZERjg0NDEzNDdFODU3MUMxMAA="


@pytest.fixture
def whatsapp(organization):
    return make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")


@pytest.fixture
def conversation(whatsapp):
    """A customer who wrote ten minutes ago: the window is open."""
    contact = ContactFactory(organization=whatsapp.organization, phone="+16505551234")
    ContactIdentity.objects.create(
        contact=contact, channel=whatsapp, kind=IdentityKind.WA_ID, value="16505551234"
    )
    wrote = timezone.now() - timedelta(minutes=10)
    return ConversationFactory(
        organization=whatsapp.organization,
        channel=whatsapp,
        contact=contact,
        last_user_message_at=wrote,
        window_expires_at=wrote + timedelta(hours=24),
        is_window_open=True,
    )


@pytest.fixture
def closed_conversation(conversation):
    wrote = timezone.now() - timedelta(hours=30)
    conversation.last_user_message_at = wrote
    conversation.window_expires_at = wrote + timedelta(hours=24)
    conversation.save()
    return conversation


@pytest.fixture
def template(whatsapp):
    return MessageTemplate.objects.create(
        organization=whatsapp.organization,
        channel=whatsapp,
        provider_template_id="1387372356726668",
        name="order_update",
        language="en_US",
        category="UTILITY",
        parameter_format="NAMED",
        status="APPROVED",
        components=[
            {"type": "BODY", "text": "Your order {{order}} ships on {{day}}."},
            {"type": "FOOTER", "text": "Thanks!"},
        ],
    )


@pytest.fixture
def graph():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def accepted(wamid: str = WAMID) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": wamid}],
        },
    )


def graph_error(code: int, message: str, status: int = 400) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code}},
    )

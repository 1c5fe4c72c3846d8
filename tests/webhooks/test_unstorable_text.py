"""A signed payload whose text PostgreSQL cannot hold is still filed.

JSON may escape NUL (\\u0000) and lone surrogates (\\ud800); PostgreSQL's text and jsonb
refuse the first and UTF-8 cannot encode the second, so such a webhook was acknowledged
and then failed processing until dead. The message is filed with NUL dropped and a lone
surrogate replaced by U+FFFD.
"""

import pytest

from conversations.models import Message
from providers import Provider
from tests.webhooks.delivery import INBOUND_TEXT, fixture_text
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

# The text of each provider's inbound fixture, and where JSON lets us break it.
TEXTS = {
    Provider.WHATSAPP_CLOUD: "Does it come in another color?",
    Provider.OPENPHONE: "Hello",
    Provider.TWILIO: "Hi, can I move my appointment to Friday?",
    Provider.UNIPILE: "Hello World !",
}
BROKEN = {
    "nul": ("\\u0000", ""),
    "lone-surrogate": ("\\ud800", "\ufffd"),
    "mixed": ("\\udfff\\u0000\\ud83d\\ude00", "\ufffd\U0001f600"),
}
# Twilio's form encoding cannot carry a lone surrogate (it is not UTF-8): NUL only.
CASES = [
    pytest.param(provider, *BROKEN[name], id=f"{provider.value}-{name}")
    for provider in Provider
    for name in BROKEN
    if provider != Provider.TWILIO or name == "nul"
]


@pytest.mark.parametrize(("provider", "escape", "stored"), CASES)
def test_the_message_is_filed_without_what_postgresql_cannot_hold(
    client, endpoints, provider, escape, stored
):
    endpoint = endpoints[provider]
    original = TEXTS[endpoint.provider]
    text = fixture_text(endpoint.provider, INBOUND_TEXT[endpoint.provider])
    assert f'"{original}"' in text
    payload = text.replace(f'"{original}"', f'"{original[:2]}{escape}{original[2:]}"')

    response = endpoint.deliver_text(client, payload)

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.last_error) == (EventStatus.PROCESSED, "")
    assert Message.objects.get().text == f"{original[:2]}{stored}{original[2:]}"
    assert bytes(event.body) == payload.encode() or endpoint.provider == Provider.TWILIO

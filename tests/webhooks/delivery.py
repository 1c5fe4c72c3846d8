"""Deliver provider fixtures to our webhook endpoints, signed as the provider would."""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from django.test import TestCase

from providers import Provider
from tenants.models import Channel
from tests.signers import openphone, twilio, unipile, whatsapp_cloud

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

SECRETS = {
    Provider.WHATSAPP_CLOUD: "wa-app-secret",
    Provider.OPENPHONE: "b3BlbnBob25lLXNpZ25pbmcta2V5",  # base64, as OpenPhone gives it
    Provider.TWILIO: "twilio-auth-token",
    Provider.UNIPILE: "unipile-shared-secret",
}

# One simple inbound text message per provider: what the shared security tests send.
INBOUND_TEXT = {
    Provider.WHATSAPP_CLOUD: "text",
    Provider.OPENPHONE: "message_received",
    Provider.TWILIO: "inbound_sms",
    Provider.UNIPILE: "message_received",
}


def fixture_text(provider: Provider, name: str) -> str:
    return (FIXTURES / provider.value / f"{name}.json").read_text()


@dataclass
class Endpoint:
    """A provider's webhook endpoint for one channel."""

    provider: Provider
    channel: Channel

    @property
    def path(self) -> str:
        return self.channel.webhook_path

    @property
    def url(self) -> str:
        return f"http://testserver{self.path}"

    def request(self, name: str, *, secret: str | None = None, at: datetime | None = None):
        """(body, content_type, headers) of fixture `name`, signed with `secret`."""
        return self.request_text(fixture_text(self.provider, name), secret=secret, at=at)

    def request_text(self, text: str, *, secret: str | None = None, at: datetime | None = None):
        """(body, content_type, headers) of a payload (Twilio: JSON of its form fields)."""
        secret = SECRETS[self.provider] if secret is None else secret
        if self.provider == Provider.TWILIO:
            params = json.loads(text)
            body = urlencode(params).encode()
            return body, "application/x-www-form-urlencoded", twilio.sign(self.url, params, secret)
        body = text.encode()
        signer = {
            Provider.WHATSAPP_CLOUD: lambda: whatsapp_cloud.sign(body, secret),
            Provider.OPENPHONE: lambda: openphone.sign(body, secret, at=at),
            Provider.UNIPILE: lambda: unipile.sign(body, secret),
        }[self.provider]
        return body, "application/json", signer()

    def post(self, client, body: bytes, content_type: str, headers: dict[str, str]):
        return client.post(self.path, data=body, content_type=content_type, headers=headers)

    def deliver(self, client, name: str, **signing):
        """Post a signed fixture and run what commits queue (eager Celery: processing)."""
        return self.deliver_text(client, fixture_text(self.provider, name), **signing)

    def deliver_text(self, client, text: str, **signing):
        with TestCase.captureOnCommitCallbacks(execute=True):
            return self.post(client, *self.request_text(text, **signing))

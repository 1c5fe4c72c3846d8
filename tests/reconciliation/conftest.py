"""The webhook health checks' world: a WhatsApp channel with its check enabled (a
template to send), and Meta's Graph API faked with respx."""

import pytest
import respx

from providers import Provider
from reconciliation.models import HealthCheckSetting
from tests.factories import MessageTemplateFactory
from tests.webhooks.conftest import make_channel

RECIPIENT = "+16505551234"  # the recipient_id of the status fixtures


@pytest.fixture
def whatsapp(organization):
    return make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")


@pytest.fixture
def setting(whatsapp):
    MessageTemplateFactory(
        channel=whatsapp,
        name="webhook_health",
        components=[{"type": "BODY", "text": "Switchboard checks that messages arrive."}],
    )
    return HealthCheckSetting.objects.create(
        channel=whatsapp,
        enabled=True,
        test_recipient=RECIPIENT,
        template_name="webhook_health",
        template_language="en_US",
    )


@pytest.fixture
def graph():
    with respx.mock(assert_all_called=False) as mock:
        yield mock

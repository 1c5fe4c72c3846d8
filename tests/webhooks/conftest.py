import pytest

from providers import Provider
from tenants import services
from tests.factories import OrganizationFactory
from tests.meta_numbers import meta_reads_numbers
from tests.webhooks.delivery import SECRETS, Endpoint

WHATSAPP_PHONE_NUMBER_ID = "106540352242922"  # as in tests/fixtures/whatsapp_cloud
WHATSAPP_WABA_ID = "102290129340398"


def make_channel(organization, provider: Provider, **fields):
    """A channel made as an admin makes one: through the service, its WhatsApp number
    read at (a fake of) Meta with its token."""
    defaults = {
        Provider.WHATSAPP_CLOUD: {
            "phone_number_id": WHATSAPP_PHONE_NUMBER_ID,
            "waba_id": WHATSAPP_WABA_ID,
            "access_token": "wa-access-token",
            "app_secret": SECRETS[Provider.WHATSAPP_CLOUD],
        },
        Provider.OPENPHONE: {"signing_key": SECRETS[Provider.OPENPHONE]},
        Provider.TWILIO: {"auth_token": SECRETS[Provider.TWILIO]},
        Provider.UNIPILE: {"shared_secret": SECRETS[Provider.UNIPILE]},
    }[provider]
    with meta_reads_numbers():
        return services.channel_create(
            organization=organization,
            provider=provider,
            name=f"{provider.label} channel",
            **{**defaults, **fields},
        )


@pytest.fixture
def webhook_org():
    return OrganizationFactory(alert_emails="oncall@example.com, lead@example.com")


@pytest.fixture
def endpoints(webhook_org) -> dict[Provider, Endpoint]:
    return {p: Endpoint(p, make_channel(webhook_org, p)) for p in Provider}


@pytest.fixture(params=list(Provider), ids=lambda p: p.value)
def endpoint(request, endpoints) -> Endpoint:
    return endpoints[request.param]


@pytest.fixture
def whatsapp(endpoints) -> Endpoint:
    return endpoints[Provider.WHATSAPP_CLOUD]

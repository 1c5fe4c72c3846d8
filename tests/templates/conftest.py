import pytest
import respx
from django.core.cache import cache

from providers import Provider
from templates.changes import RATE_LIMIT_KEY
from tests.webhooks.conftest import WHATSAPP_WABA_ID, make_channel
from tests.webhooks.delivery import Endpoint


@pytest.fixture(autouse=True)
def _no_rate_limit_pause():
    """Meta's rate limit pauses a WABA for a while (in the cache): not across tests."""
    key = RATE_LIMIT_KEY.format(waba_id=WHATSAPP_WABA_ID)
    cache.delete(key)
    yield
    cache.delete(key)


@pytest.fixture
def graph():
    """Meta's Graph API, faked at the HTTP layer; any request not routed fails."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def wa_channel(organization):
    """A WhatsApp channel that webhooks reach (the fixtures' WABA, signed as Meta does)."""
    return make_channel(organization, Provider.WHATSAPP_CLOUD)


@pytest.fixture
def meta_webhooks(wa_channel) -> Endpoint:
    return Endpoint(Provider.WHATSAPP_CLOUD, wa_channel)

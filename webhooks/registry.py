"""Which provider module verifies and parses which provider's webhooks."""

from types import ModuleType

from providers import Provider, openphone, twilio, unipile, whatsapp_cloud

PROVIDER_MODULES: dict[Provider, ModuleType] = {
    Provider.WHATSAPP_CLOUD: whatsapp_cloud,
    Provider.OPENPHONE: openphone,
    Provider.TWILIO: twilio,
    Provider.UNIPILE: unipile,
}


def provider_module(provider: str) -> ModuleType:
    return PROVIDER_MODULES[Provider(provider)]

"""Provider integrations: pure Python, no Django models.

Each provider gets one module (or package) with the same small surface: `verify`,
`parse` into normalized events, and a `Client` for the provider's HTTP API.
"""

from enum import StrEnum


class Provider(StrEnum):
    WHATSAPP_CLOUD = "whatsapp_cloud"
    OPENPHONE = "openphone"
    TWILIO = "twilio"
    UNIPILE = "unipile"

    @property
    def label(self) -> str:
        return PROVIDER_LABELS[self]

    @property
    def short_label(self) -> str:
        return PROVIDER_SHORT_LABELS[self]


PROVIDER_LABELS = {
    Provider.WHATSAPP_CLOUD: "WhatsApp (Meta Cloud API)",
    Provider.OPENPHONE: "OpenPhone / Quo SMS",
    Provider.TWILIO: "Twilio SMS",
    Provider.UNIPILE: "Unipile (LinkedIn)",
}

# What staff call each provider where space is short: after a channel's name ("Front
# desk · WhatsApp"), in list columns and filters.
PROVIDER_SHORT_LABELS = {
    Provider.WHATSAPP_CLOUD: "WhatsApp",
    Provider.OPENPHONE: "OpenPhone",
    Provider.TWILIO: "Twilio",
    Provider.UNIPILE: "LinkedIn",
}


class ChannelKind(StrEnum):
    """What a customer consents to per channel: the medium, whichever provider carries
    it (an SMS STOP sent to an OpenPhone number stops the Twilio number's texts too)."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    LINKEDIN = "linkedin"


# The one place a provider is mapped to the kind of channel it carries.
CHANNEL_KIND = {
    Provider.WHATSAPP_CLOUD: ChannelKind.WHATSAPP,
    Provider.OPENPHONE: ChannelKind.SMS,
    Provider.TWILIO: ChannelKind.SMS,
    Provider.UNIPILE: ChannelKind.LINKEDIN,
}


def channel_kind(provider: str) -> ChannelKind:
    return CHANNEL_KIND[Provider(provider)]

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

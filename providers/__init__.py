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


PROVIDER_LABELS = {
    Provider.WHATSAPP_CLOUD: "WhatsApp (Meta Cloud API)",
    Provider.OPENPHONE: "OpenPhone / Quo SMS",
    Provider.TWILIO: "Twilio SMS",
    Provider.UNIPILE: "Unipile (LinkedIn)",
}

"""A channel's provider client, built from its stored credentials.

The clients themselves (`providers/*_client.py`) know nothing of Django; this is where
a channel's fields and the settings (API base URLs, which a local fake provider can
replace) become one. Callers close the client (`with send_client_for(channel) as c`).
"""

from django.conf import settings

from providers import Provider
from providers.openphone_client import OpenPhoneClient
from providers.twilio_client import TwilioClient
from providers.unipile_client import UnipileClient
from providers.whatsapp_client import WhatsAppClient
from tenants.models import Channel

SendClient = WhatsAppClient | OpenPhoneClient | TwilioClient | UnipileClient


def whatsapp_client_for(channel: Channel) -> WhatsAppClient:
    return WhatsAppClient(
        access_token=channel.access_token,
        phone_number_id=channel.phone_number_id,
        waba_id=channel.waba_id,
        version=settings.WHATSAPP_GRAPH_VERSION,
        base_url=settings.WHATSAPP_GRAPH_URL,
    )


def send_client_for(channel: Channel) -> SendClient:
    return _BUILDERS[Provider(channel.provider)](channel)


def _openphone(channel: Channel) -> OpenPhoneClient:
    return OpenPhoneClient(
        channel.access_token,
        channel.phone_number_id or channel.display_phone_number,
        base_url=settings.OPENPHONE_API_URL,
    )


def _twilio(channel: Channel) -> TwilioClient:
    # Status callbacks come back to this channel's webhook URL.
    return TwilioClient(
        channel.account_id,
        channel.auth_token,
        channel.display_phone_number,
        status_callback=channel.webhook_url,
        base_url=settings.TWILIO_API_URL,
    )


def _unipile(channel: Channel) -> UnipileClient:
    return UnipileClient(channel.access_token, channel.account_id, base_url=channel.api_base_url)


_BUILDERS = {
    Provider.WHATSAPP_CLOUD: whatsapp_client_for,
    Provider.OPENPHONE: _openphone,
    Provider.TWILIO: _twilio,
    Provider.UNIPILE: _unipile,
}

"""A channel's provider client, built from its stored credentials.

The clients themselves (`providers/*_client.py`) know nothing of Django; this is where
a channel's fields and the settings (API base URLs, which a local fake provider can
replace) become one. Callers close the client (`with send_client_for(channel) as c`),
except the send task's, which `pooled_send_client` keeps open between sends.
"""

import os
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings

from providers import Provider
from providers.openphone_client import OpenPhoneClient
from providers.twilio_client import TwilioClient
from providers.unipile_client import UnipileClient
from providers.whatsapp_client import WhatsAppClient
from tenants.models import Channel

SendClient = WhatsAppClient | OpenPhoneClient | TwilioClient | UnipileClient
# Channels whose client a worker process keeps open; the least recently used beyond
# this are dropped.
POOLED_CHANNELS = 64


def whatsapp_client_for(channel: Channel) -> WhatsAppClient:
    return WhatsAppClient(**_whatsapp(channel))


def send_client_for(channel: Channel) -> SendClient:
    provider = Provider(channel.provider)
    return _CLIENTS[provider](**_ARGUMENTS[provider](channel))


def pooled_send_client(channel: Channel) -> SendClient:
    """The channel's send client of this process, kept open between sends so that
    they share its connections: one TCP and TLS handshake per connection instead of
    one per send (bench/outbound.py). Not to be closed by the caller. A channel whose
    credentials or URL changed gets a new client; the old one is dropped."""
    return _pool.client(channel)


class _ClientPool:
    """One client per channel and process. Dropped clients are not closed: another
    thread may be sending through one; their sockets close when they are collected. A
    forked child starts empty, never using its parent's sockets."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._clients: OrderedDict[int, tuple[tuple, SendClient]] = OrderedDict()

    def client(self, channel: Channel) -> SendClient:
        provider = Provider(channel.provider)
        arguments = _ARGUMENTS[provider](channel)
        fingerprint = (provider, tuple(sorted(arguments.items())))
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._clients = os.getpid(), OrderedDict()
            held = self._clients.get(channel.pk)
            if held is not None and held[0] == fingerprint:
                self._clients.move_to_end(channel.pk)
                return held[1]
            client = _CLIENTS[provider](**arguments)
            self._clients[channel.pk] = (fingerprint, client)
            self._clients.move_to_end(channel.pk)
            while len(self._clients) > self._size:
                self._clients.popitem(last=False)
            return client

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()


_pool = _ClientPool(POOLED_CHANNELS)


def _whatsapp(channel: Channel) -> dict[str, Any]:
    return {
        "access_token": channel.access_token,
        "phone_number_id": channel.phone_number_id,
        "waba_id": channel.waba_id,
        "version": settings.WHATSAPP_GRAPH_VERSION,
        "base_url": settings.WHATSAPP_GRAPH_URL,
    }


def _openphone(channel: Channel) -> dict[str, Any]:
    return {
        "api_key": channel.access_token,
        "from_number": channel.phone_number_id or channel.display_phone_number,
        "base_url": settings.OPENPHONE_API_URL,
    }


def _twilio(channel: Channel) -> dict[str, Any]:
    # Status callbacks come back to this channel's webhook URL.
    return {
        "account_sid": channel.account_id,
        "auth_token": channel.auth_token,
        "from_number": channel.display_phone_number,
        "status_callback": channel.webhook_url,
        "base_url": settings.TWILIO_API_URL,
    }


def _unipile(channel: Channel) -> dict[str, Any]:
    return {
        "api_key": channel.access_token,
        "account_id": channel.account_id,
        "base_url": channel.api_base_url,
    }


_CLIENTS = {
    Provider.WHATSAPP_CLOUD: WhatsAppClient,
    Provider.OPENPHONE: OpenPhoneClient,
    Provider.TWILIO: TwilioClient,
    Provider.UNIPILE: UnipileClient,
}
_ARGUMENTS = {
    Provider.WHATSAPP_CLOUD: _whatsapp,
    Provider.OPENPHONE: _openphone,
    Provider.TWILIO: _twilio,
    Provider.UNIPILE: _unipile,
}

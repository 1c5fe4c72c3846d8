"""Meta's Graph API answering for a WhatsApp phone number (GET /{version}/{id}), as
respx routes: what a channel's credentials are checked against before it is saved.
Bodies as Meta's Graph API reference shows them."""

import re
from contextlib import contextmanager

import httpx
import respx
from django.conf import settings


def number_url(phone_number_id: str) -> str:
    return f"{settings.WHATSAPP_GRAPH_URL}/{settings.WHATSAPP_GRAPH_VERSION}/{phone_number_id}"


def readable_number(phone_number_id: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "verified_name": "Jasper's Market",
            "display_phone_number": "+1 631-555-5555",
            "id": phone_number_id,
        },
    )


def unreadable_number(phone_number_id: str) -> httpx.Response:
    """What Meta answers a token that has no access to the number (or a number that
    does not exist: Meta does not say which)."""
    return httpx.Response(
        400,
        json={
            "error": {
                "message": f"Unsupported get request. Object with ID '{phone_number_id}' does "
                "not exist, cannot be loaded due to missing permissions, or does not support "
                "this operation.",
                "type": "GraphMethodException",
                "code": 100,
                "error_subcode": 33,
                "fbtrace_id": "AbCdEfGhIjK",
            }
        },
    )


def invalid_token() -> httpx.Response:
    return httpx.Response(
        401,
        json={
            "error": {
                "message": "Invalid OAuth access token - Cannot parse access token",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "AbCdEfGhIjK",
            }
        },
    )


def waba_url(waba_id: str) -> str:
    return f"{number_url(waba_id)}/phone_numbers"


def waba_numbers(*phone_number_ids: str) -> httpx.Response:
    """GET /{waba_id}/phone_numbers: the WABA's numbers, as Meta lists them."""
    return httpx.Response(
        200,
        json={
            "data": [{"id": number_id} for number_id in phone_number_ids],
            "paging": {"cursors": {"before": "QVFI", "after": "QVFI"}},
        },
    )


@contextmanager
def meta_reads_numbers():
    """Meta answers every number read as readable, and lists every number read so far
    under any WABA (for tests about something else that create WhatsApp channels
    through the service). Other requests fall through to any router already active."""
    read: list[str] = []

    def number(request):
        number_id = request.url.path.rsplit("/", 1)[-1]
        read.append(number_id)
        return readable_number(number_id)

    with respx.mock(assert_all_called=False) as graph:
        graph.get(url__regex=rf"^{re.escape(number_url(''))}\d+/phone_numbers").mock(
            side_effect=lambda request: waba_numbers(*read)
        )
        graph.get(url__regex=rf"^{re.escape(number_url(''))}\d+(\?|$)").mock(side_effect=number)
        yield graph

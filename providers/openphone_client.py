"""OpenPhone (Quo) API client: sending an SMS (contract B5), listing conversations and
messages for reconciliation (B4).

The key goes in `Authorization` as it is, with no "Bearer". The API allows 10 requests
per second per key and answers 429 beyond that, which is transient.
"""

from datetime import datetime
from typing import Any

import httpx

from providers.events import MessageStatus
from providers.http import JsonApi, Reply, Sent, recipient_e164, text_value
from providers.listing import Page, page_from, utc_iso

OPENPHONE_URL = "https://api.openphone.com"

# A 202 says "accepted"; only a message already `sent` is more than queued.
_STATUSES = {"sent": MessageStatus.SENT}


class OpenPhoneClient(JsonApi):
    name = "OpenPhone"

    def __init__(
        self,
        api_key: str,
        from_number: str,
        *,
        base_url: str = OPENPHONE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        """`from_number` is the sending number's id (PN…) or the number in E.164."""
        super().__init__(
            base_url=base_url,
            headers={"Authorization": api_key},
            transport=transport,
            timeout=timeout,
        )
        self.from_number = from_number

    def send_text(self, *, to: str, text: str, reply_to: str = "") -> Sent:
        """`reply_to` is accepted for a uniform surface; SMS has no quoted replies."""
        body = {"content": text, "from": self.from_number, "to": [recipient_e164(to)]}
        reply = self.request("POST", "/v1/messages", json=body)
        message = reply.body.get("data")
        message_id = message.get("id") if isinstance(message, dict) else None
        if not message_id:
            raise self.unexpected(reply, "data.id")
        status = _STATUSES.get(text_value(message.get("status")), MessageStatus.QUEUED)
        return Sent(message_id=message_id, status=status, raw=reply.body)

    def messages_page(
        self,
        *,
        phone_number_id: str,
        participant: str,
        created_after: datetime,
        created_before: datetime,
        cursor: str = "",
        max_results: int = 100,
    ) -> Page:
        """One page of the messages between a number (PN…) and one participant (E.164),
        created in the window. There is no "all messages" listing: a run learns the
        participants from `conversations_page`. `cursor` is a previous page's `next`."""
        params = {
            "phoneNumberId": phone_number_id,
            "participants": participant,
            "createdAfter": utc_iso(created_after),
            "createdBefore": utc_iso(created_before),
            "maxResults": max_results,
        }
        return self._page(self.request("GET", "/v1/messages", params=_with_token(params, cursor)))

    def conversations_page(
        self,
        *,
        phone_number_id: str,
        updated_after: datetime,
        cursor: str = "",
        max_results: int = 100,
    ) -> Page:
        """One page of a number's conversations updated since `updated_after`; each
        item's `participants` lists the other parties in E.164."""
        params = {
            "phoneNumbers": phone_number_id,
            "updatedAfterDate": utc_iso(updated_after),
            "maxResults": max_results,
        }
        reply = self.request("GET", "/v1/conversations", params=_with_token(params, cursor))
        return self._page(reply)

    def _page(self, reply: Reply) -> Page:
        # {"data": [...], "totalItems": 123, "nextPageToken": "..." | null}
        page = page_from(reply.body, items="data", cursor="nextPageToken")
        if page is None:
            raise self.unexpected(reply, "a data list")
        return page

    def error_code_and_title(self, body: dict[str, Any]) -> tuple[str, str]:
        # {"message", "code", "status", "title", "docs", "errors": [...]}; every key optional.
        title = text_value(body.get("message") or body.get("title"))
        return text_value(body.get("code")), title


def _with_token(params: dict[str, Any], cursor: str) -> dict[str, Any]:
    return {**params, "pageToken": cursor} if cursor else params

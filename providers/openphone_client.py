"""OpenPhone (Quo) API client: sending an SMS (contract B5).

The key goes in `Authorization` as it is, with no "Bearer". The API allows 10 requests
per second per key and answers 429 beyond that, which is transient.
"""

from typing import Any

import httpx

from providers.events import MessageStatus
from providers.http import JsonApi, Sent, recipient_e164, text_value

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

    def error_code_and_title(self, body: dict[str, Any]) -> tuple[str, str]:
        # {"message", "code", "status", "title", "docs", "errors": [...]}; every key optional.
        title = text_value(body.get("message") or body.get("title"))
        return text_value(body.get("code")), title

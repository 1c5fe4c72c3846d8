"""Unipile API client: sending a message into an existing chat (LinkedIn and others),
and listing an account's messages for reconciliation.

Unipile serves each customer from their own DSN ("api1.unipile.com:13111"), so there is
no default base URL. The send is a multipart form; Unipile answers 201 with
`{"object": "MessageSent", "message_id": ...}` once the message has left.
"""

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from providers.events import MessageStatus
from providers.http import JsonApi, ProviderError, Sent, text_value
from providers.listing import Page, page_from, utc_iso


class UnipileClient(JsonApi):
    name = "Unipile"

    def __init__(
        self,
        api_key: str,
        account_id: str,
        *,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        super().__init__(
            base_url=dsn_url(base_url),
            headers={"X-API-KEY": api_key},
            transport=transport,
            timeout=timeout,
        )
        self.account_id = account_id

    def send_text(self, *, to: str, text: str, reply_to: str = "") -> Sent:
        """`to` is the Unipile chat id; `reply_to` a message id to quote."""
        fields = {"text": text}
        if self.account_id:
            # Unipile then refuses a chat that belongs to another connected account.
            fields["account_id"] = self.account_id
        if reply_to:
            fields["quote_id"] = reply_to
        # (None, value): a plain multipart field, not a file upload.
        files = {name: (None, value) for name, value in fields.items()}
        reply = self.request("POST", f"/api/v1/chats/{_chat_id(to)}/messages", files=files)
        message_id = reply.body.get("message_id")
        if not message_id:
            raise self.unexpected(reply, "a message_id")
        # Unipile sends no "sent" webhook later: its 201 is the message having left.
        return Sent(message_id=message_id, status=MessageStatus.SENT, raw=reply.body)

    def messages_page(self, *, since: datetime, cursor: str = "", limit: int = 100) -> Page:
        """One page of the connected account's messages, in every chat, created after
        `since` (`GET /api/v1/messages`; `limit` is 1-250). `cursor` is a previous
        page's `next`."""
        if not self.account_id:
            # Without it Unipile lists every account of the API key: other tenants' too.
            raise ValueError("Listing Unipile messages needs the account id.")
        params: dict[str, Any] = {
            "account_id": self.account_id,
            "after": utc_iso(since),
            "limit": limit,
        }
        if cursor:
            params["cursor"] = cursor
        reply = self.request("GET", "/api/v1/messages", params=params)
        # {"object": "MessageList", "items": [...], "cursor": "..." | null}
        page = page_from(reply.body, items="items", cursor="cursor")
        if page is None:
            raise self.unexpected(reply, "an items list")
        return page

    def error_code_and_title(self, body: dict[str, Any]) -> tuple[str, str]:
        # Problem details: {"type": "errors/disconnected_account", "title", "detail", ...}
        title = text_value(body.get("detail") or body.get("title"))
        return text_value(body.get("type")), title


def dsn_url(dsn: str) -> str:
    """The API root for a DSN as Unipile shows it (host:port, no scheme) or as a URL,
    with or without the "/api/v1" suffix some copy along with it."""
    url = dsn.strip().rstrip("/")
    if not url:
        raise ValueError("A Unipile DSN is required (e.g. https://api1.unipile.com:13111).")
    if "://" not in url:
        url = f"https://{url}"
    return url.removesuffix("/api/v1")


def _chat_id(to: str) -> str:
    """The chat id as one path segment: quoted, so no id can reach another endpoint."""
    chat_id = to.strip()
    # "." and ".." survive quoting and would be resolved away as path segments.
    if chat_id in ("", ".", ".."):
        raise ProviderError(code="invalid_recipient", title=f"Not a Unipile chat id: {to!r}")
    return quote(chat_id, safe="")

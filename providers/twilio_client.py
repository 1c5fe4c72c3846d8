"""Twilio Programmable Messaging client: sending an SMS (or WhatsApp via Twilio), and
listing an account's messages for reconciliation (contract C4).

Form-encoded POSTs with HTTP Basic auth (AccountSid:AuthToken). Twilio sends no status
callback for the status the create call returns, so `Sent.status` is the first status.
"""

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from providers.events import MessageStatus
from providers.http import JsonApi, ProviderError, Sent, recipient_e164, text_value
from providers.listing import Page, as_utc, page_from

TWILIO_URL = "https://api.twilio.com"

# queued (no Messaging Service), accepted/scheduled (with one): not yet sent.
_STATUSES = {"sent": MessageStatus.SENT}
# Twilio addresses may name their channel: "whatsapp:+1555…".
_CHANNEL_SEPARATOR = ":"
# A Messaging Service sid; an alphanumeric sender id may also start with "MG".
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")


class TwilioClient(JsonApi):
    name = "Twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        status_callback: str = "",
        *,
        base_url: str = TWILIO_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        """`from_number` is E.164, a channel address ("whatsapp:+1…"), or a Messaging
        Service (MG…), which Twilio takes as `MessagingServiceSid` instead of `From`."""
        super().__init__(
            base_url=base_url,
            auth=(account_sid, auth_token),
            transport=transport,
            timeout=timeout,
        )
        self.account_sid = account_sid
        self.from_number = from_number
        self.status_callback = status_callback

    def send_text(self, *, to: str, text: str, reply_to: str = "") -> Sent:
        """`reply_to` is accepted for a uniform surface; SMS has no quoted replies."""
        form = {"To": _address(to), **self._sender(), "Body": text}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        reply = self.request("POST", self._messages_path, data=form)
        sid = reply.body.get("sid")
        if not sid:
            raise self.unexpected(reply, "a message sid")
        status = _STATUSES.get(text_value(reply.body.get("status")), MessageStatus.QUEUED)
        return Sent(message_id=sid, status=status, raw=reply.body)

    def messages_page(
        self,
        *,
        sent_after: datetime,
        sent_before: datetime,
        cursor: str = "",
        page_size: int = 1000,
    ) -> Page:
        """One page of the account's messages sent between the two days (UTC, both
        included: Twilio filters whole days). `cursor` is a previous page's `next`, the
        `next_page_uri` Twilio built; its page number and token are never made up here."""
        if cursor:
            reply = self.request("GET", self._next_page_path(cursor))
        else:
            params = {
                "DateSent>": as_utc(sent_after).date().isoformat(),
                "DateSent<": as_utc(sent_before).date().isoformat(),
                "PageSize": page_size,
            }
            reply = self.request("GET", self._messages_path, params=params)
        page = page_from(reply.body, items="messages", cursor="next_page_uri")
        if page is None:
            raise self.unexpected(reply, "a messages list")
        return page

    @property
    def _messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def _next_page_path(self, cursor: str) -> str:
        """The cursor as a path on the API, and only this account's Messages: a stored
        cursor naming another host would be sent our credentials."""
        parts = urlsplit(cursor)
        if parts.scheme or parts.netloc or parts.path != self._messages_path:
            title = f"Not a page of this account's Twilio Messages: {cursor!r}"
            raise ProviderError(code="invalid_cursor", title=title)
        return cursor

    def _sender(self) -> dict[str, str]:
        if _MESSAGING_SERVICE_SID.fullmatch(self.from_number):
            return {"MessagingServiceSid": self.from_number}
        return {"From": self.from_number}

    def error_code_and_title(self, body: dict[str, Any]) -> tuple[str, str]:
        # {"code": 21211, "message": "...", "more_info": "https://...", "status": 400}
        return text_value(body.get("code")), text_value(body.get("message"))


def _address(to: str) -> str:
    """E.164, keeping a channel prefix Twilio needs to route the message."""
    channel, separator, number = to.strip().rpartition(_CHANNEL_SEPARATOR)
    return f"{channel}{separator}{recipient_e164(number)}"

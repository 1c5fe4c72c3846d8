"""Unipile API client: sending a message into an existing chat (LinkedIn and others) or
into a new 1:1 chat, listing an account's messages for reconciliation, and LinkedIn
invitations: a profile resolved to its provider id, the invitation, the account's
relations (contracts: docs/unipile-linkedin.md).

Unipile serves each customer from their own DSN ("api1.unipile.com:13111"), so there is
no default base URL. The send is a multipart form; Unipile answers 201 with
`{"object": "MessageSent", "message_id": ...}` once the message has left.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from providers.events import MessageStatus
from providers.http import JsonApi, ProviderError, Sent, text_value
from providers.listing import Page, page_from, utc_iso
from providers.unipile_relations import public_identifier_of

# LinkedIn refuses longer invitation notes (errors/too_many_characters).
INVITATION_NOTE_MAX = 300


@dataclass(frozen=True)
class Profile:
    """A LinkedIn profile as Unipile resolves it: `provider_id` is what invitations and
    chats name the person by."""

    provider_id: str
    public_identifier: str = ""
    name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Invited:
    """An invitation LinkedIn took. Unipile's id for it, when its answer gives one."""

    invitation_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ChatStarted:
    """A new 1:1 chat, opened by its first message: the chat's id (where later messages
    go, and what its webhooks name) and the message's."""

    chat_id: str
    sent: Sent


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

    def start_chat(self, *, attendee_provider_id: str, text: str) -> ChatStarted:
        """Open a 1:1 chat with a person by sending it its first message
        (`POST /api/v1/chats`, multipart: account_id, attendees_ids, text); for someone
        the account has no chat with yet. Unipile answers
        `{"object": "ChatStarted", "chat_id": ..., "message_id": ...}`."""
        if not attendee_provider_id.strip():
            raise ProviderError(code="invalid_recipient", title="No LinkedIn provider id.")
        fields = {
            "account_id": self._account(),
            "attendees_ids": attendee_provider_id.strip(),
            "text": text,
        }
        files = {name: (None, value) for name, value in fields.items()}
        reply = self.request("POST", "/api/v1/chats", files=files)
        chat_id = text_value(reply.body.get("chat_id"))
        message_id = text_value(reply.body.get("message_id"))
        if not (chat_id and message_id):
            raise self.unexpected(reply, "a chat_id and a message_id")
        sent = Sent(message_id=message_id, status=MessageStatus.SENT, raw=reply.body)
        return ChatStarted(chat_id=chat_id, sent=sent)

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

    def resolve_profile(self, identifier: str) -> Profile:
        """The profile behind a LinkedIn profile URL, a public identifier or a provider id
        (`GET /api/v1/users/{identifier}`)."""
        slug = public_identifier_of(identifier)
        if slug in ("", ".", ".."):
            raise ProviderError(
                code="invalid_recipient", title=f"Not a LinkedIn profile: {identifier!r}"
            )
        path = f"/api/v1/users/{quote(slug, safe='')}"
        reply = self.request("GET", path, params={"account_id": self._account()})
        provider_id = text_value(reply.body.get("provider_id"))
        if not provider_id:
            raise self.unexpected(reply, "a provider_id")
        first, last = (
            text_value(reply.body.get(key)).strip() for key in ("first_name", "last_name")
        )
        return Profile(
            provider_id=provider_id,
            public_identifier=text_value(reply.body.get("public_identifier")) or slug,
            name=" ".join(part for part in (first, last) if part),
            raw=reply.body,
        )

    def invite(self, *, provider_id: str, note: str = "") -> Invited:
        """Invite a person to connect (`POST /api/v1/users/invite`), with an optional
        note of at most INVITATION_NOTE_MAX characters."""
        body = {"account_id": self._account(), "provider_id": provider_id}
        if note:
            body["message"] = note
        reply = self.request("POST", "/api/v1/users/invite", json=body)
        # Any 2xx is an invitation sent; the id is kept when the answer has one.
        return Invited(invitation_id=text_value(reply.body.get("invitation_id")), raw=reply.body)

    def relations_page(self, *, cursor: str = "", limit: int = 100) -> Page:
        """One page of the account's relations, most recently added first
        (`GET /api/v1/users/relations`)."""
        params: dict[str, Any] = {"account_id": self._account(), "limit": limit}
        if cursor:
            params["cursor"] = cursor
        reply = self.request("GET", "/api/v1/users/relations", params=params)
        page = page_from(reply.body, items="items", cursor="cursor")
        if page is None:
            raise self.unexpected(reply, "an items list")
        return page

    def _account(self) -> str:
        if not self.account_id:
            # Unipile would pick no account, or every account of the API key.
            raise ProviderError(
                code="no_account_id", title="The channel has no Unipile account id."
            )
        return self.account_id

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

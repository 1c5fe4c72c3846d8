"""Meta WhatsApp Cloud API client: sending messages and managing templates (A4, A5).

A 200 on a send means Meta accepted the message, not that it was delivered: the wamid
it returns is what later status webhooks name. 131047 (window closed) may come back
here as an HTTP 400 or later as a `failed` status; callers handle both.
"""

from collections.abc import Iterator
from typing import Any

import httpx

from providers.events import MessageStatus
from providers.http import JsonApi, ProviderError, Sent, recipient_e164, text_value

GRAPH_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v23.0"
NUMBER_FIELDS = (
    "display_phone_number,verified_name,status,quality_rating,name_status,throughput,"
    "whatsapp_business_manager_messaging_limit,account_mode"
)
TEMPLATE_FIELDS = (
    "id,name,language,status,category,components,quality_score,rejected_reason,"
    "parameter_format,previous_category"
)

# Meta's "not now" codes (A4): app and WABA rate limits, throughput, unknown and
# temporary failures, the per-recipient pair limit, maintenance.
TRANSIENT_CODES = frozenset({"4", "80007", "130429", "131000", "131016", "131056", "131057"})


class WhatsAppClient(JsonApi):
    name = "WhatsApp"
    transient_codes = TRANSIENT_CODES

    def __init__(
        self,
        *,
        access_token: str,
        phone_number_id: str = "",
        waba_id: str = "",
        version: str = DEFAULT_VERSION,
        base_url: str = GRAPH_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            headers={"Authorization": f"Bearer {access_token}"},
            transport=transport,
            timeout=timeout,
        )
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self.version = version

    # --- sending ------------------------------------------------------------------------

    def send_text(
        self, *, to: str, text: str, reply_to: str = "", preview_url: bool = False
    ) -> Sent:
        message: dict[str, Any] = {
            "type": "text",
            "text": {"body": text, "preview_url": preview_url},
        }
        if reply_to:
            message["context"] = {"message_id": reply_to}
        return self._send(to, message)

    def send_template(
        self, *, to: str, name: str, language: str, components: list[dict[str, Any]]
    ) -> Sent:
        template: dict[str, Any] = {"name": name, "language": {"code": language}}
        if components:
            template["components"] = components
        return self._send(to, {"type": "template", "template": template})

    def _send(self, to: str, message: dict[str, Any]) -> Sent:
        # Always "+": without it Meta prepends the business number's country code.
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient_e164(to),
            **message,
        }
        path = f"/{self.version}/{_required(self.phone_number_id, 'phone_number_id')}/messages"
        reply = self.request("POST", path, json=body)
        messages = reply.body.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else {}
        message_id = first.get("id") if isinstance(first, dict) else None
        if not message_id:
            raise self.unexpected(reply, "messages[0].id")
        return Sent(message_id=message_id, status=MessageStatus.QUEUED, raw=reply.body)

    def mark_read(self, *, message_id: str, typing: bool = False) -> None:
        """Mark a customer's message (and the ones before it) read; with `typing`, also
        show the customer a typing indicator until our answer, or 25 s, whichever
        comes first. Meta asks that it be shown only when an answer is coming."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": _required(message_id, "message_id"),
        }
        if typing:
            body["typing_indicator"] = {"type": "text"}
        path = f"/{self.version}/{_required(self.phone_number_id, 'phone_number_id')}/messages"
        reply = self.request("POST", path, json=body)
        if reply.body.get("success") is not True:
            raise self.unexpected(reply, "success")

    # --- templates ----------------------------------------------------------------------

    def templates(self, *, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every template of the WABA, page after page."""
        params: dict[str, Any] = {"fields": TEMPLATE_FIELDS, "limit": limit}
        while True:
            page = self.request("GET", self._templates_path(), params=params).body
            yield from page.get("data") or []
            paging = page.get("paging") or {}
            if not paging.get("next"):
                return
            after = (paging.get("cursors") or {}).get("after")
            if not after or after == params.get("after"):
                # Stopping here would pass a partial list off as the whole one.
                raise ProviderError(
                    code="paging",
                    title="WhatsApp announced a next page without a new cursor.",
                    raw=page,
                )
            params = {**params, "after": after}

    def template_create(self, *, payload: dict[str, Any]) -> dict[str, Any]:
        """Submit a template for review; Meta answers `{id, status, category}`."""
        reply = self.request("POST", self._templates_path(), json=payload)
        if not reply.body.get("id"):
            raise self.unexpected(reply, "a template id")
        return reply.body

    def template_delete(self, *, name: str, template_id: str = "") -> None:
        """Delete a template: every language of `name`, or only the one `template_id`."""
        params = {"name": name}
        if template_id:
            params["hsm_id"] = template_id
        reply = self.request("DELETE", self._templates_path(), params=params)
        if reply.body.get("success") is False:
            raise self.unexpected(reply, "success")

    def _templates_path(self) -> str:
        return f"/{self.version}/{_required(self.waba_id, 'waba_id')}/message_templates"

    # --- the number ---------------------------------------------------------------------

    def phone_number_status(self) -> dict[str, Any]:
        """What Meta says of the sending number now: status, quality rating, messaging
        limit, name status, throughput (webhooks report changes; this is the state)."""
        path = f"/{self.version}/{_required(self.phone_number_id, 'phone_number_id')}"
        return self.request("GET", path, params={"fields": NUMBER_FIELDS}).body

    def phone_number_read(self) -> dict[str, Any]:
        """The number as this token sees it (`id`, `display_phone_number`,
        `verified_name`). Meta refuses a token without access to it: reading it proves
        the token's holder may use the number."""
        path = f"/{self.version}/{_required(self.phone_number_id, 'phone_number_id')}"
        return self.request(
            "GET", path, params={"fields": "id,display_phone_number,verified_name"}
        ).body

    def waba_phone_number_ids(self, waba_id: str) -> set[str]:
        """The ids of the numbers of a WhatsApp Business Account, as this token sees
        them: a number among them belongs to that WABA, whose template and account
        webhooks its channel then receives. (One page of 100: a WABA has a handful.)"""
        body = self.request(
            "GET", f"/{self.version}/{waba_id}/phone_numbers", params={"fields": "id", "limit": 100}
        ).body
        numbers = body.get("data") if isinstance(body, dict) else None
        return {str(n.get("id")) for n in numbers or [] if isinstance(n, dict)}

    # --- errors -------------------------------------------------------------------------

    def error_code_and_title(self, body: dict[str, Any]) -> tuple[str, str]:
        error = body.get("error")
        if not isinstance(error, dict):
            return "", ""
        message = text_value(error.get("message"))
        details = text_value((error.get("error_data") or {}).get("details"))
        title = f"{message}: {details}" if details and details not in message else message
        return text_value(error.get("code")), title or details


def _required(value: str, name: str) -> str:
    if not value:
        raise ValueError(f"This WhatsAppClient has no {name}; pass it to the constructor.")
    return value

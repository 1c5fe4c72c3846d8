"""Meta's template management API (contract A5) as respx routes, for the sync, submit
and delete tests."""

from typing import Any

import httpx
import respx

from tests.webhooks.conftest import WHATSAPP_WABA_ID

GRAPH = "https://graph.facebook.com/v23.0"
TEMPLATES_URL = f"{GRAPH}/{WHATSAPP_WABA_ID}/message_templates"


def meta_template(
    name: str,
    template_id: str,
    *,
    status: str = "APPROVED",
    category: str = "UTILITY",
    language: str = "en_US",
    quality: str | None = "GREEN",
    text: str = "Your order {{1}} is on its way.",
    **extra: Any,
) -> dict[str, Any]:
    """A template as Meta lists it: ids are strings, types UPPER case."""
    template = {
        "name": name,
        "parameter_format": "POSITIONAL",
        "components": [{"type": "BODY", "text": text, "example": {"body_text": [["A-1"]]}}],
        "language": language,
        "status": status,
        "category": category,
        "id": template_id,
        **extra,
    }
    if quality is not None:
        template["quality_score"] = {"score": quality, "date": 1758754645}
    return template


def list_pages(graph: respx.MockRouter, *pages: list[dict] | httpx.Response) -> respx.Route:
    """GET message_templates answering page after page, chained by `after` cursors
    as Meta does. A page may be an error response instead."""

    def answer(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        index = 0 if after is None else int(after.removeprefix("cursor-"))
        page = pages[index]
        if isinstance(page, httpx.Response):
            return page
        body: dict[str, Any] = {"data": page, "paging": {"cursors": {"before": "b"}}}
        if index + 1 < len(pages):
            body["paging"]["cursors"]["after"] = f"cursor-{index + 1}"
            body["paging"]["next"] = f"{TEMPLATES_URL}?after=cursor-{index + 1}&limit=100"
        return httpx.Response(200, json=body)

    return graph.get(TEMPLATES_URL).mock(side_effect=answer)


def meta_error(code: int, message: str, *, status: int = 400) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": "AbCdEfGh123",
            }
        },
    )


RATE_LIMITED = meta_error(80007, "(#80007) Rate limit hit for WhatsApp Business Account.")

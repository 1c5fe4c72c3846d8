"""What every provider HTTP client shares: one error type, one send result, one base.

`ProviderError.transient` answers the only question a caller has when a call fails:
is it worth trying again? Timeouts, dropped connections, HTTP 5xx and 429 are; a
provider's own "not now" codes (rate limits, maintenance) are too; everything else is
a fact about the request that a retry will not change.

Clients are plain Python over `httpx`, built on `JsonApi`. Each takes `base_url` (so a
test or a local fake server can stand in for the provider), an optional `transport`
and `timeout`, and is a context manager.
"""

import functools
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Self

import certifi
import httpx

from providers.events import MessageStatus
from providers.phones import InvalidPhoneNumberError, to_e164

# Connecting should be quick; a provider may take its time to answer a send.
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class ProviderError(Exception):
    """A provider call that did not succeed, as the provider explained it.

    `code` is the provider's own code as a string ("131047", "21211"), or ours when
    the provider never answered ("timeout", "connection_error"); `raw` keeps the error
    body (Meta's `fbtrace_id`, Twilio's `more_info`) for support.
    """

    def __init__(
        self,
        *,
        code: str,
        title: str,
        status_code: int | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, title)
        self.code = code
        self.title = title
        self.status_code = status_code
        self.transient = transient
        self.retry_after = retry_after
        self.raw = raw if raw is not None else {}

    def __str__(self) -> str:
        facts = [f"HTTP {self.status_code}"] if self.status_code is not None else []
        facts.append("transient" if self.transient else "permanent")
        if self.retry_after is not None:
            facts.append(f"retry after {self.retry_after:g}s")
        return f"[{self.code}] {self.title} ({', '.join(facts)})"

    def __reduce__(self):
        # Keyword-only fields do not survive Exception's default pickling, and Celery
        # pickles exceptions when a send task retries or fails.
        fields = {
            "code": self.code,
            "title": self.title,
            "status_code": self.status_code,
            "transient": self.transient,
            "retry_after": self.retry_after,
            "raw": self.raw,
        }
        return functools.partial(type(self), **fields), ()


@dataclass(frozen=True)
class Sent:
    """A message the provider accepted: the id its webhooks will name it by."""

    message_id: str
    status: MessageStatus
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Reply:
    """A successful answer: its status code and its body as a JSON object."""

    status_code: int
    body: dict[str, Any]


def is_transient_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A `Retry-After` header in seconds: it may be a number or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def recipient_e164(to: str) -> str:
    """The recipient in E.164 with "+". A number that is not one fails the send like a
    provider refusal would (permanent), so the message is marked failed, not stuck."""
    try:
        return to_e164(to)
    except InvalidPhoneNumberError as exc:
        raise ProviderError(code="invalid_recipient", title=str(exc)) from exc


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One per process: loading the CA bundle took longer than a whole send (a client is
    built per send; bench/outbound.py)."""
    return ssl.create_default_context(cafile=certifi.where())


class JsonApi:
    """An `httpx.Client` for one provider's JSON API, turning every failure into a
    `ProviderError`. Subclasses name the provider, read its error bodies
    (`error_code_and_title`) and list its transient codes."""

    name: ClassVar[str] = "Provider"
    # The provider's codes that mean "not now" whatever the HTTP status says.
    transient_codes: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Accept": "application/json", **(headers or {})},
            auth=auth,
            transport=transport,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            verify=tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Call the API; a 2xx comes back as a `Reply`, anything else is raised."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ProviderError(
                code="timeout", title=f"{self.name} did not answer in time: {exc}", transient=True
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderError(
                code="connection_error",
                title=f"Could not reach {self.name}: {exc}",
                transient=True,
            ) from exc
        body = _json_body(response)
        if not response.is_success:
            raise self.error(response, body)
        return Reply(status_code=response.status_code, body=body)

    def error(self, response: httpx.Response, body: dict[str, Any]) -> ProviderError:
        code, title = self.error_code_and_title(body)
        code = code or str(response.status_code)
        return ProviderError(
            code=code,
            title=title or f"{self.name} answered HTTP {response.status_code}",
            status_code=response.status_code,
            transient=is_transient_status(response.status_code) or code in self.transient_codes,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            raw=body,
        )

    def error_code_and_title(self, body: dict[str, Any]) -> tuple[str, str]:
        """The provider's code and message in an error body; ("", "") when it has none."""
        return "", ""

    def unexpected(self, reply: Reply, missing: str) -> ProviderError:
        """A success that lacks what a success must carry. Not transient: the provider
        may have acted on the request, and a retry could do it twice."""
        return ProviderError(
            code="unexpected_response",
            title=f"{self.name} answered HTTP {reply.status_code} without {missing}.",
            status_code=reply.status_code,
            raw=reply.body,
        )


def _json_body(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object. Proxies and gateways answer HTML or plain text, which
    is kept (shortened) so the error still says what came back."""
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {"text": response.text[:2000]}
    return body if isinstance(body, dict) else {"data": body}


def text_value(value: Any) -> str:
    """A provider's code or message as a string: codes come as numbers or strings."""
    return "" if value is None else str(value)

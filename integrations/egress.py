"""Where a subscription may send, and the one HTTP request of a delivery.

A receiver's URL is the customer's to choose, so it could name our own network (the
cloud's metadata service at 169.254.169.254, a database on 10.0.0.5, localhost). A URL
is checked when a subscription is saved and again at every delivery, after resolving
its host: every address must be global. The request then connects to the address that
was checked (the IP in the URL, the name in the Host header and in TLS's SNI, so the
certificate is verified for the name): a DNS answer that changes between the check and
the connection (DNS rebinding) cannot redirect it.

Redirects are not followed (a 3xx is a failed attempt: following it would skip the
check); answers are read up to RESPONSE_READ_LIMIT bytes, then the connection is closed.
"""

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

RESPONSE_READ_LIMIT = 64 * 1024
EXCERPT_CHARS = 4096


class UnsafeURLError(ValueError):
    """The URL may not be sent to (its message says why, for the person who gave it)."""


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses (a module function, so tests can give their own DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP to connect to
    url: str  # the URL with the address in place of the host


def url_check(url: str, *, resolve_now: bool = True) -> Target:
    """The address to send `url` to, or UnsafeURLError. `resolve_now=False` (saving a
    subscription) skips DNS when private addresses are allowed: nothing to refuse."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise UnsafeURLError("The URL must start with https://.")
    if parts.scheme == "http" and not settings.INTEGRATIONS_ALLOW_HTTP:
        raise UnsafeURLError("The URL must be https (plain http is allowed in development).")
    if parts.username or parts.password:
        raise UnsafeURLError("Credentials in the URL are not allowed; sign with the secret.")
    try:
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURLError("The URL's port is not a number from 1 to 65535.") from None
    if not host:
        raise UnsafeURLError("The URL has no host.")
    if not resolve_now and settings.INTEGRATIONS_ALLOW_PRIVATE_URLS:
        return Target(parts.scheme, host, port, "", url)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise UnsafeURLError(f"The host {host!r} does not resolve.") from None
    if not addresses:
        raise UnsafeURLError(f"The host {host!r} does not resolve.")
    if not settings.INTEGRATIONS_ALLOW_PRIVATE_URLS:
        for address in addresses:
            if not _is_public(address):
                raise UnsafeURLError(
                    f"The host {host!r} resolves to {address}, a private, loopback, "
                    "link-local or otherwise non-public address."
                )
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{port}"
    target_url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(parts.scheme, host, port, address, target_url)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused address, timeout, connection)
    excerpt: str
    latency_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# One client per (scheme, name, address, port): a pooled TLS connection is only ever
# reused for the name it was verified for (httpx pools by address alone).
_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()
MAX_CLIENTS = 256


def _client(target: Target) -> httpx.Client:
    key = (target.scheme, target.host, target.address, target.port)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= MAX_CLIENTS:
                _clients.pop(next(iter(_clients))).close()
            timeout = settings.INTEGRATIONS_TIMEOUT_SECONDS
            client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
            _clients[key] = client
        return client


def target_for(url: str) -> Target | UnsafeURLError:
    """The checked target of `url` now, or why it may not be sent to."""
    try:
        return url_check(url)
    except UnsafeURLError as exc:
        return exc


def post(*, target: Target | UnsafeURLError, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to a target checked just before (target_for: once per round and
    subscription, so a name is resolved once per batch, not per delivery), reading at
    most RESPONSE_READ_LIMIT."""
    started = time.monotonic()
    if isinstance(target, UnsafeURLError):
        return Answer(None, "", 0, f"Refused: {target}")
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    try:
        with _client(target).stream(
            "POST",
            target.url,
            content=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json"},
            extensions={"sni_hostname": target.host},
        ) as response:
            excerpt = _read_capped(response)
            status = response.status_code
    except httpx.HTTPError as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        return Answer(None, "", elapsed, f"{type(exc).__name__}: {exc}"[:500])
    elapsed = int((time.monotonic() - started) * 1000)
    return Answer(status, excerpt, elapsed, "")


def _read_capped(response: httpx.Response) -> str:
    """The body's first bytes as text; reading stops at RESPONSE_READ_LIMIT (raw bytes,
    before any decompression, so a small gzip bomb cannot grow past it)."""
    received = bytearray()
    for chunk in response.iter_raw():
        received += chunk
        if len(received) >= RESPONSE_READ_LIMIT:
            break
    return bytes(received[:EXCERPT_CHARS]).decode("utf-8", errors="replace")

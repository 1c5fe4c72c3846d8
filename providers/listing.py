"""Listing what a provider has, one page per call, for reconciliation.

A `Page` carries the provider's own cursor for the next page (OpenPhone's
`nextPageToken`, Twilio's `next_page_uri`, Unipile's `cursor`) as an opaque string, so
a run can store it and resume later by passing it back to the same client method.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None  # None: this was the last page


def page_from(body: dict[str, Any], *, items: str, cursor: str) -> Page | None:
    """The page in a list answer: the objects under `items` and the next page's cursor
    under `cursor` (null or empty at the end). None when the answer is not a page."""
    found, following = body.get(items), body.get(cursor)
    if not isinstance(found, list) or not (following is None or isinstance(following, str)):
        return None
    return Page(items=[item for item in found if isinstance(item, dict)], next=following or None)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC. A naive datetime is refused: its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"A timezone-aware datetime is required, not {moment!r}.")
    return moment.astimezone(UTC)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and "Z" ("2026-04-13T12:00:00.000Z"): the form
    Unipile insists on, and one OpenPhone reads."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")

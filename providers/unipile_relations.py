"""LinkedIn relations through Unipile, told as `RelationAccepted`: the `new_relation`
webhook (source `users`) and the items of the relations list
(`GET /api/v1/users/relations`), which reconciliation reads when a webhook never came.

Contracts and their sources: docs/unipile-linkedin.md. In short:
- `new_relation` names the person (`user_provider_id`, `user_public_identifier`,
  `user_full_name`, `user_profile_url`) but has no timestamp and no id of its own, and
  may come up to 8 hours after the acceptance: it is dated when we received it and
  named by account and person, so a redelivery is the same event.
- a relation of the list has `created_at` (unix seconds or milliseconds) and
  `member_id`, a provider id in some answers and a numeric member id in others: it is
  only taken as a provider id when it looks like one.
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from providers import Provider
from providers.base import PayloadError, SignedRequest, from_iso
from providers.events import ContactRef, RelationAccepted

# LinkedIn's internal ids: classic (ACo…), Sales Navigator (ACw…), Recruiter (AE…).
_PROVIDER_ID_PREFIXES = ("AC", "AE")
# Unix times above this are in milliseconds (10^11 s is the year 5138).
_MILLISECONDS_FROM = 10**11


def new_relation(body: dict[str, Any], request: SignedRequest) -> RelationAccepted:
    provider_id = _string(body.get("user_provider_id"))
    public_identifier = _string(body.get("user_public_identifier")) or public_identifier_of(
        _string(body.get("user_profile_url"))
    )
    if not (provider_id or public_identifier):
        raise PayloadError("Unipile new_relation without the person's provider id.")
    account = _string(body.get("account_id"))
    timestamp = body.get("timestamp")  # not in the documented payload; used if it comes
    return RelationAccepted(
        provider=Provider.UNIPILE,
        event_id=f"unipile:new_relation:{account}:{provider_id or public_identifier}",
        occurred_at=from_iso(timestamp) if isinstance(timestamp, str) else request.received_at,
        raw=body,
        contact=ContactRef(provider_id=provider_id, name=_string(body.get("user_full_name"))),
        public_identifier=public_identifier,
        profile_url=_string(body.get("user_profile_url")),
    )


def relation_from_api(item: dict[str, Any], *, account_id: str, now: datetime) -> RelationAccepted:
    """A relation as the list gives it (newest first). `now` stands in for a missing
    or unreadable `created_at`."""
    member_id = _string(item.get("member_id"))
    provider_id = member_id if member_id.startswith(_PROVIDER_ID_PREFIXES) else ""
    public_identifier = _string(item.get("public_identifier")) or public_identifier_of(
        _string(item.get("public_profile_url"))
    )
    if not (provider_id or public_identifier):
        raise PayloadError("Unipile relation without a provider id or public identifier.")
    name = " ".join(
        part for part in (_string(item.get("first_name")), _string(item.get("last_name"))) if part
    )
    return RelationAccepted(
        provider=Provider.UNIPILE,
        event_id=f"unipile:new_relation:{account_id}:{provider_id or public_identifier}",
        occurred_at=relation_created_at(item) or now,
        raw=item,
        contact=ContactRef(provider_id=provider_id, name=name),
        public_identifier=public_identifier,
        profile_url=_string(item.get("public_profile_url")),
    )


def relation_created_at(item: dict[str, Any]) -> datetime | None:
    value = item.get("created_at")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = value / 1000 if value >= _MILLISECONDS_FROM else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def public_identifier_of(profile: str) -> str:
    """The public identifier in a LinkedIn profile URL ("https://www.linkedin.com/in/
    julien-crepieux/" gives "julien-crepieux"), or the value itself when it is one
    already (no slash, no space). "" when it is neither."""
    value = (profile or "").strip()
    if not value:
        return ""
    if "/" not in value and " " not in value:
        return value
    parts = [unquote(p) for p in urlsplit(_with_scheme(value)).path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() in ("in", "pub"):
        return parts[1]
    return ""


def _with_scheme(value: str) -> str:
    return value if "://" in value else f"https://{value}"


def _string(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""

"""Customers' messages filed as the webhook pipeline files them (conversations.batch)."""

import itertools
from datetime import datetime

from django.utils import timezone

from conversations.batch import Inbound, events_apply
from conversations.consent_models import Consent, ConsentState
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType

_ids = itertools.count(1)
PHONE = "+16505551234"


def inbound(
    channel,
    text: str,
    *,
    phone: str = PHONE,
    at: datetime | None = None,
    message_id: str = "",
    type: MessageType = MessageType.TEXT,
) -> Inbound:
    number = next(_ids)
    message = InboundMessage(
        provider=Provider(channel.provider),
        event_id=f"event-{number}",
        occurred_at=at or timezone.now(),
        raw={},
        message_id=message_id or f"msg-{number}",
        contact=ContactRef(phone=phone, wa_id=phone.lstrip("+")),
        type=type,
        text=text,
    )
    return Inbound(channel, message)


def file(*items: Inbound, on_replies_pending=None) -> list[str]:
    outcomes, _ = events_apply(
        inbound=list(items), statuses=[], on_replies_pending=on_replies_pending
    )
    return outcomes


def states(contact_id: int, kind: str) -> dict[str, str]:
    rows = Consent.objects.filter(contact_id=contact_id, kind=kind)
    found = {row.scope: row.state for row in rows}
    return {
        scope: found.get(scope, ConsentState.UNKNOWN.value) for scope in ("service", "marketing")
    }

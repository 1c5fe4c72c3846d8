"""Where each provider's messages come from, page by page, for reconciliation.

A source turns a run's stored cursor into the next page of normalized events and the
cursor after it. The cursor is plain JSON, saved after every page, so a run that fails
(a rate limit that lasts, an outage) resumes where it stopped.

- Twilio: every message of the channel's account in the window (DateSent range),
  following `next_page_uri`.
- Unipile: the account's messages since the window's start, by cursor.
- OpenPhone: no "all messages" listing: first the conversations of the number updated
  in the window (their participants), then each participant's messages. Its API takes
  10 requests per second per key, shared with sends: every request waits its turn on
  the channel's throughput limit (messaging.limits).
WhatsApp has no message listing; its reconciliation is the template sync.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from conversations.models import ContactIdentity, IdentityKind
from messaging.limits import throughput_take
from providers import Provider, openphone, twilio, unipile
from providers.events import ContactRef, Event
from providers.listing import Page
from tenants.clients import send_client_for
from tenants.models import Channel

OPENPHONE_REQUESTS_PER_SECOND = 10


@dataclass(frozen=True)
class Batch:
    events: list[Event]
    fetched: int  # provider items read (one item may give a message and its status)
    cursor: dict  # where the next page starts; {"done": True} after the last
    progress: dict


Source = Callable[[Channel, dict, datetime, datetime], Batch]


def next_batch(channel: Channel, cursor: dict, start: datetime, end: datetime) -> Batch:
    return SOURCES[Provider(channel.provider)](channel, cursor, start, end)


def _twilio(channel: Channel, cursor: dict, start: datetime, end: datetime) -> Batch:
    with send_client_for(channel) as client:
        page = client.messages_page(
            sent_after=start, sent_before=end, cursor=cursor.get("page", "")
        )
    # Twilio filters by whole days: the window's edges are kept exactly here.
    events = _within(
        [event for item in page.items for event in twilio.events_from_api_message(item)],
        start,
        end,
    )
    pages = cursor.get("pages", 0) + 1
    return Batch(events, len(page.items), _after(page, pages), {"pages": pages})


def _unipile(channel: Channel, cursor: dict, start: datetime, end: datetime) -> Batch:
    with send_client_for(channel) as client:
        page = client.messages_page(since=start, cursor=cursor.get("page", ""))
    counterparts = _chat_counterparts(channel, {item.get("chat_id") for item in page.items})
    events = _within(
        [
            event
            for item in page.items
            for event in unipile.events_from_api_message(
                item,
                account_user_id=channel.account_user_id,
                counterpart=counterparts.get(item.get("chat_id")),
            )
        ],
        start,
        end,
    )
    pages = cursor.get("pages", 0) + 1
    return Batch(events, len(page.items), _after(page, pages), {"pages": pages})


def _openphone(channel: Channel, cursor: dict, start: datetime, end: datetime) -> Batch:
    """Participants first (conversations updated in the window), then each one's
    messages; the cursor says which stage, which participant and which page."""
    _pace(channel)
    with send_client_for(channel) as client:
        if not cursor.get("participants_listed"):
            return _openphone_participants(client, channel, cursor, start)
        return _openphone_messages(client, channel, cursor, start, end)


def _openphone_participants(client, channel: Channel, cursor: dict, start: datetime) -> Batch:
    page = client.conversations_page(
        phone_number_id=channel.phone_number_id,
        updated_after=start,
        cursor=cursor.get("page", ""),
    )
    found = set(cursor.get("participants", []))
    for conversation in page.items:
        found.update(p for p in conversation.get("participants") or [] if isinstance(p, str))
    participants = sorted(found)
    state = {"participants": participants, "index": 0, "page": page.next or ""}
    state["participants_listed"] = page.next is None
    if page.next is None:
        state["page"] = ""
    done = state["participants_listed"] and not participants
    progress = {"participants": len(participants), "participants_done": 0}
    return Batch([], 0, {**state, "done": done}, progress)


def _openphone_messages(
    client, channel: Channel, cursor: dict, start: datetime, end: datetime
) -> Batch:
    participants, index = cursor["participants"], cursor.get("index", 0)
    page = client.messages_page(
        phone_number_id=channel.phone_number_id,
        participant=participants[index],
        created_after=start,
        created_before=end,
        cursor=cursor.get("page", ""),
    )
    own = channel.display_phone_number
    events = [
        event
        for item in page.items
        for event in openphone.events_from_api_message(item, own_number=own)
    ]
    next_index, next_page = (index, page.next) if page.next else (index + 1, "")
    state = {**cursor, "index": next_index, "page": next_page or ""}
    state["done"] = next_index >= len(participants)
    progress = {"participants": len(participants), "participants_done": next_index}
    return Batch(events, len(page.items), state, progress)


def _chat_counterparts(channel: Channel, chat_ids: set) -> dict[str, ContactRef]:
    """Who the business talks to in each known chat: a LinkedIn message the business
    sent names only its sender, so it is filed under the chat's contact."""
    identities = ContactIdentity.objects.filter(
        channel=channel,
        kind=IdentityKind.PROVIDER_ID,
        contact__conversations__channel=channel,
        contact__conversations__provider_conversation_ref__in=[c for c in chat_ids if c],
    ).values_list("contact__conversations__provider_conversation_ref", "value")
    return {chat_id: ContactRef(provider_id=value) for chat_id, value in identities}


def _pace(channel: Channel) -> None:
    """Wait for a turn within OpenPhone's per-key rate (sends share it)."""
    while wait := throughput_take(channel_id=channel.pk, per_second=OPENPHONE_REQUESTS_PER_SECOND):
        time.sleep(wait)


def _after(page: Page, pages: int) -> dict:
    return {"page": page.next or "", "pages": pages, "done": page.next is None}


def _within(events: list[Event], start: datetime, end: datetime) -> list[Event]:
    return [event for event in events if start <= event.occurred_at <= end]


SOURCES: dict[Provider, Source] = {
    Provider.TWILIO: _twilio,
    Provider.UNIPILE: _unipile,
    Provider.OPENPHONE: _openphone,
}
# Sources that read nothing from our database, so their next page can be read while
# the last one is applied. Unipile's cannot: it looks up chats that page may create.
READ_AHEAD = frozenset({Provider.TWILIO, Provider.OPENPHONE})

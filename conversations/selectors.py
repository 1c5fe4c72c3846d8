"""Reads for the inbox: conversations, their messages, contacts and the inbox counters.

Every function takes the caller's organization (or an object already scoped to it), so
another tenant's rows are never returned. Whether a window is open is decided from
`window_expires_at` and the clock, as `conversations.window` does, never from the
stored `is_window_open` flag (it lags by up to one close-expired run).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from conversations.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Message,
    MessageReaction,
)
from conversations.text_search import (
    COMMON_SHARE,
    message_text_matches,
    text_search,
)
from conversations.window import EXPIRING_WITHIN, window_conditions
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import SECRET_FIELDS, Channel, Organization, WindowPolicy

# The inbox's order: latest activity first. `last_activity_at` is never null, so cursor
# pages can be built on it (index conversation_org_activity_upd).
CONVERSATION_ORDER = ("-last_activity_at", "-id")
CONTACT_ORDER = ("-created_at", "-id")
# Search also matches phone numbers typed with spaces, dashes, dots or parentheses.
_PHONE_PUNCTUATION = re.compile(r"[\s\-().+]")
_MIN_PHONE_DIGITS = 3
# Never shown by the inbox: not loaded (each secret would be decrypted on every row).
_UNSHOWN_CHANNEL_FIELDS = [f"channel__{name}" for name in SECRET_FIELDS]
# What a conversation item shows (conversations.api.serializers.ConversationSerializer)
# and what its window needs.
_ITEM_FIELDS = [
    *("status", "snoozed_until", "unread_count", "created_at", "updated_at", "bot_active"),
    *("last_activity_at", "last_message_at", "last_message_preview", "window_expires_at"),
    *("organization_id", "contact__name", "contact__phone"),
    *("channel__name", "channel__provider", "channel__window_policy", "assignee__username"),
]


class WindowFilter(StrEnum):
    OPEN = "open"  # free-form messages may be sent now
    EXPIRED = "expired"  # they may not: the window closed, or never opened


def conversation_list(
    *,
    organization: Organization,
    status: ConversationStatus | None = None,
    channel_id: int | None = None,
    assignee_id: int | None = None,
    unassigned: bool | None = None,
    window: WindowFilter | None = None,
    unread: bool | None = None,
    updated_since: datetime | None = None,
    search: str = "",
    now: datetime | None = None,
) -> QuerySet[Conversation]:
    """An organization's conversations, latest activity first, narrowed by every filter
    given (None or "" leaves a filter out)."""
    conditions = [
        Q(status=status) if status else None,
        Q(channel_id=channel_id) if channel_id is not None else None,
        Q(assignee_id=assignee_id) if assignee_id is not None else None,
        Q(assignee__isnull=unassigned) if unassigned is not None else None,
        _window_condition(window, now or timezone.now()) if window else None,
        (Q(unread_count__gt=0) if unread else Q(unread_count=0)) if unread is not None else None,
        Q(updated_at__gte=updated_since) if updated_since else None,
        (
            conversation_search_condition(search=search, organization_ids=[organization.pk])
            if search.strip()
            else None
        ),
    ]
    conversations = _conversations(organization)
    for condition in conditions:
        if condition is not None:
            conversations = conversations.filter(condition)
    return conversations.order_by(*CONVERSATION_ORDER)


def conversation_get(*, organization: Organization, conversation_id: int) -> Conversation:
    """One conversation of the organization; NOT_FOUND for anyone else's."""
    conversation = _conversations(organization).filter(pk=conversation_id).first()
    if conversation is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, "No such conversation.")
    return conversation


# A thread's order: when each message was written (the provider's time), the id
# breaking ties, so that shuffled deliveries read in order (index message_conv_occurred).
MESSAGE_ORDER = ("-occurred_at", "-id")


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """A conversation's messages; the caller orders them (cursor pagination does, by
    MESSAGE_ORDER or its reverse)."""
    return Message.objects.filter(conversation=conversation)


def message_reactions(*, messages: Iterable[Message]) -> dict[int, list[MessageReaction]]:
    """The current reactions (removed ones left out) of these messages, by message id,
    oldest first: one query for a page of messages."""
    messages = [m for m in messages if m.provider_message_id]
    if not messages:
        return {}
    by_key = {(m.channel_id, m.provider_message_id): m.pk for m in messages}
    rows = (
        MessageReaction.objects.filter(
            channel_id__in={m.channel_id for m in messages},
            message_provider_id__in={m.provider_message_id for m in messages},
        )
        .exclude(emoji="")
        .order_by("reacted_at", "id")
    )
    reactions: dict[int, list[MessageReaction]] = {}
    for reaction in rows:
        message_id = by_key.get((reaction.channel_id, reaction.message_provider_id))
        if message_id is not None:
            reactions.setdefault(message_id, []).append(reaction)
    return reactions


def contact_list(*, organization: Organization, search: str = "") -> QuerySet[Contact]:
    contacts = Contact.objects.filter(organization=organization)
    if search.strip():
        contacts = contacts.filter(_contact_search(search, contact=OuterRef("pk")))
    return contacts.prefetch_related("consents").order_by(*CONTACT_ORDER)


def contact_get(*, organization: Organization, contact_id: int) -> Contact:
    """One contact with its consents, identities and conversations (four queries)."""
    contact = (
        Contact.objects.filter(organization=organization, pk=contact_id)
        .prefetch_related(
            "consents",
            Prefetch("identities", queryset=ContactIdentity.objects.order_by("id")),
            Prefetch(
                "conversations",
                queryset=Conversation.objects.select_related("channel")
                .defer(*_UNSHOWN_CHANNEL_FIELDS)
                .order_by(*CONVERSATION_ORDER),
            ),
        )
        .first()
    )
    if contact is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, "No such contact.")
    return contact


@dataclass(frozen=True)
class InboxCounts:
    open: int = 0
    unread: int = 0
    unassigned: int = 0
    mine: int = 0
    expiring_windows: int = 0


@dataclass(frozen=True)
class ChannelCounts:
    channel: Channel
    counts: InboxCounts


@dataclass(frozen=True)
class InboxCounters:
    total: InboxCounts
    channels: list[ChannelCounts]


def inbox_counters(
    *, organization: Organization, user: AbstractBaseUser, now: datetime | None = None
) -> InboxCounters:
    """What waits in the inbox, per channel and in total, in one query.

    `open` counts open conversations; the others count every conversation that is not
    closed (the work still to do): unread, unassigned, assigned to `user`, and windows
    open now that close within the next hour.
    """
    now = now or timezone.now()
    channels = (
        Channel.objects.filter(organization=organization)
        .only("id", "name", "provider", "window_policy")
        .annotate(**_count_expressions(user=user, now=now))
        .order_by("name", "id")
    )
    per_channel = [
        ChannelCounts(channel, InboxCounts(**{name: getattr(channel, name) for name in _COUNTS}))
        for channel in channels
    ]
    total = InboxCounts(
        **{name: sum(getattr(item.counts, name) for item in per_channel) for name in _COUNTS}
    )
    return InboxCounters(total=total, channels=per_channel)


_COUNTS = ("open", "unread", "unassigned", "mine", "expiring_windows")


def _count_expressions(*, user: AbstractBaseUser, now: datetime) -> dict[str, Count]:
    """Conditional counts over a channel's conversations (joined once, grouped by
    channel)."""
    active = ~Q(conversations__status=ConversationStatus.CLOSED)
    expiring = (
        ~Q(window_policy=WindowPolicy.ALWAYS_OPEN)
        & Q(conversations__window_expires_at__gt=now)
        & Q(conversations__window_expires_at__lte=now + EXPIRING_WITHIN)
    )
    conditions = {
        "open": Q(conversations__status=ConversationStatus.OPEN),
        "unread": active & Q(conversations__unread_count__gt=0),
        "unassigned": active & Q(conversations__assignee__isnull=True),
        "mine": active & Q(conversations__assignee=user),
        "expiring_windows": active & expiring,
    }
    return {name: Count("conversations", filter=q) for name, q in conditions.items()}


def _conversations(organization: Organization) -> QuerySet[Conversation]:
    # Everything a conversation item shows, in the same query: constant queries a page.
    # Only what it shows: each timestamp loaded is parsed, a page of 50 had 500 of them.
    return (
        Conversation.objects.filter(organization=organization)
        .select_related("contact", "channel", "assignee")
        .only(*_ITEM_FIELDS)
    )


def _window_condition(window: WindowFilter, now: datetime) -> Q:
    is_open = window_conditions(now)["open"]
    return is_open if window == WindowFilter.OPEN else ~is_open


def conversation_search_condition(*, search: str, organization_ids: list[int] | None) -> Q:
    """The conversations where `search` is found: in their contact's name, phone or
    provider ids, or in the text of any of their messages (conversations.text_search).
    Only rows of `organization_ids` are searched (None: every organization, for the
    platform's operators; the caller scopes the conversations themselves too).
    """
    scoped = {"organization_id__in": organization_ids} if organization_ids is not None else {}
    by_name_or_phone, by_identity = Q(), Q()
    for value in _search_values(search):
        by_name_or_phone |= Q(name__icontains=value) | Q(phone__contains=value)
        by_identity |= Q(value__icontains=value)
    # Two sets of contact ids, each found through its trigram index (PostgreSQL).
    contacts = (
        Contact.objects.filter(by_name_or_phone, **scoped)
        .values("pk")
        .union(
            ContactIdentity.objects.filter(
                by_identity, **{f"contact__{key}": value for key, value in scoped.items()}
            ).values("contact_id")
        )
    )
    said = text_search(search)
    if not said.words:
        return Q(contact_id__in=contacts)
    messages = Message.objects.filter(message_text_matches(said), **scoped)
    if said.share >= COMMON_SHARE:
        # Common words: the inbox is walked in its order and each conversation's
        # messages are asked (through their conversation's index) until the page is
        # full, after a few dozen. Collecting every match first read most of the
        # message table (a second for a word in most messages, of a million).
        probe = _ProbedExists(messages.filter(conversation=OuterRef("pk")))
        return Q(contact_id__in=contacts) | probe
    # Rare words (and contacts): one small set of conversation ids, fetched and sorted.
    # A set, not conditions joined by OR: PostgreSQL cannot estimate an OR of subplans
    # and walked the whole inbox to filter it. ALL: a conversation in both parts is
    # still listed once (a set to look ids up in, not rows).
    by_contact = Conversation.objects.filter(contact_id__in=contacts, **scoped).values("pk")
    return Q(pk__in=by_contact.union(messages.values("conversation_id"), all=True))


def message_search_condition(*, search: str, organization_ids: list[int] | None) -> Q:
    """The messages whose text holds the words of `search`, or whose provider message
    id or error code is `search` exactly, of `organization_ids` (None: all). Three sets
    of ids, each found through an index (the full-text one; the per-channel provider
    ids one, asked for each channel; the failed messages' error codes), not a scan of
    every message."""
    term = search.strip()
    scoped = {"organization_id__in": organization_ids} if organization_ids is not None else {}
    by_text = Message.objects.filter(message_text_matches(text_search(term)), **scoped)
    by_provider_id = Message.objects.filter(
        channel_id__in=Channel.objects.filter(**scoped).values("pk"), provider_message_id=term
    )
    by_error = Message.objects.filter(error_code=term, **scoped).exclude(error_code="")
    return Q(
        pk__in=by_text.values("pk").union(
            by_provider_id.values("pk"), by_error.values("pk"), all=True
        )
    )


class _ProbedExists(Exists):
    """EXISTS asked row by row. OFFSET 0 keeps PostgreSQL from trading it for a hashed
    set of every matching message, which it picks when it underestimates the matches
    (it estimates any prefix search at 2% of the messages)."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


def _contact_search(search: str, *, contact: OuterRef) -> Q:
    """Name, phone, or any provider id (an identity value) of the contact. Identities
    are matched with EXISTS, not a join: a contact with several never repeats."""
    matches = Q()
    for value in _search_values(search):
        identities = ContactIdentity.objects.filter(contact=contact, value__icontains=value)
        matches |= Q(name__icontains=value) | Q(phone__contains=value) | Exists(identities)
    return matches


def _search_values(search: str) -> set[str]:
    """What was typed, and for a phone number typed with punctuation, its digits."""
    search = search.strip()
    values = {search}
    digits = _PHONE_PUNCTUATION.sub("", search)
    if digits.isdigit() and len(digits) >= _MIN_PHONE_DIGITS:
        values.add(digits)
    return values


def message_counts_by_day(*, channel: Channel, start: datetime, end: datetime) -> dict[str, int]:
    """Messages of a channel per UTC day of their provider time (ISO dates), for the
    integrity check against the provider's own counts."""
    rows = (
        Message.objects.filter(
            channel=channel, provider_timestamp__gte=start, provider_timestamp__lte=end
        )
        .annotate(day=TruncDate("provider_timestamp", tzinfo=UTC))
        .values("day")
        .annotate(count=Count("id"))
    )
    return {row["day"].isoformat(): row["count"] for row in rows}

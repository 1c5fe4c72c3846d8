"""The WhatsApp 24-hour customer-service window (DESIGN.md "The 24-hour window").

A customer message opens the window for 24 hours from its provider timestamp; a later
customer message moves it forward; an older one (arriving out of order) never moves it
back. Whether a window is open is always decided here, from `window_expires_at` and the
clock; the stored `is_window_open` flag is a copy for filtering that
`conversations.maintenance.windows_close_expired` keeps in line.

The channel's policy decides what opens a window:
- META (WhatsApp's default): only customer messages; a template the business sends is
  recorded in `last_template_message_at` but opens nothing.
- TEMPLATE_OPENS: a sent template opens (or extends) the window too.
- ALWAYS_OPEN: the provider has no such rule (SMS, LinkedIn): free-form at any time.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import Q
from django.utils import timezone

from conversations.models import Conversation
from tenants.models import WindowPolicy

WINDOW = timedelta(hours=24)
EXPIRING_WITHIN = timedelta(hours=1)


class WindowState(StrEnum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    NONE = "NONE"  # never opened


@dataclass(frozen=True)
class WindowStatus:
    state: WindowState
    policy: WindowPolicy
    expires_at: datetime | None
    seconds_remaining: int
    can_send_free_form: bool
    can_send_template: bool = True  # approved templates may be sent at any time

    @property
    def hours_remaining(self) -> float:
        return round(self.seconds_remaining / 3600, 2)


def window_status(conversation: Conversation, *, now: datetime | None = None) -> WindowStatus:
    """The window of a conversation at `now` (default: the clock).

    Reads only the conversation and its channel: no query when the channel was loaded
    with it (`select_related("channel")`).
    """
    now = now or timezone.now()
    policy = WindowPolicy(conversation.channel.window_policy)
    expires = conversation.window_expires_at
    if policy == WindowPolicy.ALWAYS_OPEN:
        return WindowStatus(WindowState.ACTIVE, policy, None, 0, can_send_free_form=True)
    if expires is None:
        return WindowStatus(WindowState.NONE, policy, None, 0, can_send_free_form=False)
    if expires > now:
        remaining = int((expires - now).total_seconds())
        return WindowStatus(WindowState.ACTIVE, policy, expires, remaining, can_send_free_form=True)
    return WindowStatus(WindowState.EXPIRED, policy, expires, 0, can_send_free_form=False)


def window_conditions(now: datetime) -> dict[str, Q]:
    """The same rules as `window_status`, as filters on conversations (for lists,
    counters and the admin): "open", "expiring" (within the hour), "expired" (it was
    open once) and "never" (opened)."""
    always_open = Q(channel__window_policy=WindowPolicy.ALWAYS_OPEN)
    return {
        "open": always_open | Q(window_expires_at__gt=now),
        "expiring": ~always_open
        & Q(window_expires_at__gt=now, window_expires_at__lte=now + EXPIRING_WITHIN),
        "expired": ~always_open & Q(window_expires_at__lte=now),
        "never": ~always_open & Q(window_expires_at__isnull=True),
    }


def window_is_open(conversation: Conversation, *, now: datetime | None = None) -> bool:
    return window_status(conversation, now=now).can_send_free_form


def window_note_customer_message(conversation: Conversation, *, at: datetime) -> None:
    """Move the window for a customer message sent at `at` (fields only; no save)."""
    if conversation.last_user_message_at is None or at > conversation.last_user_message_at:
        conversation.last_user_message_at = at
    window_recompute(conversation)


def window_note_template(conversation: Conversation, *, at: datetime) -> None:
    """A template was sent at `at` (fields only; no save). Opens the window only under
    the TEMPLATE_OPENS policy."""
    if conversation.last_template_message_at is None or at > conversation.last_template_message_at:
        conversation.last_template_message_at = at
    window_recompute(conversation)


def window_close(conversation: Conversation, *, at: datetime) -> None:
    """The provider says the window is closed (WhatsApp 131047): believe it."""
    if conversation.window_expires_at is None or conversation.window_expires_at > at:
        conversation.window_expires_at = at
    conversation.is_window_open = False


def window_recompute(conversation: Conversation, *, now: datetime | None = None) -> None:
    """Set the window fields from the customer and template times (no save)."""
    policy = conversation.channel.window_policy
    if policy == WindowPolicy.ALWAYS_OPEN:
        conversation.window_expires_at = None
        conversation.is_window_open = True
        return
    openers = [conversation.last_user_message_at]
    if policy == WindowPolicy.TEMPLATE_OPENS:
        openers.append(conversation.last_template_message_at)
    opened = max((at for at in openers if at is not None), default=None)
    conversation.window_expires_at = opened + WINDOW if opened else None
    conversation.is_window_open = window_is_open(conversation, now=now)

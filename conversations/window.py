"""The WhatsApp 24-hour customer-service window (DESIGN.md "The 24-hour window").

A customer message opens the window for 24 hours from its provider timestamp; a later
customer message moves it forward; an older one (arriving out of order) never moves it
back. Channels with the "always open" policy (SMS, LinkedIn) have no window.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from conversations.models import Conversation
from tenants.models import WindowPolicy

WINDOW = timedelta(hours=24)


def window_note_customer_message(conversation: Conversation, *, at: datetime) -> None:
    """Move the window for a customer message sent at `at` (fields only; no save)."""
    if conversation.last_user_message_at is None or at > conversation.last_user_message_at:
        conversation.last_user_message_at = at
    _recompute(conversation)


def window_close(conversation: Conversation, *, at: datetime) -> None:
    """The provider says the window is closed (WhatsApp 131047): believe it."""
    if conversation.window_expires_at is None or conversation.window_expires_at > at:
        conversation.window_expires_at = at
    conversation.is_window_open = False


def window_is_open(conversation: Conversation, *, now: datetime | None = None) -> bool:
    if conversation.channel.window_policy == WindowPolicy.ALWAYS_OPEN:
        return True
    expires = conversation.window_expires_at
    return expires is not None and expires > (now or timezone.now())


def _recompute(conversation: Conversation) -> None:
    if conversation.channel.window_policy == WindowPolicy.ALWAYS_OPEN:
        conversation.window_expires_at = None
        conversation.is_window_open = True
        return
    conversation.window_expires_at = conversation.last_user_message_at + WINDOW
    conversation.is_window_open = window_is_open(conversation)

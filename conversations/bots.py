"""Whether a bot is handling a conversation: its `bot_active` is on and its channel has
an automated responder.

The responders are integrations' (an event subscription marked as a channel's
responder), above this app in the import order: integrations registers, once at
start-up, the query of the channels that have one, and this app uses it inside its own
queries (one annotation on the inbox, no query per row). Without a registration no
channel has a responder.
"""

from collections.abc import Callable

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Value

# () -> a queryset of channel ids (`values("channel_id")`-like) that have a responder
_responder_channels: Callable[[], QuerySet] | None = None


def responder_channels_register(query: Callable[[], QuerySet]) -> None:
    global _responder_channels
    _responder_channels = query


def bot_handling_annotation():
    """An expression for `.annotate(bot_handling=...)` on conversations."""
    if _responder_channels is None:
        return Value(False, output_field=BooleanField())
    responder = _responder_channels().filter(channel_id=OuterRef("channel_id"))
    return Q(bot_active=True) & Exists(responder)


def bot_handling(conversation) -> bool:
    """For one conversation (its page, a service)."""
    if not conversation.bot_active or _responder_channels is None:
        return False
    return _responder_channels().filter(channel_id=conversation.channel_id).exists()

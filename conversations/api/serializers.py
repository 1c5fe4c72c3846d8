"""What the inbox API shows and accepts. No rules here: the window comes from
`conversations.window`, every write from `conversations.services`."""

from datetime import UTC, datetime
from functools import cached_property

from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from conversations.consent import consent_of
from conversations.consent_models import ConsentChange, ConsentScope, ConsentSource, ConsentState
from conversations.models import (
    Contact,
    ContactErasure,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Message,
    MessageReaction,
)
from conversations.window import WindowState, WindowStatus, window_status
from providers import ChannelKind
from providers.events import MessageStatus
from tenants.api.fields import IdField, MomentField
from tenants.models import Channel


class WindowStatusSerializer(serializers.Serializer):
    """The 24-hour customer-service window at the time of the response."""

    state = serializers.ChoiceField(
        choices=[(s.value, s.value) for s in WindowState],
        help_text="ACTIVE: open now; EXPIRED: it was open and closed; NONE: never opened.",
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    seconds_remaining = serializers.IntegerField()
    hours_remaining = serializers.FloatField()
    can_send_free_form = serializers.BooleanField()
    can_send_template = serializers.BooleanField()


@extend_schema_field(WindowStatusSerializer)
class WindowField(serializers.Field):
    """A conversation's window, computed for the serializer context's `now` (one clock
    for the whole page) or the clock. Needs the channel loaded with the conversation."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    @cached_property
    def _window_serializer(self) -> WindowStatusSerializer:
        # One for the whole page: a serializer per row would copy its fields every time,
        # which was half the cost of a page of conversations (bench/inbox.py).
        return WindowStatusSerializer()

    def to_representation(self, conversation: Conversation) -> dict:
        status = window_status(conversation, now=self.context.get("now"))
        return self._window_serializer.to_representation(status)


class ChannelSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Channel
        fields = ["id", "name", "provider"]
        read_only_fields = fields


class ContactSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "phone"]
        read_only_fields = fields


class AssigneeSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    assignee = AssigneeSerializer(allow_null=True, read_only=True)
    contact = ContactSummarySerializer(read_only=True)
    channel = ChannelSummarySerializer(read_only=True)
    window = WindowField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "status",
            "snoozed_until",
            "assignee",
            "unread_count",
            "last_activity_at",
            "last_message_at",
            "last_message_preview",
            "contact",
            "channel",
            "window",
            "bot_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, conversation: Conversation) -> dict:
        """What the declared fields produce, built directly: DRF's per-field machinery
        cost more than a page's queries (bench/inbox.py). The declared fields stay the
        schema, and a test holds this output to theirs."""
        contact, channel, assignee = (
            conversation.contact,
            conversation.channel,
            conversation.assignee,
        )
        return {
            "id": conversation.pk,
            "status": conversation.status,
            "snoozed_until": _iso(conversation.snoozed_until),
            "assignee": {"id": assignee.pk, "username": assignee.username} if assignee else None,
            "unread_count": conversation.unread_count,
            "last_activity_at": _iso(conversation.last_activity_at),
            "last_message_at": _iso(conversation.last_message_at),
            "last_message_preview": conversation.last_message_preview,
            "contact": {"id": contact.pk, "name": contact.name, "phone": contact.phone},
            "channel": {"id": channel.pk, "name": channel.name, "provider": channel.provider},
            "window": _window(window_status(conversation, now=self.context.get("now"))),
            "bot_active": conversation.bot_active,
            "created_at": _iso(conversation.created_at),
            "updated_at": _iso(conversation.updated_at),
        }


def _iso(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it under USE_TZ and UTC: ISO 8601, "Z" for UTC."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _window(status: WindowStatus) -> dict:
    return {
        "state": status.state.value,
        "expires_at": _iso(status.expires_at),
        "seconds_remaining": status.seconds_remaining,
        "hours_remaining": status.hours_remaining,
        "can_send_free_form": status.can_send_free_form,
        "can_send_template": status.can_send_template,
    }


class ReactionSerializer(serializers.ModelSerializer):
    class Meta:
        model = MessageReaction
        fields = ["emoji", "direction", "reactor", "reacted_at"]
        read_only_fields = fields


class RevisionSerializer(serializers.Serializer):
    text = serializers.CharField()
    at = serializers.DateTimeField()


class FailureSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    at = serializers.DateTimeField()


class CallSerializer(serializers.Serializer):
    """A call's facts (messages of type "call"); each appears once an event told it."""

    status = serializers.ChoiceField(
        choices=["ringing", "answered", "missed", "failed", "completed"], required=False
    )
    direction = serializers.ChoiceField(choices=["inbound", "outbound"], required=False)
    started_at = serializers.CharField(required=False, help_text="ISO 8601.")
    answered_at = serializers.CharField(required=False, help_text="ISO 8601; none if missed.")
    ended_at = serializers.CharField(required=False, help_text="ISO 8601.")
    duration = serializers.IntegerField(required=False, help_text="Seconds of conversation.")
    voicemail = serializers.DictField(required=False, help_text="url, type, duration.")
    recordings = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Each: url, type, duration."
    )
    summary = serializers.ListField(child=serializers.CharField(), required=False)
    next_steps = serializers.ListField(child=serializers.CharField(), required=False)
    transcript = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Each line: identifier, userId, start, end, content.",
    )


class MessageSerializer(serializers.ModelSerializer):
    """A message of a thread. Needs `reactions` in its context (message id -> the
    message's current reactions, `selectors.message_reactions`): one query a page."""

    # A plain string in the schema: an enum here would collide with the conversation's
    # `status` enum (drf-spectacular would name both by hash).
    status = serializers.CharField(
        read_only=True, help_text=f"One of: {', '.join(s.value for s in MessageStatus)}."
    )
    text = serializers.CharField(
        read_only=True,
        help_text="Readable text of every kind of message (a location's place and address, "
        "shared contacts' names, an order's summary, the chosen reply); `payload` keeps "
        "the structured content.",
    )
    occurred_at = serializers.DateTimeField(
        read_only=True,
        help_text="When it was written (the provider's time): the thread's order, "
        "ties broken by id.",
    )
    reactions = serializers.SerializerMethodField(
        help_text="Current reactions, one per reactor (removed ones are not listed)."
    )
    edit_history = serializers.SerializerMethodField(
        help_text="Its earlier texts, oldest first, when its sender edited it."
    )
    error_history = serializers.SerializerMethodField(
        help_text="Every failure the provider reported, including one after delivery or "
        "read (which does not change `status` or set `failed_at`)."
    )
    deleted_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Set when its sender revoked it."
    )
    call = CallSerializer(
        source="payload.call",
        read_only=True,
        allow_null=True,
        help_text='Messages of type "call": what is known of the call; null otherwise.',
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "direction",
            "type",
            "text",
            "media",
            "payload",
            "context",
            "call",
            "status",
            "provider_message_id",
            "provider_timestamp",
            "occurred_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "error_code",
            "error_title",
            "error_history",
            "reactions",
            "edited_at",
            "edit_history",
            "deleted_at",
            "contents_erased_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ReactionSerializer(many=True))
    def get_reactions(self, message: Message) -> list[dict]:
        reactions = self.context.get("reactions", {}).get(message.pk, [])
        return ReactionSerializer(reactions, many=True).data

    @extend_schema_field(FailureSerializer(many=True))
    def get_error_history(self, message: Message) -> list[dict]:
        failures = [{**f, "at": parse_datetime(f["at"])} for f in message.error_history]
        return FailureSerializer(failures, many=True).data

    @extend_schema_field(RevisionSerializer(many=True))
    def get_edit_history(self, message: Message) -> list[dict]:
        earlier = [
            {"text": revision["text"], "at": parse_datetime(revision["at"])}
            for revision in message.revisions[:-1]
        ]
        return RevisionSerializer(earlier, many=True).data


class AssignSerializer(serializers.Serializer):
    assignee = IdField(allow_null=True, help_text="A member's user id, or null to unassign.")


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    until = MomentField(
        required=False,
        allow_null=True,
        help_text="Required for snoozed, in the future; rejected for any other status.",
    )


class ConsentSerializer(serializers.Serializer):
    """One (channel kind, scope) of a contact; all six are listed, unknown included."""

    kind = serializers.ChoiceField(choices=[k.value for k in ChannelKind])
    scope = serializers.ChoiceField(choices=ConsentScope.choices)
    state = serializers.ChoiceField(choices=ConsentState.choices)
    source = serializers.ChoiceField(
        choices=ConsentSource.choices, allow_null=True, help_text="Null while unknown."
    )
    since = serializers.DateTimeField(allow_null=True, help_text="When it was decided.")


class ConsentSetSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in ChannelKind])
    scope = serializers.ChoiceField(
        choices=ConsentScope.choices,
        help_text="service: every message of the kind; marketing: marketing only.",
    )
    state = serializers.ChoiceField(choices=ConsentState.choices)


class ConsentChangeSerializer(serializers.ModelSerializer):
    changed_by = AssigneeSerializer(allow_null=True, read_only=True)

    class Meta:
        model = ConsentChange
        fields = [
            "id",
            "kind",
            "scope",
            "state",
            "previous_state",
            "source",
            "changed_by",
            "label",
            "message",
            "changed_at",
        ]
        read_only_fields = fields


_ConsentList = ConsentSerializer(many=True)


class ContactSerializer(serializers.ModelSerializer):
    consent = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = ["id", "name", "phone", "consent", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(_ConsentList)
    def get_consent(self, contact: Contact) -> list[dict]:
        return consent_of(contact=contact)  # from the prefetched consents: no query


class ContactIdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactIdentity
        fields = ["id", "channel", "kind", "value"]
        read_only_fields = fields


class ContactConversationSerializer(serializers.ModelSerializer):
    channel = ChannelSummarySerializer(read_only=True)
    window = WindowField()

    class Meta:
        model = Conversation
        fields = ["id", "channel", "status", "last_activity_at", "window"]
        read_only_fields = fields


class ContactDetailSerializer(ContactSerializer):
    identities = ContactIdentitySerializer(many=True, read_only=True)
    conversations = ContactConversationSerializer(many=True, read_only=True)

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "identities", "conversations"]
        read_only_fields = fields


class ContactErasureSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="contact_id", read_only=True, allow_null=True)
    requested_by = serializers.IntegerField(
        source="requested_by_id", read_only=True, allow_null=True
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Rows erased per step: contact (identities, contact, conversations, "
        "reactions, notes), messages, webhook_bodies, idempotency_answers.",
    )

    class Meta:
        model = ContactErasure
        fields = [
            "id",
            "contact",
            "identifier_kind",
            "identifier_hash",
            "source",
            "requested_by",
            "requested_at",
            "completed_at",
            "counts",
        ]
        read_only_fields = fields


class InboxCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField(help_text="Open conversations.")
    unread = serializers.IntegerField(help_text="Not closed, with unread messages.")
    unassigned = serializers.IntegerField(help_text="Not closed, assigned to nobody.")
    mine = serializers.IntegerField(help_text="Not closed, assigned to the caller.")
    expiring_windows = serializers.IntegerField(
        help_text="Not closed, window open now and closing within the next hour."
    )


class ChannelCountsSerializer(serializers.Serializer):
    channel = ChannelSummarySerializer()
    counts = InboxCountsSerializer()


class InboxCountersSerializer(serializers.Serializer):
    total = InboxCountsSerializer()
    channels = ChannelCountsSerializer(many=True, help_text="Every channel, zeros included.")

from rest_framework import serializers

from integrations.bots import MAX_WAIT_LIMIT, QUIET_BOUNDS
from integrations.models import Delivery, DeliveryStatus, Subscription
from outbox.types import EVENT_TYPES
from tenants.api.fields import IdField, MomentField


class SubscriptionSerializer(serializers.ModelSerializer):
    channel = serializers.IntegerField(source="channel_id", allow_null=True)
    previous_secret_valid_until = serializers.DateTimeField(
        source="previous_secret_expires_at",
        allow_null=True,
        help_text="During a rotation: until when the previous secret also signs.",
    )
    event_types = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "channel",
            "enabled",
            "responder",
            "burst_quiet_seconds",
            "burst_max_wait_seconds",
            "disabled_reason",
            "failing_since",
            "previous_secret_valid_until",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (`whsec_...`), shown only in this answer: keep it."
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    url = serializers.CharField(
        max_length=2000, help_text="https (private and loopback addresses are refused)."
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)), min_length=1, max_length=50
    )
    channel = IdField(
        required=False, allow_null=True, help_text="Only this channel's events (default: all)."
    )
    enabled = serializers.BooleanField(required=False)
    responder = serializers.BooleanField(
        required=False,
        help_text="This subscription is its channel's automated responder (needs `channel`; "
        "one enabled per channel): customers' messages reach it as `conversation.burst`.",
    )
    burst_quiet_seconds = serializers.IntegerField(
        required=False,
        min_value=QUIET_BOUNDS[0],
        max_value=QUIET_BOUNDS[1],
        help_text="A burst is sent once the customer was quiet this long (default 3).",
    )
    burst_max_wait_seconds = serializers.IntegerField(
        required=False,
        min_value=QUIET_BOUNDS[0],
        max_value=MAX_WAIT_LIMIT,
        help_text="... or this long after its first message at most (default 20; at least "
        "the quiet period).",
    )


class ReplayRangeSerializer(serializers.Serializer):
    since = MomentField(help_text="Deliveries created at or after (ISO 8601).")
    until = MomentField(help_text="... and before (ISO 8601).")


class ReplayedSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()


class DeliverySerializer(serializers.ModelSerializer):
    subscription = serializers.IntegerField(source="subscription_id")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_type",
            "conversation_id",
            "webhook_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "response_status",
            "response_excerpt",
            "latency_ms",
            "error",
            "request_headers",
            "payload",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

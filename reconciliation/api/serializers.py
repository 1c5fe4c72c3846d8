from rest_framework import serializers

from conversations.api.serializers import ChannelSummarySerializer
from reconciliation.models import ReconciliationRun, RunKind
from tenants.api.fields import IdField, MomentField


class ReconciliationRunSerializer(serializers.ModelSerializer):
    channel = ChannelSummarySerializer(read_only=True)

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "channel",
            "kind",
            "status",
            "trigger",
            "window_start",
            "window_end",
            "fetched",
            "created",
            "updated",
            "unchanged",
            "errors",
            "progress",
            "findings",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class RunRequestSerializer(serializers.Serializer):
    channel = IdField(help_text="One of the organization's channel ids.")
    kind = serializers.ChoiceField(
        choices=[(k.value, k.label) for k in RunKind],
        required=False,
        help_text="Default: messages where the provider lists them, templates on WhatsApp.",
    )
    since = MomentField(required=False, help_text="Default: 48 hours ago.")
    until = MomentField(required=False, help_text="Default: now.")

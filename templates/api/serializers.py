"""What the templates API shows and accepts. No rules here: a submission is checked by
`templates.services.template_submit`."""

from rest_framework import serializers

from conversations.api.serializers import ChannelSummarySerializer
from templates.models import EventKind, EventSource, MessageTemplate, TemplateEvent
from tenants.api.fields import IdField

# Plain strings in the schema, not enums: `kind`, `source` and `status` enums would
# collide with other models' fields of the same names.
_KINDS = ", ".join(kind.value for kind in EventKind)
_SOURCES = ", ".join(source.value for source in EventSource)


class TemplateSerializer(serializers.ModelSerializer):
    channel = ChannelSummarySerializer(read_only=True)
    status = serializers.CharField(
        read_only=True,
        help_text="As Meta sends it: APPROVED, PENDING, REJECTED, PAUSED, DISABLED, "
        "IN_APPEAL, FLAGGED... Only APPROVED templates can be sent.",
    )
    category = serializers.CharField(
        read_only=True, help_text="MARKETING, UTILITY or AUTHENTICATION."
    )
    can_send = serializers.BooleanField(
        read_only=True, help_text="APPROVED and still listed by Meta."
    )
    removed = serializers.BooleanField(
        source="is_deleted", read_only=True, help_text="Meta no longer lists it."
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "channel",
            "provider_template_id",
            "name",
            "language",
            "category",
            "parameter_format",
            "status",
            "quality_score",
            "rejection_reason",
            "allow_category_change",
            "can_send",
            "components",
            "removed",
            "removed_at",
            "last_synced_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TemplateEventSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True, help_text=f"One of: {_KINDS}.")
    source = serializers.CharField(read_only=True, help_text=f"One of: {_SOURCES}.")

    class Meta:
        model = TemplateEvent
        fields = [
            "id",
            "kind",
            "source",
            "old_value",
            "new_value",
            "reason",
            "details",
            "occurred_at",
            "created_at",
        ]
        read_only_fields = fields


class TemplateDetailSerializer(TemplateSerializer):
    history = TemplateEventSerializer(
        source="events", many=True, read_only=True, help_text="Newest first."
    )

    class Meta(TemplateSerializer.Meta):
        fields = [*TemplateSerializer.Meta.fields, "history"]
        read_only_fields = fields


class TemplateSubmitSerializer(serializers.Serializer):
    """A channel id, and the template as Meta's create call takes it (contract A5)."""

    channel = IdField(help_text="A WhatsApp channel with a WABA id.")
    name = serializers.CharField(
        max_length=512, help_text="Lowercase letters, digits and underscores."
    )
    language = serializers.CharField(max_length=32, help_text="e.g. en_US.")
    category = serializers.CharField(help_text="MARKETING, UTILITY or AUTHENTICATION.")
    parameter_format = serializers.CharField(
        required=False, help_text="NAMED ({{day}}) or POSITIONAL ({{1}}, the default)."
    )
    allow_category_change = serializers.BooleanField(required=False)
    components = serializers.ListField(
        child=serializers.DictField(),
        help_text="HEADER, BODY (required), FOOTER and BUTTONS, as Meta takes them.",
    )


class TemplateSyncSerializer(serializers.Serializer):
    channel = IdField(
        required=False,
        allow_null=True,
        help_text="One channel; left out, every WhatsApp channel of the organization.",
    )


class TemplateSyncQueuedSerializer(serializers.Serializer):
    queued = ChannelSummarySerializer(many=True, help_text="The channels whose sync is queued.")

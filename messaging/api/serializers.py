"""What the send endpoints accept. The rules are in messaging.services."""

from rest_framework import serializers

from tenants.api.fields import IdField


class TemplateSendSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=20, help_text="e.g. en_US")
    parameters = serializers.DictField(
        required=False,
        default=dict,
        help_text='Per component: {"body": {"day": "Saturday"}} for named templates, '
        '{"body": ["4", "Saturday"]} for positional ones; "header" and "buttons" likewise.',
    )


class SendSerializer(serializers.Serializer):
    """Exactly one of `text` (free-form, inside the 24-hour window) or `template`."""

    text = serializers.CharField(required=False, trim_whitespace=False, max_length=8000)
    template = TemplateSendSerializer(required=False)
    reply_to = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=255,
        help_text="Provider id of the message to quote (WhatsApp).",
    )

    def validate(self, attrs):
        if ("text" in attrs) == ("template" in attrs):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give either text or template, not both or neither."]}
            )
        return attrs


class SendToPhoneSerializer(SendSerializer):
    channel = IdField(help_text="One of the organization's channel ids.")
    to = serializers.CharField(max_length=32, help_text="Phone number, E.164 (+15550100).")

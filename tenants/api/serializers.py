from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from providers import PROVIDER_LABELS, Provider
from tenants.models import (
    ACCOUNT_FIELDS,
    SECRET_FIELDS,
    Channel,
    Membership,
    Role,
    WindowPolicy,
)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name"]


class MembershipSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="organization.id")
    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    timezone = serializers.CharField(source="organization.timezone")

    class Meta:
        model = Membership
        fields = ["id", "slug", "name", "timezone", "role"]


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    organizations = MembershipSerializer(many=True)


class ChannelSerializer(serializers.ModelSerializer):
    """A channel as the API shows it: secrets are never returned, only which are set.

    The verify token is one too (whoever knows it can subscribe a Meta app to this
    channel's webhook URL): only admins, who set the webhook up, see it. Serializers of
    this class take the caller's `role` from their context.
    """

    webhook_url = serializers.CharField(read_only=True)
    api_base_url = serializers.SerializerMethodField(
        help_text="Unipile: your DSN, e.g. https://api1.unipile.com:13111. Null when unset."
    )
    verify_token = serializers.SerializerMethodField(
        help_text="WhatsApp: paste into Meta's dashboard as the webhook verify token. "
        "Shown to admins only; null for other roles and other providers."
    )
    secrets_set = serializers.ListField(
        child=serializers.ChoiceField(choices=SECRET_FIELDS),
        read_only=True,
        help_text="Which credentials are stored (their values are never shown).",
    )

    class Meta:
        model = Channel
        fields = [
            "id",
            "provider",
            "name",
            *ACCOUNT_FIELDS,
            "key",
            "webhook_url",
            "verify_token",
            "is_active",
            "secrets_set",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    # An empty string is not a URI: the schema's `format: uri` would be a lie.
    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_api_base_url(self, channel: Channel) -> str | None:
        return channel.api_base_url or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_verify_token(self, channel: Channel) -> str | None:
        if channel.provider != Provider.WHATSAPP_CLOUD:
            return None
        # Without a caller's role, the least one: a forgotten context hides the token.
        if not Role(self.context.get("role", Role.VIEWER)).allows(Role.ADMIN):
            return None
        return channel.verify_token


def _secret_field(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text=f"{help_text} Write-only; an empty string clears it.",
    )


class ChannelWriteSerializer(serializers.Serializer):
    """Input for updating a channel; every field is optional and left as is if absent."""

    name = serializers.CharField(max_length=200, required=False)
    display_phone_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone_number_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    waba_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    account_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    account_user_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    api_base_url = serializers.URLField(
        required=False, allow_blank=True, allow_null=True, help_text="Empty or null clears it."
    )
    window_policy = serializers.ChoiceField(choices=WindowPolicy.choices, required=False)
    access_token = _secret_field("WhatsApp/OpenPhone/Unipile API token or key.")
    app_secret = _secret_field("WhatsApp: Meta app secret.")
    signing_key = _secret_field("OpenPhone: webhook signing key.")
    auth_token = _secret_field("Twilio: auth token.")
    shared_secret = _secret_field("Unipile: the Unipile-Auth header value.")


class ChannelCreateSerializer(ChannelWriteSerializer):
    provider = serializers.ChoiceField(choices=[(p.value, PROVIDER_LABELS[p]) for p in Provider])
    name = serializers.CharField(max_length=200)

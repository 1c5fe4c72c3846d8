"""`/api/v1/me/notifications`: the caller's own notification settings."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.notifications_settings import (
    notification_setting_get,
    notification_setting_update,
)
from tenants.api.base import validated

REPLY_EMAILS_HELP = (
    "Email me when a customer writes in a conversation assigned to me (or in an unassigned "
    "one, when I am among those my organization tells); at most one email per "
    "conversation every 15 minutes. On unless turned off."
)


class NotificationSettingSerializer(serializers.Serializer):
    reply_emails = serializers.BooleanField(help_text=REPLY_EMAILS_HELP)


class NotificationSettingUpdateSerializer(serializers.Serializer):
    reply_emails = serializers.BooleanField(required=False, help_text=REPLY_EMAILS_HELP)


class MyNotificationsView(APIView):
    """The caller's own settings; the same in every organization they belong to."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=NotificationSettingSerializer)
    def get(self, request):
        setting = notification_setting_get(user=request.user)
        return Response(NotificationSettingSerializer(setting).data)

    @extend_schema(
        request=NotificationSettingUpdateSerializer, responses=NotificationSettingSerializer
    )
    def patch(self, request):
        data = validated(NotificationSettingUpdateSerializer, request.data)
        setting = notification_setting_get(user=request.user)
        if "reply_emails" in data:
            setting = notification_setting_update(
                user=request.user, reply_emails=data["reply_emails"]
            )
        return Response(NotificationSettingSerializer(setting).data)

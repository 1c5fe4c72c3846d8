"""Integrations' tables. Each part keeps its models in its own module, imported here
so that Django finds them."""

from integrations.notifications_models import NotificationSetting, ReplyNotification

__all__ = ["NotificationSetting", "ReplyNotification"]

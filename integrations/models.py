"""Integrations' tables. Each part keeps its models in its own module, imported here
so that Django finds them."""

from integrations.bot_models import Burst, BurstState
from integrations.notifications_models import NotificationSetting, ReplyNotification
from integrations.subscription_models import Delivery, DeliveryStatus, Subscription

__all__ = [
    "Burst",
    "BurstState",
    "Delivery",
    "DeliveryStatus",
    "NotificationSetting",
    "ReplyNotification",
    "Subscription",
]

"""Reading subscriptions and deliveries."""

from datetime import datetime

from django.db.models import QuerySet

from integrations.models import Delivery, Subscription
from tenants.models import Organization


def subscription_list(*, organization: Organization) -> QuerySet[Subscription]:
    return Subscription.objects.filter(organization=organization).order_by("-created_at", "-id")


def delivery_list(
    *,
    organization: Organization,
    subscription_id: int | None = None,
    status: str | None = None,
    event_type: str | None = None,
    conversation_id: int | None = None,
    created_since: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(organization=organization)
    filters = {
        "subscription_id": subscription_id,
        "status": status,
        "event_type": event_type,
        "conversation_id": conversation_id,
        "created_at__gte": created_since,
        "created_at__lt": created_before,
    }
    return deliveries.filter(**{k: v for k, v in filters.items() if v not in (None, "")})

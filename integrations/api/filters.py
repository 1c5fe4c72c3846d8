"""The deliveries list's query parameters (validated here, applied by the selector)."""

from django_filters import rest_framework as filters

from integrations.models import Delivery, DeliveryStatus
from tenants.api.fields import IdFilter, MomentFilter


class DeliveryFilter(filters.FilterSet):
    subscription = IdFilter(help_text="Subscription id.")
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = filters.CharFilter(max_length=64, help_text="e.g. message.received")
    conversation = IdFilter(help_text="Conversation id.")
    created_since = MomentFilter(help_text="Created at or after (ISO 8601).")
    created_before = MomentFilter(help_text="Created before (ISO 8601).")

    class Meta:
        model = Delivery
        fields = []

    def selector_arguments(self) -> dict:
        data = self.form.cleaned_data
        return {
            "subscription_id": data["subscription"],
            "status": data["status"] or None,
            "event_type": data["event_type"] or None,
            "conversation_id": data["conversation"],
            "created_since": data["created_since"],
            "created_before": data["created_before"],
        }

from django.urls import path

from providers import Provider
from webhooks.views import keyed_webhook, whatsapp_webhook

urlpatterns = [
    path("whatsapp/", whatsapp_webhook, name="webhook-whatsapp"),
    *[
        path(
            f"{provider.value}/<str:channel_key>/",
            keyed_webhook,
            {"provider": provider},
            name=f"webhook-{provider.value}",
        )
        for provider in (Provider.OPENPHONE, Provider.TWILIO, Provider.UNIPILE)
    ],
]

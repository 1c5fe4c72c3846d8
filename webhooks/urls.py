from django.urls import path, register_converter

from providers import Provider
from webhooks.views import keyed_webhook, whatsapp_webhook


class ChannelKeyConverter:
    """A channel's webhook key: URL-safe characters (tenants.models.new_channel_key).
    Anything else (a NUL byte reached PostgreSQL as a DataError) matches no route."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ChannelKeyConverter, "channel_key")

urlpatterns = [
    path("whatsapp/", whatsapp_webhook, name="webhook-whatsapp"),
    *[
        path(
            f"{provider.value}/<channel_key:channel_key>/",
            keyed_webhook,
            {"provider": provider},
            name=f"webhook-{provider.value}",
        )
        for provider in (Provider.OPENPHONE, Provider.TWILIO, Provider.UNIPILE)
    ],
]

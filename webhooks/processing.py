"""Apply a stored webhook: parse its body into normalized events and hand each to the
domain service that owns it, through one dispatch table.

The whole event is applied in one transaction, together with its "processed" mark: if
any part fails, nothing of it stays and the retry applies it all again (every handler
is idempotent).
"""

import logging
from collections import Counter
from collections.abc import Callable

from django.db import transaction

from conversations import services as conversations
from providers import Provider
from providers.base import PayloadError, SignedRequest
from providers.events import (
    AccountEvent,
    Event,
    InboundMessage,
    MessageStatusUpdate,
    TemplateCategoryChanged,
    TemplateQualityChanged,
    TemplateStatusChanged,
    Unsupported,
)
from tenants import services as tenants
from tenants.models import Channel
from webhooks.models import WebhookEvent
from webhooks.registry import provider_module
from webhooks.services import (
    webhook_event_claim,
    webhook_event_fail,
    webhook_event_finish,
)

logger = logging.getLogger(__name__)

Handler = Callable[[Channel, Event, WebhookEvent], str]


def _inbound(channel: Channel, event: InboundMessage, webhook: WebhookEvent) -> str:
    return conversations.inbound_message_apply(
        channel=channel, message=event, webhook_event_id=webhook.pk
    )


def _status(channel: Channel, event: MessageStatusUpdate, webhook: WebhookEvent) -> str:
    return conversations.message_status_apply(channel=channel, update=event)


def _account(channel: Channel, event: AccountEvent, webhook: WebhookEvent) -> str:
    return tenants.channel_event_record(channel=channel, event=event)


def _not_handled_yet(channel: Channel, event: Event, webhook: WebhookEvent) -> str:
    # Template lifecycle events are stored and acknowledged; the templates capability
    # handles them, and replaying these events then applies them.
    return "not_handled"


def _unsupported(channel: Channel, event: Unsupported, webhook: WebhookEvent) -> str:
    return "unsupported"


HANDLERS: dict[type[Event], Handler] = {
    InboundMessage: _inbound,
    MessageStatusUpdate: _status,
    AccountEvent: _account,
    TemplateStatusChanged: _not_handled_yet,
    TemplateQualityChanged: _not_handled_yet,
    TemplateCategoryChanged: _not_handled_yet,
    Unsupported: _unsupported,
}


def webhook_event_process(*, event_id: int) -> str:
    """Process one stored event if it is ours to process. Returns its new status."""
    webhook = webhook_event_claim(event_id=event_id)
    if webhook is None:
        return "skipped"
    try:
        events = provider_module(webhook.provider).parse(signed_request_of(webhook))
    except PayloadError as exc:
        webhook_event_fail(event=webhook, error=f"Unreadable payload: {exc}", retry=False)
        return webhook.status
    refs = _refs(events)
    try:
        with transaction.atomic():
            outcomes, unroutable = _apply(webhook, events)
            webhook_event_finish(event=webhook, outcomes=outcomes, refs=refs, unroutable=unroutable)
    except Exception as exc:
        logger.exception("Webhook event %s failed (attempt %s)", webhook.pk, webhook.attempts)
        webhook_event_fail(event=webhook, error=f"{type(exc).__name__}: {exc}", refs=refs)
    return webhook.status


def signed_request_of(webhook: WebhookEvent) -> SignedRequest:
    return SignedRequest(
        body=webhook.body_bytes,
        headers=webhook.headers,
        url=webhook.url,
        received_at=webhook.received_at,
    )


def _refs(events: list[Event]) -> str:
    """The provider ids in the payload, for operators to search the queue by."""
    return " ".join(sorted({ref for event in events if (ref := _ref(event))}))[:10_000]


def _ref(event: Event) -> str:
    return getattr(event, "message_id", "") or getattr(event, "template_id", "")


def _apply(webhook: WebhookEvent, events: list[Event]) -> tuple[dict[str, int], bool]:
    outcomes: Counter[str] = Counter()
    router = _ChannelRouter(webhook)
    for event in events:
        channel = router.channel_for(event)
        if channel is None:
            outcomes["unroutable"] += 1
            continue
        outcomes[HANDLERS[type(event)](channel, event, webhook)] += 1
    return dict(outcomes), outcomes["unroutable"] > 0


class _ChannelRouter:
    """The channel each event belongs to.

    Providers named by URL: the channel of the URL. WhatsApp: one Meta app serves many
    numbers, so each event is routed by its phone_number_id (or WABA id), and only to a
    channel whose app secret also signed this request, so a tenant cannot post into
    another tenant's channel with its own app's signature.
    """

    def __init__(self, webhook: WebhookEvent) -> None:
        self.webhook = webhook
        self.cache: dict[tuple[str, str], Channel | None] = {}

    def channel_for(self, event: Event) -> Channel | None:
        if self.webhook.provider != Provider.WHATSAPP_CLOUD:
            return self.webhook.channel
        key = (event.phone_number_id, event.waba_id)
        if key not in self.cache:
            self.cache[key] = self._whatsapp_channel(*key)
        return self.cache[key]

    def _whatsapp_channel(self, phone_number_id: str, waba_id: str) -> Channel | None:
        own = self.webhook.channel
        if own is not None and phone_number_id and own.phone_number_id == phone_number_id:
            return own  # the common case: the view routed the payload by this very id
        channels = Channel.objects.filter(provider=Provider.WHATSAPP_CLOUD)
        if phone_number_id:
            channel = channels.filter(phone_number_id=phone_number_id).first()
        else:
            channel = channels.filter(waba_id=waba_id).exclude(waba_id="").order_by("id").first()
        if channel is None or not self._signed_for(channel):
            return None
        if self.webhook.channel_id is None:
            self.webhook.channel, self.webhook.organization_id = channel, channel.organization_id
        return channel

    def _signed_for(self, channel: Channel) -> bool:
        module = provider_module(self.webhook.provider)
        verified = module.verify(signed_request_of(self.webhook), channel.webhook_secret)
        if not verified:
            logger.warning(
                "Webhook %s names channel %s but is not signed with its secret (%s)",
                self.webhook.pk,
                channel.pk,
                verified.reason,
            )
        return bool(verified)

"""Apply stored webhooks: parse their bodies into normalized events and hand them to
the domain services that own them.

Conversation events (messages, calls and statuses) of every webhook a worker claimed are
applied together by `conversations.batch`, in one transaction with the webhooks'
"processed" marks; the rest go through one dispatch table. If a batch fails, its
webhooks are applied one at a time, so one bad event never holds back the others and
is retried on its own schedule (every handler is idempotent).
"""

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from conversations.batch import ConversationEvent, Inbound, Status
from conversations.batch import events_apply as apply_conversation_events
from messaging.auto_replies import auto_replies_queue
from messaging.invitations import relation_apply
from providers import Provider
from providers.base import PayloadError, SignedRequest
from providers.events import (
    AccountEvent,
    Event,
    MessageStatusUpdate,
    RelationAccepted,
    TemplateCategoryChanged,
    TemplateQualityChanged,
    TemplateStatusChanged,
    Unsupported,
)
from templates import services as templates
from tenants import services as tenants
from tenants.models import Channel
from webhooks.models import EventStatus, WebhookEvent
from webhooks.queueing import webhook_event_enqueue
from webhooks.registry import provider_module
from webhooks.services import (
    webhook_event_fail,
    webhook_events_claim,
    webhook_events_finish,
)

logger = logging.getLogger(__name__)
# While a task waits out its claim_until, it looks for new webhooks this often.
CLAIM_POLL_SECONDS = 0.05

Handler = Callable[[Channel, Event, WebhookEvent], str]


def _account(channel: Channel, event: AccountEvent, webhook: WebhookEvent) -> str:
    return tenants.channel_event_record(channel=channel, event=event)


def _template_status(channel: Channel, event: TemplateStatusChanged, webhook: WebhookEvent) -> str:
    return templates.template_status_apply(channel=channel, event=event)


def _template_quality(
    channel: Channel, event: TemplateQualityChanged, webhook: WebhookEvent
) -> str:
    return templates.template_quality_apply(channel=channel, event=event)


def _template_category(
    channel: Channel, event: TemplateCategoryChanged, webhook: WebhookEvent
) -> str:
    return templates.template_category_apply(channel=channel, event=event)


def _relation(channel: Channel, event: RelationAccepted, webhook: WebhookEvent) -> str:
    # A LinkedIn invitation accepted (or another new relation): "relation_accepted".
    return f"relation_{relation_apply(channel=channel, event=event, source='webhook')}"


def _unsupported(channel: Channel, event: Unsupported, webhook: WebhookEvent) -> str:
    # Named by kind (a webhook field, an event type): what came that we do not handle
    # shows in the event's result and is found by searching the events for it.
    return f"unsupported:{event.kind}"


# Everything but messages, calls and statuses, which are applied in batches (see above).
HANDLERS: dict[type[Event], Handler] = {
    AccountEvent: _account,
    TemplateStatusChanged: _template_status,
    TemplateQualityChanged: _template_quality,
    TemplateCategoryChanged: _template_category,
    RelationAccepted: _relation,
    Unsupported: _unsupported,
}


@dataclass
class _Parsed:
    webhook: WebhookEvent
    events: list[Event]
    refs: str
    outcomes: Counter = field(default_factory=Counter)


def webhook_event_process(*, event_id: int, claim_until: float = 0.0) -> str:
    """Process this stored event, and every webhook waiting behind it, in batches,
    until a claim that began at `claim_until` (monotonic) or later found no more.
    Returns its new status, or "skipped" when it was not ours to process."""
    started = began = time.monotonic()
    claimed = _process_batch(webhook_events_claim(event_id=event_id, limit=_batch_size()))
    own = next((webhook for webhook in claimed if webhook.pk == event_id), None)
    while len(claimed) == _batch_size() or began < claim_until:
        if time.monotonic() - started > _time_budget():
            # Under steady load every batch is full: without a budget the task ran into
            # its time limit mid-batch. A fresh task takes the backlog from here.
            _hand_over_backlog()
            break
        if len(claimed) < _batch_size():  # caught up: wait a little for webhooks to come
            time.sleep(max(0.0, min(CLAIM_POLL_SECONDS, claim_until - time.monotonic())))
        began = time.monotonic()
        claimed = _process_batch(webhook_events_claim(event_id=None, limit=_batch_size()))
    return own.status if own else "skipped"


def _time_budget() -> float:
    """How long one task keeps claiming: a quarter of its hard time limit, so that a
    batch never starts near the limit (and the sweeps get a worker slot meanwhile)."""
    return settings.TASK_TIME_LIMITS["webhooks"] / 4


def _hand_over_backlog() -> None:
    waiting = (
        WebhookEvent.objects.filter(status=EventStatus.RECEIVED)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if waiting is not None:
        webhook_event_enqueue(waiting)  # if the broker is down, the sweep takes it later


def _batch_size() -> int:
    return settings.WEBHOOK_PROCESSING_BATCH


def _process_batch(claimed: list[WebhookEvent]) -> list[WebhookEvent]:
    parsed = [item for item in (_parse(webhook) for webhook in claimed) if item]
    if len(parsed) < 2 or not _apply_together(parsed):
        for item in parsed:
            _apply_alone(item)
    return claimed


def _parse(webhook: WebhookEvent) -> _Parsed | None:
    module = provider_module(webhook.provider)
    _learn_own_account(webhook, module)
    try:
        events = module.parse(signed_request_of(webhook))
    except PayloadError as exc:
        webhook_event_fail(event=webhook, error=f"Unreadable payload: {exc}", retry=False)
        return None
    return _Parsed(webhook, events, _refs(events))


def _learn_own_account(webhook: WebhookEvent, module) -> None:
    """Remember the channel's own account id the first time a payload names it
    (Unipile's account_info), for the payloads that come without it."""
    named_in = getattr(module, "account_user_id", None)
    channel = webhook.channel
    if named_in is None or channel is None or channel.account_user_id:
        return
    user_id = named_in(signed_request_of(webhook))
    if user_id:
        tenants.channel_account_user_id_learn(channel=channel, user_id=user_id)


def _apply_together(parsed: list[_Parsed]) -> bool:
    try:
        with transaction.atomic():
            _apply(parsed)
    except Exception as exc:
        if _not_the_events_fault(exc):
            raise  # the database or the clock, not an event: one by one would not help
        logger.warning("A batch of %s webhooks failed; applying them one by one", len(parsed))
        return False
    return True


def _apply_alone(item: _Parsed) -> None:
    try:
        with transaction.atomic():
            _apply([item])
    except Exception as exc:
        if _not_the_events_fault(exc) and item.webhook.attempts <= len(_backoff()):
            # The database went away (a restart, a failover) or the task hit its time
            # limit: it stays leased, and the sweep hands it to a worker (with a fresh
            # connection, see config.celery) once the lease is up, its attempt counted.
            raise
        webhook = item.webhook
        logger.exception("Webhook event %s failed (attempt %s)", webhook.pk, webhook.attempts)
        webhook_event_fail(event=webhook, error=f"{type(exc).__name__}: {exc}", refs=item.refs)


def _not_the_events_fault(exc: Exception) -> bool:
    return isinstance(exc, OperationalError | InterfaceError | SoftTimeLimitExceeded)


def _backoff() -> list[int]:
    return settings.WEBHOOK_RETRY_BACKOFF_MINUTES


def signed_request_of(webhook: WebhookEvent) -> SignedRequest:
    channel = webhook.channel
    return SignedRequest(
        body=webhook.body_bytes,
        headers=webhook.headers,
        url=webhook.url,
        received_at=webhook.received_at,
        own_ids=(channel.account_user_id,) if channel and channel.account_user_id else (),
    )


def _refs(events: list[Event]) -> str:
    """The provider ids in the payload, for operators to search the queue by."""
    return " ".join(sorted({ref for event in events if (ref := _ref(event))}))[:10_000]


def _ref(event: Event) -> str:
    if isinstance(event, Unsupported):
        return f"unsupported:{event.kind}"
    if isinstance(event, RelationAccepted):
        return event.contact.provider_id or event.public_identifier
    return (
        getattr(event, "message_id", "")
        or getattr(event, "call_id", "")
        or getattr(event, "template_id", "")
    )


def _apply(parsed: list[_Parsed]) -> None:
    inbound: list[tuple[Inbound, Counter]] = []
    statuses: list[tuple[Status, Counter]] = []
    for item in parsed:
        item.outcomes = Counter()
        router = _ChannelRouter(item.webhook)
        for event in item.events:
            channels = router.channels_for(event)
            if not channels:
                item.outcomes["unroutable"] += 1
            elif isinstance(event, ConversationEvent):
                inbound.append((Inbound(channels[0], event, item.webhook.pk), item.outcomes))
            elif isinstance(event, MessageStatusUpdate):
                statuses.append((Status(channels[0], event), item.outcomes))
            else:  # a WABA's template and account events: every channel they are for
                for channel in channels:
                    item.outcomes[HANDLERS[type(event)](channel, event, item.webhook)] += 1
    filed, moved = apply_conversation_events(
        inbound=[entry for entry, _ in inbound],
        statuses=[entry for entry, _ in statuses],
        # Keyword replies go once the batch commits (the sweep sends what this misses).
        on_replies_pending=auto_replies_queue,
    )
    for (_, outcomes), outcome in [
        *zip(inbound, filed, strict=True),
        *zip(statuses, moved, strict=True),
    ]:
        outcomes[outcome] += 1
    for item in parsed:
        item.webhook.result, item.webhook.refs = dict(item.outcomes), item.refs
    webhook_events_finish(events=[item.webhook for item in parsed])


class _ChannelRouter:
    """The channels each event belongs to.

    Providers named by URL: the channel of the URL. WhatsApp: one Meta app serves many
    numbers, so each event is routed by its phone_number_id to that number's channel,
    and an event that names only a WABA (templates, the account) to every channel of
    that WABA; in both cases only to channels whose app secret also signed this
    request, so a tenant can neither post into another tenant's channel with its own
    app's signature nor, by typing another's WABA id, take or block its events.
    """

    def __init__(self, webhook: WebhookEvent) -> None:
        self.webhook = webhook
        self.cache: dict[tuple[str, str], list[Channel]] = {}
        self.signed_for: dict[int, bool] = {}

    def channels_for(self, event: Event) -> list[Channel]:
        if self.webhook.provider != Provider.WHATSAPP_CLOUD:
            return [self.webhook.channel] if self.webhook.channel else []
        key = (event.phone_number_id, event.waba_id)
        if key not in self.cache:
            self.cache[key] = self._whatsapp_channels(*key)
        return self.cache[key]

    def _whatsapp_channels(self, phone_number_id: str, waba_id: str) -> list[Channel]:
        own = self.webhook.channel
        if own is not None and phone_number_id and own.phone_number_id == phone_number_id:
            return [own]  # the common case: the view routed the payload by this very id
        channels = Channel.objects.filter(provider=Provider.WHATSAPP_CLOUD).order_by("id")
        if phone_number_id:
            named = list(channels.filter(phone_number_id=phone_number_id)[:1])
        elif waba_id:
            named = list(channels.filter(waba_id=waba_id))
        else:
            named = []
        signed = [channel for channel in named if self._signed_for(channel)]
        if signed and self.webhook.channel_id is None:
            first = signed[0]
            self.webhook.channel, self.webhook.organization_id = first, first.organization_id
        return signed

    def _signed_for(self, channel: Channel) -> bool:
        if channel.pk == self.webhook.channel_id:
            return True  # verified with this channel's secret when it was received
        if channel.pk not in self.signed_for:
            self.signed_for[channel.pk] = self._verify(channel)
        return self.signed_for[channel.pk]

    def _verify(self, channel: Channel) -> bool:
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

"""Writing subscriptions: create, change, enable/disable, rotate the secret, send a test
event, replay deliveries. The only writers of Subscription rows (and of deliveries
outside the fan-out and the sender)."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.bots import responder_validate
from integrations.egress import UnsafeURLError, url_check
from integrations.signing import secret_generate
from integrations.subscription_models import Delivery, DeliveryStatus, Subscription
from outbox.readers import position_now
from outbox.types import EVENT_TYPES
from tenants.errors import field_error
from tenants.models import Channel, Organization

ROTATION_OVERLAP = timedelta(hours=24)
# Sent only to the subscription it is addressed to, never recorded in the outbox (the
# outbox is what happened, read by every reader: the stream, reports, every other
# subscription); see README "Event subscriptions".
TEST_EVENT_TYPE = "test.ping"


def url_validate(url: str) -> str:
    """The URL, or a VALIDATION_ERROR on `url` saying why it may not be sent to."""
    try:
        url_check(url, resolve_now=False)
    except UnsafeURLError as exc:
        raise field_error("url", str(exc)) from None
    return url


def event_types_validate(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise field_error(
            "event_types",
            f"Unknown: {', '.join(unknown)}." if unknown else "Name at least one event type.",
        )
    return sorted(set(event_types))


def _start_at_now(subscription: Subscription) -> None:
    position = position_now()
    subscription.start_xid, subscription.start_event_id = position.xid, position.event_id


@transaction.atomic
def subscription_create(
    *,
    organization: Organization,
    url: str,
    event_types: list[str],
    name: str = "",
    channel: Channel | None = None,
    enabled: bool = True,
    responder: bool = False,
    burst_quiet_seconds: int = 3,
    burst_max_wait_seconds: int = 20,
) -> Subscription:
    """A new subscription, receiving the events that happen from now on. Its `secret`
    is readable on the returned object: show it once. A `responder` answers its
    channel's customers (integrations.bots)."""
    subscription = Subscription(
        organization=organization,
        url=url_validate(url),
        event_types=event_types_validate(event_types),
        name=name,
        channel=channel,
        enabled=enabled,
        responder=responder,
        burst_quiet_seconds=burst_quiet_seconds,
        burst_max_wait_seconds=burst_max_wait_seconds,
        secret=secret_generate(),
    )
    responder_validate(subscription=subscription)
    _start_at_now(subscription)
    _save(subscription)
    return subscription


def _save(subscription: Subscription) -> None:
    """Saved; two responders made for one channel at the same moment both pass the check
    and the database refuses the second: the same field error."""
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        raise field_error("responder", "This channel already has an enabled responder.") from None


@transaction.atomic
def subscription_update(*, subscription: Subscription, **changes) -> Subscription:
    """Change url, event_types, name, channel, enabled, or the responder's fields
    (responder, burst_quiet_seconds, burst_max_wait_seconds). Enabling a disabled one
    starts it at the present: the events of while it was disabled are not sent (replay
    covers deliveries that exist); its deliveries left pending resume."""
    if "url" in changes:
        changes["url"] = url_validate(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = event_types_validate(changes["event_types"])
    enabling = changes.get("enabled") is True and not subscription.enabled
    for name, value in changes.items():
        setattr(subscription, name, value)
    responder_validate(subscription=subscription)
    if enabling:
        _start_at_now(subscription)
        subscription.disabled_reason = ""
        subscription.failing_since = None
        subscription.dead_alerted_at = None
    elif changes.get("enabled") is False:
        subscription.disabled_reason = subscription.disabled_reason or "Disabled by a person."
    _save(subscription)
    return subscription


@transaction.atomic
def subscription_rotate_secret(*, subscription: Subscription, now: datetime | None = None) -> str:
    """A new secret (returned: show it once); the old one keeps signing, next to the
    new, for 24 hours so receivers can switch."""
    now = now or timezone.now()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + ROTATION_OVERLAP
    subscription.secret = secret_generate()
    subscription.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return subscription.secret


def secrets_valid(subscription: Subscription, now: datetime) -> list[str]:
    """The secrets to sign with now: the current one, and the previous within 24 h."""
    valid = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires and now < expires:
        valid.append(subscription.previous_secret)
    return valid


@transaction.atomic
def subscription_send_test(*, subscription: Subscription, now: datetime | None = None) -> Delivery:
    """Queue a `test.ping` for this subscription alone (no conversation: it never
    waits behind other deliveries). Like every delivery it goes out only while the
    subscription is enabled."""
    now = now or timezone.now()
    webhook_id = f"msg_test_{uuid.uuid4().hex}"
    payload = {
        "id": None,
        "type": TEST_EVENT_TYPE,
        "version": 1,
        "organization_id": subscription.organization_id,
        "channel_id": None,
        "conversation_id": None,
        "occurred_at": now.isoformat(),
        "body": {"subscription_id": subscription.pk, "message": "A test event from Switchboard."},
    }
    return Delivery.objects.create(
        organization_id=subscription.organization_id,
        subscription=subscription,
        event_type=TEST_EVENT_TYPE,
        webhook_id=webhook_id,
        payload=json.dumps(payload, separators=(",", ":")),
        next_attempt_at=now,
        created_at=now,
    )


@dataclass(frozen=True)
class Replayed:
    count: int


def deliveries_replay(*, deliveries, now: datetime | None = None) -> Replayed:
    """Send these deliveries again from their first attempt (same webhook-id: a
    receiver that already has one may drop it). Those being sent right now are left
    alone. In event order per conversation, like any delivery."""
    now = now or timezone.now()
    count = deliveries.exclude(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        finished_at=None,
        claimed_until=None,
        claim_token="",
        error="",
    )
    return Replayed(count)


def subscription_replay_range(
    *, subscription: Subscription, since: datetime, until: datetime, now: datetime | None = None
) -> Replayed:
    """Replay the subscription's deliveries created in [since, until)."""
    deliveries = subscription.deliveries.filter(created_at__gte=since, created_at__lt=until)
    return deliveries_replay(deliveries=deliveries, now=now)


def subscription_delete(*, subscription: Subscription) -> None:
    """Remove it and its deliveries (nothing more is sent to it)."""
    subscription.delete()

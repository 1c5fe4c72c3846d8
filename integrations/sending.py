"""The delivery queue, in PostgreSQL: claim what is due, send it, record the answer.

A round claims up to INTEGRATIONS_BATCH due deliveries (FOR UPDATE SKIP LOCKED, so
workers never take the same row) and marks them `sending` under a lease, in a short
transaction; sends them from a thread pool outside any transaction; then records every
answer in one transaction. A worker killed between claim and record leaves its rows
`sending` with a lease that runs out: the next claim takes them again (the claim is the
sweep). The receiver may then see a delivery twice, with the same webhook-id.

Order: a delivery of a conversation is due only when no earlier event of that
conversation for the same subscription is still pending or sending; deliveries without
a conversation, and other conversations, never wait.

Failures are retried after INTEGRATIONS_RETRY_SECONDS (5 s ... 10 h), then the delivery
is dead. The first death in a failing spell sends one alert; a subscription whose
every attempt failed for INTEGRATIONS_DISABLE_AFTER_DAYS is disabled, with an email.
"""

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.bots import bursts_emit_due
from integrations.egress import Answer, post, target_for
from integrations.fanout import deliveries_fan_out
from integrations.signing import headers_sign
from integrations.subscription_models import Delivery, DeliveryStatus, Subscription
from integrations.subscriptions import secrets_valid
from tenants.alerts import admin_url, alert_send

logger = logging.getLogger(__name__)

UNFINISHED = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]
_pool: ThreadPoolExecutor | None = None


def _due(now: datetime):
    earlier_unfinished = Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        conversation_id=OuterRef("conversation_id"),
        event_id__lt=OuterRef("event_id"),
        status__in=UNFINISHED,
    )
    waiting = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    lost = Q(status=DeliveryStatus.SENDING, claimed_until__lt=now)
    return (
        Delivery.objects.filter(waiting | lost, subscription__enabled=True)
        .filter(Q(conversation_id__isnull=True) | ~Exists(earlier_unfinished))
        .order_by("next_attempt_at", "id")
    )


def deliveries_claim(*, now: datetime, limit: int) -> list[Delivery]:
    """Take up to `limit` due deliveries for this worker, with their subscriptions."""
    lease_end = now + timedelta(seconds=settings.INTEGRATIONS_LEASE_SECONDS)
    token = uuid.uuid4().hex
    with transaction.atomic():
        ids = list(
            _due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        # The status test again: SQLite has no row locks, and two claims there must
        # still not both take a row (its writes are serialized).
        claimable = Q(status=DeliveryStatus.PENDING) | Q(claimed_until__lt=now)
        Delivery.objects.filter(claimable, pk__in=ids).update(
            status=DeliveryStatus.SENDING, claimed_until=lease_end, claim_token=token
        )
    claimed = list(
        Delivery.objects.filter(claim_token=token, status=DeliveryStatus.SENDING)
        .defer("request_headers", "response_excerpt", "error")
        .order_by("id")
    )
    # Each subscription loaded (and its secrets decrypted) once, not once per delivery.
    subscriptions = Subscription.objects.in_bulk({d.subscription_id for d in claimed})
    for delivery in claimed:
        delivery.subscription = subscriptions[delivery.subscription_id]
    return claimed


def _send_one(delivery: Delivery, now: datetime, sign: bool, target) -> tuple[dict, Answer]:
    subscription = delivery.subscription
    headers = {"user-agent": "Switchboard-Webhooks/1"}
    if sign:
        headers |= headers_sign(
            webhook_id=delivery.webhook_id,
            # The attempt's real time: receivers compare it with their own clock.
            moment=timezone.now(),
            payload=delivery.payload,
            secrets_valid=secrets_valid(subscription, now),
        )
    answer = post(target=target, body=delivery.payload.encode(), headers=headers)
    return headers, answer


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(settings.INTEGRATIONS_SEND_THREADS, "delivery")
    return _pool


def deliveries_send_round(*, now: datetime | None = None, sign: bool = True) -> int:
    """Claim, send and record one batch; how many were sent (0: nothing due)."""
    now = now or timezone.now()
    claimed = deliveries_claim(now=now, limit=settings.INTEGRATIONS_BATCH)
    if not claimed:
        return 0
    # Each subscription's URL resolved and checked once for the round (at delivery
    # time still: a name that now resolves to a private address is refused).
    subscriptions = {d.subscription_id: d.subscription for d in claimed}
    targets = {pk: target_for(s.url) for pk, s in subscriptions.items()}
    results = list(
        _executor().map(lambda d: _send_one(d, now, sign, targets[d.subscription_id]), claimed)
    )
    alerts = deliveries_record(deliveries=claimed, results=results, now=now)
    for alert in alerts:
        alert()
    return len(claimed)


def deliveries_send_all(*, budget_seconds: float = 50, sign: bool = True) -> int:
    """Send rounds until nothing is due or the budget is spent; how many were sent."""
    deadline = time.monotonic() + budget_seconds
    sent = 0
    while time.monotonic() < deadline and (done := deliveries_send_round(sign=sign)):
        sent += done
    return sent


def deliveries_pump(*, seconds: float, poll: float) -> dict:
    """Emit due bursts, fan out and send for `seconds`, looking again every `poll`
    seconds when idle: a short-lived loop started by beat every few seconds, so an
    event leaves within about `poll` of its commit without a process of its own."""
    deadline = time.monotonic() + seconds
    read = sent = 0
    while True:
        # Bursts first: their events are then read by this same round's fan-out.
        bursts_emit_due()
        read += deliveries_fan_out()
        sent += deliveries_send_all(budget_seconds=max(deadline - time.monotonic(), 0.1))
        if time.monotonic() + poll >= deadline:
            return {"events": read, "sent": sent}
        time.sleep(poll)


def _retry_after(attempts: int) -> timedelta | None:
    schedule = settings.INTEGRATIONS_RETRY_SECONDS
    return timedelta(seconds=schedule[attempts - 1]) if attempts <= len(schedule) else None


def _apply(delivery: Delivery, headers: dict, answer: Answer, now: datetime) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.request_headers = headers
    delivery.response_status = answer.status
    delivery.response_excerpt = answer.excerpt
    delivery.latency_ms = answer.latency_ms
    delivery.error = answer.error or ("" if answer.ok else f"HTTP {answer.status}")
    delivery.claimed_until, delivery.claim_token = None, ""
    if answer.ok:
        delivery.status, delivery.finished_at = DeliveryStatus.SUCCEEDED, now
        return
    wait = _retry_after(delivery.attempts)
    if wait is None:
        delivery.status, delivery.finished_at = DeliveryStatus.DEAD, now
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, now + wait


RECORDED = [
    "attempts",
    "last_attempt_at",
    "request_headers",
    "response_status",
    "response_excerpt",
    "latency_ms",
    "error",
    "claimed_until",
    "claim_token",
    "status",
    "finished_at",
    "next_attempt_at",
]


@transaction.atomic
def deliveries_record(*, deliveries: list[Delivery], results: list, now: datetime) -> list:
    """Record the answers (only on rows this worker still holds); the alerts to send
    once committed, as callables."""
    held = set(
        Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries],
            claim_token__in={d.claim_token for d in deliveries},
            status=DeliveryStatus.SENDING,
        ).values_list("pk", flat=True)
    )
    mine = [(d, r) for d, r in zip(deliveries, results, strict=True) if d.pk in held]
    for delivery, (headers, answer) in mine:
        _apply(delivery, headers, answer, now)
    _update_many([d for d, _ in mine])
    return _subscriptions_bookkeep([d for d, _ in mine], now)


# Each recorded column and its SQL type, for one UPDATE ... FROM (VALUES ...).
_TYPES = {
    "attempts": "integer",
    "last_attempt_at": "timestamptz",
    "request_headers": "jsonb",
    "response_status": "integer",
    "response_excerpt": "text",
    "latency_ms": "integer",
    "error": "text",
    "claimed_until": "timestamptz",
    "claim_token": "text",
    "status": "text",
    "finished_at": "timestamptz",
    "next_attempt_at": "timestamptz",
}


def _update_many(deliveries: list[Delivery]) -> None:
    """Every answer in one statement: bulk_update's CASE per column and row cost more
    than the sends themselves (1.4 s per 100 on a loaded machine)."""
    if not deliveries:
        return
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_update(deliveries, RECORDED, batch_size=500)
        return
    row = "(%s::bigint, " + ", ".join(f"%s::{_TYPES[name]}" for name in RECORDED) + ")"
    params = []
    for delivery in deliveries:
        params.append(delivery.pk)
        for name in RECORDED:
            value = getattr(delivery, name)
            params.append(json.dumps(value) if name == "request_headers" else value)
    assignments = ", ".join(f"{name} = v.{name}" for name in RECORDED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Delivery._meta.db_table} AS d SET {assignments} "  # noqa: S608 - names from the model
            f"FROM (VALUES {', '.join([row] * len(deliveries))}) "
            f"AS v(id, {', '.join(RECORDED)}) WHERE d.id = v.id",
            params,
        )


def _subscriptions_bookkeep(deliveries: list[Delivery], now: datetime) -> list:
    succeeded = {d.subscription_id for d in deliveries if d.status == DeliveryStatus.SUCCEEDED}
    failed = {d.subscription_id for d in deliveries} - succeeded
    died = {d.subscription_id for d in deliveries if d.status == DeliveryStatus.DEAD}
    Subscription.objects.filter(pk__in=succeeded).update(failing_since=None, dead_alerted_at=None)
    Subscription.objects.filter(pk__in=failed, failing_since__isnull=True).update(failing_since=now)
    alerts = []
    for subscription in Subscription.objects.filter(
        pk__in=died - succeeded, dead_alerted_at__isnull=True
    ).select_related("organization"):
        Subscription.objects.filter(pk=subscription.pk).update(dead_alerted_at=now)
        alerts.append(_alert_dead(subscription))
    cutoff = now - timedelta(days=settings.INTEGRATIONS_DISABLE_AFTER_DAYS)
    for subscription in Subscription.objects.filter(
        pk__in=failed, enabled=True, failing_since__lte=cutoff
    ).select_related("organization"):
        reason = f"Every delivery failed since {subscription.failing_since:%Y-%m-%d %H:%M} UTC."
        Subscription.objects.filter(pk=subscription.pk).update(
            enabled=False, disabled_reason=reason
        )
        alerts.append(_alert_disabled(subscription, reason))
    return alerts


def _alert_dead(subscription: Subscription):
    body = (
        f"Deliveries to {subscription.url} failed every attempt (the last after about "
        "two days of retries) and are dead. Fix the receiver, then replay them from the "
        f"admin: {admin_url('admin:integrations_subscription_change', subscription.pk)}\n"
        "This is the only alert until a delivery to it succeeds again."
    )
    return lambda: alert_send(
        organization=subscription.organization,
        subject=f"Webhook deliveries dead: {subscription}",
        body=body,
    )


def _alert_disabled(subscription: Subscription, reason: str):
    body = (
        f"The event subscription {subscription} ({subscription.url}) was disabled: "
        f"{reason} Fix the receiver and enable it again: "
        f"{admin_url('admin:integrations_subscription_change', subscription.pk)}"
    )
    return lambda: alert_send(
        organization=subscription.organization,
        subject=f"Event subscription disabled: {subscription}",
        body=body,
    )

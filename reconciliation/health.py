"""Webhook health checks: send a test message through a channel's provider and wait
for the webhook that proves it arrived (its status update, or the provider's echo).

1. `health_check_run` sends the test through the messaging services (the same checks,
   queue and send task as any message) and records a pending `WebhookHealthCheck`. A
   send our own checks refuse (a closed window, a template not approved, a rate limit)
   is recorded at once as `send_failed`.
2. `health_checks_settle` (every minute) settles pending checks: `confirmed` once a
   webhook has spoken of the message (`Message.webhook_confirmed_at`, set by webhook
   processing), `send_failed` when the provider refused the message, `timed_out` when
   neither happened within WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS.
3. Alerts follow the channel's state, which is the result of its latest settled check:
   the organization is emailed when the channel goes from healthy (or never checked)
   to failing, and once when it recovers; not for every failing hour in between. Each
   such change is recorded in the outbox too (health_check.failed / .recovered).

Checks of one channel are recorded and settled one at a time, under the row lock of
its `HealthCheckSetting`, so two workers never both announce one change.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from conversations.models import Conversation, Message
from messaging.services import message_send_text, message_send_to_phone
from outbox.services import event_record
from outbox.types import HealthCheckBody
from providers import Provider
from providers.events import MessageStatus
from reconciliation.models import HealthCheckResult, HealthCheckSetting, WebhookHealthCheck
from tenants.alerts import admin_url, alert_send
from tenants.errors import ApplicationError, field_error
from tenants.models import Channel

logger = logging.getLogger(__name__)

FAILURES = (HealthCheckResult.TIMED_OUT, HealthCheckResult.SEND_FAILED)
SETTLED = (HealthCheckResult.CONFIRMED, *FAILURES)


class HealthCheckNotEnabledError(ValueError):
    """The channel has no health check set up, or it is switched off."""


def health_check_timeout() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS)


def health_check_channels() -> QuerySet[Channel]:
    """Channels checked every hour: health check enabled, channel and organization
    active (a switched-off channel is not expected to deliver anything)."""
    return Channel.objects.filter(
        health_check_setting__enabled=True,
        is_active=True,
        organization__is_active=True,
    ).select_related("organization", "health_check_setting")


@transaction.atomic
def health_check_run(*, channel: Channel) -> WebhookHealthCheck:
    """Send the channel's test message and record the check, pending its webhook.

    The send task is queued when this transaction commits; a refusal by the provider
    shows on the message, and `health_checks_settle` records it. Raises
    HealthCheckNotEnabledError when the channel's health check is not enabled.
    """
    setting = _setting_locked(channel.pk)
    if setting is None or not setting.enabled:
        raise HealthCheckNotEnabledError(f"The health check of {channel} is not enabled.")
    check = WebhookHealthCheck(
        organization_id=channel.organization_id, channel=channel, sent_at=timezone.now()
    )
    try:
        with transaction.atomic():  # a refused send leaves no contact or message behind
            check.message = _send_test(channel, setting, at=check.sent_at)
    except ApplicationError as exc:
        logger.warning("Health check of channel %s could not send: %s", channel.pk, exc.message)
        check.result = HealthCheckResult.SEND_FAILED
        check.error = f"Not sent ({exc.code}): {exc.message}"
    check.save()
    if check.result != HealthCheckResult.PENDING:
        _announce_change(check)
    return check


def health_checks_settle(*, now: datetime | None = None) -> dict[str, int]:
    """Settle every pending check that can be: its webhook arrived, its message
    failed, or its time is up. Returns how many ended each way."""
    now = now or timezone.now()
    pending = WebhookHealthCheck.objects.filter(result=HealthCheckResult.PENDING)
    counts: Counter[str] = Counter()
    for check_id, channel_id in pending.order_by("sent_at", "id").values_list("id", "channel_id"):
        result = _settle(check_id=check_id, channel_id=channel_id, now=now)
        if result is not None:
            counts[result] += 1
    return dict(counts)


def health_checks_purge(*, now: datetime | None = None) -> int:
    """Delete checks older than WEBHOOK_HEALTH_CHECK_RETENTION_DAYS. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_HEALTH_CHECK_RETENTION_DAYS)
    deleted, _ = WebhookHealthCheck.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


# --- sending ------------------------------------------------------------------------


def _setting_locked(channel_id: int) -> HealthCheckSetting | None:
    """The channel's setting, row-locked until the transaction ends: the lock that
    serializes recording and settling the channel's checks."""
    return HealthCheckSetting.objects.select_for_update().filter(channel_id=channel_id).first()


def _send_test(channel: Channel, setting: HealthCheckSetting, *, at: datetime) -> Message:
    """WhatsApp: the configured template (a test number's window is rarely open), or
    text; SMS: text to the number; LinkedIn (Unipile): text into the chat.

    Sent as a health check: the recipient is the operator's own test number or chat,
    not a customer, so neither the do-not-contact list nor consent applies (a STOP the
    test number once sent must not fail every later check), and a provider's test
    number (Meta's +1 555 ones) is accepted although it is not an assigned number."""
    text = f"Switchboard webhook health check, {at:%Y-%m-%d %H:%M:%S} UTC."
    if Provider(channel.provider) == Provider.UNIPILE:
        return message_send_text(
            conversation=_chat(channel, setting.test_recipient), text=text, health_check=True
        )
    if setting.template_name:
        template = {
            "name": setting.template_name,
            "language": setting.template_language,
            "parameters": {},
        }
        return message_send_to_phone(
            channel=channel, phone=setting.test_recipient, template=template, health_check=True
        )
    return message_send_to_phone(
        channel=channel, phone=setting.test_recipient, text=text, health_check=True
    )


def _chat(channel: Channel, chat_id: str) -> Conversation:
    """Unipile sends into a chat, which is known once one of its messages arrived."""
    conversation = (
        Conversation.objects.select_related("channel", "contact")
        .filter(channel=channel, provider_conversation_ref=chat_id)
        .first()
    )
    if conversation is None:
        raise field_error(
            "test_recipient",
            f"No conversation with chat {chat_id!r} on this channel yet: write into the chat "
            "once from LinkedIn so that its webhook files it.",
            code="unknown_chat",
        )
    return conversation


# --- settling -----------------------------------------------------------------------


@transaction.atomic
def _settle(*, check_id: int, channel_id: int, now: datetime) -> str | None:
    _setting_locked(channel_id)
    check = (
        WebhookHealthCheck.objects.select_for_update(of=("self",))
        .select_related("message", "channel", "organization")
        .filter(pk=check_id, result=HealthCheckResult.PENDING)
        .first()
    )
    if check is None:
        return None  # settled meanwhile by another run
    if not _decide(check, now=now):
        return None
    check.save(update_fields=["result", "confirmed_at", "latency_ms", "error"])
    _announce_change(check)
    return check.result


def _decide(check: WebhookHealthCheck, *, now: datetime) -> bool:
    """Set the check's result from its message and the clock; False: keep waiting."""
    timeout = health_check_timeout()
    message = check.message
    if message is not None and message.status == MessageStatus.FAILED:
        check.result = HealthCheckResult.SEND_FAILED
        check.error = (
            f"The provider refused the test message: [{message.error_code}] "
            f"{message.error_title}".strip()
        )
        return True
    confirmed_at = message.webhook_confirmed_at if message is not None else None
    if confirmed_at is not None:
        check.confirmed_at = confirmed_at
        check.latency_ms = max(0, round((confirmed_at - check.sent_at).total_seconds() * 1000))
        if confirmed_at - check.sent_at <= timeout:
            check.result = HealthCheckResult.CONFIRMED
            return True
    elif now - check.sent_at < timeout:
        return False
    check.result = HealthCheckResult.TIMED_OUT
    check.error = _timeout_reason(message, confirmed_at, timeout)
    return True


def _timeout_reason(message: Message | None, confirmed_at, timeout: timedelta) -> str:
    limit = f"{timeout.total_seconds():g} s"
    if message is None:
        return "The test message was deleted before its webhook arrived."
    if confirmed_at is not None:
        return f"The webhook arrived, but later than {limit}."
    if not message.provider_message_id:
        return (
            f"Not handed to the provider within {limit}: the message is still "
            f"{message.status} (send task lost, or retrying)."
        )
    return (
        f"The provider accepted the message ({message.provider_message_id}) but no status "
        f"webhook or echo arrived within {limit}."
    )


# --- alerts -------------------------------------------------------------------------


def _announce_change(check: WebhookHealthCheck) -> None:
    """Email the organization when this check changes the channel's state: healthy
    (or never checked) to failing, or failing to healthy. An older check settled late
    does not change the state: the channel's newest settled check is its state."""
    previous = (
        WebhookHealthCheck.objects.filter(channel_id=check.channel_id, result__in=SETTLED)
        .exclude(pk=check.pk)
        .order_by("-sent_at", "-id")
        .first()
    )
    if previous is not None and (previous.sent_at, previous.pk) > (check.sent_at, check.pk):
        return
    was_failing = previous is not None and previous.result in FAILURES
    if check.result in FAILURES and not was_failing:
        _record_change(check, "health_check.failed", previous)
        subject, body = _failing_alert(check)
    elif check.result == HealthCheckResult.CONFIRMED and was_failing:
        _record_change(check, "health_check.recovered", previous)
        subject, body = _recovered_alert(check)
    else:
        return
    organization = check.organization
    transaction.on_commit(lambda: alert_send(organization=organization, subject=subject, body=body))


def _record_change(check: WebhookHealthCheck, type: str, previous) -> None:
    """In the settling (or recording) transaction, under the channel's setting lock:
    one event per change of the channel's state, like its email."""
    now = timezone.now()
    event_record(
        type=type,
        organization_id=check.organization_id,
        channel_id=check.channel_id,
        occurred_at=now,
        body=HealthCheckBody(
            health_check_id=check.pk,
            channel_id=check.channel_id,
            result=check.result,
            previous_result=previous.result if previous is not None else "",
            sent_at=check.sent_at,
            latency_ms=check.latency_ms,
            settled_at=now,
        ),
    )


def _failing_alert(check: WebhookHealthCheck) -> tuple[str, str]:
    channel = check.channel
    body = (
        f"The webhook health check of {channel} "
        f"failed: {check.get_result_display().lower()}.\n\n"
        f"Test message sent at {_when(check.sent_at)}.\n{check.error}\n\n"
        f"{_what_to_look_at(check)}\n"
        f"See the check: {admin_url('admin:reconciliation_webhookhealthcheck_change', check.pk)}"
        "\n\nYou will not be emailed again for this channel while it keeps failing; you "
        "will be told when it recovers.\n"
    )
    return f"Webhook health check failed: {channel.name}", body


def _what_to_look_at(check: WebhookHealthCheck) -> str:
    if check.result == HealthCheckResult.SEND_FAILED:
        return (
            "The test message could not be sent, so the webhooks could not be checked: "
            "look at the channel's credentials and the health check's test recipient."
        )
    return f"Make sure the provider sends its webhooks to {check.channel.webhook_url}"


def _recovered_alert(check: WebhookHealthCheck) -> tuple[str, str]:
    channel = check.channel
    since = _failing_since(check)
    body = (
        f"Webhooks of {channel} arrive again: the "
        f"test message sent at {_when(check.sent_at)} was confirmed after "
        f"{check.latency_ms} ms.\n"
        f"The checks had failed since {_when(since)}.\n\n"
        f"See the check: {admin_url('admin:reconciliation_webhookhealthcheck_change', check.pk)}"
        "\n"
    )
    return f"Webhook health check recovered: {channel.name}", body


def _failing_since(check: WebhookHealthCheck) -> datetime:
    """When the run of failures this check ends began."""
    earlier = WebhookHealthCheck.objects.filter(
        channel_id=check.channel_id, sent_at__lt=check.sent_at
    )
    last_ok = (
        earlier.filter(result=HealthCheckResult.CONFIRMED)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    failures = earlier.filter(result__in=FAILURES)
    if last_ok is not None:
        failures = failures.filter(sent_at__gt=last_ok)
    return failures.order_by("sent_at").values_list("sent_at", flat=True).first() or check.sent_at


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"

"""How every write changes a template, whoever makes it (a webhook, the sync, a
submission): find it under its row lock or create it, set a value Meta owns, record
the change, alert when sends stop; and Meta's rate limit, remembered per WABA.

The services (`templates.services`, `templates.sync`) decide what to change; this
module is how.
"""

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from outbox.services import event_record
from outbox.types import TemplateStatusBody
from providers import Provider
from providers.http import ProviderError
from templates.models import (
    EventKind,
    EventSource,
    MessageTemplate,
    QualityScore,
    TemplateEvent,
    TemplateStatus,
)
from tenants.alerts import admin_url, alert_send
from tenants.errors import field_error
from tenants.models import Channel

SENDS_STOPPED_STATUSES = frozenset(
    {TemplateStatus.PAUSED, TemplateStatus.DISABLED, TemplateStatus.REJECTED}
)
# Meta's management rate limit (contract A5: 200 or 5,000 requests an hour per WABA):
# error 4 or 80007, or a bare HTTP 429.
RATE_LIMIT_CODES = frozenset({"4", "80007"})
# After one, nothing asks Meta for the WABA's templates for this long (or as long as
# Meta's Retry-After says), whoever asks: the schedule, the API or the admin.
RATE_LIMIT_PAUSE = timedelta(minutes=15)
RATE_LIMIT_KEY = "templates:rate-limited:{waba_id}"

# Which template field each kind of change sets, and the time that value was true.
TRACKED = {
    EventKind.STATUS: ("status", "status_updated_at"),
    EventKind.QUALITY: ("quality_score", "quality_updated_at"),
    EventKind.CATEGORY: ("category", "category_updated_at"),
}


@dataclass(frozen=True)
class TemplateRef:
    """How Meta names a template: by id, or by name and language."""

    template_id: str
    name: str
    language: str

    @classmethod
    def of(cls, *, template_id: Any, name: Any, language: Any) -> "TemplateRef":
        return cls(str(template_id or ""), str(name or ""), meta_language(language))


def template_for(
    *,
    channel: Channel,
    ref: TemplateRef,
    source: EventSource,
    occurred_at: datetime,
    defaults: dict[str, Any] | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[MessageTemplate, bool]:
    """The channel's template `ref` names, locked until the transaction ends; created
    with `defaults` (and a "created" event) if we did not know it. True if created."""
    template = _template_locked(channel=channel, ref=ref)
    created = False
    if template is None:
        try:
            with transaction.atomic():
                template = MessageTemplate.objects.create(
                    organization_id=channel.organization_id,
                    channel=channel,
                    provider_template_id=ref.template_id,
                    name=ref.name,
                    language=ref.language,
                    **(defaults or {}),
                )
            created = True
        except IntegrityError:
            # Another worker created it meanwhile (a webhook and a sync at once).
            template = _template_locked(channel=channel, ref=ref)
            if template is None:
                raise
    if created:
        _record_created(template, source=source, occurred_at=occurred_at, details=details)
    elif ref.template_id and template.provider_template_id != ref.template_id:
        # Known by name and language under another id: deleted on Meta and made again,
        # a new template there whose lifecycle starts over. Unless what we hold is newer
        # than the event: then the event is about the one it replaced (a late retry).
        # The sync and a submission speak of now: what they find is the current one.
        if source == EventSource.WEBHOOK and _state_newer_than(template, occurred_at):
            raise TemplateSupersededError(ref.template_id, template.provider_template_id)
        replaced = template.provider_template_id
        template.provider_template_id = ref.template_id
        template.status, template.rejection_reason = "", ""
        template.quality_score = QualityScore.UNKNOWN
        template.status_updated_at = template.quality_updated_at = None
        template.category_updated_at = None
        template_revive(
            template, source=source, occurred_at=occurred_at, details={"replaces": replaced}
        )
    template.channel = channel  # the caller's, with what it has loaded
    return template, created


class TemplateSupersededError(Exception):
    """An event names a template id that a newer template of the same name and language
    has replaced: it must not undo the newer one's state."""

    def __init__(self, old_id: str, current_id: str) -> None:
        super().__init__(f"Template {old_id} was replaced by {current_id}.")


def _state_newer_than(template: MessageTemplate, occurred_at: datetime) -> bool:
    times = (template.status_updated_at, template.quality_updated_at, template.category_updated_at)
    return any(at is not None and at > occurred_at for at in times)


def _template_locked(*, channel: Channel, ref: TemplateRef) -> MessageTemplate | None:
    templates = MessageTemplate.objects.select_for_update().filter(channel=channel)
    found = None
    if ref.template_id:
        found = templates.filter(provider_template_id=ref.template_id).first()
    if found is None and ref.name and ref.language:
        found = templates.filter(name=ref.name, language=ref.language).first()
    return found


def template_revive(
    template: MessageTemplate,
    *,
    source: EventSource,
    occurred_at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    template.is_deleted, template.removed_at = False, None
    _record_created(template, source=source, occurred_at=occurred_at, details=details)


def _record_created(
    template: MessageTemplate, *, source: EventSource, occurred_at: datetime, details
) -> None:
    template_event_record(
        template,
        EventKind.CREATED,
        source=source,
        occurred_at=occurred_at,
        new=template.status,
        details=details,
    )


def template_change(
    template: MessageTemplate,
    kind: EventKind,
    new: str,
    *,
    source: EventSource,
    occurred_at: datetime,
    event_id: str | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> TemplateEvent | None:
    """Set the status, quality or category (the caller saves); record the change and
    alert on commit if sends stop. None if it was the value already."""
    value_field, time_field = TRACKED[kind]
    old = getattr(template, value_field)
    if new == old:
        return None
    setattr(template, value_field, new)
    setattr(template, time_field, occurred_at)
    if kind == EventKind.STATUS:
        template.rejection_reason = reason if new == TemplateStatus.REJECTED else ""
    event = template_event_record(
        template,
        kind,
        source=source,
        occurred_at=occurred_at,
        event_id=event_id,
        old=old,
        new=new,
        reason=reason,
        details=details,
    )
    if kind == EventKind.STATUS:
        _record_status_changed(template, event)
    headline = _sends_stopped(event)
    if headline:
        transaction.on_commit(partial(_alert, template, event, headline))
    return event


def _record_status_changed(template: MessageTemplate, event: TemplateEvent) -> None:
    """template.status_changed in the outbox, in the change's transaction."""
    body = TemplateStatusBody(
        template_id=template.pk,
        channel_id=template.channel_id,
        name=template.name,
        language=template.language,
        status=event.new_value,
        previous_status=event.old_value,
        reason=event.reason,
        source=event.source,
        occurred_at=event.occurred_at,
    )
    event_record(
        type="template.status_changed",
        organization_id=template.organization_id,
        channel_id=template.channel_id,
        occurred_at=event.occurred_at,
        body=body,
    )


def template_event_record(
    template: MessageTemplate,
    kind: EventKind,
    *,
    source: EventSource,
    occurred_at: datetime,
    event_id: str | None = None,
    old: str = "",
    new: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> TemplateEvent:
    return TemplateEvent.objects.create(
        template=template,
        kind=kind,
        source=source,
        old_value=old,
        new_value=new,
        reason=reason,
        details=details or {},
        event_id=event_id,
        occurred_at=occurred_at,
    )


def _sends_stopped(event: TemplateEvent) -> str:
    """What the change means for sends, if someone must act; "" if nothing."""
    if event.kind == EventKind.STATUS and event.new_value in SENDS_STOPPED_STATUSES:
        return {
            TemplateStatus.PAUSED: "is paused: its sends fail until Meta unpauses it",
            TemplateStatus.DISABLED: "is disabled: its sends fail",
            TemplateStatus.REJECTED: "was rejected: it cannot be sent",
        }[event.new_value]
    if event.kind == EventKind.QUALITY and event.new_value == QualityScore.RED:
        return "has a red quality score: Meta pauses it if it stays red"
    if event.kind == EventKind.CATEGORY and event.old_value:
        return (
            f"was moved from {event.old_value} to {event.new_value}: its sends are "
            f"charged as {event.new_value}"
        )
    return ""


def _alert(template: MessageTemplate, event: TemplateEvent, headline: str) -> None:
    channel = template.channel
    learnt = "Meta reported" if event.source == EventSource.WEBHOOK else "The template sync found"
    lines = [
        f"{learnt} at {event.occurred_at:%Y-%m-%d %H:%M} UTC that template {template.name} "
        f"({template.language}) on {channel.name} {headline}.",
        "",
        f"{event.get_kind_display()}: {event.old_value or '—'} → {event.new_value}",
    ]
    if event.reason:
        lines.append(f"Reason: {event.reason}")
    if event.details:
        lines.append(f"Details: {event.details}")
    lines += ["", f"Template: {admin_url('admin:templates_messagetemplate_change', template.pk)}"]
    alert_send(
        organization=channel.organization,
        subject=f"{channel.name}: template {template.name} ({template.language}) {headline}",
        body="\n".join(lines) + "\n",
    )


@transaction.atomic
def template_mark_removed(*, template_id: int, source: EventSource) -> bool:
    template = MessageTemplate.objects.select_for_update().get(pk=template_id)
    if template.is_deleted:
        return False
    now = timezone.now()
    template.is_deleted, template.removed_at = True, now
    template.save()
    template_event_record(
        template, EventKind.REMOVED, source=source, occurred_at=now, old=template.status
    )
    return True


def check_template_channel(channel: Channel) -> None:
    if channel.provider != Provider.WHATSAPP_CLOUD or not channel.waba_id:
        raise field_error(
            "channel", "Templates need a WhatsApp channel with a WABA id.", code="no_templates"
        )


def is_rate_limit(exc: ProviderError) -> bool:
    return exc.code in RATE_LIMIT_CODES or exc.status_code == 429


def _rate_limit_key(channel: Channel) -> str:
    return RATE_LIMIT_KEY.format(waba_id=channel.waba_id)


def rate_limit_pause(channel: Channel, exc: ProviderError) -> float:
    """Remember Meta's "not now" for the WABA; the seconds to wait."""
    seconds = exc.retry_after or RATE_LIMIT_PAUSE.total_seconds()
    cache.set(_rate_limit_key(channel), time.time() + seconds, timeout=math.ceil(seconds))
    return seconds


def rate_limit_wait(channel: Channel) -> float | None:
    """Seconds left of a pause after Meta's rate limit; None if there is none."""
    until = cache.get(_rate_limit_key(channel))
    if until is None or until <= time.time():
        return None
    return until - time.time()


def meta_language(value: Any) -> str:
    # Meta's codes are en_US, pt_BR...; some webhooks write them en-US.
    return str(value or "").strip().replace("-", "_")


def meta_reason(value: Any) -> str:
    reason = str(value or "")
    return "" if reason.upper() == "NONE" else reason

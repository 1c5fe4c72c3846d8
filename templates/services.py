"""Writes for message templates: what Meta's webhooks tell us, and what we ask of Meta
(submit, delete). The sync lives in `templates.sync`; how any of them changes a
template, in `templates.changes`.

Every write to a template happens under its row lock, so a webhook and a sync never
interleave on one template. A `TemplateEvent` is recorded only for a real change, and
a webhook's at most once (by its event id), so redeliveries and replays change nothing.
Status, quality and category each remember when the value we hold was true: a webhook
older than that (applied out of order, after a retry) is not applied over it; nor is
a late event about a template that a newer one of the same name and language has
replaced on Meta (deleted and made again): it is "stale" and changes nothing.

A change after which sends fail or cost more (paused, disabled, rejected, red quality,
a new category) emails the organization once, after the change commits.
"""

import math
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from providers.events import (
    TemplateCategoryChanged,
    TemplateQualityChanged,
    TemplateStatusChanged,
)
from providers.http import ProviderError
from providers.whatsapp_templates import template_problems
from templates.changes import (
    TRACKED,
    TemplateRef,
    TemplateSupersededError,
    check_template_channel,
    is_rate_limit,
    meta_reason,
    rate_limit_pause,
    rate_limit_wait,
    template_change,
    template_event_record,
    template_for,
    template_mark_removed,
    template_revive,
)
from templates.models import (
    EventKind,
    EventSource,
    MessageTemplate,
    ParameterFormat,
    QualityScore,
    TemplateEvent,
    TemplateStatus,
)
from templates.sync import SyncReport, templates_sync
from tenants.clients import whatsapp_client_for
from tenants.errors import ApplicationError, ErrorCode, field_error
from tenants.models import Channel

__all__ = [
    "SyncReport",
    "template_category_apply",
    "template_delete",
    "template_quality_apply",
    "template_status_apply",
    "template_submit",
    "templates_sync",
]

# --- Webhooks ----------------------------------------------------------------------------


@transaction.atomic
def template_status_apply(*, channel: Channel, event: TemplateStatusChanged) -> str:
    """Apply Meta's status webhook. Returns "applied", "unchanged", "duplicate" or
    "stale" (older than the status we hold)."""
    category = event.category.upper()
    template = _webhook_template(channel, event, defaults={"category": category})
    if template is None:
        return "stale"
    template.category = template.category or category
    return _webhook_change(
        template,
        EventKind.STATUS,
        event.status.upper(),
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        reason=meta_reason(event.reason),
        details=event.details,
    )


@transaction.atomic
def template_quality_apply(*, channel: Channel, event: TemplateQualityChanged) -> str:
    """Apply Meta's quality webhook. Returns "applied", "unchanged", "duplicate" or
    "stale"."""
    template = _webhook_template(channel, event)
    if template is None:
        return "stale"
    return _webhook_change(
        template,
        EventKind.QUALITY,
        event.new_score.upper() or QualityScore.UNKNOWN,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        details=_present(previous_score=event.previous_score),
    )


@transaction.atomic
def template_category_apply(*, channel: Channel, event: TemplateCategoryChanged) -> str:
    """Apply Meta's category webhook. A completed change returns "applied",
    "unchanged", "duplicate" or "stale". Meta's advance notice (about 24 h ahead) is
    recorded ("notice") without changing the category: the change comes later."""
    # A notice names the current category `new_category` and the coming one
    # `correct_category`; a completed change names the old one `previous_category`.
    current = (event.new_category if event.is_notice else event.previous_category).upper()
    template = _webhook_template(channel, event, defaults={"category": current})
    if template is None:
        return "stale"
    template.category = template.category or current
    if not event.is_notice:
        return _webhook_change(
            template,
            EventKind.CATEGORY,
            event.new_category.upper(),
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            details=_present(previous_category=event.previous_category),
        )
    if _seen(template, event.event_id):
        return "duplicate"
    template_event_record(
        template,
        EventKind.CATEGORY_NOTICE,
        source=EventSource.WEBHOOK,
        occurred_at=event.occurred_at,
        event_id=event.event_id,
        old=template.category,
        new=event.correct_category.upper(),
        details={"effective_at": event.effective_at.isoformat()},
    )
    template.save()
    return "notice"


def _webhook_template(
    channel: Channel,
    event: TemplateStatusChanged | TemplateQualityChanged | TemplateCategoryChanged,
    *,
    defaults: dict[str, Any] | None = None,
) -> MessageTemplate | None:
    """The template a webhook is about, locked; None when the event is older than a
    template that has since replaced the one it names (nothing to apply)."""
    ref = TemplateRef.of(template_id=event.template_id, name=event.name, language=event.language)
    try:
        template, _ = template_for(
            channel=channel,
            ref=ref,
            source=EventSource.WEBHOOK,
            occurred_at=event.occurred_at,
            defaults=defaults,
        )
    except TemplateSupersededError:
        return None
    return template


def _webhook_change(
    template: MessageTemplate,
    kind: EventKind,
    new: str,
    *,
    event_id: str,
    occurred_at: datetime,
    reason: str = "",
    details: dict | None = None,
) -> str:
    if _seen(template, event_id):
        return "duplicate"
    _, time_field = TRACKED[kind]
    known_at = getattr(template, time_field)
    if known_at is not None and occurred_at < known_at:
        return "stale"
    changed = template_change(
        template,
        kind,
        new,
        source=EventSource.WEBHOOK,
        occurred_at=occurred_at,
        event_id=event_id,
        reason=reason,
        details=details,
    )
    setattr(template, time_field, occurred_at)  # the newest time we know it held
    template.save()
    return "applied" if changed else "unchanged"


def _seen(template: MessageTemplate, event_id: str) -> bool:
    return TemplateEvent.objects.filter(template=template, event_id=event_id).exists()


# --- Submit and delete -------------------------------------------------------------------


def template_submit(*, channel: Channel, payload: dict[str, Any]) -> MessageTemplate:
    """Submit a new template to Meta for review (contract A5) and keep Meta's answer.

    An invalid payload is a VALIDATION_ERROR with details per field; a name and
    language the channel has already is one on `name`. Meta's refusal is a
    PROVIDER_ERROR, its rate limit RATE_LIMITED.
    """
    check_template_channel(channel)
    problems = template_problems(payload)
    if problems:
        raise _validation_error(problems)
    ref = TemplateRef.of(template_id="", name=payload["name"], language=payload["language"])
    if MessageTemplate.objects.filter(
        channel=channel, name=ref.name, language=ref.language, is_deleted=False
    ).exists():
        raise field_error(
            "name", "This channel has a template with this name and language.", code="unique"
        )
    answer = _meta_call(channel, lambda client: client.template_create(payload=payload))
    with transaction.atomic():
        return _template_submitted(channel=channel, ref=ref, payload=payload, answer=answer)


def _template_submitted(
    *, channel: Channel, ref: TemplateRef, payload: dict[str, Any], answer: dict[str, Any]
) -> MessageTemplate:
    now = timezone.now()
    ref = TemplateRef(str(answer["id"]), ref.name, ref.language)
    status = str(answer.get("status") or TemplateStatus.PENDING).upper()
    values = {
        "category": str(answer.get("category") or payload.get("category") or "").upper(),
        "components": payload.get("components") or [],
        "parameter_format": str(
            payload.get("parameter_format") or ParameterFormat.POSITIONAL
        ).upper(),
        "allow_category_change": bool(payload.get("allow_category_change", False)),
    }
    template, created = template_for(
        channel=channel,
        ref=ref,
        source=EventSource.SUBMIT,
        occurred_at=now,
        defaults={**values, "status": status, "status_updated_at": now},
        details={"requested_category": str(payload.get("category") or "").upper()},
    )
    if not created:
        # A removed template of that name made again, or a webhook that came first.
        for name, value in values.items():
            setattr(template, name, value)
        if not template.status:
            template.status, template.status_updated_at = status, now
        if template.is_deleted:
            template_revive(template, source=EventSource.SUBMIT, occurred_at=now)
        template.save()
    return template


def template_delete(*, template: MessageTemplate) -> MessageTemplate:
    """Delete the template (this language only) on Meta, and mark it removed here; its
    history stays. Deleting a removed template changes nothing."""
    if template.is_deleted:
        return template
    if not template.provider_template_id:  # Meta would delete every language of the name
        raise ApplicationError(
            ErrorCode.VALIDATION_ERROR, "Meta has not given this template an id yet: sync first."
        )
    channel = template.channel
    _meta_call(
        channel,
        lambda client: client.template_delete(
            name=template.name, template_id=template.provider_template_id
        ),
    )
    template_mark_removed(template_id=template.pk, source=EventSource.DELETE)
    template.refresh_from_db()
    return template


def _meta_call(channel: Channel, call):
    """Call Meta's template API for the channel; its refusal as the API's error."""
    wait = rate_limit_wait(channel)
    if wait is not None:
        raise _rate_limited_error(wait)
    try:
        with whatsapp_client_for(channel) as client:
            return call(client)
    except ProviderError as exc:
        if is_rate_limit(exc):
            raise _rate_limited_error(rate_limit_pause(channel, exc)) from exc
        raise ApplicationError(
            ErrorCode.PROVIDER_ERROR,
            f"WhatsApp's template API: {exc.title}",
            {"provider_code": exc.code, "provider_title": exc.title},
        ) from exc


def _rate_limited_error(wait: float) -> ApplicationError:
    return ApplicationError(
        ErrorCode.RATE_LIMITED,
        "Meta's template rate limit for this WhatsApp Business Account was reached; "
        "try again later.",
        {"retry_after": math.ceil(wait)},
    )


def _validation_error(problems: dict[str, list[str]]) -> ApplicationError:
    details = {
        name: [{"message": message, "code": "invalid"} for message in messages]
        for name, messages in problems.items()
    }
    summary = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in problems.items())
    return ApplicationError(ErrorCode.VALIDATION_ERROR, summary, details)


def _present(**values: str) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}

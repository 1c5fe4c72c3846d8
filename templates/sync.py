"""The template sync: Meta's list of a WABA's templates, read to its last page and
applied to one channel's templates."""

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from providers.http import ProviderError
from templates.changes import (
    TRACKED,
    TemplateRef,
    check_template_channel,
    is_rate_limit,
    meta_reason,
    rate_limit_pause,
    rate_limit_wait,
    template_change,
    template_for,
    template_mark_removed,
    template_revive,
)
from templates.models import EventKind, EventSource, MessageTemplate, ParameterFormat
from tenants.clients import whatsapp_client_for
from tenants.models import Channel

logger = logging.getLogger(__name__)

SYNC_PAGE_SIZE = 100


@dataclass
class SyncReport:
    channel_id: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    # Meta's rate limit stopped the sync: what was read is applied, nothing is marked
    # removed (the list was not read to its end), and the next run tries again.
    rate_limited: bool = False
    retry_after: float | None = None
    error: str = ""

    @property
    def complete(self) -> bool:
        return not self.rate_limited

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def summary(self) -> str:
        counts = (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed"
        )
        if self.complete:
            return counts
        wait = f", retry in {math.ceil(self.retry_after)} s" if self.retry_after else ""
        return f"{counts}; stopped by Meta's rate limit{wait}: {self.error}"

    def as_dict(self) -> dict:
        return {
            "channel": self.channel_id,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "complete": self.complete,
            "rate_limited": self.rate_limited,
            "retry_after": self.retry_after,
            "error": self.error,
        }


def templates_sync(*, channel: Channel) -> SyncReport:
    """Bring the channel's templates in line with Meta's list of the WABA's templates,
    read to its last page: new ones are created, changed ones updated (status, quality
    and category changes recorded and alerted like webhooks), and those Meta no longer
    lists are marked removed.

    Each template is written in its own short transaction. Meta's rate limit stops the
    sync where it is (see SyncReport.rate_limited); any other provider error is raised.
    """
    check_template_channel(channel)
    report = SyncReport(channel_id=channel.pk)
    started = timezone.now()
    wait = rate_limit_wait(channel)
    if wait is not None:
        report.rate_limited, report.retry_after = True, wait
        report.error = "paused after Meta's last rate-limit answer"
        return report
    seen: set[str] = set()
    unchanged: list[int] = []
    try:
        with whatsapp_client_for(channel) as client:
            for data in client.templates(limit=SYNC_PAGE_SIZE):
                remote = _Remote.of(data)
                seen.add(remote.ref.template_id)
                outcome, template_id = _template_sync_one(channel=channel, remote=remote)
                report.count(outcome)
                if outcome == "unchanged":
                    unchanged.append(template_id)
    except ProviderError as exc:
        if not is_rate_limit(exc):
            raise
        report.rate_limited, report.retry_after = True, rate_limit_pause(channel, exc)
        report.error = str(exc)
        logger.warning("Template sync of channel %s stopped by Meta: %s", channel.pk, exc)
    MessageTemplate.objects.filter(pk__in=unchanged).update(last_synced_at=timezone.now())
    if report.complete:
        report.removed = _templates_remove_missing(channel=channel, seen=seen, before=started)
    return report


@dataclass(frozen=True)
class _Remote:
    """One template of Meta's list (contract A5), as our fields."""

    ref: TemplateRef
    values: dict[str, Any]

    @classmethod
    def of(cls, data: dict[str, Any]) -> "_Remote":
        values = {
            "status": str(data.get("status") or "").upper(),
            "category": str(data.get("category") or "").upper(),
            "components": data.get("components") or [],
            "parameter_format": str(
                data.get("parameter_format") or ParameterFormat.POSITIONAL
            ).upper(),
            "rejection_reason": meta_reason(data.get("rejected_reason")),
        }
        quality = data.get("quality_score")
        score = quality.get("score") if isinstance(quality, dict) else quality
        if score:  # left out: Meta said nothing, and what we hold stays
            values["quality_score"] = str(score).upper()
        ref = TemplateRef.of(
            template_id=data.get("id"), name=data.get("name"), language=data.get("language")
        )
        return cls(ref=ref, values=values)


_SYNCED_PLAIN_FIELDS = ("components", "parameter_format", "rejection_reason")


@transaction.atomic
def _template_sync_one(*, channel: Channel, remote: _Remote) -> tuple[str, int]:
    now = timezone.now()
    template, created = template_for(
        channel=channel,
        ref=remote.ref,
        source=EventSource.SYNC,
        occurred_at=now,
        defaults={**remote.values, "last_synced_at": now},
    )
    if created:
        return "created", template.pk
    changed = False
    for kind, (value_field, _) in TRACKED.items():
        new = remote.values.get(value_field)
        reason = remote.values["rejection_reason"] if kind == EventKind.STATUS else ""
        if new and template_change(
            template, kind, new, source=EventSource.SYNC, occurred_at=now, reason=reason
        ):
            changed = True
    for name in _SYNCED_PLAIN_FIELDS:
        if getattr(template, name) != remote.values[name]:
            setattr(template, name, remote.values[name])
            changed = True
    if template.is_deleted:  # listed again: it was not gone after all
        template_revive(
            template, source=EventSource.SYNC, occurred_at=now, details={"reappeared": True}
        )
        changed = True
    if not changed:
        return "unchanged", template.pk
    template.last_synced_at = now
    template.save()
    return "updated", template.pk


def _templates_remove_missing(*, channel: Channel, seen: set[str], before: datetime) -> int:
    # Only templates we knew before the list was read: one submitted meanwhile is not
    # in it yet.
    missing = (
        MessageTemplate.objects.filter(channel=channel, is_deleted=False, created_at__lt=before)
        .exclude(provider_template_id__in=seen)
        .values_list("pk", flat=True)
    )
    return sum(
        template_mark_removed(template_id=pk, source=EventSource.SYNC) for pk in list(missing)
    )

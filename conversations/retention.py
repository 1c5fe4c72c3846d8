"""Message retention per organization (GDPR art. 5(1)(e), storage limitation).

An organization with `message_retention_days` set has the contents of its messages
older than that blanked by the daily "Apply message retention" (the rows stay, for
counts and reports; see conversations.erasure.BLANK_CONTENTS), its conversations'
previews of such messages too, and whatever higher apps registered
(`retention_step_register`: webhooks redacts raw bodies older than the cutoff, when
its own purge has not deleted them yet). Without the setting nothing happens.

Short transactions only: each conversation is walked newest-first along the thread's
index from the cutoff down, one UPDATE per ERASURE_BATCH_SIZE messages, and stops at a
batch that was blanked by an earlier run, so a daily run reads little more than the
day's newly old messages. Idempotent and resumable: a run that dies is finished by the
next one. A message filed later with an older time (a backfill) behind an already
blanked batch waits for no one: it is found by `messages_retention_apply(full=True)`
(the command `apply_message_retention --full`).
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from conversations.erasure import messages_blank_in_conversation
from conversations.models import Conversation
from tenants.models import Organization

logger = logging.getLogger(__name__)

RetentionStep = Callable[..., int]  # (organization_id=, before=) -> rows
_STEPS: dict[str, RetentionStep] = {}
CONVERSATION_CHUNK = 1_000


def retention_step_register(name: str, step: RetentionStep) -> None:
    """Add a step (from an AppConfig.ready()), called as step(organization_id=, before=)
    for each organization with a retention; idempotent, short transactions."""
    _STEPS[name] = step


def messages_retention_apply(*, now: datetime | None = None, full: bool = False) -> dict:
    """Apply every organization's retention. Returns counts per organization slug."""
    now = now or timezone.now()
    report = {}
    organizations = Organization.objects.exclude(message_retention_days=None).order_by("pk")
    for organization in organizations:
        before = now - timedelta(days=organization.message_retention_days)
        report[organization.slug] = organization_retention_apply(
            organization_id=organization.pk, before=before, now=now, full=full
        )
        logger.info("Retention of %s: %s", organization.slug, report[organization.slug])
    return report


def organization_retention_apply(
    *, organization_id: int, before: datetime, now: datetime, full: bool = False
) -> dict:
    """Blank the organization's messages written before `before`; then the
    registered steps."""
    counts = {"messages": 0, "previews": 0}
    conversations = Conversation.objects.filter(organization_id=organization_id)
    last = 0
    while chunk := list(
        conversations.filter(pk__gt=last)
        .order_by("pk")
        .values_list("pk", flat=True)[:CONVERSATION_CHUNK]
    ):
        for conversation_id in chunk:
            counts["messages"] += messages_blank_in_conversation(
                conversation_id=conversation_id, now=now, before=before, stop_at_erased=not full
            )
        # The inbox shows the latest message's first words: gone with its contents.
        counts["previews"] += (
            Conversation.objects.filter(pk__in=chunk, last_message_at__lt=before)
            .exclude(last_message_preview="")
            .update(last_message_preview="")
        )
        last = chunk[-1]
    for name, step in _STEPS.items():
        counts[name] = step(organization_id=organization_id, before=before)
    return counts

"""Reads for campaigns: what the preview needs before a campaign starts."""

from collections.abc import Iterator
from dataclasses import dataclass

from campaigns.models import Campaign, Enrollment, Step, StepKind
from campaigns.personalize import missing_in, required_fields


def step_texts(step: Step) -> list:
    """What of a step is personalized."""
    if step.kind == StepKind.WHATSAPP_TEMPLATE:
        return [step.template_parameters]
    if step.kind == StepKind.TEXT:
        return [step.text]
    if step.kind == StepKind.LINKEDIN_INVITATION:
        return [step.note]
    return []


def campaign_required_fields(*, campaign: Campaign) -> list[str]:
    """The lead fields the campaign's steps use without a fallback, in step order."""
    texts = [text for step in campaign.steps.order_by("position") for text in step_texts(step)]
    return required_fields(texts)


@dataclass(frozen=True)
class MissingFields:
    enrollment_id: int
    contact_id: int
    missing: list[str]


def enrollments_missing_fields(
    *, campaign: Campaign, chunk_size: int = 2000
) -> Iterator[MissingFields]:
    """Each enrollment still to run that lacks a field the steps need (streamed in
    chunks: a 100,000-lead campaign is not held in memory)."""
    required = campaign_required_fields(campaign=campaign)
    if not required:
        return
    rows = (
        Enrollment.objects.filter(campaign=campaign)
        .order_by("pk")
        .values_list("pk", "contact_id", "fields")
        .iterator(chunk_size=chunk_size)
    )
    for pk, contact_id, fields in rows:
        missing = missing_in(fields or {}, required)
        if missing:
            yield MissingFields(pk, contact_id, missing)

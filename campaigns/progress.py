"""What an operator watches: a campaign's progress counts, and the preview of its
first messages before it starts. Reads only, each a few set-based queries, whatever
the campaign's size.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from campaigns.models import (
    Campaign,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
    StepKind,
    StepOutcome,
)
from campaigns.personalize import render, render_parameters
from campaigns.selectors import enrollments_missing_fields
from providers.events import MessageStatus
from templates.models import MessageTemplate

_HANDED_OVER = (StepOutcome.QUEUED, StepOutcome.SENT, StepOutcome.ACCEPTED)
_DELIVERED = (MessageStatus.DELIVERED, MessageStatus.READ)


def campaign_progress(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """Enrolled, per state, per step (sent, delivered, read, failed, accepted,
    deferred), and what waits: for the window, for an acceptance, for the daily cap."""
    now = now or timezone.now()
    states = dict(
        Enrollment.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    by_state = {state.value: states.get(state.value, 0) for state in EnrollmentState}
    waiting = Enrollment.objects.filter(campaign=campaign, state=EnrollmentState.WAITING)
    waits = dict(
        waiting.values_list("wait_reason").annotate(n=Count("pk")).values_list("wait_reason", "n")
    )
    capped = bool(campaign.capped_until and campaign.capped_until > now)
    held_by_cap = (
        Enrollment.objects.filter(
            campaign=campaign, state=EnrollmentState.ACTIVE, next_run_at__lte=campaign.capped_until
        ).count()
        if capped
        else 0
    )
    return {
        "enrolled": sum(by_state.values()),
        "states": by_state,
        "replied": by_state[EnrollmentState.REPLIED],
        "accepted": by_state[EnrollmentState.ACCEPTED],
        "opted_out": by_state[EnrollmentState.OPTED_OUT],
        "failed": by_state[EnrollmentState.FAILED],
        "waiting_for_window": waits.get("window", 0),
        "waiting_for_acceptance": waits.get("acceptance", 0),
        "waiting_for_cap": held_by_cap,
        "capped_until": campaign.capped_until if capped else None,
        "capped_reason": campaign.capped_reason if capped else "",
        "steps": _per_step(campaign),
    }


def _per_step(campaign: Campaign) -> list[dict]:
    executed = Q(execution=True)
    counts = {
        row["position"]: row
        for row in EnrollmentStep.objects.filter(enrollment__campaign=campaign)
        .values("position")
        .annotate(
            sent=Count("pk", filter=executed & Q(outcome__in=_HANDED_OVER)),
            delivered=Count("pk", filter=executed & Q(message__status__in=_DELIVERED)),
            read=Count("pk", filter=executed & Q(message__status=MessageStatus.READ)),
            failed=Count(
                "pk",
                filter=Q(outcome__in=(StepOutcome.FAILED, StepOutcome.REFUSED))
                | (executed & Q(message__status=MessageStatus.FAILED)),
            ),
            accepted=Count("pk", filter=Q(outcome=StepOutcome.ACCEPTED)),
            deferred=Count("pk", filter=Q(outcome=StepOutcome.DEFERRED)),
        )
    }
    empty = {"sent": 0, "delivered": 0, "read": 0, "failed": 0, "accepted": 0, "deferred": 0}
    steps = list(campaign.steps.order_by("position"))
    rows = []
    for step in steps:
        found = counts.pop(step.position, {})
        rows.append(
            {
                "position": step.position,
                "kind": step.kind,
                **{name: found.get(name, 0) for name in empty},
            }
        )
    for position, found in sorted(counts.items()):  # history of steps deleted since
        rows.append({"position": position, "kind": "", **{name: found[name] for name in empty}})
    return rows


@dataclass
class PreviewMessage:
    position: int
    kind: str
    text: str  # what the lead reads (a template's body, the text, the note)
    parameters: dict = field(default_factory=dict)  # a template's rendered parameters


def campaign_preview(*, campaign: Campaign, count: int = 5, missing_limit: int = 100) -> dict:
    """The messages of the first `count` enrollments still to run, rendered from each
    one's own fields as they would be sent now, and the enrollments whose fields a step
    needs but lacks (the first `missing_limit`, and how many in all)."""
    steps = list(campaign.steps.order_by("position"))
    bodies = _template_bodies(campaign, steps)
    enrollments = (
        Enrollment.objects.filter(campaign=campaign)
        .exclude(state__in=_ENDED)
        .select_related("contact")
        .order_by("pk")[:count]
    )
    previews = [
        {
            "enrollment": enrollment.pk,
            "contact": {"id": enrollment.contact_id, "name": str(enrollment.contact)},
            "messages": [
                _rendered(step, enrollment.fields or {}, bodies).__dict__
                for step in steps
                if step.kind != StepKind.WAIT_FOR_ACCEPTANCE
            ],
        }
        for enrollment in enrollments
    ]
    missing, total = [], 0
    for row in enrollments_missing_fields(campaign=campaign):
        total += 1
        if len(missing) < missing_limit:
            missing.append(
                {"enrollment": row.enrollment_id, "contact": row.contact_id, "missing": row.missing}
            )
    return {"enrollments": previews, "missing_fields": missing, "missing_fields_total": total}


_ENDED = (
    EnrollmentState.REPLIED,
    EnrollmentState.COMPLETED,
    EnrollmentState.OPTED_OUT,
    EnrollmentState.FAILED,
    EnrollmentState.STOPPED,
)


def _rendered(step: Step, fields: dict, bodies: dict) -> PreviewMessage:
    if step.kind == StepKind.WHATSAPP_TEMPLATE:
        parameters = render_parameters(step.template_parameters or {}, fields)
        body = bodies.get((step.template_name, step.template_language), "")
        return PreviewMessage(step.position, step.kind, _fill_body(body, parameters), parameters)
    if step.kind == StepKind.LINKEDIN_INVITATION:
        return PreviewMessage(step.position, step.kind, render(step.note, fields))
    return PreviewMessage(step.position, step.kind, render(step.text, fields))


def _template_bodies(campaign: Campaign, steps: list[Step]) -> dict[tuple[str, str], str]:
    wanted = {(s.template_name, s.template_language) for s in steps if s.template_name}
    if not wanted:
        return {}
    templates = MessageTemplate.objects.filter(
        channel_id=campaign.channel_id, name__in={name for name, _ in wanted}
    )
    bodies = {}
    for template in templates:
        body = next(
            (
                c.get("text", "")
                for c in template.components
                if isinstance(c, dict) and str(c.get("type")).upper() == "BODY"
            ),
            "",
        )
        bodies[(template.name, template.language)] = body
    return bodies


def _fill_body(body: str, parameters: dict) -> str:
    """The template's body with the rendered body parameters in its {{1}} / {{name}}
    places; a place without a value stays as written, so the operator sees it."""
    values = parameters.get("body", {}) if isinstance(parameters, dict) else {}
    if isinstance(values, list):
        values = {str(index): value for index, value in enumerate(values, start=1)}
    if not isinstance(values, dict):
        values = {}

    def place(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{{" + str(key) + "}}", str(value))
        return text

    return place(body)

"""What campaigns record in the outbox: a lead's enrollment replied or completed.
Recorded by the writers (replies.py, run.py) in the transaction of the change."""

from campaigns.models import Enrollment, EnrollmentState
from outbox.services import EventDraft, events_record_many
from outbox.types import EnrollmentBody

_TYPES = {
    EnrollmentState.REPLIED: "campaign.enrollment.replied",
    EnrollmentState.COMPLETED: "campaign.enrollment.completed",
}


def enrollments_replied_record(*, enrollment_ids: list[int]) -> None:
    """campaign.enrollment.replied for these enrollments, just stopped as replied (read
    back: the reply detection moves them in one statement)."""
    rows = (
        Enrollment.objects.filter(pk__in=enrollment_ids, state=EnrollmentState.REPLIED)
        .select_related("campaign")
        .order_by("pk")
    )
    events_record_many(events=[enrollment_finished(enrollment) for enrollment in rows])


def enrollments_completed(enrollments: list[Enrollment]) -> list[EventDraft]:
    """The events of a batch's enrollments that completed their last step."""
    return [
        enrollment_finished(enrollment)
        for enrollment in sorted(enrollments, key=lambda enrollment: enrollment.pk)
        if enrollment.state == EnrollmentState.COMPLETED
    ]


def enrollment_finished(enrollment: Enrollment) -> EventDraft:
    """Its `campaign` must be loaded (a batch's shared copy, or select_related)."""
    campaign = enrollment.campaign
    replied = enrollment.state == EnrollmentState.REPLIED
    return EventDraft(
        type=_TYPES[enrollment.state],
        organization_id=campaign.organization_id,
        channel_id=campaign.channel_id,
        conversation_id=enrollment.conversation_id,
        occurred_at=enrollment.finished_at,
        body=EnrollmentBody(
            enrollment_id=enrollment.pk,
            campaign_id=campaign.pk,
            channel_id=campaign.channel_id,
            contact_id=enrollment.contact_id,
            conversation_id=enrollment.conversation_id,
            state=enrollment.state,
            replied_at=enrollment.replied_at if replied else None,
            finished_at=enrollment.finished_at,
        ),
    )

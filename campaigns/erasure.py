"""What campaigns keep about a person, for conversations.erasure (registered in
CampaignsConfig.ready): a forgotten lead is stopped in every campaign and their lead
fields (name, phone, company, LinkedIn profile, custom columns) and the details of
their timeline (a refusal's text names the listed number) are blanked. The rows stay,
with their states and times, for the campaigns' counts."""

from django.db.models import Q
from django.utils import timezone

from campaigns.models import LIVE_STATES, Enrollment, EnrollmentState, EnrollmentStep
from conversations.erasure import ErasureSubject

ERASED = "erased"


def campaigns_erase(subject: ErasureSubject) -> int:
    enrollments = Enrollment.objects.filter(contact_id=subject.contact_id)
    stopped = enrollments.filter(state__in=LIVE_STATES).update(
        state=EnrollmentState.STOPPED,
        stop_reason=ERASED,
        next_run_at=None,
        claim_token="",
        finished_at=timezone.now(),
    )
    blanked = enrollments.filter(~Q(fields={}) | ~Q(stop_detail="")).update(
        fields={}, stop_detail=""
    )
    details = EnrollmentStep.objects.filter(enrollment__contact_id=subject.contact_id).exclude(
        detail=""
    )
    return stopped + blanked + details.update(detail="")

"""A small campaign history with every figure hand-counted (the expected values are in
the tests), written as the campaigns app writes it: enrollments, step history rows,
messages and their status changes, replies and opt-outs with their outbox events.

The organization is in New York (UTC-5 in March): 04:30 UTC on 3 March is still
2 March there, 05:30 UTC is 3 March.

Campaign "A" (SMS, two text steps), leads L1..L5:
- enrolled: L1-L3 at 14:00Z 2 Mar, L4 at 04:30Z 3 Mar (2 Mar local), L5 at 05:30Z 3 Mar
- step 1 sent to L1-L4 at 14:00Z 3 Mar; L5's refused: it had opted out (12:00Z 3 Mar,
  before it started, so only the refusal counts it)
- step 1's messages: L1 delivered then read, L2 delivered, L3 failed, L4 sent
- L1 replies at 04:00Z 4 Mar (23:00 on 3 Mar local): 14 h after its first step
- step 2 sent to L2 at 15:00Z 4 Mar (delivered); L4's step 2 fails (impossible)
- L2 replies at 03:00Z 5 Mar (22:00 on 4 Mar local): 37 h after its first step
- L3 opts out at 16:30Z 4 Mar, its enrollment still live
Campaign "B" (LinkedIn): L6 enrolled 2 Mar, invited 14:00Z 3 Mar, accepted 14:00Z 4 Mar.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import time_machine

from campaigns.events import enrollments_replied_record
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
    StepKind,
    StepOutcome,
)
from conversations import events as conversation_events
from conversations.consent import consent_set
from conversations.consent_models import ConsentSource
from conversations.models import Direction
from outbox.services import events_record_many
from providers import Provider
from tests.factories import ChannelFactory, ContactFactory, ConversationFactory, MessageFactory


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def make_campaign(organization, provider, name: str, kinds: list[str]) -> Campaign:
    channel = ChannelFactory(organization=organization, provider=provider, name=f"{name} channel")
    campaign = Campaign.objects.create(
        organization=organization,
        channel=channel,
        name=name,
        status=CampaignStatus.RUNNING,
        started_at=at(3, 13),
    )
    for position, kind in enumerate(kinds, start=1):
        Step.objects.create(campaign=campaign, position=position, kind=kind, text="Hi")
    return campaign


def enroll(campaign: Campaign, created: datetime) -> Enrollment:
    contact = ContactFactory(organization=campaign.organization)
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, state=EnrollmentState.ACTIVE, started_at=at(3, 13)
    )
    Enrollment.objects.filter(pk=enrollment.pk).update(created_at=created)
    enrollment.conversation = ConversationFactory(
        organization=campaign.organization, channel=campaign.channel, contact=contact
    )
    enrollment.save(update_fields=["conversation"])
    return enrollment


def history(enrollment, position, when, outcome, *, message=None, detail=""):
    step = Step.objects.filter(campaign=enrollment.campaign, position=position).first()
    return EnrollmentStep.objects.create(
        enrollment=enrollment,
        step=step,
        position=position,
        execution=outcome == StepOutcome.QUEUED,
        at=when,
        message=message,
        outcome=outcome,
        detail=detail,
    )


def send(enrollment: Enrollment, position: int, when: datetime, *, with_message=True):
    message = None
    if with_message:
        message = MessageFactory(
            conversation=enrollment.conversation,
            direction=Direction.OUTBOUND,
            status="sent",
            occurred_at=when,
        )
    history(enrollment, position, when, StepOutcome.QUEUED, message=message)
    return message


def status(message, new: str, when: datetime) -> None:
    previous, message.status = message.status, new
    message.save(update_fields=["status"])
    events_record_many(events=[conversation_events.message_status_changed(message, previous, when)])


def reply(enrollment: Enrollment, when: datetime) -> None:
    Enrollment.objects.filter(pk=enrollment.pk).update(
        state=EnrollmentState.REPLIED, replied_at=when, finished_at=when
    )
    enrollments_replied_record(enrollment_ids=[enrollment.pk])


def opt_out(enrollment: Enrollment, kind: str = "sms") -> None:
    consent_set(
        contact=enrollment.contact,
        kind=kind,
        scope="marketing",
        state="opted_out",
        source=ConsentSource.API,
    )


def build(organization, update: Callable[[], object]) -> dict:
    """Play the story, calling `update` (the incremental pass) along the way; returns
    the campaigns and leads."""
    organization.timezone = "America/New_York"
    organization.save()
    a = make_campaign(organization, Provider.TWILIO, "A", [StepKind.TEXT, StepKind.TEXT])
    b = make_campaign(
        organization,
        Provider.UNIPILE,
        "B",
        [StepKind.LINKEDIN_INVITATION, StepKind.WAIT_FOR_ACCEPTANCE, StepKind.TEXT],
    )
    with time_machine.travel(at(3, 12), tick=False):
        leads = [enroll(a, at(2, 14)) for _ in range(3)]
        leads += [enroll(a, at(3, 4, 30)), enroll(a, at(3, 5, 30))]
        l6 = enroll(b, at(2, 14))
        opt_out(leads[4])  # before it started: only the refusal below counts it
        update()
    with time_machine.travel(at(3, 14, 5), tick=False):
        messages = [send(lead, 1, at(3, 14)) for lead in leads[:4]]
        history(leads[4], 1, at(3, 14), StepOutcome.REFUSED, detail="CONTACT_OPTED_OUT: no")
        Enrollment.objects.filter(pk=leads[4].pk).update(
            state=EnrollmentState.OPTED_OUT, finished_at=at(3, 14)
        )
        send(l6, 1, at(3, 14), with_message=False)
        update()
    with time_machine.travel(at(3, 20), tick=False):
        status(messages[0], "delivered", at(3, 15))
        status(messages[1], "delivered", at(3, 15))
        status(messages[2], "failed", at(3, 15))
        update()
        status(messages[0], "read", at(3, 16))
    with time_machine.travel(at(4, 4, 1), tick=False):
        reply(leads[0], at(4, 4))
        update()
    with time_machine.travel(at(4, 16, 30), tick=False):
        step2 = send(leads[1], 2, at(4, 15))
        status(step2, "delivered", at(4, 15, 5))
        history(leads[3], 2, at(4, 15), StepOutcome.FAILED, detail="No phone")
        history(l6, 2, at(4, 14), StepOutcome.ACCEPTED)
        opt_out(leads[2])
        update()
    with time_machine.travel(at(5, 3, 1), tick=False):
        reply(leads[1], at(5, 3))
        update()
    return {"a": a, "b": b, "leads": leads, "l6": l6}

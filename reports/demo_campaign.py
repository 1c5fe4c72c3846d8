"""The demo's campaign (reports.demo_history): three SMS texts to ten leads, completed,
with its step history as the scheduler (campaigns.run) writes it.

Its story, from a weekday morning about three weeks ago, in the campaign's calendar:
- step 1 to every lead at once; step 2 two working days later, step 3 three more;
- leads 0 and 1 reply to step 1, lead 2 to step 2: each stops there (a reply stops a
  live lead, campaigns.replies), goes to the agents' queue and is answered;
- lead 3 is a landline: every text fails (Twilio's 30006);
- the others get all three texts and complete; the campaign completes with them.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from campaigns.calendar import WORKING_DAYS, add_delay, next_sending_moment
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
from campaigns.replies import REPLIED
from campaigns.run import calendar_for
from conversations.models import ConversationStatus
from reports.demo_rows import Said, Thread, contacts_make, local_moment
from reports.ranges import local_day, organization_tz
from tenants.models import Channel, Organization

NAME = "Winter check-in (demo)"
LEADS = 10
FIRST_CONTACT = 60  # numbered after the customer conversations' contacts
TEXTS = [
    "Hi {first}, it's Demo Company: how did your last order go? Just reply here.",
    "Hi {first}, any question about your order? We read every reply.",
    "Last note from us, {first}: our winter sale starts Monday. Reply STOP to opt out.",
]
DELAYS = [0, 2, 3]  # working days after the previous step
# lead -> (the step it replied to, how long after, what it said)
REPLIES = {
    0: (1, timedelta(minutes=35), "All good, thanks! Do you have it in green too?"),
    1: (1, timedelta(hours=23), "The box arrived damaged. Can someone call me?"),
    2: (2, timedelta(hours=2), "Yes: can I change my delivery day?"),
}
# lead -> (agent index, minutes to the answer, closed hours after, the answer)
ANSWERS = {
    0: (0, 20, 3, "Hi {first}, yes: green is back next week. I'll text you the link."),
    1: (1, 55, 26, "So sorry, {first}! A replacement is on its way; I'll call you at 3."),
    2: (0, 40, None, "Of course, {first}: which day suits you?"),
}
LANDLINE = 3
UNDELIVERED = ("30006", "Landline or unreachable carrier")
BATCH_GAP = timedelta(seconds=15)  # between two leads' sends of one scheduler batch


@dataclass
class DemoCampaign:
    campaign: Campaign
    steps: list[Step]
    threads: list[Thread]
    # Per lead: the (position, planned message) of each step sent to it.
    sends: list[list[tuple[int, Said]]] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)

    def history_write(self) -> None:
        """The enrollments and their step history, once the messages exist."""
        for enrollment, thread in zip(self.enrollments, self.threads, strict=True):
            enrollment.conversation = thread.conversation  # found or made at its first send
        Enrollment.objects.bulk_create(self.enrollments)
        imported = self.campaign.created_at + timedelta(minutes=10)
        for enrollment in self.enrollments:
            enrollment.created_at, enrollment.updated_at = imported, enrollment.finished_at
        Enrollment.objects.bulk_update(self.enrollments, ["created_at", "updated_at"])
        EnrollmentStep.objects.bulk_create(
            [
                row
                for enrollment, thread, sends in zip(
                    self.enrollments, self.threads, self.sends, strict=True
                )
                for row in self._executions(enrollment, thread, sends)
            ]
        )

    def _executions(self, enrollment, thread: Thread, sends) -> list[EnrollmentStep]:
        """The execution rows, inserted with each send (outcome "queued": the step was
        handed to the send service; how the message fared is the message's)."""
        message_of = {id(said): m for said, m in zip(thread.said, thread.messages, strict=True)}
        return [
            EnrollmentStep(
                enrollment=enrollment,
                step=self.steps[position - 1],
                position=position,
                execution=True,
                at=said.at,
                message=message_of[id(said)],
                outcome=StepOutcome.QUEUED,
            )
            for position, said in sends
        ]


def campaign_history_write(
    *, organization: Organization, channel: Channel, agents: list, now: datetime
) -> DemoCampaign:
    """The campaign and its steps, saved; its leads' contacts, saved; their threads and
    enrollments planned (saved by threads_write and DemoCampaign.history_write)."""
    campaign = Campaign(organization=organization, channel=channel, name=NAME, owner=agents[0])
    cal = calendar_for(campaign)
    today = local_day(now, organization_tz(organization))
    start = next_sending_moment(local_moment(today - timedelta(days=19), time(10), cal.zone), cal)
    when = [start]
    for delay in DELAYS[1:]:
        when.append(add_delay(when[-1], amount=delay, unit=WORKING_DAYS, cal=cal))
    campaign.status, campaign.started_at = CampaignStatus.COMPLETED, start
    campaign.save()
    steps = Step.objects.bulk_create(
        [
            Step(
                campaign=campaign,
                position=n,
                kind=StepKind.TEXT,
                delay_amount=DELAYS[n - 1],
                delay_unit=WORKING_DAYS,
                text=text.replace("{first}", "{{first_name|there}}"),
            )
            for n, text in enumerate(TEXTS, start=1)
        ]
    )
    contacts = contacts_make(organization, [channel] * LEADS, start=FIRST_CONTACT)
    demo = DemoCampaign(campaign, steps, [])
    for lead, contact in enumerate(contacts):
        _lead(demo, lead, contact, when, agents)
    # Completed by the tick after its last lead finished; written the day before.
    campaign.finished_at = max(e.finished_at for e in demo.enrollments) + timedelta(minutes=1)
    campaign.created_at = start - timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(
        finished_at=campaign.finished_at,
        created_at=campaign.created_at,
        updated_at=campaign.finished_at,
    )
    Step.objects.filter(campaign=campaign).update(
        created_at=campaign.created_at, updated_at=campaign.created_at
    )
    return demo


def _lead(demo: DemoCampaign, lead: int, contact, when: list[datetime], agents: list) -> None:
    first = contact.name.split()[0]
    thread = Thread(channel=demo.campaign.channel, contact=contact)
    replied = REPLIES.get(lead)
    last_step = replied[0] if replied else len(TEXTS)
    failed = UNDELIVERED if lead == LANDLINE else None
    sends = []
    for position in range(1, last_step + 1):
        at = when[position - 1] + lead * BATCH_GAP
        thread.outbound(at, TEXTS[position - 1].format(first=first), failed=failed)
        sends.append((position, thread.said[-1]))
    enrollment = Enrollment(
        campaign=demo.campaign,
        contact=contact,
        fields={"first_name": first},
        started_at=when[0].replace(microsecond=0),
        # The scheduler moved it past each step it sent.
        current_position=min(last_step + 1, len(TEXTS)),
    )
    if replied:
        _replied(thread, enrollment, sends[-1][1].at, lead, first, agents)
    else:
        enrollment.state, enrollment.finished_at = EnrollmentState.COMPLETED, sends[-1][1].at
    demo.threads.append(thread)
    demo.sends.append(sends)
    demo.enrollments.append(enrollment)


def _replied(thread: Thread, enrollment: Enrollment, sent: datetime, lead: int, first, agents):
    """The lead wrote back: stopped by the next tick, then answered by an agent."""
    _, after, text = REPLIES[lead]
    replied_at = sent + after
    thread.inbound(replied_at, text)
    enrollment.state, enrollment.stop_reason = EnrollmentState.REPLIED, REPLIED
    enrollment.replied_at = replied_at
    enrollment.finished_at = replied_at + timedelta(seconds=40)  # the next tick
    enrollment.reply_notified_at = enrollment.finished_at + timedelta(seconds=5)  # owner's email
    agent, minutes, closed_after, answer = ANSWERS[lead]
    answered = replied_at + timedelta(minutes=minutes)
    thread.assignee = agents[agent]
    thread.outbound(answered, answer.format(first=first), author=agents[agent])
    if closed_after is None:
        thread.status = ConversationStatus.PENDING
    else:
        thread.status = ConversationStatus.CLOSED
        thread.closed_at = answered + timedelta(hours=closed_after)

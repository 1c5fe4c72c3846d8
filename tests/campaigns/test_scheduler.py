"""The scheduler, end to end through messaging's send services to a faked OpenPhone."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from campaigns import services
from campaigns.models import (
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    StepKind,
)
from campaigns.scheduler import enrollment_step_run, enrollments_claim
from conversations.models import Conversation, Direction, Message
from conversations.services import inbound_message_apply
from messaging.models import SendLimit
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tests.campaigns.conftest import enroll, make_campaign, sent_bodies

pytestmark = pytest.mark.django_db

TWO_STEPS = [
    {"kind": StepKind.TEXT, "text": "Hi {{first_name|there}}, this is about {{company}}."},
    {"kind": StepKind.TEXT, "text": "Following up, {{first_name|there}}.", "delay_amount": 1},
]


def outbound(enrollment) -> list[Message]:
    return list(
        Message.objects.filter(
            direction=Direction.OUTBOUND, conversation__contact_id=enrollment.contact_id
        ).order_by("pk")
    )


def reply(channel, enrollment, at: datetime, message_id: str = "in-1") -> None:
    phone = enrollment.contact.phone
    inbound_message_apply(
        channel=channel,
        message=InboundMessage(
            provider=Provider.OPENPHONE,
            event_id=f"test:{message_id}",
            occurred_at=at,
            raw={},
            message_id=message_id,
            contact=ContactRef(phone=phone),
            type=MessageType.TEXT,
            text="Not interested, thanks",
        ),
    )


def test_each_lead_gets_its_own_first_message_then_the_next_step_a_working_day_later(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, TWO_STEPS)
    ada, bob, anon = enroll(
        campaign,
        {"first_name": "Ada", "company": "Acme"},
        {"first_name": "Bob", "company": "Beta"},
        {"company": "Gamma"},
    )
    services.campaign_start(campaign=campaign)

    report = tick()

    assert report.claimed == 3
    by_phone = {body["to"][0]: body["content"] for body in sent_bodies(openphone)}
    assert by_phone == {
        ada.contact.phone: "Hi Ada, this is about Acme.",
        bob.contact.phone: "Hi Bob, this is about Beta.",
        anon.contact.phone: "Hi there, this is about Gamma.",
    }
    ada.refresh_from_db()
    assert ada.state == EnrollmentState.ACTIVE
    assert ada.next_run_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # Thursday, same time
    execution = EnrollmentStep.objects.get(enrollment=ada, execution=True)
    assert execution.message == outbound(ada)[0]

    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    tick()

    assert [m.text for m in outbound(ada)] == [
        "Hi Ada, this is about Acme.",
        "Following up, Ada.",
    ]
    assert set(Enrollment.objects.values_list("state", flat=True)) == {EnrollmentState.COMPLETED}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_nothing_goes_outside_sending_hours_and_it_goes_at_the_next_opening(
    sms, openphone, clock, tick
):
    clock.move_to(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # Saturday
    campaign = make_campaign(sms, TWO_STEPS[:1])
    (lead,) = enroll(campaign, {"first_name": "Ada", "company": "Acme"})
    services.campaign_start(campaign=campaign)

    tick()

    assert openphone.calls.call_count == 0
    lead.refresh_from_db()
    assert lead.next_run_at == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    clock.move_to(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    tick()
    assert openphone.calls.call_count == 1


def test_the_campaign_cap_reached_mid_batch_holds_the_rest_until_the_next_sending_day(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, TWO_STEPS[:1], daily_message_cap=2)
    enroll(campaign, *({"first_name": f"Lead {n}"} for n in range(5)))
    services.campaign_start(campaign=campaign)

    report = tick()

    assert openphone.calls.call_count == 2
    assert report.outcomes == {"sent": 2, "capped": 3}
    campaign.refresh_from_db()
    thursday_9 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert campaign.capped_until == thursday_9
    assert "cap of 2" in campaign.capped_reason
    waiting = Enrollment.objects.filter(state=EnrollmentState.ACTIVE)
    assert {e.next_run_at for e in waiting} == {thursday_9}

    clock.move_to(datetime(2026, 3, 4, 15, 0, tzinfo=UTC))
    assert tick().claimed == 0  # later the same day: still capped
    clock.move_to(thursday_9)
    tick()
    assert openphone.calls.call_count == 4


def test_the_channel_daily_cap_pauses_the_campaign_until_the_next_sending_day(
    sms, openphone, clock, tick
):
    SendLimit.objects.filter(channel=sms).update(daily_cap=1)
    campaign = make_campaign(sms, TWO_STEPS[:1])
    enroll(campaign, {"first_name": "A"}, {"first_name": "B"})
    services.campaign_start(campaign=campaign)

    tick()

    assert openphone.calls.call_count == 1
    campaign.refresh_from_db()
    assert campaign.capped_until == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert "RATE_LIMITED" in campaign.capped_reason


def test_a_reply_stops_the_next_step_hands_the_conversation_to_agents_and_emails_the_owner(
    sms, openphone, clock, owner, admin_client, tick
):
    campaign = make_campaign(sms, TWO_STEPS, owner=owner)
    (lead,) = enroll(campaign, {"first_name": "Ada", "company": "Acme"})
    services.campaign_start(campaign=campaign)
    tick()
    conversation = Conversation.objects.get(contact=lead.contact)
    conversation.assignee = admin_client.user  # the bot's or anyone's: back to the queue
    conversation.save()

    clock.move_to(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
    reply(sms, lead, at=datetime(2026, 3, 4, 10, 55, tzinfo=UTC))
    report = tick()  # nothing due: the reply pass notices it

    assert report.replied == 1
    lead.refresh_from_db()
    assert lead.state == EnrollmentState.REPLIED
    assert lead.reply_notified_at is not None
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert conversation.unread_count >= 1
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]
    assert "replied" in mail.outbox[0].subject

    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    tick()
    assert openphone.calls.call_count == 1
    assert len(mail.outbox) == 1


def test_a_reply_filed_late_by_reconciliation_is_caught_when_the_next_step_is_claimed(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, TWO_STEPS)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    tick()

    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    # Written yesterday, filed only now (a reconciliation filling a missed webhook).
    reply(sms, lead, at=datetime(2026, 3, 4, 12, 0, tzinfo=UTC), message_id="late")
    token, claimed = enrollments_claim(now=datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    outcome = enrollment_step_run(enrollment_id=claimed[0], token=token, now=_now())

    assert outcome == "replied"
    assert openphone.calls.call_count == 1


def test_an_owner_email_that_failed_is_sent_by_a_later_tick(
    sms, openphone, clock, owner, monkeypatch, tick
):
    campaign = make_campaign(sms, TWO_STEPS, owner=owner)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    tick()
    reply(sms, lead, at=datetime(2026, 3, 4, 10, 30, tzinfo=UTC))
    clock.move_to(datetime(2026, 3, 4, 10, 31, tzinfo=UTC))

    def mail_server_down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("campaigns.replies.send_mail", mail_server_down)
    tick()
    lead.refresh_from_db()
    assert lead.state == EnrollmentState.REPLIED
    assert lead.reply_notified_at is None

    monkeypatch.undo()
    assert tick().notified == 1
    assert len(mail.outbox) == 1


def test_pause_stops_claims_resume_goes_on_and_cancel_stops_everyone(sms, openphone, clock, tick):
    campaign = make_campaign(sms, TWO_STEPS)
    enroll(campaign, {"first_name": "A"}, {"first_name": "B"})
    services.campaign_start(campaign=campaign)
    services.campaign_pause(campaign=campaign)

    assert tick().claimed == 0
    assert openphone.calls.call_count == 0

    services.campaign_resume(campaign=campaign)
    tick()
    assert openphone.calls.call_count == 2

    services.campaign_cancel(campaign=campaign)
    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    tick()
    assert openphone.calls.call_count == 2
    assert set(Enrollment.objects.values_list("state", "stop_reason")) == {
        (EnrollmentState.STOPPED, "campaign_cancelled")
    }


def test_editing_a_later_step_applies_to_leads_that_have_not_reached_it(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, TWO_STEPS)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    tick()

    campaign.steps.filter(position=2).update(text="New wording for {{first_name}}.")
    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    tick()

    assert outbound(lead)[-1].text == "New wording for Ada."


def test_a_crash_between_claim_and_send_is_sent_exactly_once_after_the_lease(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, TWO_STEPS[:1])
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    _, claimed = enrollments_claim(now=_now())
    assert claimed == [lead.pk]  # ... and the worker dies here

    assert tick().claimed == 0  # held by the lost claim's lease
    clock.shift(timedelta(minutes=6))
    tick()
    clock.shift(timedelta(minutes=6))
    tick()

    assert openphone.calls.call_count == 1
    assert EnrollmentStep.objects.filter(enrollment=lead, execution=True).count() == 1


def _now():
    from django.utils import timezone

    return timezone.now()


def test_a_step_whose_execution_row_exists_is_never_sent_again(sms, openphone, clock, tick):
    campaign = make_campaign(sms, TWO_STEPS[:1])
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    step = campaign.steps.get()
    EnrollmentStep.objects.create(
        enrollment=lead, step=step, position=1, execution=True, at=_now(), outcome="queued"
    )

    report = tick()

    assert report.outcomes == {"already_sent": 1}
    assert openphone.calls.call_count == 0
    lead.refresh_from_db()
    assert lead.state == EnrollmentState.COMPLETED

"""campaign.enrollment.replied and .completed: recorded once, in the transaction that
stops or finishes the lead, whichever way the reply is noticed."""

from datetime import UTC, datetime

import pytest

from campaigns import services
from campaigns.models import EnrollmentState
from campaigns.scheduler import enrollment_step_run, enrollments_claim
from conversations.models import Conversation
from outbox.models import OutboxEvent
from tests.campaigns.conftest import enroll, make_campaign
from tests.campaigns.test_scheduler import TWO_STEPS, reply

pytestmark = pytest.mark.django_db

ONE_STEP = TWO_STEPS[:1]


def _events(type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=type).order_by("id"))


def test_a_reply_noticed_by_the_tick_records_replied_once(sms, openphone, clock, tick):
    campaign = make_campaign(sms, TWO_STEPS)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    tick()
    clock.move_to(datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
    reply(sms, lead, at=datetime(2026, 3, 4, 10, 55, tzinfo=UTC))

    tick()
    tick()  # the next pass reads the reply again (its rescan): nothing more

    (event,) = _events("campaign.enrollment.replied")
    lead.refresh_from_db()
    conversation = Conversation.objects.get(contact=lead.contact)
    assert event.organization_id == sms.organization_id
    assert (event.channel_id, event.conversation_id) == (sms.pk, conversation.pk)
    assert event.body == {
        "enrollment_id": lead.pk,
        "campaign_id": campaign.pk,
        "channel_id": sms.pk,
        "contact_id": lead.contact_id,
        "conversation_id": conversation.pk,
        "state": "replied",
        "replied_at": "2026-03-04T10:55:00+00:00",
        "finished_at": lead.finished_at.isoformat(),
    }
    assert not _events("campaign.enrollment.completed")


def test_a_reply_noticed_when_the_next_step_is_claimed_records_replied(sms, openphone, clock, tick):
    campaign = make_campaign(sms, TWO_STEPS)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    tick()
    now = datetime(2026, 3, 5, 10, 1, tzinfo=UTC)
    clock.move_to(now)
    # Written yesterday, filed only now: the reply pass's cursor is past it, the claim is not.
    reply(sms, lead, at=datetime(2026, 3, 4, 12, 0, tzinfo=UTC), message_id="late")
    token, claimed = enrollments_claim(now=now)

    assert enrollment_step_run(enrollment_id=claimed[0], token=token, now=now) == "replied"

    (event,) = _events("campaign.enrollment.replied")
    assert event.body["enrollment_id"] == lead.pk
    assert event.body["replied_at"] == "2026-03-04T12:00:00+00:00"


def test_a_lead_through_every_step_records_completed_once(sms, openphone, clock, tick):
    campaign = make_campaign(sms, ONE_STEP)
    first, second = enroll(campaign, {"first_name": "Ada"}, {"first_name": "Grace"})
    services.campaign_start(campaign=campaign)

    tick()
    tick()

    completed = _events("campaign.enrollment.completed")
    assert [e.body["enrollment_id"] for e in completed] == [first.pk, second.pk]
    first.refresh_from_db()
    assert first.state == EnrollmentState.COMPLETED
    assert completed[0].body["state"] == "completed"
    assert completed[0].body["replied_at"] is None
    assert completed[0].body["finished_at"] == first.finished_at.isoformat()
    assert completed[0].body["conversation_id"] == first.conversation_id is not None
    assert completed[0].occurred_at == first.finished_at


def test_a_batch_that_fails_records_no_completion(sms, openphone, clock, tick, monkeypatch):
    campaign = make_campaign(sms, ONE_STEP)
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)

    def write_fails(enrollments):
        raise RuntimeError("the enrollments' UPDATE failed")

    monkeypatch.setattr("campaigns.run.enrollments_write", write_fails)
    tick()

    assert not _events("campaign.enrollment.completed")
    lead.refresh_from_db()
    assert lead.state == EnrollmentState.ACTIVE

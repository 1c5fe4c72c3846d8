"""A forgotten lead leaves every campaign and its data with it; a refused send does not
use up the campaign's daily cap."""

import json
from datetime import UTC, datetime

import pytest

from campaigns import services
from campaigns.models import CampaignDailyCount, EnrollmentState, EnrollmentStep, StepKind
from conversations.consent import consent_set
from conversations.consent_models import ConsentSource
from conversations.erasure import contact_erase
from conversations.models import Direction, Message
from tests.campaigns.conftest import enroll, make_campaign, sent_bodies

pytestmark = pytest.mark.django_db

TWO = [
    {"kind": StepKind.TEXT, "text": "Hi {{first_name|there}} at {{company}}."},
    {"kind": StepKind.TEXT, "text": "Again {{first_name}} of {{company}}.", "delay_amount": 1},
]


def test_a_forgotten_lead_is_stopped_and_their_lead_fields_go(
    sms, openphone, clock, tick, organization
):
    campaign = make_campaign(sms, TWO)
    (ada,) = enroll(campaign, {"first_name": "Adalinda", "company": "Acme"})
    services.campaign_start(campaign=campaign)
    tick()

    contact_erase(organization=organization, contact_id=ada.contact_id)
    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    tick()

    ada.refresh_from_db()
    assert (ada.state, ada.stop_reason, ada.fields) == (EnrollmentState.STOPPED, "erased", {})
    assert ada.next_run_at is None
    assert not EnrollmentStep.objects.filter(enrollment=ada).exclude(detail="").exists()
    texts = Message.objects.filter(
        conversation__contact_id=ada.contact_id, direction=Direction.OUTBOUND
    ).values_list("text", flat=True)
    assert "Adalinda" not in json.dumps(list(texts))
    assert len(sent_bodies(openphone)) == 1  # the second step never went


def test_refused_sends_leave_the_campaign_cap_to_the_leads_who_can_be_reached(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, TWO[:1], daily_message_cap=2)
    a, b, c = enroll(campaign, {"first_name": "A"}, {"first_name": "B"}, {"first_name": "C"})
    for lead in (a, b):
        consent_set(
            contact=lead.contact,
            kind="sms",
            scope="service",
            state="opted_out",
            source=ConsentSource.API,
        )
    services.campaign_start(campaign=campaign)

    tick()

    for lead in (a, b, c):
        lead.refresh_from_db()
    assert (a.state, b.state) == (EnrollmentState.OPTED_OUT, EnrollmentState.OPTED_OUT)
    assert c.state == EnrollmentState.COMPLETED
    assert len(sent_bodies(openphone)) == 1
    assert CampaignDailyCount.objects.get().count == 1
    campaign.refresh_from_db()
    assert campaign.capped_until is None

"""Campaign services: start (now or later), adding leads, stopping one, and the
batches never mixing one lead's data into another's message."""

from datetime import UTC, datetime

import pytest

from campaigns import services
from campaigns.models import CampaignStatus, Enrollment, EnrollmentState, StepKind
from campaigns.services import Lead
from tenants.errors import ApplicationError
from tests.campaigns.conftest import enroll, make_campaign, sent_bodies
from tests.factories import ContactFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

HELLO = [{"kind": StepKind.TEXT, "text": "Hello {{first_name}} from {{company}} ({{lead_id}})"}]


def test_personalization_never_mixes_leads_across_batches(sms, openphone, clock, tick):
    campaign = make_campaign(sms, HELLO)
    leads = enroll(
        campaign,
        *({"first_name": f"Name{n}", "company": f"Co{n}", "lead_id": str(n)} for n in range(40)),
    )
    services.campaign_start(campaign=campaign)

    tick(batch_size=7)

    expected = {
        lead.contact.phone: "Hello {first_name} from {company} ({lead_id})".format(**lead.fields)
        for lead in leads
    }
    assert {body["to"][0]: body["content"] for body in sent_bodies(openphone)} == expected


def test_a_campaign_with_a_start_time_waits_for_it(sms, openphone, clock, tick):
    campaign = make_campaign(
        sms, HELLO, starts_at=datetime(2026, 3, 5, 9, 30, tzinfo=UTC), timezone="UTC"
    )
    (lead,) = enroll(campaign, {"first_name": "Ada", "company": "Acme", "lead_id": "1"})

    services.campaign_start(campaign=campaign)
    tick()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert openphone.calls.call_count == 0
    clock.move_to(datetime(2026, 3, 5, 9, 30, tzinfo=UTC))
    tick()
    assert openphone.calls.call_count == 1
    lead.refresh_from_db()
    assert lead.state == EnrollmentState.COMPLETED


def test_leads_added_to_a_running_campaign_start_on_the_next_tick_and_duplicates_are_skipped(
    sms, openphone, clock, tick
):
    campaign = make_campaign(sms, HELLO)
    (first,) = enroll(campaign, {"first_name": "Ada", "company": "Acme", "lead_id": "1"})
    services.campaign_start(campaign=campaign)
    stranger = ContactFactory(organization=OrganizationFactory())
    newcomer = ContactFactory(organization=campaign.organization, phone="+16505559999")

    added = services.enrollments_add(
        campaign=campaign,
        leads=[
            Lead(first.contact, {"first_name": "Again"}),
            Lead(stranger, {}),
            Lead(newcomer, {"first_name": "Bo", "company": "B", "lead_id": "2"}),
        ],
    )
    tick()

    assert added == 1
    assert Enrollment.objects.filter(campaign=campaign).count() == 2
    assert openphone.calls.call_count == 2


def test_stopping_one_lead_and_refusing_impossible_moves(sms, openphone, clock, tick):
    campaign = make_campaign(sms, HELLO)
    with pytest.raises(ApplicationError, match="steps"):
        services.campaign_start(campaign=make_campaign(sms, []))
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)

    services.enrollment_stop(enrollment=lead)
    tick()

    lead.refresh_from_db()
    assert (lead.state, lead.stop_reason) == (EnrollmentState.STOPPED, "stopped_by_user")
    assert openphone.calls.call_count == 0
    with pytest.raises(ApplicationError, match="cannot be resumed"):
        services.campaign_resume(campaign=campaign)
    with pytest.raises(ApplicationError, match="cannot be stopped"):
        services.enrollment_stop(enrollment=lead)

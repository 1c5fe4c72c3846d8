"""What the send checks answer decides what happens to a lead: never (stop with the
reason) or not now (wait)."""

from datetime import UTC, datetime

import pytest

from campaigns import services, steps
from campaigns.models import Enrollment, EnrollmentState, EnrollmentStep, StepKind, StepOutcome
from providers import Provider
from tenants.errors import ApplicationError, ErrorCode
from tests.campaigns.conftest import enroll, make_campaign
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

STEPS = [
    {"kind": StepKind.TEXT, "text": "Hi {{first_name|there}}."},
    {"kind": StepKind.TEXT, "text": "Any thoughts, {{first_name|there}}?", "delay_amount": 1},
    {"kind": StepKind.TEXT, "text": "Last one.", "delay_amount": 1},
]


def test_a_lead_who_opted_out_mid_campaign_is_stopped_with_the_reason(
    sms, openphone, clock, tick, monkeypatch
):
    campaign = make_campaign(sms, STEPS)
    leaver, stayer = enroll(campaign, {"first_name": "Ada"}, {"first_name": "Bob"})
    services.campaign_start(campaign=campaign)
    tick()

    def consent_check(item):
        if item.conversation.contact_id == leaver.contact_id:
            return ApplicationError(ErrorCode.CONTACT_OPTED_OUT, "The contact opted out.")
        return None

    answering(monkeypatch, consent_check)
    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    tick()
    clock.move_to(datetime(2026, 3, 6, 10, 1, tzinfo=UTC))
    tick()

    leaver.refresh_from_db()
    assert leaver.state == EnrollmentState.OPTED_OUT
    assert leaver.stop_reason == "CONTACT_OPTED_OUT"
    assert leaver.next_run_at is None
    refused = EnrollmentStep.objects.get(enrollment=leaver, outcome=StepOutcome.REFUSED)
    assert refused.position == 2
    assert not EnrollmentStep.objects.filter(enrollment=leaver, position=2, execution=True)
    stayer.refresh_from_db()
    assert stayer.state == EnrollmentState.COMPLETED
    assert openphone.calls.call_count == 1 + 3


def test_a_do_not_contact_refusal_stops_the_lead(sms, openphone, clock, tick, monkeypatch):
    campaign = make_campaign(sms, STEPS[:1])
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)

    answering(
        monkeypatch,
        lambda item: ApplicationError(
            ErrorCode.CONTACT_DO_NOT_CONTACT, "On the do-not-contact list."
        ),
    )
    tick()

    lead.refresh_from_db()
    assert (lead.state, lead.stop_reason) == (EnrollmentState.STOPPED, "CONTACT_DO_NOT_CONTACT")


def test_a_throughput_refusal_holds_the_channels_other_leads_briefly_without_trying(
    sms, openphone, clock, tick, monkeypatch
):
    campaign = make_campaign(sms, STEPS[:1])
    enroll(campaign, {"first_name": "Ada"}, {"first_name": "Bob"}, {"first_name": "Cy"})
    services.campaign_start(campaign=campaign)
    attempts = answering(
        monkeypatch,
        lambda item: ApplicationError(ErrorCode.RATE_LIMITED, "Slow down.", {"retry_after": 0.5}),
    )
    report = tick()

    assert len(attempts) == 1  # one batch send for the three, asked once
    assert report.outcomes == {"throttled": 3}
    half_a_second_later = datetime(2026, 3, 4, 10, 0, 0, 500000, tzinfo=UTC)
    assert {(e.state, e.next_run_at) for e in Enrollment.objects.all()} == {
        (EnrollmentState.ACTIVE, half_a_second_later)
    }
    assert not EnrollmentStep.objects.exists()  # not an event in the leads' timelines
    campaign.refresh_from_db()
    assert campaign.capped_until is None


def answering(monkeypatch, refusal_for):
    """The batch send, with `refusal_for(item)` answering instead of the checks where it
    returns a refusal; the other items are sent for real. Returns the batches asked."""
    real = steps.items_send
    batches = []

    def fake(items):
        batches.append(items)
        sent = iter(real([item for item in items if refusal_for(item) is None]))
        return [refusal_for(item) or next(sent) for item in items]

    monkeypatch.setattr(steps, "items_send", fake)
    return batches


@pytest.fixture
def whatsapp(organization):
    organization.timezone = "Europe/London"
    organization.save()
    return make_channel(organization, Provider.WHATSAPP_CLOUD)


def test_a_template_that_is_not_approved_fails_the_lead_with_the_reason(whatsapp, clock, tick):
    campaign = make_campaign(
        whatsapp,
        [
            {
                "kind": StepKind.WHATSAPP_TEMPLATE,
                "template_name": "spring_offer",
                "template_language": "en_US",
                "template_parameters": {"body": {"1": "{{first_name|there}}"}},
            }
        ],
    )
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)

    tick()

    lead.refresh_from_db()
    assert (lead.state, lead.stop_reason) == (EnrollmentState.FAILED, "TEMPLATE_NOT_APPROVED")
    assert "spring_offer" in lead.stop_detail


def test_whatsapp_text_with_the_window_closed_waits_then_gives_up(whatsapp, clock, tick):
    campaign = make_campaign(whatsapp, STEPS[:1])
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)

    tick()

    lead.refresh_from_db()
    assert (lead.state, lead.wait_reason) == (EnrollmentState.WAITING, "window")
    assert lead.next_run_at == datetime(2026, 3, 4, 11, 0, tzinfo=UTC)  # tried hourly
    assert lead.wait_until == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # 3 working days

    clock.move_to(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    tick()

    lead.refresh_from_db()
    assert (lead.state, lead.stop_reason) == (EnrollmentState.STOPPED, "window_expired")

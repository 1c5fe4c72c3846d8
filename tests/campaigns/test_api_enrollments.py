"""A campaign's audience through the API: CSV upload, JSON bulk add, the list, one
enrollment's timeline, stopping one; then progress counts and the preview."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    StepOutcome,
)
from conversations.models import Contact
from tests.factories import ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _url(campaign, tail: str = "") -> str:
    return f"/api/v1/campaigns/{campaign.pk}/{tail}"


def _upload(client, campaign, text: str, **options):
    return client.post(
        _url(campaign, "enrollments/import/"), {"csv": text, **options}, format="json"
    )


GOOD = "phone,first_name,company\n+16505551234,Kim,Acme\n6505559876,Lou,\n"


def test_a_csv_upload_enrolls_its_leads(admin_client, campaign):
    response = _upload(admin_client, campaign, GOOD, default_region="US")

    assert response.status_code == 201, response.json()
    report = response.json()
    assert (report["imported"], report["enrolled"], report["contacts_created"]) == (True, 2, 2)
    listed = admin_client.get(_url(campaign, "enrollments/")).json()["results"]
    assert {e["contact"]["phone"] for e in listed} == {"+16505551234", "+16505559876"}
    assert {e["state"] for e in listed} == {"pending"}


def test_a_csv_with_errors_imports_nothing_and_names_each_line(admin_client, campaign):
    text = "phone,first_name\n+16505551234,Kim\n555-12,Bad\n,Nobody\n"

    response = _upload(admin_client, campaign, text, default_region="US")

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["lines"] == {
        "3": {
            "phone": [{"message": "'555-12' is not a valid phone number.", "code": "invalid_phone"}]
        },
        "4": {"phone": [{"message": "No phone on this line.", "code": "required"}]},
    }
    assert error["details"]["report"]["imported"] is False
    assert not Enrollment.objects.exists()
    assert not Contact.objects.exists()


def test_a_dry_run_upload_reports_with_its_errors(admin_client, campaign):
    response = _upload(admin_client, campaign, GOOD + "bad,x,\n", default_region="US", dry_run=True)

    assert response.status_code == 200
    assert response.json()["errors"][0]["line"] == 4
    assert not Enrollment.objects.exists()

    skipping = _upload(
        admin_client, campaign, GOOD + "bad,x,\n", default_region="US", dry_run=True,
        skip_invalid=True,
    )  # fmt: skip
    assert (skipping.json()["enrolled"], skipping.json()["skipped_invalid"]) == (2, 1)
    assert not Enrollment.objects.exists()


def test_missing_column_and_not_csv_are_file_errors(admin_client, campaign):
    error = _upload(admin_client, campaign, "name,company\nKim,Acme\n").json()
    assert error["details"]["lines"]["0"]["phone"][0]["code"] == "missing_column"
    error = _upload(admin_client, campaign, "").json()
    assert error["details"]["csv"][0]["code"] == "blank"
    error = _upload(admin_client, campaign, "\n\n").json()
    assert error["details"]["lines"]["0"]["file"][0]["code"] == "empty"


def test_json_leads_and_existing_contacts(admin_client, campaign, organization):
    leads = [{"phone": "+16505551234", "first_name": "Kim"}, {"phone": "+1 650 555 1234"}]
    response = admin_client.post(_url(campaign, "enrollments/"), {"leads": leads}, format="json")
    assert response.status_code == 201
    assert (response.json()["enrolled"], response.json()["duplicates"]) == (1, 1)

    lou = ContactFactory(organization=organization, phone="+16505559876")
    kim = Enrollment.objects.get().contact
    response = admin_client.post(
        _url(campaign, "enrollments/"), {"contacts": [lou.pk, kim.pk]}, format="json"
    )
    assert (response.json()["enrolled"], response.json()["already_enrolled"]) == (1, 1)

    both = admin_client.post(
        _url(campaign, "enrollments/"), {"contacts": [lou.pk], "leads": []}, format="json"
    )
    assert both.status_code == 400


def test_the_list_filters_by_state_and_step(admin_client, campaign, organization):
    active = Enrollment.objects.create(
        campaign=campaign, contact=ContactFactory(organization=organization),
        state=EnrollmentState.ACTIVE, current_position=2,
    )  # fmt: skip
    Enrollment.objects.create(campaign=campaign, contact=ContactFactory(organization=organization))

    def ids(**query):
        response = admin_client.get(_url(campaign, "enrollments/"), query)
        assert response.status_code == 200, response.json()
        return [e["id"] for e in response.json()["results"]]

    assert ids(state="active") == [active.pk]
    assert ids(position=2) == [active.pk]
    assert len(ids()) == 2
    assert admin_client.get(_url(campaign, "enrollments/"), {"state": "nope"}).status_code == 400


def test_one_enrollment_shows_its_timeline_and_can_be_stopped(admin_client, campaign, organization):
    contact = ContactFactory(organization=organization)
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, state=EnrollmentState.ACTIVE
    )
    conversation = ConversationFactory(
        organization=organization, channel=campaign.channel, contact=contact
    )
    message = MessageFactory(conversation=conversation, direction="outbound", status="delivered")
    EnrollmentStep.objects.create(
        enrollment=enrollment, step=campaign.steps.first(), position=1, execution=True,
        at=timezone.now(), message=message, outcome=StepOutcome.QUEUED,
    )  # fmt: skip

    shown = admin_client.get(_url(campaign, f"enrollments/{enrollment.pk}/")).json()
    assert [(h["position"], h["message"], h["message_status"]) for h in shown["history"]] == [
        (1, message.pk, "delivered")
    ]

    stopped = admin_client.post(_url(campaign, f"enrollments/{enrollment.pk}/stop/"))
    assert stopped.status_code == 200
    assert stopped.json()["state"] == "stopped"
    again = admin_client.post(_url(campaign, f"enrollments/{enrollment.pk}/stop/"))
    assert again.status_code == 400


def test_progress_counts(agent_client, campaign, organization):
    # given leads in every situation the panel shows
    def enrolled(state=EnrollmentState.ACTIVE, **fields):
        contact = ContactFactory(organization=organization)
        return Enrollment.objects.create(campaign=campaign, contact=contact, state=state, **fields)

    def sent(enrollment, status, position=1):
        conversation = ConversationFactory(
            organization=organization, channel=campaign.channel, contact=enrollment.contact
        )
        message = MessageFactory(conversation=conversation, direction="outbound", status=status)
        EnrollmentStep.objects.create(
            enrollment=enrollment, position=position, execution=True, at=timezone.now(),
            message=message, outcome=StepOutcome.QUEUED,
        )  # fmt: skip

    sent(enrolled(), "read")
    sent(enrolled(EnrollmentState.REPLIED), "delivered")
    sent(enrolled(EnrollmentState.OPTED_OUT), "failed")
    refused = enrolled(EnrollmentState.FAILED)
    EnrollmentStep.objects.create(
        enrollment=refused, position=1, execution=False, at=timezone.now(),
        outcome=StepOutcome.REFUSED, detail="CONTACT_DO_NOT_CONTACT",
    )  # fmt: skip
    enrolled(EnrollmentState.WAITING, wait_reason="window")
    soon = timezone.now() + timedelta(hours=1)
    enrolled(next_run_at=soon - timedelta(minutes=30))
    Campaign.objects.filter(pk=campaign.pk).update(
        capped_until=soon, capped_reason="Daily message cap (100) reached"
    )

    progress = agent_client.get(_url(campaign, "progress/")).json()

    assert progress["enrolled"] == 6
    assert (progress["replied"], progress["opted_out"], progress["failed"]) == (1, 1, 1)
    assert progress["waiting_for_window"] == 1
    assert progress["waiting_for_cap"] == 1
    assert progress["capped_reason"] == "Daily message cap (100) reached"
    assert progress["states"]["active"] == 2
    first, second = progress["steps"]
    assert (first["sent"], first["delivered"], first["read"], first["failed"]) == (3, 2, 1, 2)
    assert (second["position"], second["sent"]) == (2, 0)


def test_preview_renders_each_leads_own_fields_and_lists_missing_ones(
    viewer_client, campaign, organization
):
    kim = Enrollment.objects.create(
        campaign=campaign, contact=ContactFactory(organization=organization),
        fields={"first_name": "Kim", "company": "Acme"},
    )  # fmt: skip
    nobody = Enrollment.objects.create(
        campaign=campaign, contact=ContactFactory(organization=organization), fields={}
    )

    preview = viewer_client.get(_url(campaign, "preview/"), {"count": 5}).json()

    by_id = {e["enrollment"]: [m["text"] for m in e["messages"]] for e in preview["enrollments"]}
    assert by_id[kim.pk] == ["Hi Kim!", "Kim, how is Acme doing?"]
    assert by_id[nobody.pk] == ["Hi there!", ", how is  doing?"]
    assert preview["missing_fields"] == [
        {
            "enrollment": nobody.pk,
            "contact": nobody.contact_id,
            "missing": ["first_name", "company"],
        }
    ]
    assert preview["missing_fields_total"] == 1
    assert viewer_client.get(_url(campaign, "preview/"), {"count": 0}).status_code == 400


def test_a_cancelled_campaign_takes_no_upload(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED)
    response = _upload(admin_client, campaign, GOOD, default_region="US")
    assert response.status_code == 400
    assert response.json()["details"]["campaign"][0]["code"] == "finished"

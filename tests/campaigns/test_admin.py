"""The campaign's admin page: buttons, progress panel, preview, steps inline, the
audience upload (preview, per-line errors, confirm) and an enrollment's timeline."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
    StepOutcome,
)
from conversations.models import Contact
from tenants.models import Role
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _member(client, organization, role: Role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    return client


def _page(campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def _audience(campaign) -> str:
    return reverse("admin:campaigns_campaign_audience", args=[campaign.pk])


def test_the_page_shows_progress_preview_and_the_buttons_its_status_allows(
    client, organization, campaign
):
    Enrollment.objects.create(
        campaign=campaign, contact=ContactFactory(organization=organization, name="Kim Lee"),
        fields={"first_name": "Kim", "company": "Acme"},
    )  # fmt: skip
    Enrollment.objects.create(
        campaign=campaign, contact=ContactFactory(organization=organization), fields={}
    )
    _member(client, organization, Role.ADMIN)

    page = client.get(_page(campaign)).content.decode()

    assert 'id="do-start"' in page
    assert 'id="do-cancel"' in page
    assert 'id="do-pause"' not in page
    assert 'id="p-enrolled">2<' in page
    assert "Kim, how is Acme doing?" in page  # the preview, from Kim's own fields
    assert "1 lead(s) lack a field" in page
    assert "Hi {{first_name|there}}!" in page  # the steps, inline


def test_the_owner_is_chosen_among_members(client, organization, campaign):
    admin_client = _member(client, organization, Role.ADMIN)
    outsider = UserFactory(username="someone-else")
    MembershipFactory(user=outsider, organization=OrganizationFactory())
    page = admin_client.get(_page(campaign)).content.decode()
    member = organization.memberships.get().user
    assert f'<option value="{member.pk}">{member.username}</option>' in page
    assert "someone-else" not in page


def test_start_then_pause_from_the_page(client, organization, campaign):
    Enrollment.objects.create(campaign=campaign, contact=ContactFactory(organization=organization))
    _member(client, organization, Role.ADMIN)
    act = reverse("admin:campaigns_campaign_act", args=[campaign.pk])

    client.post(act, {"do": "start"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    assert 'id="do-pause"' in client.get(_page(campaign)).content.decode()

    client.post(act, {"do": "pause"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED

    response = client.post(act, {"do": "pause"}, follow=True)  # refused: said, not a 500
    assert "Not done." in response.content.decode()


def test_a_viewer_sees_the_panel_without_buttons_and_cannot_act(client, organization, campaign):
    _member(client, organization, Role.VIEWER)
    page = client.get(_page(campaign)).content.decode()
    assert 'id="progress"' in page
    assert 'id="do-start"' not in page
    assert 'id="upload-audience"' not in page
    act = reverse("admin:campaigns_campaign_act", args=[campaign.pk])
    assert client.post(act, {"do": "start"}).status_code == 403
    assert client.get(_audience(campaign)).status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_another_organizations_campaign_pages_are_not_found(client, campaign):
    _member(client, OrganizationFactory(), Role.ADMIN)
    act = reverse("admin:campaigns_campaign_act", args=[campaign.pk])
    assert client.post(act, {"do": "start"}).status_code == 404
    assert client.get(_audience(campaign)).status_code == 404
    assert client.get(_page(campaign)).status_code == 404


def _upload(client, campaign, text: str, **fields):
    upload = SimpleUploadedFile("leads.csv", text.encode(), content_type="text/csv")
    return client.post(_audience(campaign), {"file": upload, **fields})


def test_the_audience_upload_previews_then_imports_on_confirm(client, organization, campaign):
    _member(client, organization, Role.ADMIN)
    text = "phone,first_name\n+16505551234,Kim\n(650) 555-9876,Lou\n"

    preview = _upload(client, campaign, text, default_region="us")
    page = preview.content.decode()

    assert 'id="r-enrolled">2<' in page
    assert not Enrollment.objects.exists()  # a preview writes nothing
    token = preview.context["token"]
    assert token

    done = client.post(_audience(campaign), {"confirm": token}, follow=True)
    assert "Enrolled 2 lead(s) (2 new contact(s), 0 already enrolled)." in done.content.decode()
    assert Enrollment.objects.filter(campaign=campaign).count() == 2

    # the same confirm again does nothing: its file left the session with the import
    again = client.post(_audience(campaign), {"confirm": token}, follow=True)
    assert "expired" in again.content.decode()
    assert Enrollment.objects.filter(campaign=campaign).count() == 2


def test_lines_in_error_are_listed_and_block_the_import(client, organization, campaign):
    _member(client, organization, Role.ADMIN)
    text = "phone,first_name\n+16505551234,Kim\n12,Typo\n"

    page = _upload(client, campaign, text).content.decode()
    assert 'id="line-errors"' in page
    assert "&#x27;12&#x27; is not a valid phone number" in page
    assert 'id="confirm-import"' not in page

    skipping = _upload(client, campaign, text, skip_invalid="on")
    assert 'id="confirm-import"' in skipping.content.decode()
    client.post(_audience(campaign), {"confirm": skipping.context["token"]})
    assert list(Enrollment.objects.values_list("contact__phone", flat=True)) == ["+16505551234"]
    assert Contact.objects.count() == 1


def test_an_enrollment_shows_its_timeline_with_the_message_link(client, organization, campaign):
    contact = ContactFactory(organization=organization, name="Kim Lee")
    enrollment = Enrollment.objects.create(
        campaign=campaign, contact=contact, state=EnrollmentState.ACTIVE,
        next_run_at=timezone.now(),
    )  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(
        capped_until=timezone.now(), capped_reason="Daily cap reached"
    )
    conversation = ConversationFactory(
        organization=organization, channel=campaign.channel, contact=contact
    )
    message = MessageFactory(conversation=conversation, direction="outbound", text="Hi Kim!")
    EnrollmentStep.objects.create(
        enrollment=enrollment, position=1, execution=True, at=timezone.now(), message=message,
        outcome=StepOutcome.QUEUED,
    )  # fmt: skip
    _member(client, organization, Role.ADMIN)

    listing = client.get(reverse("admin:campaigns_enrollment_changelist"))
    assert "Kim Lee" in listing.content.decode()
    assert "Daily cap reached (until" in client.get(_page(campaign)).content.decode()
    page = client.get(
        reverse("admin:campaigns_enrollment_change", args=[enrollment.pk])
    ).content.decode()

    link = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    assert f'href="{link}#message-{message.pk}"' in page
    assert "Hi Kim!" in page

    client.post(
        reverse("admin:campaigns_enrollment_changelist"),
        {"action": "stop", "_selected_action": [enrollment.pk]},
    )
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.STOPPED


def test_an_admin_adds_a_campaign_with_steps_and_bad_steps_are_form_errors(
    client, organization, sms_channel
):
    _member(client, organization, Role.ADMIN)
    form = {
        "organization": organization.pk,
        "name": "Autumn",
        "channel": sms_channel.pk,
        "timezone": "Europe/Paris",
        "send_start": "09:00",
        "send_end": "17:00",
        "send_days": ["0", "1", "2", "3", "5"],  # ticked: Monday-Thursday and Saturday
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-0-position": "1",
        "steps-0-kind": "linkedin_invitation",  # not on an SMS channel
        "steps-0-delay_amount": "0",
        "steps-0-delay_unit": "working_days",
        "steps-0-template_parameters": "{}",
        "steps-0-timeout_amount": "0",
        "steps-0-timeout_unit": "working_days",
    }
    add = reverse("admin:campaigns_campaign_add")

    refused = client.post(add, form)
    assert refused.status_code == 200
    assert (
        "A LinkedIn invitation step needs a Unipile (LinkedIn) channel." in refused.content.decode()
    )
    assert not Campaign.objects.exists()

    form.update({"steps-0-kind": "text", "steps-0-text": "Hi {{first_name|there}}"})
    created = client.post(add, form)
    assert created.status_code == 302, created.content.decode()[:2000]
    campaign = Campaign.objects.get()
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.send_days == [0, 1, 2, 3, 5]
    assert list(Step.objects.values_list("kind", "text")) == [("text", "Hi {{first_name|there}}")]

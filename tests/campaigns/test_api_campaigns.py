"""The campaigns API: campaigns and steps, actions, roles and scoping."""

import pytest

from campaigns.models import Campaign, CampaignStatus, Enrollment, EnrollmentState, Step
from providers import Provider
from tests.factories import ChannelFactory, ContactFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/campaigns/"


def _ok(response, status=200) -> dict:
    assert response.status_code == status, response.content
    return response.json() if response.content else {}


def test_an_admin_creates_a_campaign_with_steps(admin_client, sms_channel):
    # when an admin creates a campaign and adds two steps
    created = _ok(
        admin_client.post(
            URL,
            {
                "name": "Spring",
                "channel": sms_channel.pk,
                "owner": admin_client.user.pk,
                "timezone": "Europe/Paris",
                "send_days": [4, 0, 1, 1],
            },
            format="json",
        ),
        201,
    )
    steps_url = f"{URL}{created['id']}/steps/"
    _ok(admin_client.post(steps_url, {"kind": "text", "text": "Hi {{first_name}}"}), 201)
    _ok(
        admin_client.post(
            steps_url, {"kind": "text", "text": "Again", "delay_amount": 2, "delay_unit": "hours"}
        ),
        201,
    )

    # then it is a draft, on the organization's channel, with its steps in order
    shown = _ok(admin_client.get(f"{URL}{created['id']}/"))
    assert shown["status"] == "draft"
    assert shown["channel"] == {"id": sms_channel.pk, "name": "Sales SMS", "provider": "twilio"}
    assert shown["owner"]["id"] == admin_client.user.pk
    assert shown["send_days"] == [0, 1, 4]
    assert [(s["position"], s["text"]) for s in shown["steps"]] == [
        (1, "Hi {{first_name}}"),
        (2, "Again"),
    ]
    listed = _ok(admin_client.get(steps_url))["results"]
    assert [s["position"] for s in listed] == [1, 2]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "channel": 999999}, "channel"),
        ({"name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "x", "send_start": "18:00", "send_end": "09:00"}, "send_end"),
        ({"name": "x", "send_days": [7]}, "send_days"),
        ({"name": "x", "owner": 999999}, "owner"),
    ],
)
def test_bad_campaign_input_is_a_field_error(admin_client, sms_channel, body, field):
    body = {"channel": sms_channel.pk, **body}
    error = _ok(admin_client.post(URL, body, format="json"), 400)
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["details"], error


def test_another_organizations_channel_is_not_offered(admin_client):
    theirs = ChannelFactory(organization=OrganizationFactory())
    error = _ok(admin_client.post(URL, {"name": "x", "channel": theirs.pk}), 400)
    assert error["details"]["channel"][0]["code"] == "does_not_exist"


def test_steps_must_fit_the_channel(admin_client, campaign):
    error = _ok(
        admin_client.post(
            f"{URL}{campaign.pk}/steps/",
            {"kind": "linkedin_invitation", "note": "Hello"},
            format="json",
        ),
        400,
    )
    assert error["details"]["kind"][0]["code"] == "wrong_channel"
    error = _ok(admin_client.post(f"{URL}{campaign.pk}/steps/", {"kind": "text"}), 400)
    assert error["details"]["text"][0]["code"] == "required"
    error = _ok(
        admin_client.post(
            f"{URL}{campaign.pk}/steps/", {"kind": "text", "text": "x", "position": 1}
        ),
        400,
    )
    assert error["details"]["position"][0]["code"] == "unique"


def test_a_running_campaigns_later_step_is_edited_a_cancelled_one_is_not(admin_client, campaign):
    step = campaign.steps.get(position=2)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    url = f"{URL}{campaign.pk}/steps/{step.pk}/"

    changed = _ok(admin_client.patch(url, {"text": "New follow-up"}, format="json"))
    assert changed["text"] == "New follow-up"

    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED)
    error = _ok(admin_client.patch(url, {"text": "Too late"}, format="json"), 400)
    assert error["details"]["status"][0]["code"] == "finished"


def test_only_a_draft_is_deleted(admin_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.PAUSED)
    _ok(admin_client.delete(f"{URL}{campaign.pk}/"), 400)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DRAFT)
    _ok(admin_client.delete(f"{URL}{campaign.pk}/"), 204)
    assert not Campaign.objects.filter(pk=campaign.pk).exists()


def test_start_pause_resume_cancel(admin_client, campaign, organization):
    contact = ContactFactory(organization=organization, phone="+16505551234")
    enrollment = Enrollment.objects.create(campaign=campaign, contact=contact)

    assert _ok(admin_client.post(f"{URL}{campaign.pk}/start/"))["status"] == "running"
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.ACTIVE
    assert _ok(admin_client.post(f"{URL}{campaign.pk}/pause/"))["status"] == "paused"
    # a paused campaign cannot be paused again: a field error, not a 500
    assert _ok(admin_client.post(f"{URL}{campaign.pk}/pause/"), 400)["code"] == "VALIDATION_ERROR"
    assert _ok(admin_client.post(f"{URL}{campaign.pk}/resume/"))["status"] == "running"
    assert _ok(admin_client.post(f"{URL}{campaign.pk}/cancel/"))["status"] == "cancelled"
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.STOPPED


def test_agents_and_viewers_read_but_do_not_manage(agent_client, viewer_client, campaign):
    for client in (agent_client, viewer_client):
        assert _ok(client.get(URL))["results"][0]["id"] == campaign.pk
        _ok(client.get(f"{URL}{campaign.pk}/progress/"))
        for method, path in [
            ("post", URL),
            ("patch", f"{URL}{campaign.pk}/"),
            ("delete", f"{URL}{campaign.pk}/"),
            ("post", f"{URL}{campaign.pk}/start/"),
            ("post", f"{URL}{campaign.pk}/steps/"),
            ("post", f"{URL}{campaign.pk}/enrollments/"),
        ]:
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code == 403, (method, path, response.content)
            assert response.json()["code"] == "PERMISSION_DENIED"
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_another_organizations_campaign_is_not_found(campaign):
    from rest_framework.test import APIClient

    outsider = MembershipFactory(organization=OrganizationFactory(), role="admin").user
    client = APIClient()
    client.force_authenticate(outsider)
    step = campaign.steps.first()
    for method, path in [
        ("get", f"{URL}{campaign.pk}/"),
        ("post", f"{URL}{campaign.pk}/start/"),
        ("get", f"{URL}{campaign.pk}/steps/"),
        ("get", f"{URL}{campaign.pk}/steps/{step.pk}/"),
        ("get", f"{URL}{campaign.pk}/enrollments/"),
        ("get", f"{URL}{campaign.pk}/progress/"),
        ("get", f"{URL}{campaign.pk}/preview/"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "NOT_FOUND"
    assert _ok(client.get(URL))["results"] == []
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DRAFT


def test_a_whatsapp_campaign_takes_template_steps(admin_client, organization):
    whatsapp = ChannelFactory(organization=organization, provider=Provider.WHATSAPP_CLOUD)
    created = _ok(admin_client.post(URL, {"name": "WA", "channel": whatsapp.pk}), 201)
    step = _ok(
        admin_client.post(
            f"{URL}{created['id']}/steps/",
            {
                "kind": "whatsapp_template",
                "template_name": "intro",
                "template_language": "en_US",
                "template_parameters": {"body": {"1": "{{first_name|there}}"}},
            },
            format="json",
        ),
        201,
    )
    assert Step.objects.get(pk=step["id"]).template_parameters == {
        "body": {"1": "{{first_name|there}}"}
    }

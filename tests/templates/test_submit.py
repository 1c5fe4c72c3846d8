"""Submitting templates to Meta and deleting them there, through the API."""

import json

import httpx
import pytest

from templates.models import EventKind, MessageTemplate
from tests.factories import ChannelFactory, MessageTemplateFactory, OrganizationFactory
from tests.templates.meta import RATE_LIMITED, TEMPLATES_URL, meta_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/templates/"


def _submission(channel, **changes) -> dict:
    return {
        "channel": channel.pk,
        "name": "reservation_confirmation",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "NAMED",
        "components": [
            {
                "type": "body",
                "text": "Your table for {{number_of_guests}} on {{day}} is booked.",
                "example": {
                    "body_text_named_params": [
                        {"param_name": "number_of_guests", "example": "4"},
                        {"param_name": "day", "example": "Saturday"},
                    ]
                },
            },
            {"type": "footer", "text": "Lucky Shrub Eatery"},
        ],
        **changes,
    }


# --- Submit ------------------------------------------------------------------------------


def test_a_valid_template_is_sent_to_meta_and_kept_with_its_answer(admin_client, channel, graph):
    create = graph.post(TEMPLATES_URL).respond(
        200, json={"id": "546151681022936", "status": "PENDING", "category": "MARKETING"}
    )
    submission = _submission(channel)

    response = admin_client.post(URL, submission, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["provider_template_id"] == "546151681022936"
    assert (body["status"], body["category"], body["can_send"]) == ("PENDING", "MARKETING", False)
    assert body["channel"]["id"] == channel.pk
    sent = json.loads(create.calls.last.request.content)
    assert sent == {key: value for key, value in submission.items() if key != "channel"}
    template = MessageTemplate.objects.get()
    assert (template.name, template.language, template.parameter_format) == (
        "reservation_confirmation",
        "en_US",
        "NAMED",
    )
    assert template.components == submission["components"]
    created = template.events.get()
    assert (created.kind, created.source, created.new_value) == ("created", "submit", "PENDING")
    assert created.details == {"requested_category": "UTILITY"}


def test_an_invalid_template_is_refused_with_details_per_field_and_not_sent(
    admin_client, channel, graph
):
    create = graph.post(TEMPLATES_URL).respond(200, json={"id": "1"})
    submission = _submission(
        channel,
        name="Reservation Confirmation!",
        category="PROMOTION",
        components=[{"type": "footer", "text": "No body here"}],
    )

    response = admin_client.post(URL, submission, format="json")

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]) == {"name", "category", "components"}
    assert error["details"]["name"] == [
        {"message": "Use 1 to 512 lowercase letters, digits and underscores.", "code": "invalid"}
    ]
    assert not create.called
    assert not MessageTemplate.objects.exists()


def test_a_submission_without_its_fields_is_refused(admin_client, channel, graph):
    response = admin_client.post(URL, {"channel": channel.pk}, format="json")

    assert response.status_code == 400
    assert {"name", "language", "category", "components"} <= set(response.json()["details"])


def test_a_name_and_language_the_channel_has_is_refused(admin_client, channel, graph):
    MessageTemplateFactory(channel=channel, name="reservation_confirmation", language="en_US")
    create = graph.post(TEMPLATES_URL).respond(200, json={"id": "1"})

    response = admin_client.post(URL, _submission(channel), format="json")

    assert response.status_code == 400
    assert response.json()["details"]["name"][0]["code"] == "unique"
    assert not create.called


def test_a_removed_template_can_be_made_again_under_its_name(admin_client, channel, graph):
    old = MessageTemplateFactory(
        channel=channel, name="reservation_confirmation", language="en_US", is_deleted=True
    )
    graph.post(TEMPLATES_URL).respond(200, json={"id": "777", "status": "PENDING"})

    response = admin_client.post(URL, _submission(channel), format="json")

    assert response.status_code == 201
    old.refresh_from_db()
    assert (old.provider_template_id, old.is_deleted, old.status) == ("777", False, "PENDING")
    assert old.quality_score == "UNKNOWN"  # a new template on Meta starts over
    made_again = old.events.get()
    assert (made_again.kind, made_again.source) == ("created", "submit")
    assert made_again.details["replaces"] != "777"


def test_another_organization_s_channel_is_refused(admin_client, graph):
    foreign = ChannelFactory(organization=OrganizationFactory())

    response = admin_client.post(URL, _submission(foreign), format="json")

    assert response.status_code == 400
    assert response.json()["details"]["channel"][0]["code"] == "no_templates"


def test_meta_s_refusal_is_a_provider_error(admin_client, channel, graph):
    graph.post(TEMPLATES_URL).mock(return_value=meta_error(100, "Invalid parameter", status=400))

    response = admin_client.post(URL, _submission(channel), format="json")

    assert response.status_code == 502
    error = response.json()
    assert error["code"] == "PROVIDER_ERROR"
    assert error["details"] == {"provider_code": "100", "provider_title": "Invalid parameter"}
    assert not MessageTemplate.objects.exists()


def test_meta_s_rate_limit_on_submit_is_rate_limited_and_holds_later_calls(
    admin_client, channel, graph
):
    create = graph.post(TEMPLATES_URL).mock(return_value=RATE_LIMITED)

    first = admin_client.post(URL, _submission(channel), format="json")
    second = admin_client.post(URL, _submission(channel, name="another_one"), format="json")

    assert (first.status_code, second.status_code) == (429, 429)
    assert first.json()["code"] == "RATE_LIMITED"
    assert first.json()["details"]["retry_after"] > 0
    assert first["Retry-After"]
    assert create.call_count == 1  # the second never reached Meta


# --- Delete ------------------------------------------------------------------------------


def test_delete_removes_the_template_on_meta_and_keeps_it_here(admin_client, channel, graph):
    template = MessageTemplateFactory(
        channel=channel, name="spring_sale", provider_template_id="88"
    )
    delete = graph.delete(TEMPLATES_URL).respond(200, json={"success": True})

    response = admin_client.delete(f"{URL}{template.pk}/")

    assert response.status_code == 204
    params = delete.calls.last.request.url.params
    assert (params["name"], params["hsm_id"]) == ("spring_sale", "88")
    template.refresh_from_db()
    assert template.is_deleted
    removed = template.events.get()
    assert (removed.kind, removed.source, removed.old_value) == (
        EventKind.REMOVED,
        "delete",
        "APPROVED",
    )
    listed = admin_client.get(URL).json()["results"]
    assert listed == []
    assert [t["id"] for t in admin_client.get(URL, {"removed": "true"}).json()["results"]] == [
        template.pk
    ]


def test_a_failed_delete_on_meta_leaves_the_template_as_it_was(admin_client, channel, graph):
    template = MessageTemplateFactory(channel=channel)
    graph.delete(TEMPLATES_URL).mock(side_effect=httpx.ConnectTimeout("slow"))

    response = admin_client.delete(f"{URL}{template.pk}/")

    assert response.status_code == 502
    assert response.json()["details"]["provider_code"] == "timeout"
    template.refresh_from_db()
    assert not template.is_deleted
    assert not template.events.exists()

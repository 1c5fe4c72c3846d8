"""The support staff's admin for templates and their history."""

import json
import re

import pytest

from templates import admin as templates_admin
from templates.models import MessageTemplate
from tests.factories import ChannelFactory, MessageTemplateFactory, UserFactory
from tests.templates.meta import (
    RATE_LIMITED,
    TEMPLATES_URL,
    list_pages,
    meta_error,
    meta_template,
)

pytestmark = pytest.mark.django_db

TEMPLATES = "/admin/templates/messagetemplate/"
EVENTS = "/admin/templates/templateevent/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _badge_colour(page: str, text: str) -> str:
    match = re.search(rf"background:(#\w+);[^>]*>{re.escape(text)}</span>", page)
    assert match, f"no badge {text!r}"
    return match.group(1)


def _act(client, templates) -> list[str]:
    response = client.post(
        TEMPLATES,
        {"action": "sync_from_meta", "_selected_action": [t.pk for t in templates]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_the_list_shows_status_and_quality_badges(staff_client, channel):
    MessageTemplateFactory(channel=channel, status="APPROVED", quality_score="GREEN")
    MessageTemplateFactory(channel=channel, status="PAUSED", quality_score="RED")
    MessageTemplateFactory(channel=channel, status="REJECTED", quality_score="UNKNOWN")
    MessageTemplateFactory(channel=channel, status="APPROVED", is_deleted=True)

    page = staff_client.get(TEMPLATES).content.decode()

    assert _badge_colour(page, "APPROVED") == templates_admin.GREEN
    assert _badge_colour(page, "PAUSED") == templates_admin.AMBER
    assert _badge_colour(page, "REJECTED") == templates_admin.RED
    assert _badge_colour(page, "RED") == templates_admin.RED
    assert _badge_colour(page, "UNKNOWN") == templates_admin.GREY
    assert _badge_colour(page, "removed (APPROVED)") == templates_admin.GREY


def test_the_list_filters_and_searches(staff_client, channel):
    paused = MessageTemplateFactory(channel=channel, status="PAUSED", name="spring_sale")
    MessageTemplateFactory(channel=channel, status="APPROVED", name="order_update")

    by_status = staff_client.get(TEMPLATES, {"status": "PAUSED"}).context["cl"].result_list
    by_id = staff_client.get(TEMPLATES, {"q": paused.provider_template_id})
    by_name = staff_client.get(TEMPLATES, {"q": "sale"})

    assert list(by_status) == [paused]
    assert list(by_id.context["cl"].result_list) == [paused]
    assert list(by_name.context["cl"].result_list) == [paused]


def test_a_template_page_shows_its_history_read_only(staff_client, channel):
    template = MessageTemplateFactory(channel=channel, name="spring_sale")
    template.events.create(
        kind="status",
        source="webhook",
        old_value="APPROVED",
        new_value="PAUSED",
        reason="FIRST_PAUSE",
        occurred_at=template.created_at,
    )

    response = staff_client.get(f"{TEMPLATES}{template.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "APPROVED → PAUSED" in page
    assert "FIRST_PAUSE" in page
    assert 'name="_save"' not in page  # Meta owns templates: nothing to save here


def test_the_sync_action_syncs_each_channel_once_and_reports_counts(
    staff_client, organization, graph
):
    channel = ChannelFactory(organization=organization, name="Sales WhatsApp")
    one = MessageTemplateFactory(channel=channel, provider_template_id="101", status="PENDING")
    two = MessageTemplateFactory(
        channel=channel,
        provider_template_id="102",
        components=meta_template("same", "102")["components"],
    )
    route = list_pages(
        graph,
        [
            meta_template(one.name, "101", status="APPROVED"),
            meta_template(two.name, "102", quality=None),
            meta_template("new_one", "103"),
        ],
    )

    messages = _act(staff_client, [one, two])

    assert route.call_count == 1
    assert messages == ["Sales WhatsApp: 1 created, 1 updated, 1 unchanged, 0 removed."]
    one.refresh_from_db()
    assert one.status == "APPROVED"


def test_the_sync_action_reports_meta_s_rate_limit(staff_client, channel, graph):
    template = MessageTemplateFactory(channel=channel)
    list_pages(graph, RATE_LIMITED)

    (message,) = _act(staff_client, [template])

    assert "stopped by Meta's rate limit" in message
    assert "80007" in message


def test_the_history_list_is_read_only(staff_client, channel):
    template = MessageTemplateFactory(channel=channel, name="spring_sale")
    event = template.events.create(
        kind="quality",
        source="sync",
        old_value="GREEN",
        new_value="RED",
        occurred_at=template.created_at,
    )

    listing = staff_client.get(EVENTS).content.decode()
    detail = staff_client.get(f"{EVENTS}{event.pk}/change/")

    assert "GREEN → RED" in listing
    assert "spring_sale" in listing
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert staff_client.get(f"{EVENTS}add/").status_code == 403


# --- Submitting from the admin ----------------------------------------------------------

SUBMIT = f"{TEMPLATES}submit/"
BODY = [
    {
        "type": "body",
        "text": "Hi {{name}}, your order shipped.",
        "example": {"body_text_named_params": [{"param_name": "name", "example": "Ada"}]},
    }
]


def _submit_form(channel, **changes) -> dict:
    return {
        "channel": channel.pk,
        "name": "order_shipped",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "NAMED",
        "components": json.dumps(BODY),
        **changes,
    }


def test_the_list_links_to_submitting_a_template(staff_client):
    assert SUBMIT in staff_client.get(TEMPLATES).content.decode()


def test_a_template_submitted_from_the_admin_goes_to_meta(staff_client, channel, graph):
    create = graph.post(TEMPLATES_URL).respond(
        200, json={"id": "777", "status": "PENDING", "category": "UTILITY"}
    )

    page = staff_client.post(SUBMIT, _submit_form(channel), follow=True)

    sent = json.loads(create.calls.last.request.content)
    assert (sent["name"], sent["category"], sent["components"]) == (
        "order_shipped",
        "UTILITY",
        BODY,
    )
    template = MessageTemplate.objects.get(provider_template_id="777")
    assert page.redirect_chain[-1][0].endswith(f"{template.pk}/change/")
    assert "Meta says PENDING" in page.content.decode()


def test_an_invalid_template_is_refused_on_the_form_before_meta_sees_it(
    staff_client, channel, graph
):
    create = graph.post(TEMPLATES_URL)

    page = staff_client.post(SUBMIT, _submit_form(channel, name="Order Shipped!"))

    assert page.status_code == 200
    assert page.context["form"].errors["name"]
    assert not create.called
    assert not MessageTemplate.objects.exists()


def test_meta_refusing_a_template_is_shown_on_the_form(staff_client, channel, graph):
    graph.post(TEMPLATES_URL).mock(return_value=meta_error(100, "Invalid parameter"))

    page = staff_client.post(SUBMIT, _submit_form(channel))

    assert "Invalid parameter" in page.content.decode()
    assert not MessageTemplate.objects.exists()

"""The support staff's admin for templates and their history."""

import re

import pytest

from templates import admin as templates_admin
from tests.factories import ChannelFactory, MessageTemplateFactory, UserFactory
from tests.templates.meta import RATE_LIMITED, list_pages, meta_template

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

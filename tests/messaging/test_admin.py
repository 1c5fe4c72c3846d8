"""Sending a template from the admin, and the messaging admin pages."""

import pytest

from conversations.models import Message
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/admin/conversations/conversation/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _action(client, conversation, **extra):
    return client.post(
        CONVERSATIONS,
        {"action": "send_template", "_selected_action": [conversation.pk], **extra},
        follow=True,
    )


def test_the_action_asks_which_approved_template_to_send(staff_client, conversation, template):
    page = _action(staff_client, conversation)

    assert page.status_code == 200
    assert "Send a template" in page.content.decode()
    assert "order_update" in page.content.decode()


def test_the_action_queues_the_template(staff_client, closed_conversation, template):
    page = _action(
        staff_client,
        closed_conversation,
        apply="1",
        template=template.pk,
        parameters='{"body": {"order": "#7", "day": "Friday"}}',
    )

    sent = Message.objects.get(conversation=closed_conversation, direction="outbound")
    assert sent.text == "Your order #7 ships on Friday."
    assert "queued for sending" in page.content.decode()


def test_a_refused_template_send_says_why(staff_client, conversation, template):
    page = _action(
        staff_client, conversation, apply="1", template=template.pk, parameters='{"body": {}}'
    )

    assert "TEMPLATE_PARAMS_MISMATCH" in page.content.decode()
    assert not Message.objects.filter(direction="outbound").exists()


def test_failed_outbound_messages_are_filtered_by_error_code(staff_client, conversation):
    Message.objects.create(
        organization=conversation.organization,
        channel=conversation.channel,
        conversation=conversation,
        direction="outbound",
        type="text",
        text="Bounced",
        status="failed",
        error_code="131026",
        error_title="Message undeliverable",
    )

    page = staff_client.get(
        "/admin/conversations/message/", {"status": "failed", "error_code": "131026"}
    )

    assert page.status_code == 200
    assert "Message undeliverable" in page.content.decode()


@pytest.mark.parametrize(
    "path", ["/admin/messaging/sendlimit/", "/admin/messaging/idempotencykey/"]
)
def test_the_messaging_pages_open(staff_client, path):
    assert staff_client.get(path).status_code == 200

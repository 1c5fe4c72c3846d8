"""The composer on the conversation's page: it sends through the API's services, under
the same checks and idempotency, and says what the API would say when it refuses."""

import re

import pytest
from django.core.cache import cache

from conversations.models import Message
from messaging.models import DailyRefusalCount, SendLimit
from tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.messaging.conftest import SEND_URL, accepted

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(client, organization):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=Role.AGENT)
    client.force_login(user)
    client.user = user
    return client


def _url(conversation, view: str) -> str:
    return f"/admin/conversations/conversation/{conversation.pk}/{view}/"


def _page(client, conversation) -> str:
    response = client.get(_url(conversation, "change"))
    assert response.status_code == 200
    return response.content.decode()


def _key(page: str, suffix: str) -> str:
    """The idempotency key the page drew for one of its forms."""
    marker = f'-{suffix}"'
    value = page.split(marker)[0].rsplit('value="', 1)[1]
    return f"{value}-{suffix}"


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Posts a form and follows it back to the page; the send task (eager) runs when
    the request's transaction commits, as it does outside tests."""

    def post_(client, conversation, view: str, **data) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(_url(conversation, view), data, follow=True)
        assert response.status_code == 200
        return response.content.decode()

    return post_


def test_an_agent_replies_with_free_text_and_the_provider_accepts_it(
    post, agent, conversation, graph
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    page = _page(agent, conversation)
    assert "Window open:" in page
    assert re.search(r"<strong class=\"sb-countdown\">23 h 4\d min</strong>", page)

    answer = post(
        agent, conversation, "reply", text="It ships today.", idempotency_key=_key(page, "text")
    )

    sent = Message.objects.get(direction="outbound")
    assert "Queued for sending" in answer
    assert route.call_count == 1
    assert sent.text == "It ships today."
    assert sent.provider_message_id  # the send task ran and the provider accepted it
    assert "It ships today." in answer
    assert sent.payload["sent_by"] == {"id": agent.user.pk, "name": agent.user.username}
    assert f"{agent.user.username} · {conversation.channel.name}" in answer  # who wrote it


def test_a_form_submitted_twice_sends_once(post, agent, conversation, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    key = _key(_page(agent, conversation), "text")

    post(agent, conversation, "reply", text="Once only", idempotency_key=key)
    again = post(agent, conversation, "reply", text="Once only", idempotency_key=key)

    assert Message.objects.filter(direction="outbound").count() == 1
    assert route.call_count == 1
    assert "submitted twice, so nothing was sent again" in again


def test_with_the_window_closed_the_composer_says_since_when_and_offers_templates(
    agent, closed_conversation, template
):
    page = _page(agent, closed_conversation)

    closed = closed_conversation.window_expires_at
    assert 'id="reply-form"' not in page
    assert f"The 24-hour window closed {closed:%d %b %Y, %H:%M} UTC" in page
    assert "order_update" in page
    assert 'name="p:body:order"' in page
    assert 'name="p:body:day"' in page


def test_free_text_after_the_window_closed_is_refused_as_the_api_refuses_it(
    post, agent, closed_conversation, graph
):
    route = graph.post(SEND_URL).mock(return_value=accepted())

    answer = post(agent, closed_conversation, "reply", text="Hello?", idempotency_key="k1")

    assert (
        "Not sent. WINDOW_EXPIRED: The 24-hour window is closed: only an approved template "
        "may be sent." in answer
    )
    assert not Message.objects.filter(direction="outbound").exists()
    assert not route.called
    assert ">Hello?</textarea>" not in answer  # the closed composer has no text box
    # Counted once for the reports, though the idempotent send's transaction rolled back.
    refused = DailyRefusalCount.objects.values_list("code", "count")
    assert list(refused) == [("WINDOW_EXPIRED", 1)]


def test_a_refused_text_is_kept_in_the_box(post, agent, conversation):
    too_long = "x" * 4097

    answer = post(agent, conversation, "reply", text=too_long, idempotency_key="k2")

    assert "Not sent. VALIDATION_ERROR: text: At most 4096 characters on this channel." in answer
    assert f'name="text" rows="3" required>{too_long}</textarea>' in answer
    assert not Message.objects.exists()


def test_a_template_is_sent_with_its_parameters(post, agent, closed_conversation, template, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    page = _page(agent, closed_conversation)

    answer = post(
        agent,
        closed_conversation,
        "send-template",
        template=template.pk,
        idempotency_key=_key(page, f"t{template.pk}"),
        **{"p:body:order": "#7", "p:body:day": "Friday"},
    )

    sent = Message.objects.get(direction="outbound")
    assert "Queued for sending" in answer
    assert sent.text == "Your order #7 ships on Friday."
    assert route.call_count == 1


def test_a_missing_parameter_is_refused_as_the_api_refuses_it(
    post, agent, closed_conversation, template
):
    answer = post(
        agent,
        closed_conversation,
        "send-template",
        template=template.pk,
        idempotency_key="k3",
        **{"p:body:order": "#7", "p:body:day": ""},
    )

    assert "Not sent. TEMPLATE_PARAMS_MISMATCH:" in answer
    assert "day" in answer
    assert not Message.objects.exists()


def test_a_template_paused_since_the_page_was_drawn_is_refused(
    post, agent, closed_conversation, template
):
    template.status = "PAUSED"
    template.save()

    answer = post(
        agent,
        closed_conversation,
        "send-template",
        template=template.pk,
        idempotency_key="k4",
        **{"p:body:order": "#7", "p:body:day": "Friday"},
    )

    assert "Not sent. TEMPLATE_NOT_APPROVED:" in answer
    assert not Message.objects.exists()


def test_the_daily_cap_refuses_as_the_api_does(post, agent, conversation, graph):
    graph.post(SEND_URL).mock(return_value=accepted())
    SendLimit.objects.create(channel=conversation.channel, daily_cap=1)
    cache.clear()

    post(agent, conversation, "reply", text="one", idempotency_key="k5")
    answer = post(agent, conversation, "reply", text="two", idempotency_key="k6")

    assert "Not sent. RATE_LIMITED:" in answer
    assert Message.objects.filter(direction="outbound").count() == 1


def test_a_failed_message_is_resent_as_a_new_message(post, agent, conversation, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    failed = Message.objects.create(
        organization=conversation.organization,
        channel=conversation.channel,
        conversation=conversation,
        direction="outbound",
        text="Your parcel is on its way",
        status="failed",
        error_code="131026",
        error_title="Message undeliverable",
    )
    page = _page(agent, conversation)
    assert "Resend" in page

    answer = post(
        agent, conversation, f"resend/{failed.pk}", idempotency_key=_key(page, f"r{failed.pk}")
    )

    again = Message.objects.exclude(pk=failed.pk).get()
    failed.refresh_from_db()
    assert "Queued for sending" in answer
    assert again.text == "Your parcel is on its way"
    assert again.provider_message_id
    assert route.call_count == 1
    assert failed.status == "failed"  # the provider's verdict on the first attempt stays


def test_a_message_that_did_not_fail_is_not_resent(post, agent, conversation):
    delivered = Message.objects.create(
        organization=conversation.organization,
        channel=conversation.channel,
        conversation=conversation,
        direction="outbound",
        text="Fine",
        status="delivered",
    )

    answer = post(agent, conversation, f"resend/{delivered.pk}", idempotency_key="k7")

    assert "Only a failed outbound message can be sent again." in answer
    assert Message.objects.count() == 1


def test_viewers_and_other_organizations_cannot_send(
    client, organization, other_organization, conversation, graph
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    viewer = UserFactory(is_staff=True)
    MembershipFactory(user=viewer, organization=organization, role=Role.VIEWER)
    outsider = UserFactory(is_staff=True)
    MembershipFactory(user=outsider, organization=other_organization, role=Role.ADMIN)

    client.force_login(viewer)
    page = _page(client, conversation)
    as_viewer = client.post(_url(conversation, "reply"), {"text": "hi"})
    client.force_login(outsider)
    as_outsider = client.post(_url(conversation, "reply"), {"text": "hi"})

    assert 'id="composer"' not in page
    assert as_viewer.status_code == 403
    assert as_outsider.status_code == 404
    assert not Message.objects.exists()
    assert not route.called


@pytest.mark.parametrize("chosen", ["", "abc", "9" * 30])
def test_a_template_that_is_not_the_channels_is_refused_without_an_error_page(
    post, agent, closed_conversation, template, chosen
):
    answer = post(agent, closed_conversation, "send-template", template=chosen)

    assert "Not sent: choose one of this channel&#x27;s templates." in answer
    assert not Message.objects.exists()

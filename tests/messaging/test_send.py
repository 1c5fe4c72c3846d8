"""Sending: the checks in order, the queued message, and what the provider answers."""

import json

import httpx
import pytest
from celery.exceptions import Retry
from django.utils import timezone

from conversations.models import Conversation, Message
from messaging import services
from messaging.models import SendLimit
from messaging.tasks import message_send_task
from providers.events import MessageStatus
from tenants.errors import ApplicationError, ErrorCode
from tests.messaging.conftest import SEND_URL, WAMID, accepted, graph_error

pytestmark = pytest.mark.django_db


def _sent(django_capture_on_commit_callbacks, send) -> Message:
    """Run a send and the task its commit queues (tasks run eagerly in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        message = send()
    return Message.objects.get(pk=message.pk)


def test_a_text_inside_the_window_is_queued_then_handed_to_meta(
    conversation, graph, django_capture_on_commit_callbacks
):
    route = graph.post(SEND_URL).mock(return_value=accepted())

    message = _sent(
        django_capture_on_commit_callbacks,
        lambda: services.message_send_text(conversation=conversation, text="It ships today."),
    )

    assert json.loads(route.calls.last.request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"body": "It ships today.", "preview_url": False},
    }
    assert route.calls.last.request.headers["Authorization"] == "Bearer wa-token"
    assert (message.direction, message.provider_message_id) == ("outbound", WAMID)
    shown = Conversation.objects.get(pk=conversation.pk)
    assert shown.last_message_preview == "It ships today."
    assert shown.last_activity_at == message.occurred_at  # its place in the thread


def test_free_form_is_refused_once_the_window_closed(closed_conversation, graph):
    route = graph.post(SEND_URL)

    with pytest.raises(ApplicationError) as refused:
        services.message_send_text(conversation=closed_conversation, text="Hello?")

    assert refused.value.code == ErrorCode.WINDOW_EXPIRED
    expired = closed_conversation.window_expires_at.isoformat().replace("+00:00", "Z")
    assert refused.value.details == {"window": "EXPIRED", "closed_at": expired}
    assert not Message.objects.filter(direction="outbound").exists()
    assert not route.called


def test_an_approved_template_goes_out_with_a_closed_window(
    closed_conversation, template, graph, django_capture_on_commit_callbacks
):
    route = graph.post(SEND_URL).mock(return_value=accepted())

    message = _sent(
        django_capture_on_commit_callbacks,
        lambda: services.message_send_template(
            conversation=closed_conversation,
            name="order_update",
            language="en_US",
            parameters={"body": {"order": "#1042", "day": "Saturday"}},
        ),
    )

    sent = json.loads(route.calls.last.request.content)
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "order_update"
    assert sent["template"]["language"] == {"code": "en_US"}
    assert sent["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "order", "text": "#1042"},
                {"type": "text", "parameter_name": "day", "text": "Saturday"},
            ],
        }
    ]
    assert message.text == "Your order #1042 ships on Saturday."
    conversation = Conversation.objects.get(pk=closed_conversation.pk)
    assert conversation.last_template_message_at is not None
    assert conversation.window_expires_at == closed_conversation.window_expires_at  # Meta's rule


@pytest.mark.parametrize("status", ["PENDING", "PAUSED", "REJECTED"])
def test_a_template_that_is_not_approved_is_refused(conversation, template, status):
    template.status = status
    template.save()

    with pytest.raises(ApplicationError) as refused:
        services.message_send_template(
            conversation=conversation,
            name="order_update",
            language="en_US",
            parameters={"body": {"order": "1", "day": "Monday"}},
        )

    assert refused.value.code == ErrorCode.TEMPLATE_NOT_APPROVED
    assert refused.value.details["status"] == status


def test_an_unknown_language_is_not_approved(conversation, template):
    with pytest.raises(ApplicationError) as refused:
        services.message_send_template(
            conversation=conversation, name="order_update", language="de", parameters={}
        )

    assert refused.value.code == ErrorCode.TEMPLATE_NOT_APPROVED


@pytest.mark.parametrize(
    "parameters",
    [
        {"body": {"order": "1"}},  # one missing
        {"body": {"order": "1", "day": "Monday", "extra": "x"}},  # one too many
        {"body": {"order": "1", "day": ""}},  # empty
        {"header": {"x": "1"}, "body": {"order": "1", "day": "Monday"}},  # no header
    ],
)
def test_a_template_gets_exactly_the_parameters_it_needs(conversation, template, parameters):
    with pytest.raises(ApplicationError) as refused:
        services.message_send_template(
            conversation=conversation, name="order_update", language="en_US", parameters=parameters
        )

    assert refused.value.code == ErrorCode.TEMPLATE_PARAMS_MISMATCH
    assert refused.value.details["expected"] == {"body": ["order", "day"]}


def test_an_inactive_channel_sends_nothing(conversation):
    conversation.channel.is_active = False
    conversation.channel.save()

    with pytest.raises(ApplicationError) as refused:
        services.message_send_text(conversation=conversation, text="Hi")

    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert "channel" in refused.value.details


def test_transient_errors_are_retried_then_the_message_goes_out(conversation, graph):
    route = graph.post(SEND_URL).mock(
        side_effect=[
            httpx.Response(503),
            graph_error(130429, "Rate limit hit"),
            accepted(),
        ]
    )
    message = services.message_send_text(conversation=conversation, text="Try again")

    deliveries = [services.message_deliver(message_id=message.pk, attempt=n) for n in range(3)]

    assert [d.outcome for d in deliveries] == ["retry", "retry", "accepted"]
    assert [d.retry_in for d in deliveries[:2]] == [2.0, 4.0]
    assert route.call_count == 3
    assert Message.objects.get(pk=message.pk).provider_message_id == WAMID


def test_a_transient_error_on_the_last_attempt_fails_the_message(conversation, graph):
    graph.post(SEND_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "7"}))
    message = services.message_send_text(conversation=conversation, text="Busy")

    first = services.message_deliver(message_id=message.pk, attempt=0)
    last = services.message_deliver(message_id=message.pk, attempt=services.SEND_RETRIES)

    assert (first.outcome, first.retry_in) == ("retry", 7.0)
    assert last.outcome == "failed"
    assert Message.objects.get(pk=message.pk).error_code == "429"


def test_the_send_task_asks_celery_to_retry_after_the_wait(conversation, monkeypatch):
    monkeypatch.setattr(
        services, "message_deliver", lambda **kwargs: services.Delivery("retry", retry_in=4.0)
    )

    with pytest.raises(Retry) as retried:
        message_send_task.apply(args=[1], throw=True)

    assert retried.value.when == 4.0


def test_a_permanent_error_fails_the_message_with_the_providers_code(
    conversation, graph, django_capture_on_commit_callbacks
):
    graph.post(SEND_URL).mock(return_value=graph_error(131026, "Message undeliverable"))

    message = _sent(
        django_capture_on_commit_callbacks,
        lambda: services.message_send_text(conversation=conversation, text="Hello"),
    )

    assert message.status == MessageStatus.FAILED
    assert (message.error_code, message.error_title) == ("131026", "Message undeliverable")
    assert message.failed_at is not None
    assert Conversation.objects.get(pk=conversation.pk).window_expires_at > timezone.now()


def test_131047_fails_the_message_and_closes_the_window(
    conversation, graph, django_capture_on_commit_callbacks
):
    graph.post(SEND_URL).mock(return_value=graph_error(131047, "Re-engagement message"))

    message = _sent(
        django_capture_on_commit_callbacks,
        lambda: services.message_send_text(conversation=conversation, text="Hello"),
    )

    assert (message.status, message.error_code) == (MessageStatus.FAILED, "131047")
    closed = Conversation.objects.get(pk=conversation.pk)
    assert closed.window_expires_at <= timezone.now()
    assert not closed.is_window_open


def test_a_redelivered_send_task_sends_once(conversation, graph):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Once")

    first = services.message_deliver(message_id=message.pk)
    again = services.message_deliver(message_id=message.pk)

    assert (first.outcome, again.outcome) == ("accepted", "skipped")
    assert route.call_count == 1


def test_the_sweep_sends_a_message_whose_task_was_lost(
    conversation, graph, django_capture_on_commit_callbacks
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Lost task")
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - services.SEND_TASK_GRACE * 2
    )

    queued = services.messages_queued_sweep()

    assert queued == 1
    assert route.call_count == 1
    assert Message.objects.get(pk=message.pk).provider_message_id == WAMID


def test_a_daily_cap_refuses_sends_until_the_next_utc_day(conversation):
    SendLimit.objects.create(channel=conversation.channel, daily_cap=2)
    for text in ("one", "two"):
        services.message_send_text(conversation=conversation, text=text)

    with pytest.raises(ApplicationError) as refused:
        services.message_send_text(conversation=conversation, text="three")

    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert 0 < refused.value.details["retry_after"] <= 24 * 3600
    assert Message.objects.filter(direction="outbound").count() == 2

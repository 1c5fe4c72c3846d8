"""Webhook health checks: a test message sent through the provider (faked with respx),
its status webhook delivered through the real endpoint, the result, and the emails."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import httpx
import pytest
import respx
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from config.celery import app as celery_app
from conversations.models import Message
from providers import Provider
from reconciliation import health
from reconciliation.models import HealthCheckResult, HealthCheckSetting, WebhookHealthCheck
from reconciliation.schedules import PERIODIC_TASKS
from reconciliation.tasks import (
    webhook_health_checks_purge_task,
    webhook_health_checks_settle_task,
    webhook_health_checks_task,
)
from tenants.models import Channel
from tests.factories import ConversationFactory
from tests.messaging.conftest import SEND_URL, WAMID, accepted, graph_error
from tests.reconciliation.conftest import RECIPIENT
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint, fixture_text

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _wamid(n: int) -> str:
    return WAMID if n == 0 else f"wamid.health-check-{n}"


def _meta_accepts_each_send(graph):
    return graph.post(SEND_URL).mock(side_effect=[accepted(_wamid(n)) for n in range(5)])


def _run(capture, channel) -> WebhookHealthCheck:
    """Run a check; its commit queues the send, which runs (eager Celery)."""
    with capture(execute=True):
        check = health.health_check_run(channel=channel)
    return WebhookHealthCheck.objects.get(pk=check.pk)


def _settle(capture) -> WebhookHealthCheck | None:
    """Run the settle task (and the alerts its commits send); the latest check."""
    with capture(execute=True):
        webhook_health_checks_settle_task()
    return WebhookHealthCheck.objects.order_by("-sent_at", "-id").first()


def _delivered_webhook(channel, wamid: str) -> None:
    """Meta's "delivered" status of `wamid`, through the real webhook endpoint."""
    payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "status_delivered"))
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = wamid
    response = Endpoint(Provider.WHATSAPP_CLOUD, channel).deliver_text(
        Client(), json.dumps(payload)
    )
    assert response.status_code == 200


def _confirmed_check(capture, channel, n: int) -> WebhookHealthCheck:
    """Send check number `n` and have its status webhook arrive two seconds later."""
    _run(capture, channel)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=2), tick=False):
        _delivered_webhook(channel, _wamid(n))
        return _settle(capture)


def _timed_out_check(capture, channel) -> WebhookHealthCheck:
    _run(capture, channel)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=121), tick=False):
        return _settle(capture)


def test_the_test_template_goes_out_and_its_status_webhook_confirms_the_check(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    send = _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False) as clock:
        check = _run(django_capture_on_commit_callbacks, whatsapp)
        assert check.result == HealthCheckResult.PENDING

        clock.shift(timedelta(seconds=3))
        _delivered_webhook(whatsapp, WAMID)
        clock.shift(timedelta(seconds=20))
        check = _settle(django_capture_on_commit_callbacks)

    sent = json.loads(send.calls.last.request.content)
    assert (sent["to"], sent["type"], sent["template"]["name"]) == (
        RECIPIENT,
        "template",
        "webhook_health",
    )
    assert check.result == HealthCheckResult.CONFIRMED
    assert (check.sent_at, check.confirmed_at) == (T0, T0 + timedelta(seconds=3))
    assert check.latency_ms == 3000
    assert Message.objects.get(pk=check.message_id).provider_message_id == WAMID
    assert mail.outbox == []  # healthy from the start: nothing to tell


def test_a_check_without_its_webhook_times_out_and_alerts_once(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False) as clock:
        check = _run(django_capture_on_commit_callbacks, whatsapp)
        clock.shift(timedelta(seconds=119))
        assert _settle(django_capture_on_commit_callbacks).result == HealthCheckResult.PENDING

        clock.shift(timedelta(seconds=2))
        check = _settle(django_capture_on_commit_callbacks)

        assert check.result == HealthCheckResult.TIMED_OUT
        assert "no status webhook or echo arrived within 120 s" in check.error
        assert (check.confirmed_at, check.latency_ms) == (None, None)
        assert len(mail.outbox) == 1
        alert = mail.outbox[0]
        assert alert.to == ["ops@example.com"]
        assert alert.subject == f"[Switchboard] Webhook health check failed: {whatsapp.name}"
        assert f"/admin/reconciliation/webhookhealthcheck/{check.pk}/change/" in alert.body
        assert f"sends its webhooks to {whatsapp.webhook_url}" in alert.body
        # the channel as staff read it: its name and the provider's short name
        assert f"health check of {whatsapp.name} · WhatsApp failed" in alert.body

        clock.shift(timedelta(hours=1))  # the next hourly check fails too
        again = _timed_out_check(django_capture_on_commit_callbacks, whatsapp)

    assert again.pk != check.pk
    assert again.result == HealthCheckResult.TIMED_OUT
    assert len(mail.outbox) == 1  # still failing: no second email


def test_the_timeout_is_a_setting(setting, whatsapp, graph, settings):
    settings.WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS = 600
    _meta_accepts_each_send(graph)
    check = health.health_check_run(channel=whatsapp)

    health.health_checks_settle(now=check.sent_at + timedelta(seconds=599))
    assert WebhookHealthCheck.objects.get(pk=check.pk).result == HealthCheckResult.PENDING
    health.health_checks_settle(now=check.sent_at + timedelta(seconds=600))
    assert WebhookHealthCheck.objects.get(pk=check.pk).result == HealthCheckResult.TIMED_OUT


def test_a_webhook_later_than_the_timeout_does_not_confirm(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False) as clock:
        _run(django_capture_on_commit_callbacks, whatsapp)
        clock.shift(timedelta(minutes=5))  # the settle task was held up meanwhile
        _delivered_webhook(whatsapp, WAMID)
        check = _settle(django_capture_on_commit_callbacks)

    assert check.result == HealthCheckResult.TIMED_OUT
    assert check.latency_ms == 300_000
    assert "later than 120 s" in check.error


def test_the_first_success_after_failures_says_recovered_once(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False) as clock:
        first_failure = _timed_out_check(django_capture_on_commit_callbacks, whatsapp)
        clock.shift(timedelta(hours=1))
        _timed_out_check(django_capture_on_commit_callbacks, whatsapp)
        clock.shift(timedelta(hours=1))

        recovered = _confirmed_check(django_capture_on_commit_callbacks, whatsapp, n=2)
        clock.shift(timedelta(hours=1))
        _confirmed_check(django_capture_on_commit_callbacks, whatsapp, n=3)

    assert recovered.result == HealthCheckResult.CONFIRMED
    assert [email.subject for email in mail.outbox] == [
        f"[Switchboard] Webhook health check failed: {whatsapp.name}",
        f"[Switchboard] Webhook health check recovered: {whatsapp.name}",
    ]
    body = mail.outbox[1].body
    assert "confirmed after 2000 ms" in body
    assert f"Webhooks of {whatsapp.name} · WhatsApp arrive again" in body
    assert f"failed since {first_failure.sent_at:%Y-%m-%d %H:%M:%S} UTC" in body


def test_a_send_meta_refuses_is_a_failure_with_its_error(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    graph.post(SEND_URL).mock(
        return_value=graph_error(131030, "Recipient phone number not in allowed list")
    )

    check = _run(django_capture_on_commit_callbacks, whatsapp)
    settled = _settle(django_capture_on_commit_callbacks)

    assert settled.pk == check.pk
    assert settled.result == HealthCheckResult.SEND_FAILED
    assert "[131030] Recipient phone number not in allowed list" in settled.error
    assert [email.subject for email in mail.outbox] == [
        f"[Switchboard] Webhook health check failed: {whatsapp.name}"
    ]
    assert "Recipient phone number not in allowed list" in mail.outbox[0].body


def test_a_send_our_own_checks_refuse_fails_at_once(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    setting.template_name = ""  # a text, and the test number's window is closed
    setting.save()
    send = graph.post(SEND_URL)

    check = _run(django_capture_on_commit_callbacks, whatsapp)

    assert check.result == HealthCheckResult.SEND_FAILED
    assert check.error.startswith("Not sent (WINDOW_EXPIRED)")
    assert check.message_id is None
    assert not send.called
    assert not Message.objects.exists()
    assert len(mail.outbox) == 1


def test_an_sms_channel_sends_a_text_to_the_test_number(
    organization, django_capture_on_commit_callbacks
):
    channel = make_channel(
        organization,
        Provider.OPENPHONE,
        access_token="op-key",
        phone_number_id="PNtoDbDhuz",
        window_policy="always_open",
    )
    HealthCheckSetting.objects.create(channel=channel, enabled=True, test_recipient=RECIPIENT)
    with respx.mock:
        send = respx.post("https://api.openphone.com/v1/messages").mock(
            return_value=httpx.Response(202, json={"data": {"id": "AC1", "status": "queued"}})
        )
        check = _run(django_capture_on_commit_callbacks, channel)

    sent = json.loads(send.calls.last.request.content)
    assert sent["to"] == [RECIPIENT]
    assert sent["content"].startswith("Switchboard webhook health check")
    assert check.result == HealthCheckResult.PENDING
    assert Message.objects.get(pk=check.message_id).provider_message_id == "AC1"


def _unipile_channel(organization, chat_id: str):
    channel = make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id="dfXlh46vQYCsMbVarumWlg",
        api_base_url="https://api1.unipile.com:13111",
    )
    HealthCheckSetting.objects.create(channel=channel, enabled=True, test_recipient=chat_id)
    return channel


def test_a_linkedin_channel_sends_into_the_test_chat(
    organization, django_capture_on_commit_callbacks
):
    channel = _unipile_channel(organization, "R8J-xM9WX7eoHLp6gSVtWQ")
    ConversationFactory(
        organization=organization,
        channel=channel,
        provider_conversation_ref="R8J-xM9WX7eoHLp6gSVtWQ",
    )
    with respx.mock:
        send = respx.post(
            "https://api1.unipile.com:13111/api/v1/chats/R8J-xM9WX7eoHLp6gSVtWQ/messages"
        ).mock(
            return_value=httpx.Response(201, json={"object": "MessageSent", "message_id": "m-1"})
        )
        check = _run(django_capture_on_commit_callbacks, channel)

    assert b"Switchboard webhook health check" in send.calls.last.request.content
    assert check.result == HealthCheckResult.PENDING
    assert Message.objects.get(pk=check.message_id).provider_message_id == "m-1"


def test_a_linkedin_chat_we_never_saw_cannot_be_checked(
    organization, django_capture_on_commit_callbacks
):
    channel = _unipile_channel(organization, "unknown-chat")

    check = _run(django_capture_on_commit_callbacks, channel)

    assert check.result == HealthCheckResult.SEND_FAILED
    assert "No conversation with chat 'unknown-chat'" in check.error


def test_only_enabled_active_channels_are_checked_every_hour(
    setting, whatsapp, organization, graph, django_capture_on_commit_callbacks
):
    send = _meta_accepts_each_send(graph)
    disabled = make_channel(organization, Provider.OPENPHONE, phone_number_id="PNoff")
    HealthCheckSetting.objects.create(channel=disabled, enabled=False, test_recipient=RECIPIENT)
    switched_off = make_channel(organization, Provider.TWILIO)
    Channel.objects.filter(pk=switched_off.pk).update(is_active=False)
    HealthCheckSetting.objects.create(channel=switched_off, enabled=True, test_recipient=RECIPIENT)

    with django_capture_on_commit_callbacks(execute=True):
        queued = webhook_health_checks_task()

    assert queued == {"queued": [whatsapp.pk]}
    assert list(WebhookHealthCheck.objects.values_list("channel_id", flat=True)) == [whatsapp.pk]
    assert send.call_count == 1


def test_a_disabled_check_cannot_be_run(setting, whatsapp):
    setting.enabled = False
    setting.save()

    with pytest.raises(health.HealthCheckNotEnabledError):
        health.health_check_run(channel=whatsapp)

    assert not WebhookHealthCheck.objects.exists()


def test_checks_older_than_the_retention_are_purged(whatsapp):
    def check(age: timedelta) -> WebhookHealthCheck:
        return WebhookHealthCheck.objects.create(
            organization=whatsapp.organization,
            channel=whatsapp,
            sent_at=T0 - age,
            result=HealthCheckResult.CONFIRMED,
        )

    old, kept = check(timedelta(days=30, minutes=1)), check(timedelta(days=29, hours=23))

    with time_machine.travel(T0, tick=False):
        assert webhook_health_checks_purge_task() == {"deleted": 1}

    assert list(WebhookHealthCheck.objects.values_list("pk", flat=True)) == [kept.pk]
    assert old.pk != kept.pk


def test_the_command_refuses_a_channel_without_an_enabled_check(setting, whatsapp):
    setting.enabled = False
    setting.save()

    with pytest.raises(CommandError, match="No active channel with an enabled health check"):
        call_command("check_webhook_health", f"--channel={whatsapp.key}", stdout=StringIO())


def test_the_command_reports_a_check_that_timed_out(setting, whatsapp, graph, settings):
    settings.WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS = 0
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 1 health check"):
        call_command("check_webhook_health", "--channel", str(whatsapp.pk), "--wait", stdout=out)

    assert f"#{whatsapp.pk} {whatsapp.name}" in out.getvalue()
    assert "no webhook in time: Not handed to the provider" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_command_waits_for_the_webhook_and_prints_the_latency(
    setting, whatsapp, graph, monkeypatch
):
    _meta_accepts_each_send(graph)
    clock = time_machine.travel(T0, tick=False)
    traveller = clock.start()

    def webhook_arrives_while_waiting(seconds: float) -> None:
        traveller.shift(timedelta(seconds=seconds))
        _delivered_webhook(whatsapp, WAMID)

    monkeypatch.setattr(
        "reconciliation.management.commands.check_webhook_health.sleep",
        webhook_arrives_while_waiting,
    )
    out = StringIO()
    try:
        call_command("check_webhook_health", "--wait", stdout=out)
    finally:
        clock.stop()

    printed = out.getvalue()
    assert "sent, waiting for the webhook" in printed
    assert f"#{whatsapp.pk} {whatsapp.name}" in printed
    assert "webhook arrived in 2000 ms" in printed
    assert "Checked 1 channel(s)." in printed


def test_the_health_check_schedules_name_registered_tasks_on_their_routed_queue():
    ours = {spec.name: spec for spec in PERIODIC_TASKS if ".webhook_health_" in spec.task}

    assert set(ours) == {
        "Check webhook health",
        "Settle webhook health checks",
        "Purge old webhook health checks",
    }
    assert ours["Check webhook health"].cron == "0 * * * *"
    assert ours["Settle webhook health checks"].every_seconds == 60
    for spec in ours.values():
        assert spec.task in celery_app.tasks
        assert spec.queue == celery_app.amqp.router.route({}, spec.task)["queue"].name
        assert spec.expires > 0

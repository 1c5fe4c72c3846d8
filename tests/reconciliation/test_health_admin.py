"""The health checks in the admin: settings edited and checked on demand, and the
history of checks, read-only, with their result and latency."""

from datetime import UTC, datetime, timedelta

import pytest
import respx

from providers import Provider
from reconciliation.models import HealthCheckResult, HealthCheckSetting, WebhookHealthCheck
from tests.factories import MessageTemplateFactory, UserFactory
from tests.messaging.conftest import SEND_URL, accepted
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHECKS = "/admin/reconciliation/webhookhealthcheck/"
SETTINGS = "/admin/reconciliation/healthchecksetting/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def whatsapp(organization):
    return make_channel(organization, Provider.WHATSAPP_CLOUD, access_token="wa-token")


def _check(channel, result: HealthCheckResult, **fields) -> WebhookHealthCheck:
    return WebhookHealthCheck.objects.create(
        organization=channel.organization, channel=channel, result=result, **fields
    )


def test_the_history_shows_each_result_with_its_latency_and_filters_by_result(
    staff_client, whatsapp
):
    _check(whatsapp, HealthCheckResult.CONFIRMED, sent_at=T0, latency_ms=1500)
    _check(
        whatsapp,
        HealthCheckResult.TIMED_OUT,
        sent_at=T0 + timedelta(hours=1),
        error="No status webhook arrived within 120 s.",
    )

    page = staff_client.get(CHECKS).content.decode()
    failures = staff_client.get(f"{CHECKS}?result=timed_out").content.decode()

    assert "Webhook arrived" in page
    assert "1500 ms" in page
    assert "No webhook in time" in page
    assert "No status webhook arrived within 120 s." in failures
    assert "1500 ms" not in failures


def test_a_check_is_history_nobody_edits(staff_client, whatsapp):
    check = _check(whatsapp, HealthCheckResult.SEND_FAILED, sent_at=T0, error="Not sent")

    page = staff_client.get(f"{CHECKS}{check.pk}/change/")
    edit = staff_client.post(f"{CHECKS}{check.pk}/change/", {"error": "edited"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert edit.status_code == 403
    check.refresh_from_db()
    assert check.error == "Not sent"


def test_a_setting_takes_a_phone_number_and_stores_it_in_e164(staff_client, whatsapp):
    form = {"channel": whatsapp.pk, "enabled": "on", "template_language": "en_US"}

    refused = staff_client.post(f"{SETTINGS}add/", {**form, "test_recipient": "not a number"})
    saved = staff_client.post(f"{SETTINGS}add/", {**form, "test_recipient": "16505551234"})

    assert refused.status_code == 200
    assert "is not a phone number" in refused.content.decode()
    assert saved.status_code == 302
    assert HealthCheckSetting.objects.get().test_recipient == "+16505551234"


def test_the_settings_list_shows_each_channels_last_check(staff_client, whatsapp):
    HealthCheckSetting.objects.create(channel=whatsapp, enabled=True, test_recipient="+1650")
    _check(whatsapp, HealthCheckResult.CONFIRMED, sent_at=T0, latency_ms=800)
    last = _check(whatsapp, HealthCheckResult.TIMED_OUT, sent_at=T0 + timedelta(hours=1))

    page = staff_client.get(SETTINGS).content.decode()

    assert f"{CHECKS}{last.pk}/change/" in page
    assert "No webhook in time" in page
    assert "800 ms" not in page  # the last check's latency, not an older one's


def test_check_now_sends_the_test_and_records_a_pending_check(
    staff_client, whatsapp, django_capture_on_commit_callbacks
):
    MessageTemplateFactory(
        channel=whatsapp, name="webhook_health", components=[{"type": "BODY", "text": "Hi."}]
    )
    setting = HealthCheckSetting.objects.create(
        channel=whatsapp,
        enabled=True,
        test_recipient="+16505551234",
        template_name="webhook_health",
    )
    with respx.mock(assert_all_called=False) as graph:
        send = graph.post(SEND_URL).mock(return_value=accepted())
        with django_capture_on_commit_callbacks(execute=True):
            answer = staff_client.post(
                SETTINGS, {"action": "check_now", "_selected_action": [setting.pk]}, follow=True
            )

    check = WebhookHealthCheck.objects.get()
    assert (check.channel_id, check.result) == (whatsapp.pk, HealthCheckResult.PENDING)
    assert send.call_count == 1
    assert "Sent 1 test message(s), 0 could not be sent" in answer.content.decode()


def test_check_now_reports_a_send_that_was_refused(staff_client, whatsapp):
    setting = HealthCheckSetting.objects.create(
        channel=whatsapp, enabled=True, test_recipient="+16505551234"
    )  # a text, and the test number's window is closed

    answer = staff_client.post(
        SETTINGS, {"action": "check_now", "_selected_action": [setting.pk]}, follow=True
    )

    assert WebhookHealthCheck.objects.get().result == HealthCheckResult.SEND_FAILED
    assert "WINDOW_EXPIRED" in answer.content.decode()
    assert "Sent 0 test message(s), 1 could not be sent" in answer.content.decode()

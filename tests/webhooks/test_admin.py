from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import ChannelFactory, UserFactory
from webhooks import processing
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def failed_event(client, whatsapp, monkeypatch):
    def explode(*, inbound, statuses, **_):
        raise RuntimeError("boom")

    monkeypatch.setattr(processing, "apply_conversation_events", explode)
    whatsapp.deliver(client, "text")
    monkeypatch.undo()
    return WebhookEvent.objects.get()


def test_the_failed_queue_lists_what_needs_an_operator(staff_client, failed_event, whatsapp):
    processed = WebhookEvent.objects.create(
        provider="whatsapp_cloud",
        body=b"{}",
        received_at=failed_event.received_at,
        dedupe_key="done",
        status=EventStatus.PROCESSED,
    )

    page = staff_client.get("/admin/webhooks/failedwebhook/").content.decode()

    assert f">{failed_event.id}<" in page
    assert "RuntimeError: boom" in page
    assert f">{processed.id}<" not in page


def test_the_queue_is_searchable_by_provider_message_id(staff_client, failed_event):
    page = staff_client.get("/admin/webhooks/failedwebhook/?q=wamid.HBgLMTY1MDU1NTEy").content

    assert f">{failed_event.id}<".encode() in page


def test_an_event_page_shows_the_payload_as_readable_json(staff_client, failed_event):
    page = staff_client.get(f"/admin/webhooks/webhookevent/{failed_event.id}/change/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "&quot;phone_number_id&quot;: &quot;106540352242922&quot;" in text
    assert "Does it come in another color?" in text
    assert 'name="_save"' not in text  # history is read-only


def test_replay_action_processes_the_event_and_reports_it(
    staff_client, failed_event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/admin/webhooks/failedwebhook/",
            {"action": "replay_now", "_selected_action": [failed_event.id]},
            follow=True,
        )

    assert "Replaying 1 event(s)." in response.content.decode()
    failed_event.refresh_from_db()
    assert failed_event.status == EventStatus.PROCESSED


def test_discard_action(staff_client, failed_event):
    response = staff_client.post(
        "/admin/webhooks/failedwebhook/",
        {"action": "discard", "_selected_action": [failed_event.id]},
        follow=True,
    )

    assert "Discarded 1 event(s)." in response.content.decode()
    failed_event.refresh_from_db()
    assert failed_event.status == EventStatus.DISCARDED


def test_events_cannot_be_added_or_deleted_in_the_admin(staff_client, failed_event):
    assert staff_client.get("/admin/webhooks/webhookevent/add/").status_code == 403
    delete = f"/admin/webhooks/webhookevent/{failed_event.id}/delete/"
    assert staff_client.get(delete).status_code == 403


def test_the_queue_says_what_will_happen_to_each_event(staff_client, failed_event, whatsapp):
    unreadable = WebhookEvent.objects.create(
        provider="whatsapp_cloud",
        channel=whatsapp.channel,
        organization=whatsapp.channel.organization,
        body=b"not json",
        received_at=failed_event.received_at,
        dedupe_key="unreadable",
        status=EventStatus.FAILED,
        next_attempt_at=None,  # as a body we cannot parse is kept: never retried
    )

    page = staff_client.get("/admin/webhooks/failedwebhook/").content.decode()
    retrying = staff_client.get("/admin/webhooks/failedwebhook/", {"next": "retry"})
    operator = staff_client.get("/admin/webhooks/failedwebhook/", {"next": "operator"})

    assert "will retry" in page
    assert "will not retry: needs an operator" in page
    assert "2 failed webhooks" in page
    # no filter choice that is not the queue's
    assert "status__exact=processed" not in page
    assert "status__exact=received" not in page
    assert [row.pk for row in retrying.context["cl"].result_list] == [failed_event.pk]
    assert [row.pk for row in operator.context["cl"].result_list] == [unreadable.pk]


T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_queue_list_says_what_happens_next_and_when(staff_client, organization):
    channel = ChannelFactory(organization=organization, name="Front desk")

    def queued(key: str, status: str, **fields) -> WebhookEvent:
        return WebhookEvent.objects.create(
            provider="whatsapp_cloud",
            body=b"{}",
            dedupe_key=key,
            status=status,
            received_at=T0 - timedelta(hours=3),
            **{"channel": channel, "organization": organization, **fields},
        )

    queued("later", EventStatus.FAILED, next_attempt_at=T0 + timedelta(minutes=8))
    queued("due", EventStatus.FAILED, next_attempt_at=T0 - timedelta(minutes=1))
    queued("never", EventStatus.FAILED, next_attempt_at=None)
    queued("dead", EventStatus.DEAD)
    queued("lost", EventStatus.UNROUTABLE, channel=None, organization=None)

    with time_machine.travel(T0, tick=False):
        page = staff_client.get("/admin/webhooks/failedwebhook/").content.decode()

    for words in [
        "will retry in 8 min",
        "will retry now",
        "will not retry: needs an operator",
        "retries exhausted: needs an operator",
        "add its channel, then replay",
    ]:
        assert f'<div class="sb-sub">{words}</div>' in page
    assert f'Front desk<div class="sb-sub">WhatsApp · {organization.name}</div>' in page
    assert 'title="2026-11-20 09:00 UTC">3 h ago</span>' in page

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from conversations.models import Message
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_whatsapp_events(client, whatsapp, endpoints):
    whatsapp.post(client, *whatsapp.request("text"))
    twilio = endpoints["twilio"]
    twilio.post(client, *twilio.request("inbound_sms"))
    WebhookEvent.objects.update(status=EventStatus.DEAD, attempts=6, next_attempt_at=None)
    return WebhookEvent.objects.order_by("id")


def _replay(*args) -> str:
    out = StringIO()
    call_command("replay_webhooks", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_and_changes_nothing(dead_whatsapp_events):
    output = _replay("--dry-run")

    assert "2 event(s) match; nothing replayed." in output
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"dead"}


def test_sync_replay_by_provider_processes_here_with_a_summary(dead_whatsapp_events):
    output = _replay("--provider", "whatsapp_cloud", "--sync")

    assert "1/1 (100%)" in output
    assert "Replayed 1 of 1 event(s) here: 1 processed." in output
    statuses = dict(WebhookEvent.objects.values_list("provider", "status"))
    assert statuses == {"whatsapp_cloud": "processed", "twilio": "dead"}
    assert Message.objects.count() == 1


def test_replay_by_channel_key_and_time_range(dead_whatsapp_events, endpoints):
    twilio_key = endpoints["twilio"].channel.key
    since = (timezone.now() - timedelta(minutes=5)).isoformat()

    output = _replay(f"--channel={twilio_key}", "--since", since, "--sync")

    assert "Replayed 1 of 1" in output
    assert WebhookEvent.objects.get(provider="twilio").status == "processed"


def test_queued_replay_leaves_processing_to_the_workers(dead_whatsapp_events):
    output = _replay()

    assert "queued for the workers" in output
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"received"}

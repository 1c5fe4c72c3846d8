"""Message retention: contents older than the organization's setting are blanked."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string

from conversations.models import Conversation, Message
from conversations.retention import messages_retention_apply
from reconciliation.schedules import PERIODIC_TASKS
from tests.factories import ConversationFactory, MessageFactory, OrganizationFactory
from tests.markers import postgresql_only
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db


def _message(conversation, days_ago: float, text: str = "My address is 1 Main St") -> Message:
    return MessageFactory(
        conversation=conversation,
        text=text,
        payload={"raw": text},
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )


def _webhook(organization, days_ago: float) -> WebhookEvent:
    received = timezone.now() - timedelta(days=days_ago)
    return WebhookEvent.objects.create(
        provider="whatsapp_cloud",
        organization=organization,
        body=b'{"from": "16505551234"}',
        headers={"X-Hub-Signature-256": "sha256=..."},
        received_at=received,
        dedupe_key=f"{organization.pk}-{days_ago}",
        status=EventStatus.PROCESSED,
    )


@pytest.fixture
def organization():
    return OrganizationFactory(message_retention_days=30)


def test_messages_older_than_the_retention_lose_their_contents(organization):
    conversation = ConversationFactory(organization=organization)
    old, recent = _message(conversation, 31), _message(conversation, 29)

    report = messages_retention_apply()

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.text, old.payload, old.contents_erased_at is not None) == ("", {}, True)
    assert (old.direction, old.status, old.provider_message_id) != ("", "", "")
    assert (recent.text, recent.contents_erased_at) == ("My address is 1 Main St", None)
    assert report[organization.slug]["messages"] == 1


@postgresql_only("the stored full-text document is PostgreSQL's")
def test_blanked_text_leaves_nothing_to_search(organization):
    old = _message(ConversationFactory(organization=organization), 40, "Ship to Rua Augusta")

    messages_retention_apply()

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_document::text FROM conversations_message WHERE id = %s", [old.pk]
        )
        assert cursor.fetchone()[0] == ""


def test_an_organization_without_retention_keeps_everything():
    untouched = OrganizationFactory(message_retention_days=None)
    message = _message(ConversationFactory(organization=untouched), 3650)
    webhook = _webhook(untouched, 29)  # inside the webhooks' own retention

    assert untouched.slug not in messages_retention_apply()

    message.refresh_from_db()
    webhook.refresh_from_db()
    assert message.text
    assert webhook.body_bytes


def test_the_preview_of_a_conversation_whose_last_message_is_old_goes(organization):
    stale = ConversationFactory(
        organization=organization,
        last_message_preview="See you at Rua Augusta 12",
        last_message_at=timezone.now() - timedelta(days=40),
    )
    fresh = ConversationFactory(
        organization=organization,
        last_message_preview="Thanks!",
        last_message_at=timezone.now() - timedelta(days=1),
    )

    messages_retention_apply()

    assert Conversation.objects.get(pk=stale.pk).last_message_preview == ""
    assert Conversation.objects.get(pk=fresh.pk).last_message_preview == "Thanks!"


def test_old_raw_webhooks_of_the_organization_are_redacted(organization):
    old, recent = _webhook(organization, 10), _webhook(organization, 1)
    organization.message_retention_days = 7
    organization.save()
    elsewhere = _webhook(OrganizationFactory(), 10)

    messages_retention_apply()

    for event in (old, recent, elsewhere):
        event.refresh_from_db()
    assert (old.body_bytes, old.headers, old.status) == (b"", {}, EventStatus.PROCESSED)
    assert "retention" in old.last_error
    assert recent.body_bytes
    assert elsewhere.body_bytes


def test_it_works_in_small_batches_and_a_second_run_changes_nothing(organization, settings):
    settings.ERASURE_BATCH_SIZE = 2
    conversation = ConversationFactory(organization=organization)
    old = [_message(conversation, 40 + n) for n in range(5)]

    with CaptureQueriesContext(connection) as queries:
        first = messages_retention_apply()
    second = messages_retention_apply()

    updates = [q for q in queries if q["sql"].startswith('UPDATE "conversations_message"')]
    assert len(updates) == 3  # 2 + 2 + 1 rows, each its own short statement
    assert first[organization.slug]["messages"] == 5
    assert second[organization.slug]["messages"] == 0
    assert not Message.objects.filter(pk__in=[m.pk for m in old], contents_erased_at=None)


def test_a_full_run_finds_old_messages_filed_behind_blanked_ones(organization, settings):
    settings.ERASURE_BATCH_SIZE = 2
    conversation = ConversationFactory(organization=organization)
    for n in range(4):
        _message(conversation, 40 + n)
    messages_retention_apply()
    backfilled = _message(conversation, 60)  # a reconciliation filed it later

    messages_retention_apply()
    assert Message.objects.get(pk=backfilled.pk).text  # behind a blanked batch
    messages_retention_apply(full=True)

    assert Message.objects.get(pk=backfilled.pk).text == ""


def test_the_schedules_name_tasks_that_run(organization):
    declared = {spec.name: spec for spec in PERIODIC_TASKS}
    message = _message(ConversationFactory(organization=organization), 31)

    retention = import_string(declared["Apply message retention"].task).delay().get()
    resume = import_string(declared["Resume contact erasures"].task).delay().get()

    assert retention[organization.slug]["messages"] == 1
    assert resume == {"resumed": 0}
    assert Message.objects.get(pk=message.pk).text == ""
    assert declared["Apply message retention"].queue == "maintenance"

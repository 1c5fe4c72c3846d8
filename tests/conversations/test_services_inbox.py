"""The inbox's write services: they change the row as it is under its lock."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conversations import services
from conversations.models import Conversation, ConversationStatus
from tenants.errors import ApplicationError, ErrorCode
from tests.factories import ConversationFactory, MembershipFactory, OrganizationFactory
from tests.markers import postgresql_only

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_services_work_on_the_stored_row_not_the_callers_stale_copy():
    conversation = ConversationFactory(unread_count=0)
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=4)  # a webhook did

    result = services.conversation_mark_unread(conversation=conversation)

    assert result.unread_count == 4
    conversation.refresh_from_db()
    assert conversation.unread_count == 4


@postgresql_only(
    "SQLite has no row locks; there every write transaction takes the database's one "
    "write lock at BEGIN (transaction_mode IMMEDIATE), which serializes these writes"
)
@pytest.mark.django_db
def test_every_inbox_write_locks_the_row():
    conversation = ConversationFactory()
    member = MembershipFactory(organization=conversation.organization).user
    writes = [
        lambda: services.conversation_mark_read(conversation=conversation),
        lambda: services.conversation_mark_unread(conversation=conversation),
        lambda: services.conversation_assign(conversation=conversation, assignee_id=member.id),
        lambda: services.conversation_status_set(conversation=conversation, status="pending"),
    ]

    for write in writes:
        with CaptureQueriesContext(connection) as queries:
            write()
        assert any("FOR UPDATE" in query["sql"] for query in queries), queries.captured_queries


@pytest.mark.django_db(transaction=True)
def test_a_write_waits_for_webhook_processing_holding_the_row_and_keeps_its_change():
    """A worker holds the conversation (as batch processing does) and adds unread
    messages; marking unread meanwhile must wait and then see them, not overwrite."""
    conversation = ConversationFactory(unread_count=0)
    locked, done = threading.Event(), threading.Event()

    def webhook_worker():
        try:
            with transaction.atomic():
                row = Conversation.objects.select_for_update().get(pk=conversation.pk)
                locked.set()
                time.sleep(0.5)
                row.unread_count = 3
                row.save(update_fields=["unread_count"])
        finally:
            connection.close()
            done.set()

    worker = threading.Thread(target=webhook_worker)
    worker.start()
    assert locked.wait(5)

    result = services.conversation_mark_unread(conversation=conversation)

    assert done.is_set(), "the service did not wait for the worker's lock"
    worker.join()
    assert result.unread_count == 3
    conversation.refresh_from_db()
    assert conversation.unread_count == 3


@pytest.mark.django_db
def test_writes_move_updated_at():
    conversation = ConversationFactory()
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=T0)

    services.conversation_mark_read(conversation=conversation)

    conversation.refresh_from_db()
    assert conversation.updated_at > T0


@pytest.mark.django_db
def test_assign_accepts_only_active_members_of_the_organization():
    conversation = ConversationFactory()
    inactive = MembershipFactory(organization=conversation.organization).user
    inactive.is_active = False
    inactive.save()
    elsewhere = MembershipFactory(organization=OrganizationFactory()).user

    for user in (inactive, elsewhere):
        with pytest.raises(ApplicationError) as error:
            services.conversation_assign(conversation=conversation, assignee_id=user.id)
        assert error.value.code == ErrorCode.VALIDATION_ERROR
        assert error.value.details["assignee"][0]["code"] == "not_a_member"
    conversation.refresh_from_db()
    assert conversation.assignee is None


@pytest.mark.django_db
def test_snooze_then_reopen():
    conversation = ConversationFactory()

    snoozed = services.conversation_status_set(
        conversation=conversation,
        status=ConversationStatus.SNOOZED,
        until=T0 + timedelta(hours=2),
        now=T0,
    )
    reopened = services.conversation_status_set(
        conversation=conversation, status=ConversationStatus.OPEN
    )

    assert (snoozed.status, snoozed.snoozed_until) == ("snoozed", T0 + timedelta(hours=2))
    assert (reopened.status, reopened.snoozed_until) == ("open", None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "until"),
    [
        (ConversationStatus.SNOOZED, None),
        (ConversationStatus.SNOOZED, T0),
        (ConversationStatus.PENDING, T0 + timedelta(hours=1)),
    ],
)
def test_until_must_fit_the_status(status, until):
    conversation = ConversationFactory()

    with pytest.raises(ApplicationError) as error:
        services.conversation_status_set(
            conversation=conversation, status=status, until=until, now=T0
        )

    assert list(error.value.details) == ["until"]
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN

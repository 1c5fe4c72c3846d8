"""The conversation page as the support team's workspace: the thread, its pages, the
internal notes and the controls (assign, status, read), per role and organization."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import thread
from conversations.models import ConversationNote, ConversationStatus, Message, MessageReaction
from tenants.models import Role
from tests.factories import ConversationFactory, MembershipFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False):
        yield


@pytest.fixture
def conversation(organization):
    return ConversationFactory(organization=organization, contact__name="Olga Customer")


def _member(client, organization, role: Role):
    user = UserFactory(is_staff=True)
    MembershipFactory(user=user, organization=organization, role=role)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def agent(client, organization):
    return _member(client, organization, Role.AGENT)


def _page(client, conversation, query: str = "") -> str:
    response = client.get(f"/admin/conversations/conversation/{conversation.pk}/change/{query}")
    assert response.status_code == 200
    return response.content.decode()


def _work(client, conversation, **data):
    return client.post(
        f"/admin/conversations/conversation/{conversation.pk}/work/", data, follow=True
    )


def _thread(conversation, count: int) -> None:
    Message.objects.bulk_create(
        MessageFactory.build(
            conversation=conversation,
            text=f"line {index}",
            occurred_at=T0 + timedelta(seconds=index),
            provider_message_id=f"wamid.bulk{conversation.pk}.{index}",
        )
        for index in range(count)
    )


# The thread


def test_a_long_thread_opens_in_as_many_queries_as_a_short_one(agent, organization):
    short, long = (
        ConversationFactory(organization=organization),
        ConversationFactory(organization=organization),
    )
    _thread(short, 10)
    _thread(long, 200)
    _page(agent, short)  # warm the content types and sessions caches

    with CaptureQueriesContext(connection) as ten:
        _page(agent, short)
    with CaptureQueriesContext(connection) as two_hundred:
        page = _page(agent, long)

    assert len(two_hundred) == len(ten)
    assert "line 199" in page
    assert "line 150" in page
    assert "line 149" not in page  # the latest page (50) only
    assert "Older messages" in page


def test_older_and_newer_pages_walk_the_thread_and_place_each_note_once(
    agent, conversation, monkeypatch
):
    monkeypatch.setattr(thread, "PAGE_SIZE", 3)
    _thread(conversation, 6)  # line 0..5, a second apart
    ConversationNote.objects.create(
        organization=conversation.organization,
        conversation=conversation,
        text="between 2 and 3",
        created_at=T0 + timedelta(seconds=2, milliseconds=500),
    )

    latest = _page(agent, conversation)
    older_link = latest.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
    older = _page(agent, conversation, older_link)
    newer_link = older.split('id="newer" href="')[1].split('"')[0].replace("&amp;", "&")
    newer = _page(agent, conversation, newer_link)

    assert [f"line {n}" in latest for n in range(6)] == [False] * 3 + [True] * 3
    assert [f"line {n}" in older for n in range(6)] == [True] * 3 + [False] * 3
    assert "Older messages" not in older
    assert "between 2 and 3" in older
    assert "between 2 and 3" not in latest
    assert older.index("line 2") < older.index("between 2 and 3")
    assert all(f"line {n}" in newer for n in (3, 4, 5))


def test_a_cursor_that_cannot_be_read_shows_the_latest_page(agent, conversation):
    _thread(conversation, 2)

    page = _page(agent, conversation, "?before=yesterday~x")

    assert "line 1" in page


def test_the_thread_reads_like_a_conversation(agent, conversation, clock):
    MessageFactory(conversation=conversation, text="Hi, where is my order?", occurred_at=T0)
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        text="It ships today.",
        status="read",
        sent_at=T0,
        read_at=T0 + timedelta(minutes=1),
        provider_message_id="wamid.out1",
        occurred_at=T0 + timedelta(seconds=1),
    )
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        text="Are you there?",
        status="failed",
        error_code="131047",
        error_title="Re-engagement message",
        occurred_at=T0 + timedelta(seconds=2),
    )
    MessageFactory(
        conversation=conversation,
        type="image",
        text="the parcel",
        media={"mime_type": "image/jpeg", "url": "https://media.example/p.jpg"},
        occurred_at=T0 + timedelta(seconds=3),
    )
    MessageFactory(
        conversation=conversation,
        type="call",
        text="Missed call",
        payload={"call": {"voicemail": {"url": "https://media.example/vm.mp3"}}},
        occurred_at=T0 + timedelta(seconds=4),
    )
    MessageFactory(conversation=conversation, text="typo", edited_at=T0, occurred_at=T0)
    MessageFactory(conversation=conversation, text="oops", deleted_at=T0, occurred_at=T0)
    MessageReaction.objects.create(
        organization=conversation.organization,
        channel=conversation.channel,
        conversation=conversation,
        message_provider_id="wamid.out1",
        reactor="16505551234",
        direction="inbound",
        emoji="👍",
        reacted_at=T0,
        event_id="reaction-1",
    )

    page = _page(agent, conversation)

    assert page.index("Hi, where is my order?") < page.index("It ships today.")
    assert 'class="sb-entry sb-in"' in page
    assert 'class="sb-entry sb-out"' in page
    assert "<strong>Olga Customer</strong>" in page  # the sender of inbound messages
    assert "✓✓ read" in page
    assert "👍 customer" in page
    assert "⚠ failed" in page
    assert "131047 Re-engagement message" in page
    assert 'href="https://media.example/p.jpg"' in page
    assert "image/jpeg" in page
    assert "Missed call" in page
    assert "vm.mp3" in page
    assert "edited" in page
    assert "<del>oops</del>" in page
    assert "deleted by its sender" in page


# Notes


def test_a_note_is_stored_listed_in_the_thread_and_never_sent(agent, conversation, respx_mock):
    MessageFactory(conversation=conversation, text="Hello", occurred_at=T0)

    response = _work(agent, conversation, do="note", text="VIP: refund approved by Sam")

    note = ConversationNote.objects.get()
    page = response.content.decode()
    assert (note.conversation, note.author, note.text) == (
        conversation,
        agent.user,
        "VIP: refund approved by Sam",
    )
    assert "Note added" in page
    assert "VIP: refund approved by Sam" in page
    assert "sb-entry sb-note" in page
    assert page.index("Hello") < page.index("VIP: refund approved by Sam")
    assert Message.objects.count() == 1  # nothing queued for the customer
    assert not respx_mock.calls  # and no provider called


def test_a_blank_note_is_refused(agent, conversation):
    page = _work(agent, conversation, do="note", text="  ").content.decode()

    assert "VALIDATION_ERROR: text: A note needs some text." in page
    assert not ConversationNote.objects.exists()


# Controls


def test_an_agent_assigns_to_themselves_to_a_colleague_and_unassigns(
    agent, conversation, organization
):
    colleague = MembershipFactory(organization=organization, user__username="sam").user

    assert "Assigned to" in _work(agent, conversation, do="assign", assignee="me").content.decode()
    conversation.refresh_from_db()
    assert conversation.assignee == agent.user

    _work(agent, conversation, do="assign", assignee=str(colleague.pk))
    conversation.refresh_from_db()
    assert conversation.assignee == colleague

    _work(agent, conversation, do="assign", assignee="")
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_assigning_someone_of_another_organization_is_refused(
    agent, conversation, other_organization
):
    stranger = MembershipFactory(organization=other_organization).user

    page = _work(agent, conversation, do="assign", assignee=str(stranger.pk)).content.decode()

    assert "VALIDATION_ERROR: assignee: Not a member of this organization." in page
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_an_agent_snoozes_until_a_time_and_the_page_says_until_when(agent, conversation, clock):
    page = _work(
        agent, conversation, do="status", status="snoozed", until="2026-11-21T09:30"
    ).content.decode()

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.SNOOZED
    assert conversation.snoozed_until == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert "Snoozed until 21 Nov 2026 09:30." in page


@pytest.mark.parametrize(
    ("until", "problem"),
    [("", "Snoozing needs `until`."), ("2026-11-19T09:30", "`until` must be in the future.")],
)
def test_a_snooze_without_a_future_time_is_refused(agent, conversation, clock, until, problem):
    page = _work(agent, conversation, do="status", status="snoozed", until=until).content.decode()

    assert problem in page
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN


def test_status_pending_and_closed(agent, conversation):
    _work(agent, conversation, do="status", status="pending")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.PENDING

    _work(agent, conversation, do="status", status="closed")
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.CLOSED


def test_mark_read_and_unread(agent, conversation):
    conversation.unread_count = 3
    conversation.save()

    _work(agent, conversation, do="read")
    conversation.refresh_from_db()
    assert conversation.unread_count == 0

    _work(agent, conversation, do="unread")
    conversation.refresh_from_db()
    assert conversation.unread_count == 1


# Roles and organizations


def test_a_viewer_reads_the_thread_without_controls_and_cannot_post(
    client, organization, conversation
):
    viewer = _member(client, organization, Role.VIEWER)
    MessageFactory(conversation=conversation, text="Hello there")

    page = _page(viewer, conversation)
    refused = viewer.post(
        f"/admin/conversations/conversation/{conversation.pk}/work/", {"do": "read"}
    )

    assert "Hello there" in page
    assert "Assign to me" not in page
    assert "Add note" not in page
    assert 'id="composer"' not in page
    assert refused.status_code == 403


def test_another_organizations_staff_get_404_on_the_page_and_its_controls(
    client, conversation, other_organization
):
    outsider = _member(client, other_organization, Role.ADMIN)
    base = f"/admin/conversations/conversation/{conversation.pk}"

    assert outsider.get(f"{base}/change/").status_code == 404
    assert outsider.post(f"{base}/work/", {"do": "note", "text": "x"}).status_code == 404
    assert not ConversationNote.objects.exists()


def test_notes_are_listed_only_to_their_organization(client, conversation, other_organization):
    ConversationNote.objects.create(
        organization=conversation.organization, conversation=conversation, text="secret plan"
    )
    outsider = _member(client, other_organization, Role.ADMIN)

    page = outsider.get("/admin/conversations/conversationnote/").content.decode()

    assert "secret plan" not in page


def test_reopening_a_snoozed_conversation_ignores_the_snooze_time_the_form_shows(
    agent, conversation, clock
):
    _work(agent, conversation, do="status", status="snoozed", until="2026-11-21T09:30")

    # the status form comes back filled with the current snooze time
    page = _work(
        agent, conversation, do="status", status="open", until="2026-11-21T09:30"
    ).content.decode()

    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)
    assert "Status: Open." in page


def test_the_controls_take_only_posts_and_sane_ids(agent, conversation):
    url = f"/admin/conversations/conversation/{conversation.pk}/work/"

    assert agent.get(url).status_code == 405
    page = _work(agent, conversation, do="assign", assignee="9" * 30).content.decode()

    assert "Unassigned." in page

"""The support staff's admin: conversations, contacts, messages."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations import admin as conversations_admin
from conversations import thread
from conversations.maintenance import windows_backfill
from conversations.models import ConversationStatus, Direction, Message
from tenants.admin_ui import BLUE
from tenants.models import WindowPolicy
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ContactIdentityFactory,
    ConversationFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CONVERSATIONS = "/admin/conversations/conversation/"
CONTACTS = "/admin/conversations/contact/"
MESSAGES = "/admin/conversations/message/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False):
        yield


@pytest.fixture
def windows(organization):
    """One conversation per window state. The stored flags say the opposite of the
    clock, so that anything reading them instead of the expiry gets it wrong."""

    def make(name: str, expires, *, policy=WindowPolicy.META, flag=False):
        channel = ChannelFactory(organization=organization, window_policy=policy)
        return ConversationFactory(
            organization=organization,
            channel=channel,
            contact=ContactFactory(organization=organization, name=name),
            window_expires_at=expires,
            is_window_open=flag,
        )

    return {
        "open": make("Olga", T0 + timedelta(hours=3, minutes=12)),
        "expiring": make("Emil", T0 + timedelta(minutes=42)),
        "expired": make("Xena", T0 - timedelta(days=2), flag=True),
        "never": make("Nina", None, flag=True),
        # A stale expiry in the past: the policy wins, the window is open.
        "always": make("Alma", T0 - timedelta(days=1), policy=WindowPolicy.ALWAYS_OPEN),
        "always_unset": make("Ava", None, policy=WindowPolicy.ALWAYS_OPEN),
    }


def _listed(response) -> set[int]:
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def _badge_colour(page: str, text: str) -> str:
    match = re.search(rf"background:(#\w+);[^>]*>{re.escape(text)}</span>", page)
    assert match, f"no badge {text!r}"
    return match.group(1)


def _act(client, action: str, conversations) -> str:
    response = client.post(
        CONVERSATIONS,
        {"action": action, "_selected_action": [c.pk for c in conversations]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


# The conversations list


def test_the_list_shows_each_window_state_from_the_clock(staff_client, windows, clock):
    page = staff_client.get(CONVERSATIONS).content.decode()

    assert _badge_colour(page, "open · 3 h 12 min left") == conversations_admin.GREEN
    assert _badge_colour(page, "open · 42 min left") == conversations_admin.AMBER
    assert _badge_colour(page, "expired 2 days ago") == conversations_admin.GREY
    assert _badge_colour(page, "never opened") == conversations_admin.GREY
    assert _badge_colour(page, "always open") == conversations_admin.GREEN


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("open", {"open", "expiring", "always", "always_unset"}),
        ("expiring", {"expiring"}),
        ("expired", {"expired"}),
        ("never", {"never"}),
        (None, {"open", "expiring", "expired", "never", "always", "always_unset"}),
    ],
)
def test_the_window_filter(staff_client, windows, clock, option, expected):
    query = {"window": option} if option else {}

    listed = _listed(staff_client.get(CONVERSATIONS, query))

    assert listed == {windows[name].pk for name in expected}


def test_the_window_filter_follows_the_clock_not_the_stored_flag(staff_client, windows):
    # An hour later the 42-minute window has expired, though its flag was never flipped.
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        expired = _listed(staff_client.get(CONVERSATIONS, {"window": "expired"}))

    assert expired == {windows["expiring"].pk, windows["expired"].pk}


def test_the_assignee_filter_has_unassigned(staff_client, organization):
    assigned = ConversationFactory(organization=organization, assignee=UserFactory())
    unassigned = ConversationFactory(organization=organization)

    page = staff_client.get(CONVERSATIONS, {"assignee__isnull": "True"})

    assert _listed(page) == {unassigned.pk}
    assert assigned.assignee.username in page.content.decode()  # offered as a choice
    assert "Unassigned" in page.content.decode()


def test_conversations_are_searchable_by_a_provider_id(staff_client, organization):
    wanted = ConversationFactory(organization=organization)
    ContactIdentityFactory(contact=wanted.contact, channel=wanted.channel, value="16505559876")
    other = ConversationFactory(organization=organization)
    ContactIdentityFactory(contact=other.contact, channel=other.channel, value="16505551111")

    assert _listed(staff_client.get(CONVERSATIONS, {"q": "16505559876"})) == {wanted.pk}


def test_the_list_takes_the_same_queries_for_3_or_20_conversations(staff_client, organization):
    def make(count: int) -> None:
        for _ in range(count):
            conversation = ConversationFactory(organization=organization, assignee=UserFactory())
            ContactIdentityFactory(contact=conversation.contact, channel=conversation.channel)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(CONVERSATIONS).status_code == 200
        return len(captured)

    make(3)
    few = queries()
    make(17)

    assert queries() == few


# Actions


def test_close_closes_the_selected_and_reports_it(staff_client, organization):
    open_ = ConversationFactory(organization=organization)
    snoozed = ConversationFactory(
        organization=organization,
        status=ConversationStatus.SNOOZED,
        snoozed_until=T0 + timedelta(days=400),
    )
    closed = ConversationFactory(organization=organization, status=ConversationStatus.CLOSED)
    not_selected = ConversationFactory(organization=organization)

    page = _act(staff_client, "close", [open_, snoozed, closed])

    assert "Closed 2 conversation(s); 1 already closed." in page
    for conversation in (open_, snoozed, closed, not_selected):
        conversation.refresh_from_db()
    assert [open_.status, snoozed.status, closed.status] == ["closed"] * 3
    assert snoozed.snoozed_until is None  # the service forgets the snooze
    assert not_selected.status == ConversationStatus.OPEN


def test_reopen_reopens_the_selected_and_reports_it(staff_client, organization):
    closed = ConversationFactory(organization=organization, status=ConversationStatus.CLOSED)
    open_ = ConversationFactory(organization=organization)
    not_selected = ConversationFactory(organization=organization, status="closed")

    page = _act(staff_client, "reopen", [closed, open_])

    assert "Reopened 1 conversation(s); 1 already open." in page
    closed.refresh_from_db()
    not_selected.refresh_from_db()
    assert closed.status == ConversationStatus.OPEN
    assert not_selected.status == ConversationStatus.CLOSED


def _with_customer_message(organization, at: datetime):
    conversation = ConversationFactory(organization=organization)
    MessageFactory(conversation=conversation, direction=Direction.INBOUND, provider_timestamp=at)
    return conversation


def test_recompute_window_rebuilds_the_selected_from_their_messages(staff_client, organization):
    selected = _with_customer_message(organization, T0 - timedelta(hours=1))
    not_selected = _with_customer_message(organization, T0 - timedelta(hours=1))

    with time_machine.travel(T0, tick=False):
        page = _act(staff_client, "recompute_window", [selected])

    assert "Recomputed the window of 1 conversation(s) from their messages; 1 open now." in page
    selected.refresh_from_db()
    not_selected.refresh_from_db()
    assert selected.window_expires_at == T0 + timedelta(hours=23)
    assert selected.is_window_open
    assert not_selected.window_expires_at is None


def test_backfill_can_be_narrowed_to_some_conversations(organization):
    wanted = _with_customer_message(organization, T0)
    other = _with_customer_message(organization, T0)

    progress = windows_backfill(conversation_ids=[wanted.pk], now=T0)

    wanted.refresh_from_db()
    other.refresh_from_db()
    assert (progress.total, progress.conversations) == (1, 1)
    assert wanted.window_expires_at == T0 + timedelta(hours=24)
    assert other.window_expires_at is None


# The conversation page


def _message(conversation, text: str, at: datetime, **fields) -> Message:
    return MessageFactory(conversation=conversation, text=text, occurred_at=at, **fields)


def test_the_page_shows_the_thread_oldest_first_read_only(staff_client, windows, clock):
    conversation = windows["expiring"]
    _message(conversation, "first words", T0 - timedelta(hours=2))
    _message(
        conversation,
        "the reply",
        T0 - timedelta(hours=1),
        direction=Direction.OUTBOUND,
        status="failed",
        failed_at=T0 - timedelta(minutes=59),
        error_code="131047",
        error_title="Re-engagement message",
    )

    response = staff_client.get(f"{CONVERSATIONS}{conversation.pk}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("first words") < page.index("the reply")
    assert "131047 Re-engagement message" in page
    assert "failed 20 Nov 11:01" in page
    assert 'name="_save"' not in page


def test_the_page_opens_on_the_latest_messages(staff_client, organization, monkeypatch):
    monkeypatch.setattr(thread, "PAGE_SIZE", 2)
    conversation = ConversationFactory(organization=organization)
    for hour, text in enumerate(["oldest one", "middle one", "newest one"]):
        _message(conversation, text, T0 + timedelta(hours=hour))

    page = staff_client.get(f"{CONVERSATIONS}{conversation.pk}/change/").content.decode()

    assert "newest one" in page
    assert "middle one" in page
    assert "oldest one" not in page
    assert "Older messages" in page


def test_the_page_groups_the_window_and_shows_its_badge(staff_client, windows, clock):
    conversation = windows["open"]

    page = staff_client.get(f"{CONVERSATIONS}{conversation.pk}/change/").content.decode()

    assert "24-hour window" in page
    assert "Provider" in page
    assert "open · 3 h 12 min left" in page


def test_a_conversation_cannot_be_edited_added_or_deleted(staff_client, organization):
    conversation = ConversationFactory(organization=organization)

    change = staff_client.post(f"{CONVERSATIONS}{conversation.pk}/change/", {"status": "closed"})

    assert change.status_code == 403
    assert staff_client.get(f"{CONVERSATIONS}add/").status_code == 403
    assert staff_client.get(f"{CONVERSATIONS}{conversation.pk}/delete/").status_code == 403


# Contacts


def test_contacts_are_searchable_by_provider_id_and_counted(staff_client, organization):
    contact = ContactFactory(organization=organization)
    for _ in range(2):
        conversation = ConversationFactory(organization=organization, contact=contact)
        ContactIdentityFactory(contact=contact, channel=conversation.channel, value="US.abc123")
    ContactIdentityFactory(value="US.other")  # another contact

    response = staff_client.get(CONTACTS, {"q": "abc123"})

    assert _listed(response) == {contact.pk}
    # Two identities match: the count must not double.
    assert response.context["cl"].result_list[0].conversation_count == 2


def test_the_contact_page_lists_its_conversations(staff_client, windows, clock):
    conversation = windows["expired"]

    page = staff_client.get(f"{CONTACTS}{conversation.contact.pk}/change/").content.decode()

    assert f"{CONVERSATIONS}{conversation.pk}/change/" in page
    assert "expired 2 days ago" in page


# Messages


def test_messages_filter_by_error_code_and_show_it(staff_client, organization):
    conversation = ConversationFactory(organization=organization)
    failed = MessageFactory(
        conversation=conversation, status="failed", error_code="131026", error_title="Undeliverable"
    )
    fine = MessageFactory(conversation=conversation)

    with_error = staff_client.get(MESSAGES, {"has_error": "yes"})
    without = staff_client.get(MESSAGES, {"has_error": "no"})

    assert _listed(with_error) == {failed.pk}
    assert _listed(without) == {fine.pk}
    assert "Undeliverable" in with_error.content.decode()
    assert _listed(staff_client.get(MESSAGES, {"status__exact": "failed"})) == {failed.pk}


def test_messages_cannot_be_edited(staff_client):
    message = MessageFactory()

    page = staff_client.get(f"{MESSAGES}{message.pk}/change/")
    response = staff_client.post(f"{MESSAGES}{message.pk}/change/", {"text": "rewritten"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403


def test_a_contact_can_still_be_renamed_under_its_read_only_inlines(staff_client, windows):
    contact = windows["open"].contact
    ContactIdentityFactory(contact=contact, channel=windows["open"].channel)
    form = {"organization": contact.organization_id, "name": "Olga K.", "phone": contact.phone}
    inlines = [("consents", 0), ("consent_changes", 0), ("identities", 1), ("conversations", 1)]
    for prefix, rows in inlines:
        form |= {f"{prefix}-TOTAL_FORMS": rows, f"{prefix}-INITIAL_FORMS": rows}

    response = staff_client.post(f"{CONTACTS}{contact.pk}/change/", form)

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.name == "Olga K."


def test_an_unfiltered_list_does_not_offer_to_show_all(staff_client):
    ConversationFactory.create_batch(2)
    url = "/admin/conversations/conversation/"

    assert "Show all" not in staff_client.get(url).content.decode()
    assert "Show all" in staff_client.get(url, {"q": "nobody"}).content.decode()


def test_a_list_row_shows_who_where_what_was_said_and_who_holds_it(staff_client, organization):
    agent = UserFactory(first_name="Maria", last_name="Gonzalez")
    channel = ChannelFactory(organization=organization, name="Front desk")
    with time_machine.travel(T0, tick=False):
        ConversationFactory(
            organization=organization,
            channel=channel,
            contact=ContactFactory(organization=organization, name="Olga"),
            assignee=agent,
            unread_count=3,
            last_activity_at=T0 - timedelta(minutes=42),
            last_message_preview="Where is my order?",
        )
        ConversationFactory(organization=organization, channel=channel, unread_count=0)

        page = staff_client.get(CONVERSATIONS).content.decode()

    assert "<strong>Olga</strong></a>" in page
    assert '<div class="sb-sub">Front desk · WhatsApp</div>' in page
    assert ">Where is my order?</div>" in page
    assert '<div class="sb-sub sb-assignee">Maria Gonzalez</div>' in page
    assert '<div class="sb-sub sb-unassigned">unassigned</div>' in page
    assert _badge_colour(page, "3") == BLUE
    assert ">42 min ago</span>" in page

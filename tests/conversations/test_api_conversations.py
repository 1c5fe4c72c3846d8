"""The inbox API for conversations: list and filters, detail, messages, window, actions."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers

from conversations import services
from conversations.api.serializers import ConversationSerializer
from conversations.models import Conversation, ConversationStatus
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tenants.models import Role, WindowPolicy
from tests.factories import (
    ChannelFactory,
    ContactFactory,
    ContactIdentityFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations/"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def _all_pages(client, url: str, params: dict) -> list[list[int]]:
    pages, response = [], client.get(url, params)
    while True:
        pages.append(_ids(response))
        if not response.json()["next"]:
            return pages
        response = client.get(response.json()["next"])


def _customer_message(channel, phone: str, message_id: str, at: datetime) -> InboundMessage:
    return InboundMessage(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"test:{message_id}",
        occurred_at=at,
        raw={},
        message_id=message_id,
        contact=ContactRef(phone=phone, wa_id=phone.lstrip("+")),
        type=MessageType.TEXT,
        text=f"hello from {message_id}",
    )


# --- The list -------------------------------------------------------------------------


def test_list_shows_only_the_organizations_conversations_latest_activity_first(
    viewer_client, organization
):
    now = timezone.now()
    older = ConversationFactory(organization=organization, last_activity_at=now - timedelta(2))
    newer = ConversationFactory(organization=organization, last_activity_at=now - timedelta(1))
    ConversationFactory(organization=OrganizationFactory(), last_activity_at=now)

    response = viewer_client.get(URL)

    assert _ids(response) == [newer.id, older.id]


def test_an_item_carries_what_the_inbox_shows(agent_client, organization):
    contact = ContactFactory(organization=organization, name="Kim Lee", phone="+16505551234")
    channel = ChannelFactory(organization=organization, name="Sales")
    conversation = ConversationFactory(
        organization=organization,
        contact=contact,
        channel=channel,
        assignee=agent_client.user,
        unread_count=2,
        last_message_preview="Is my order on its way?",
        window_expires_at=T0 + timedelta(hours=3),
    )

    with time_machine.travel(T0, tick=False):
        item = agent_client.get(URL).json()["results"][0]

    assert item["id"] == conversation.id
    assert item["status"] == "open"
    assert item["snoozed_until"] is None
    assert item["assignee"] == {"id": agent_client.user.id, "username": agent_client.user.username}
    assert item["unread_count"] == 2
    assert item["last_message_preview"] == "Is my order on its way?"
    assert item["contact"] == {"id": contact.id, "name": "Kim Lee", "phone": "+16505551234"}
    assert item["channel"] == {"id": channel.id, "name": "Sales", "provider": "whatsapp_cloud"}
    assert item["window"] == {
        "state": "ACTIVE",
        "expires_at": "2026-11-20T15:00:00Z",
        "seconds_remaining": 3 * 3600,
        "hours_remaining": 3.0,
        "can_send_free_form": True,
        "can_send_template": True,
    }
    assert {"last_activity_at", "last_message_at", "created_at", "updated_at"} <= set(item)


def test_an_unassigned_item_has_a_null_assignee(agent_client, organization):
    ConversationFactory(organization=organization)

    assert agent_client.get(URL).json()["results"][0]["assignee"] is None


# --- Filters: each alone keeps its match and drops a control row ---------------------


@pytest.mark.parametrize(
    ("params", "matching", "control"),
    [
        ({"status": "pending"}, {"status": "pending"}, {"status": "open"}),
        ({"status": "closed"}, {"status": "closed"}, {"status": "pending"}),
        ({"unread": "true"}, {"unread_count": 2}, {"unread_count": 0}),
        ({"unread": "false"}, {"unread_count": 0}, {"unread_count": 1}),
    ],
)
def test_field_filters(agent_client, organization, params, matching, control):
    match = ConversationFactory(organization=organization, **matching)
    ConversationFactory(organization=organization, **control)

    assert _ids(agent_client.get(URL, params)) == [match.id]


def test_channel_filter(agent_client, organization):
    sales = ChannelFactory(organization=organization)
    support = ChannelFactory(organization=organization)
    on_sales = ConversationFactory(organization=organization, channel=sales)
    ConversationFactory(organization=organization, channel=support)

    assert _ids(agent_client.get(URL, {"channel": sales.id})) == [on_sales.id]


def test_assignee_filter(agent_client, organization):
    colleague = MembershipFactory(organization=organization).user
    mine = ConversationFactory(organization=organization, assignee=agent_client.user)
    ConversationFactory(organization=organization, assignee=colleague)
    ConversationFactory(organization=organization, assignee=None)

    assert _ids(agent_client.get(URL, {"assignee": agent_client.user.id})) == [mine.id]


def test_unassigned_filter_both_ways(agent_client, organization):
    nobodys = ConversationFactory(organization=organization, assignee=None)
    taken = ConversationFactory(organization=organization, assignee=agent_client.user)

    assert _ids(agent_client.get(URL, {"unassigned": "true"})) == [nobodys.id]
    assert _ids(agent_client.get(URL, {"unassigned": "false"})) == [taken.id]


def test_window_filter_follows_the_clock_and_the_channel_policy_not_the_stored_flag(
    agent_client, organization
):
    sms = ChannelFactory(organization=organization, window_policy=WindowPolicy.ALWAYS_OPEN)
    open_unsynced = ConversationFactory(
        organization=organization, window_expires_at=T0 + timedelta(minutes=5)
    )
    expired_unsynced = ConversationFactory(
        organization=organization, window_expires_at=T0 - timedelta(seconds=1), is_window_open=True
    )
    never_opened = ConversationFactory(organization=organization, window_expires_at=None)
    always_open = ConversationFactory(organization=organization, channel=sms)

    with time_machine.travel(T0, tick=False):
        opened = set(_ids(agent_client.get(URL, {"window": "open"})))
        expired = set(_ids(agent_client.get(URL, {"window": "expired"})))

    assert opened == {open_unsynced.id, always_open.id}
    assert expired == {expired_unsynced.id, never_opened.id}


def test_updated_since_filter(agent_client, organization):
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        ConversationFactory(organization=organization)
    with time_machine.travel(T0, tick=False):
        recent = ConversationFactory(organization=organization)

    response = agent_client.get(URL, {"updated_since": "2026-11-20T11:00:00Z"})

    assert _ids(response) == [recent.id]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("kim", "name, any case"),
        ("650 555-1234", "phone as typed, punctuation ignored"),
        ("+16505551234", "phone in E.164"),
        ("US.1349", "a provider id (identity value)"),
    ],
)
def test_search_by_name_phone_or_provider_id(agent_client, organization, query, why):
    kim = ContactFactory(organization=organization, name="Kim Lee", phone="+16505551234")
    ContactIdentityFactory(contact=kim, kind="user_id", value="US.1349")
    found = ConversationFactory(organization=organization, contact=kim)
    other = ContactFactory(organization=organization, name="Alex", phone="+14155550000")
    ContactIdentityFactory(contact=other, value="14155550000")
    ConversationFactory(organization=organization, contact=other)

    assert _ids(agent_client.get(URL, {"q": query})) == [found.id], why


def test_a_contact_with_several_matching_identities_is_listed_once(agent_client, organization):
    contact = ContactFactory(organization=organization, name="Kim")
    ContactIdentityFactory(contact=contact, kind="wa_id", value="16505551234")
    ContactIdentityFactory(contact=contact, kind="phone", value="+16505551234")
    conversation = ConversationFactory(organization=organization, contact=contact)

    assert _ids(agent_client.get(URL, {"q": "6505551234"})) == [conversation.id]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "archived"}, "status"),
        ({"channel": "sales"}, "channel"),
        ({"assignee": "me"}, "assignee"),
        ({"unassigned": "maybe"}, "unassigned"),
        ({"window": "closed"}, "window"),
        ({"unread": "yes please"}, "unread"),
        ({"updated_since": "yesterday"}, "updated_since"),
    ],
)
def test_an_invalid_filter_value_is_a_field_level_400(agent_client, params, field):
    response = agent_client.get(URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert list(body["details"]) == [field]
    assert body["details"][field][0]["code"] in {"invalid", "invalid_choice"}


# --- Cursor pages -----------------------------------------------------------------------


def test_cursor_pages_neither_repeat_nor_skip_while_a_new_message_arrives(
    agent_client, organization
):
    channel = ChannelFactory(organization=organization)
    now = timezone.now()
    conversations = [
        ConversationFactory(
            organization=organization,
            channel=channel,
            last_activity_at=now - timedelta(minutes=10 * (rank + 1)),
        )
        for rank in range(5)
    ]
    first = agent_client.get(URL, {"page_size": 2})
    assert _ids(first) == [conversations[0].id, conversations[1].id]

    # A customer writes on a conversation of a later page: it moves to the top.
    moved = conversations[3]
    services.inbound_message_apply(
        channel=channel,
        message=_customer_message(channel, moved.contact.phone, "late-news", timezone.now()),
    )
    rest = _all_pages(agent_client, first.json()["next"], {})

    assert [i for page in rest for i in page] == [conversations[2].id, conversations[4].id]
    assert _ids(agent_client.get(URL, {"page_size": 2}))[0] == moved.id


def test_queries_per_page_do_not_grow_with_the_page_size(agent_client, organization):
    for _ in range(50):
        ConversationFactory(
            organization=organization, assignee=MembershipFactory(organization=organization).user
        )

    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            response = agent_client.get(URL, {"page_size": size})
        assert len(response.json()["results"]) == size
        counts[size] = len(queries)

    assert counts[5] == counts[50] <= 3  # membership, page, (no per-item queries)


# --- One conversation --------------------------------------------------------------------


def test_detail(viewer_client, organization):
    conversation = ConversationFactory(organization=organization, unread_count=4)

    response = viewer_client.get(f"{URL}{conversation.id}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["unread_count"]) == (conversation.id, 4)


def test_a_non_numeric_id_is_not_found(viewer_client):
    response = viewer_client.get(f"{URL}abc/")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


# --- Messages ----------------------------------------------------------------------------


@pytest.fixture
def five_messages(organization):
    conversation = ConversationFactory(organization=organization)
    MessageFactory(conversation=ConversationFactory(organization=organization))  # not these
    return conversation, [MessageFactory(conversation=conversation) for _ in range(5)]


def test_messages_newest_first_by_default_across_cursor_pages(viewer_client, five_messages):
    conversation, messages = five_messages

    pages = _all_pages(viewer_client, f"{URL}{conversation.id}/messages", {"page_size": 2})

    assert pages == [
        [messages[4].id, messages[3].id],
        [messages[2].id, messages[1].id],
        [messages[0].id],
    ]


def test_messages_oldest_first_across_cursor_pages(viewer_client, five_messages):
    conversation, messages = five_messages
    url = f"{URL}{conversation.id}/messages"

    pages = _all_pages(viewer_client, url, {"page_size": 2, "order": "oldest"})

    assert pages == [
        [messages[0].id, messages[1].id],
        [messages[2].id, messages[3].id],
        [messages[4].id],
    ]


def test_a_message_carries_its_content_and_delivery(viewer_client, organization):
    message = MessageFactory(
        conversation=ConversationFactory(organization=organization),
        direction="outbound",
        text="Your order shipped",
        status="failed",
        error_code="131047",
        error_title="Re-engagement message",
        context={"id": "wamid.earlier"},
    )

    item = viewer_client.get(f"{URL}{message.conversation_id}/messages").json()["results"][0]

    assert item["id"] == message.id
    assert (item["direction"], item["type"], item["text"]) == ("outbound", "text", message.text)
    assert (item["status"], item["error_code"]) == ("failed", "131047")
    assert item["context"] == {"id": "wamid.earlier"}
    assert item["call"] is None  # only calls have one
    assert set(item) == {
        "id",
        "direction",
        "type",
        "text",
        "media",
        "payload",
        "context",
        "call",
        "status",
        "provider_message_id",
        "provider_timestamp",
        "occurred_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "error_code",
        "error_title",
        "error_history",
        "reactions",
        "edited_at",
        "edit_history",
        "deleted_at",
        "contents_erased_at",
        "created_at",
    }


def test_an_unknown_message_order_is_a_field_level_400(viewer_client, five_messages):
    conversation, _ = five_messages

    response = viewer_client.get(f"{URL}{conversation.id}/messages", {"order": "random"})

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["order"]


# --- The window ----------------------------------------------------------------------------


@pytest.fixture
def customer_wrote_at_t0(organization):
    channel = ChannelFactory(organization=organization)
    services.inbound_message_apply(
        channel=channel, message=_customer_message(channel, "+16505551234", "hi", T0)
    )
    return Conversation.objects.get(channel=channel)


def _window_at(client, conversation, at: datetime) -> dict:
    with time_machine.travel(at, tick=False):
        response = client.get(f"{URL}{conversation.id}/window-status")
    assert response.status_code == 200
    return response.json()


def test_window_is_active_one_second_before_24_hours(viewer_client, customer_wrote_at_t0):
    window = _window_at(viewer_client, customer_wrote_at_t0, T0 + timedelta(hours=24, seconds=-1))

    assert window["state"] == "ACTIVE"
    assert window["seconds_remaining"] == 1
    assert window["can_send_free_form"] is True
    assert window["expires_at"] == "2026-11-21T12:00:00Z"


def test_window_is_expired_exactly_24_hours_after_the_customer_message(
    viewer_client, customer_wrote_at_t0
):
    window = _window_at(viewer_client, customer_wrote_at_t0, T0 + timedelta(hours=24))

    assert window["state"] == "EXPIRED"
    assert (window["seconds_remaining"], window["hours_remaining"]) == (0, 0.0)
    assert (window["can_send_free_form"], window["can_send_template"]) == (False, True)


def test_a_window_never_opened_is_none(viewer_client, organization):
    conversation = ConversationFactory(organization=organization)

    window = _window_at(viewer_client, conversation, T0)

    assert (window["state"], window["expires_at"], window["can_send_free_form"]) == (
        "NONE",
        None,
        False,
    )


def test_an_always_open_channel_is_active(viewer_client, organization):
    sms = ChannelFactory(
        organization=organization,
        provider=Provider.TWILIO,
        window_policy=WindowPolicy.ALWAYS_OPEN,
    )
    conversation = ConversationFactory(organization=organization, channel=sms)

    window = _window_at(viewer_client, conversation, T0)

    assert (window["state"], window["can_send_free_form"]) == ("ACTIVE", True)


# --- Actions ---------------------------------------------------------------------------------


def _post(client, conversation, action: str, body: dict | None = None):
    return client.post(f"{URL}{conversation.id}/{action}", body or {})


def test_read_sets_unread_to_zero_and_touches_updated_at(agent_client, organization):
    with time_machine.travel(T0, tick=False):
        conversation = ConversationFactory(organization=organization, unread_count=3)

    response = _post(agent_client, conversation, "read")

    assert response.status_code == 200
    assert response.json()["unread_count"] == 0
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    assert conversation.updated_at > T0


@pytest.mark.parametrize(("before", "after"), [(0, 1), (3, 3)])
def test_unread_makes_the_count_at_least_one(agent_client, organization, before, after):
    conversation = ConversationFactory(organization=organization, unread_count=before)

    response = _post(agent_client, conversation, "unread")

    assert response.json()["unread_count"] == after
    conversation.refresh_from_db()
    assert conversation.unread_count == after


def test_assign_to_a_member_then_unassign(agent_client, organization):
    colleague = MembershipFactory(organization=organization, role=Role.VIEWER).user
    conversation = ConversationFactory(organization=organization)

    assigned = _post(agent_client, conversation, "assign", {"assignee": colleague.id})
    unassigned = _post(agent_client, conversation, "assign", {"assignee": None})

    assert assigned.json()["assignee"] == {"id": colleague.id, "username": colleague.username}
    assert unassigned.json()["assignee"] is None
    conversation.refresh_from_db()
    assert conversation.assignee is None


@pytest.mark.parametrize("who", ["stranger", "member_elsewhere", "no_such_user"])
def test_assign_to_someone_outside_the_organization_is_a_400_on_assignee(
    agent_client, organization, who
):
    user_id = {
        "stranger": lambda: UserFactory().id,
        "member_elsewhere": lambda: MembershipFactory(organization=OrganizationFactory()).user.id,
        "no_such_user": lambda: 999_999,
    }[who]()
    conversation = ConversationFactory(organization=organization, assignee=agent_client.user)

    response = _post(agent_client, conversation, "assign", {"assignee": user_id})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"]["assignee"][0]["code"] == "not_a_member"
    conversation.refresh_from_db()
    assert conversation.assignee == agent_client.user


def test_assign_without_a_body_is_a_400(agent_client, organization):
    conversation = ConversationFactory(organization=organization)

    response = _post(agent_client, conversation, "assign", {})

    assert response.status_code == 400
    assert response.json()["details"]["assignee"][0]["code"] == "required"


def test_snooze_until_a_future_time(agent_client, organization):
    conversation = ConversationFactory(organization=organization)

    with time_machine.travel(T0, tick=False):
        body = {"status": "snoozed", "until": "2026-11-21T09:00Z"}
        response = _post(agent_client, conversation, "status", body)

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["snoozed_until"]) == (
        "snoozed",
        "2026-11-21T09:00:00Z",
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"status": "snoozed"}, "required"),
        ({"status": "snoozed", "until": None}, "required"),
        ({"status": "snoozed", "until": "2026-11-20T11:59:59Z"}, "invalid"),
        ({"status": "snoozed", "until": "2026-11-20T12:00:00Z"}, "invalid"),
        ({"status": "closed", "until": "2026-11-21T09:00:00Z"}, "invalid"),
    ],
)
def test_until_is_required_in_the_future_for_snoozed_and_rejected_otherwise(
    agent_client, organization, body, code
):
    conversation = ConversationFactory(organization=organization)

    with time_machine.travel(T0, tick=False):
        response = _post(agent_client, conversation, "status", body)

    assert response.status_code == 400
    assert response.json()["details"]["until"][0]["code"] == code
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN


def test_an_unknown_status_is_a_400_on_status(agent_client, organization):
    conversation = ConversationFactory(organization=organization)

    response = _post(agent_client, conversation, "status", {"status": "archived"})

    assert response.status_code == 400
    assert response.json()["details"]["status"][0]["code"] == "invalid_choice"


@pytest.mark.parametrize("status", ["open", "pending", "closed"])
def test_leaving_snoozed_clears_snoozed_until(agent_client, organization, status):
    conversation = ConversationFactory(
        organization=organization, status="snoozed", snoozed_until=T0 + timedelta(days=1)
    )

    response = _post(agent_client, conversation, "status", {"status": status})

    assert (response.json()["status"], response.json()["snoozed_until"]) == (status, None)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.snoozed_until) == (status, None)


# --- Who may do what -------------------------------------------------------------------------

ACTIONS = [
    ("read", {}),
    ("unread", {}),
    ("assign", {"assignee": None}),
    ("status", {"status": "closed"}),
]
READS = ["", "/messages", "/window-status"]


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_a_viewer_cannot_work_conversations(viewer_client, organization, action, body):
    conversation = ConversationFactory(
        organization=organization, unread_count=2, assignee=viewer_client.user
    )

    response = _post(viewer_client, conversation, action, body)

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    conversation.refresh_from_db()
    assert (conversation.unread_count, conversation.status) == (2, "open")
    assert conversation.assignee == viewer_client.user


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_an_admin_may_work_conversations_too(admin_client, organization, action, body):
    conversation = ConversationFactory(organization=organization)

    assert _post(admin_client, conversation, action, body).status_code == 200


@pytest.mark.parametrize("suffix", READS)
def test_a_viewer_reads_everything(viewer_client, organization, suffix):
    conversation = ConversationFactory(organization=organization)

    assert viewer_client.get(f"{URL}{conversation.id}{suffix}").status_code == 200


@pytest.mark.parametrize("suffix", READS)
def test_another_organizations_conversation_is_not_found_to_read(agent_client, suffix):
    theirs = ConversationFactory(organization=OrganizationFactory())
    MessageFactory(conversation=theirs)

    response = agent_client.get(f"{URL}{theirs.id}{suffix}")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize(("action", "body"), ACTIONS)
def test_another_organizations_conversation_is_not_found_to_write(agent_client, action, body):
    theirs = ConversationFactory(organization=OrganizationFactory(), unread_count=2)

    response = _post(agent_client, theirs, action, body)

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    theirs.refresh_from_db()
    assert (theirs.unread_count, theirs.status) == (2, "open")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("get", "", None)]
    + [("get", suffix, None) for suffix in READS]
    + [("post", f"/{action}", body) for action, body in ACTIONS],
)
def test_anonymous_calls_are_401(anonymous_client, organization, method, suffix, body):
    conversation = ConversationFactory(organization=organization)
    url = f"{URL}{conversation.id}{suffix}" if suffix or method == "post" else URL

    response = getattr(anonymous_client, method)(url, body)

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


# --- The schema ------------------------------------------------------------------------------


def test_the_schema_documents_the_inbox(viewer_client):
    schema = viewer_client.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]

    listed = {p["name"] for p in paths["/api/v1/conversations/"]["get"]["parameters"]}
    assert {"status", "channel", "assignee", "unassigned", "window", "unread"} <= listed
    assert {"updated_since", "q", "cursor", "page_size"} <= listed
    for action in ("read", "unread", "assign", "status"):
        operation = paths[f"/api/v1/conversations/{{id}}/{action}/"]["post"]
        assert "PERMISSION_DENIED" in operation["description"]
        assert operation["responses"]["200"]["content"]["application/json"]["examples"]
    assign_body = paths["/api/v1/conversations/{id}/assign/"]["post"]["requestBody"]
    assert assign_body["content"]["application/json"]["examples"]["Assign"]["value"] == {
        "assignee": 7
    }
    assert "/api/v1/conversations/{conversation_id}/messages/" in paths
    assert "/api/v1/inbox/counters/" in paths


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": "snoozed", "snoozed_until": datetime(2026, 12, 1, 9, 30, tzinfo=UTC)},
        {"window_expires_at": datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)},
        {"window_expires_at": datetime(2099, 1, 1, tzinfo=UTC), "unread_count": 3},
    ],
)
def test_the_fast_item_is_what_the_declared_fields_would_write(organization, fields):
    conversation = ConversationFactory(
        organization=organization,
        assignee=MembershipFactory(organization=organization).user if fields else None,
        **fields,
    )
    conversation = Conversation.objects.select_related("contact", "channel", "assignee").get(
        pk=conversation.pk
    )
    serializer = ConversationSerializer(context={"now": timezone.now()})

    fast = serializer.to_representation(conversation)
    declared = serializers.ModelSerializer.to_representation(serializer, conversation)

    assert fast == dict(declared)

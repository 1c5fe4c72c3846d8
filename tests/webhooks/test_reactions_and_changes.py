"""Reactions, edits and revokes, end to end through the webhook pipeline: each belongs
on the message it names, never becomes a message of its own."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from conversations.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Message,
    MessageReaction,
    PendingMessageChange,
)
from providers import Provider
from tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.webhooks.delivery import fixture_text
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

# tests/fixtures/whatsapp_cloud: the business message reaction.json reacts to, and the
# customer's message that edit.json and revoke.json change.
REACTED = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3QzE2RjZDQ0I3QTFEMzY2RUMA"
TEXT = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
REACTION_AT = datetime.fromtimestamp(1749416483, tz=UTC)


def _outbound(channel, provider_message_id: str, *, phone="+16505551234") -> Message:
    contact = Contact.objects.create(organization=channel.organization, phone=phone)
    conversation = Conversation.objects.create(
        organization=channel.organization, channel=channel, contact=contact
    )
    return Message.objects.create(
        organization=channel.organization,
        channel=channel,
        conversation=conversation,
        direction="outbound",
        provider_message_id=provider_message_id,
        status="delivered",
        text="Your order has shipped",
    )


def _api(organization) -> APIClient:
    client = APIClient()
    client.force_authenticate(MembershipFactory(organization=organization, role=Role.VIEWER).user)
    return client


def _shown(organization, message: Message) -> dict:
    url = f"/api/v1/conversations/{message.conversation_id}/messages"
    items = _api(organization).get(url).json()["results"]
    return next(item for item in items if item["id"] == message.id)


def _edited(name: str, **replacements) -> str:
    text = fixture_text(Provider.WHATSAPP_CLOUD, name)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


# --- WhatsApp reactions -------------------------------------------------------------


def test_a_reaction_goes_on_the_message_it_reacts_to(client, whatsapp, webhook_org):
    message = _outbound(whatsapp.channel, REACTED)
    Conversation.objects.update(status=ConversationStatus.CLOSED)

    whatsapp.deliver(client, "reaction")

    assert Message.objects.count() == 1  # no empty message of its own
    assert WebhookEvent.objects.get().result == {"reacted": 1}
    conversation = Conversation.objects.get()
    assert (conversation.unread_count, conversation.status) == (0, "closed")
    assert conversation.last_message_preview == ""  # the thread's last message is unchanged
    shown = _shown(webhook_org, message)
    assert shown["reactions"] == [
        {
            "emoji": "\U0001f62e",
            "direction": "inbound",
            "reactor": "16505551234",
            "reacted_at": "2025-06-08T21:01:23Z",
        }
    ]


def test_a_customer_reaction_moves_the_window_as_meta_documents(client, whatsapp):
    # Meta: the window opens "when a WhatsApp user messages you", and a reaction comes
    # as one of the user's messages, with no exception named.
    _outbound(whatsapp.channel, REACTED)

    whatsapp.deliver(client, "reaction")

    conversation = Conversation.objects.get()
    assert conversation.last_user_message_at == REACTION_AT
    assert conversation.window_expires_at == REACTION_AT + timedelta(hours=24)


def test_changed_then_removed_keeps_one_current_reaction_whatever_the_order(
    client, whatsapp, webhook_org
):
    message = _outbound(whatsapp.channel, REACTED)
    changed = _edited(
        "reaction",
        **{"\\ud83d\\ude2e": "\\ud83d\\udc4d", "1749416483": "1749416490", "QzMzhE": "QzMzhF"},
    )

    whatsapp.deliver_text(client, changed)  # 👍 at :490
    whatsapp.deliver(client, "reaction")  # 😮 at :483, late: older than 👍
    assert [r["emoji"] for r in _shown(webhook_org, message)["reactions"]] == ["👍"]

    whatsapp.deliver(client, "reaction_removed")  # at :502

    reaction = MessageReaction.objects.get()
    assert reaction.emoji == ""  # kept, so nothing older can bring one back
    assert _shown(webhook_org, message)["reactions"] == []
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 0


def test_a_reaction_to_a_message_not_filed_yet_shows_once_it_is(client, whatsapp, webhook_org):
    echo = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI2RUNITzAwMUE3QjQyMjA3RjM1RjEA"  # the echo's id

    whatsapp.deliver_text(client, _edited("reaction", **{REACTED: echo}))
    assert not Message.objects.exists()
    whatsapp.deliver(client, "smb_message_echoes")

    message = Message.objects.get()
    assert message.provider_message_id == echo
    assert [r["emoji"] for r in _shown(webhook_org, message)["reactions"]] == ["\U0001f62e"]


# --- Unipile reactions --------------------------------------------------------------


def test_a_unipile_reaction_and_its_removal_go_on_the_message(client, endpoints, webhook_org):
    unipile = endpoints[Provider.UNIPILE]
    unipile.deliver(client, "message_received_own")  # our message Kim reacts to
    message = Message.objects.get()

    unipile.deliver(client, "message_reaction")
    assert [r["emoji"] for r in _shown(webhook_org, message)["reactions"]] == ["😄"]
    unipile.deliver(client, "message_reaction_removed")

    assert Message.objects.count() == 1
    assert _shown(webhook_org, message)["reactions"] == []
    assert Conversation.objects.get().unread_count == 0
    assert list(WebhookEvent.objects.order_by("id").values_list("result", flat=True)) == [
        {"created": 1},
        {"reacted": 1},
        {"reacted": 1},
    ]


# --- edits and revokes --------------------------------------------------------------


def _read_and_closed() -> Conversation:
    conversation = Conversation.objects.get()
    conversation.unread_count = 0
    conversation.status = ConversationStatus.CLOSED
    conversation.save()
    return conversation


def test_an_edit_changes_the_message_and_keeps_its_earlier_text(client, whatsapp, webhook_org):
    whatsapp.deliver(client, "text")
    _read_and_closed()

    whatsapp.deliver(client, "edit")

    message = Message.objects.get()
    assert message.text == "Does it come in another colour, say blue?"
    assert message.edited_at == datetime.fromtimestamp(1749416503, tz=UTC)
    shown = _shown(webhook_org, message)
    assert shown["edit_history"] == [
        {"text": "Does it come in another color?", "at": "2025-06-08T20:59:43Z"}
    ]
    conversation = Conversation.objects.get()
    assert (conversation.unread_count, conversation.status) == (0, "closed")  # not a new one
    assert conversation.last_message_preview == "Does it come in another colour, say blue?"
    assert WebhookEvent.objects.order_by("id").last().result == {"edited": 1}


def test_a_revoke_marks_the_message_deleted(client, whatsapp, webhook_org):
    whatsapp.deliver(client, "text")
    _read_and_closed()

    whatsapp.deliver(client, "revoke")

    message = Message.objects.get()
    assert message.deleted_at == datetime.fromtimestamp(1749416603, tz=UTC)
    assert message.text == "Does it come in another color?"  # kept for the record
    assert _shown(webhook_org, message)["deleted_at"] == "2025-06-08T21:03:23Z"
    conversation = Conversation.objects.get()
    assert (conversation.unread_count, conversation.status) == (0, "closed")
    assert conversation.last_message_preview == "This message was deleted"


def test_an_edit_before_its_message_is_applied_when_the_message_comes(client, whatsapp):
    whatsapp.deliver(client, "edit")
    assert (Message.objects.count(), PendingMessageChange.objects.count()) == (0, 1)

    whatsapp.deliver(client, "text")

    message = Message.objects.get()
    assert message.text == "Does it come in another colour, say blue?"
    assert [r["text"] for r in message.revisions] == [
        "Does it come in another color?",
        "Does it come in another colour, say blue?",
    ]
    assert not PendingMessageChange.objects.exists()
    assert Conversation.objects.get().unread_count == 1  # the message, not the edit


def test_the_same_edit_twice_is_one_revision(client, whatsapp):
    whatsapp.deliver(client, "text")
    whatsapp.deliver(client, "edit")
    whatsapp.deliver_text(client, fixture_text(Provider.WHATSAPP_CLOUD, "edit").replace("\n", " "))

    assert len(Message.objects.get().revisions) == 2
    assert WebhookEvent.objects.order_by("id").last().result == {"unchanged": 1}


def test_a_unipile_edit_and_deletion_change_the_message(client, endpoints):
    unipile = endpoints[Provider.UNIPILE]
    unipile.deliver(client, "message_received")

    unipile.deliver(client, "message_edited")
    unipile.deliver(client, "message_deleted")

    message = Message.objects.get()
    assert message.text == "Hello World! (edited)"
    assert message.deleted_at is not None
    assert Conversation.objects.get().unread_count == 1
    assert WebhookEvent.objects.filter(status=EventStatus.PROCESSED).count() == 3


# --- the admin ----------------------------------------------------------------------


def test_the_admin_shows_reactions_and_edits_on_the_message(client, whatsapp):
    whatsapp.deliver(client, "text")
    whatsapp.deliver(client, "edit")
    reacted = _edited("reaction", **{REACTED: TEXT})  # the customer reacts to their own
    whatsapp.deliver_text(client, reacted)
    message = Message.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/conversations/message/{message.id}/change/").content.decode()
    thread = client.get(f"/admin/conversations/conversation/{message.conversation_id}/change/")
    reactions = client.get("/admin/conversations/messagereaction/").content.decode()

    assert "\U0001f62e customer" in page
    assert "Does it come in another color?" in page  # the earlier text, in its history
    assert "\U0001f62e customer" in thread.content.decode()
    assert "<em class='sb-mark'>edited</em>" in thread.content.decode()
    assert TEXT in reactions

"""OpenPhone (participants, then their messages, paced) and Unipile (by cursor, our own
messages filed in their chat) as reconciliation sources."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from conversations.models import (
    ContactIdentity,
    Conversation,
    IdentityKind,
    Message,
    MessageReaction,
)
from providers import Provider
from reconciliation import services, sources
from reconciliation.models import RunStatus, RunTrigger
from tests.factories import ContactFactory, ConversationFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db

UNTIL = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=48)
OPENPHONE = "https://api.openphone.com/v1"
DSN = "https://api1.unipile.com:13111"
CHAT = "R8J-xM9WX7eoHLp6gSVtWQ"


def _iso(minutes_before: int) -> str:
    return (UNTIL - timedelta(minutes=minutes_before)).isoformat().replace("+00:00", "Z")


def _openphone_message(n: int, participant: str) -> dict:
    return {
        "id": f"AC{n:030d}",
        "to": ["+18885550101"],
        "from": participant,
        "text": f"Hello {n}",
        "phoneNumberId": "PNtoDbDhuz",
        "direction": "incoming",
        "status": "received",
        "createdAt": _iso(n),
        "updatedAt": _iso(n),
    }


def _run(channel):
    run = services.run_create(channel=channel, trigger=RunTrigger.COMMAND, since=SINCE, until=UNTIL)
    return services.run_execute(run_id=run.pk)


@respx.mock
def test_openphone_lists_participants_then_each_ones_messages(organization, monkeypatch):
    paced = []
    monkeypatch.setattr(sources, "throughput_take", lambda **kw: paced.append(kw) or 0.0)
    channel = make_channel(
        organization,
        Provider.OPENPHONE,
        access_token="op-key",
        phone_number_id="PNtoDbDhuz",
        display_phone_number="+18885550101",
    )
    respx.get(f"{OPENPHONE}/conversations").mock(
        side_effect=[
            httpx.Response(
                200, json={"data": [{"participants": ["+18005550100"]}], "nextPageToken": "c2"}
            ),
            httpx.Response(
                200, json={"data": [{"participants": ["+18005550111"]}], "nextPageToken": None}
            ),
        ]
    )
    messages = respx.get(f"{OPENPHONE}/messages").mock(
        side_effect=[
            httpx.Response(
                200, json={"data": [_openphone_message(1, "+18005550100")], "nextPageToken": "m2"}
            ),
            httpx.Response(
                200, json={"data": [_openphone_message(2, "+18005550100")], "nextPageToken": None}
            ),
            httpx.Response(
                200, json={"data": [_openphone_message(3, "+18005550111")], "nextPageToken": None}
            ),
        ]
    )

    run = _run(channel)

    assert (run.status, run.created) == (RunStatus.SUCCEEDED, 3)
    asked = [call.request.url.params for call in messages.calls]
    assert [p["participants"] for p in asked] == ["+18005550100", "+18005550100", "+18005550111"]
    assert asked[1]["pageToken"] == "m2"
    assert len(paced) == 5  # every request waited its turn at 10 per second
    assert {kw["per_second"] for kw in paced} == {10}
    assert run.progress == {"participants": 2, "participants_done": 2}


@respx.mock
def test_unipile_files_our_own_message_in_its_chat(organization):
    channel = make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id="dfXlh46vQYCsMbVarumWlg",
        api_base_url=DSN,
    )
    kim = ContactFactory(organization=organization, name="Kim")
    ContactIdentity.objects.create(
        contact=kim, channel=channel, kind=IdentityKind.PROVIDER_ID, value="ACoAAAcDMMQ"
    )
    ConversationFactory(
        organization=organization, channel=channel, contact=kim, provider_conversation_ref=CHAT
    )
    ours = {
        "id": "our-message-1",
        "chat_id": CHAT,
        "text": "Thanks, Kim!",
        "timestamp": _iso(5),
        "sender_id": "ACoSELF",
        "is_sender": 1,
    }
    respx.get(f"{DSN}/api/v1/messages").mock(
        return_value=httpx.Response(200, json={"items": [ours], "cursor": None})
    )

    run = _run(channel)

    message = Message.objects.get(provider_message_id="our-message-1")
    assert (message.direction, message.conversation.contact) == ("outbound", kim)
    assert Conversation.objects.filter(channel=channel).count() == 1
    assert run.created == 1


def _unipile_channel(organization):
    return make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id="dfXlh46vQYCsMbVarumWlg",
        api_base_url=DSN,
    )


def _kims(n: int, minutes_before: int, **fields) -> dict:
    return {
        "id": f"kim-{n}",
        "chat_id": CHAT,
        "text": f"Kim {n}",
        "timestamp": _iso(minutes_before),
        "sender_id": "ACoAAAcDMMQ",
        "is_sender": 0,
        **fields,
    }


@respx.mock
def test_unipile_files_reactions_and_deletions_as_the_webhooks_would(organization):
    channel = _unipile_channel(organization)
    listed = [
        _kims(2, 5, reactions=[{"value": "👍", "sender_id": "ACoSELF", "is_sender": 1}]),
        _kims(1, 30, deleted=1),
    ]  # newest first, as the list gives them
    respx.get(f"{DSN}/api/v1/messages").mock(
        return_value=httpx.Response(200, json={"items": listed, "cursor": None})
    )

    first, second = _run(channel), _run(channel)

    thread = Message.objects.order_by("occurred_at", "id")
    assert [m.text for m in thread] == ["Kim 1", "Kim 2"]  # in the order written
    assert thread[0].deleted_at is not None
    reaction = MessageReaction.objects.get()
    assert (reaction.message_provider_id, reaction.emoji, reaction.direction) == (
        "kim-2",
        "👍",
        "outbound",
    )
    assert Message.objects.count() == 2  # the reaction is no message
    assert (first.created, first.updated) == (2, 2)
    assert (second.created, second.updated) == (0, 0)  # nothing twice


@respx.mock
def test_unipile_knows_our_message_by_the_channel_s_account_without_is_sender(organization):
    # given a channel that knows its account's own id, and a listed message of ours
    # that does not say is_sender
    channel = make_channel(
        organization,
        Provider.UNIPILE,
        access_token="unipile-key",
        account_id="dfXlh46vQYCsMbVarumWlg",
        account_user_id="ACoSELF",
        api_base_url=DSN,
    )
    kim = ContactFactory(organization=organization, name="Kim")
    ContactIdentity.objects.create(
        contact=kim, channel=channel, kind=IdentityKind.PROVIDER_ID, value="ACoAAAcDMMQ"
    )
    ConversationFactory(
        organization=organization, channel=channel, contact=kim, provider_conversation_ref=CHAT
    )
    ours = {
        "id": "our-2",
        "chat_id": CHAT,
        "text": "Hi",
        "timestamp": _iso(5),
        "sender_id": "ACoSELF",
    }
    respx.get(f"{DSN}/api/v1/messages").mock(
        return_value=httpx.Response(200, json={"items": [ours], "cursor": None})
    )

    _run(channel)

    # then it is filed as ours, in Kim's conversation
    message = Message.objects.get(provider_message_id="our-2")
    assert (message.direction, message.conversation.contact) == ("outbound", kim)

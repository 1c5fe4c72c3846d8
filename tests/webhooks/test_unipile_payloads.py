"""Unipile payloads end to end: our own messages are recognised even when the payload
does not say who the connected account is (no `account_info`)."""

import pytest

from conversations.models import Conversation, Message
from providers import Provider
from tenants.models import Channel

pytestmark = pytest.mark.django_db

SELF = "ACoAABxyzSelf0000000000000000000000000"  # the connected account (fixtures)
KIM = "ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E"
OWN_WITHOUT_INFO = "message_received_own_without_account_info"


@pytest.fixture
def unipile(endpoints):
    return endpoints[Provider.UNIPILE]


def _assert_ours_to_kim(message: Message) -> None:
    assert message.direction == "outbound"
    assert message.text == "Sent from my phone, no account_info in this one."
    identities = message.conversation.contact.identities.values_list("value", flat=True)
    assert list(identities) == [KIM]
    assert message.conversation.unread_count == 0


def test_an_own_message_without_account_info_is_ours_by_the_channel_s_account(client, unipile):
    # given a channel that knows its account's own id (set by hand)
    Channel.objects.filter(pk=unipile.channel.pk).update(account_user_id=SELF)

    # when a message we sent from another device comes without account_info
    unipile.deliver(client, OWN_WITHOUT_INFO)

    # then it is ours, to Kim, not a message from a new contact named after us
    _assert_ours_to_kim(Message.objects.get())


def test_the_channel_learns_its_account_from_a_payload_that_names_it(client, unipile):
    # given Kim's message, whose payload names the connected account
    unipile.deliver(client, "message_received")
    unipile.channel.refresh_from_db()
    assert unipile.channel.account_user_id == SELF

    # when our own message comes later without account_info
    unipile.deliver(client, OWN_WITHOUT_INFO)

    # then it is ours, in Kim's conversation
    own = Message.objects.get(provider_message_id="Zp4yV9nLS6Kk2Wq8rTb3xQ")
    assert own.direction == "outbound"
    assert Conversation.objects.count() == 1
    assert own.conversation.unread_count == 1  # Kim's message only


def test_an_account_id_set_by_hand_is_never_replaced_by_a_payload(client, unipile):
    Channel.objects.filter(pk=unipile.channel.pk).update(account_user_id="ACoAAOther")

    unipile.deliver(client, "message_received")

    unipile.channel.refresh_from_db()
    assert unipile.channel.account_user_id == "ACoAAOther"

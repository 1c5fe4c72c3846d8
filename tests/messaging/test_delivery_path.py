"""The send task's path kept short (bench/outbound.py): one client per channel and
process, a fixed handful of queries per send, and the conversation locked only when
something waits for the message's id."""

import copy

import pytest
from django.test import Client

from conversations.models import Message
from messaging import services
from providers.events import MessageStatus
from tenants import clients
from tests.markers import postgresql_only
from tests.messaging.conftest import SEND_URL, WAMID, accepted
from tests.messaging.test_limits_and_statuses import _endpoint, _refused_131047

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_pool():
    clients._pool.clear()
    yield
    clients._pool.clear()


def test_sends_of_one_channel_share_one_client(conversation, graph):
    route = graph.post(SEND_URL).mock(side_effect=[accepted("wamid.1"), accepted("wamid.2")])
    first = services.message_send_text(conversation=conversation, text="One")
    second = services.message_send_text(conversation=conversation, text="Two")

    services.message_deliver(message_id=first.pk)
    held = clients.pooled_send_client(conversation.channel)
    services.message_deliver(message_id=second.pk)

    assert clients.pooled_send_client(conversation.channel) is held
    assert route.call_count == 2
    assert route.calls.last.request.headers["Authorization"] == "Bearer wa-token"


def test_new_credentials_get_a_new_client(whatsapp):
    before = clients.pooled_send_client(whatsapp)
    whatsapp.access_token = "rotated-token"
    whatsapp.save()

    after = clients.pooled_send_client(whatsapp)

    assert after is not before
    assert after._http.headers["Authorization"] == "Bearer rotated-token"


def test_a_forked_process_never_uses_its_parents_clients(whatsapp, monkeypatch):
    parents = clients.pooled_send_client(whatsapp)
    pid = clients.os.getpid()
    monkeypatch.setattr(clients.os, "getpid", lambda: pid + 1)

    assert clients.pooled_send_client(whatsapp) is not parents


def test_the_least_recently_used_channel_is_dropped(whatsapp, monkeypatch):
    monkeypatch.setattr(clients, "_pool", clients._ClientPool(size=1))
    first = clients.pooled_send_client(whatsapp)
    other = copy.copy(whatsapp)
    other.pk = whatsapp.pk + 1000  # another channel: the pool keys on the id

    clients.pooled_send_client(other)

    assert clients.pooled_send_client(whatsapp) is not first


@postgresql_only("PostgreSQL's path: one claim-and-load statement; SQLite takes two")
def test_a_send_costs_a_fixed_number_of_queries(conversation, graph, django_assert_num_queries):
    graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Counted")

    # Claim and load (with the WhatsApp id), one statement (messaging.claim); the
    # contact checks again (the list and consent, one query); then, in one
    # transaction (its savepoint and release here, the test being one): the key's
    # lock and "does anything wait for it?" (no) sent together on a server-bound
    # cursor (not counted here), the id stored by an UPDATE (also server-bound)
    # without reading the row again, and the message.sent event's INSERT (the
    # outbox). It was 11 before the conversation was locked only when needed.
    with django_assert_num_queries(5):
        assert services.message_deliver(message_id=message.pk).outcome == "accepted"

    assert Message.objects.get(pk=message.pk).provider_message_id == WAMID


@postgresql_only("PostgreSQL's path: one claim-and-load statement; SQLite takes two")
def test_a_batch_costs_the_queries_of_one_send(conversation, graph, django_assert_num_queries):
    wamids = iter(["wamid.1", "wamid.2", "wamid.3", "wamid.4"])
    graph.post(SEND_URL).mock(side_effect=lambda request: accepted(next(wamids)))
    first, *others = [
        services.message_send_text(conversation=conversation, text=f"Counted {n}") for n in range(4)
    ]

    # The four claimed and loaded by one statement, their contacts checked by one, and
    # in one transaction: the four keys' locks and "does anything wait?" (one pipeline,
    # server-bound, not counted here), the four UPDATEs (one pipeline, server-bound)
    # and one INSERT for the four message.sent events. Four sends cost 20 before.
    with django_assert_num_queries(5):
        assert services.message_deliver(message_id=first.pk).outcome == "accepted"

    assert [Message.objects.get(pk=m.pk).provider_message_id for m in [first, *others]] == [
        "wamid.1",
        "wamid.2",
        "wamid.3",
        "wamid.4",
    ]
    # the others' own tasks: one statement each, finding their message claimed
    with django_assert_num_queries(1):
        assert services.message_deliver(message_id=others[0].pk).outcome == "skipped"


def test_a_refusal_that_beats_the_answer_closes_the_window_when_the_id_is_stored(
    conversation, graph
):
    graph.post(SEND_URL).mock(return_value=accepted())
    message = services.message_send_text(conversation=conversation, text="Too late")
    _endpoint(conversation).deliver_text(Client(), _refused_131047(WAMID))  # kept pending

    services.message_deliver(message_id=message.pk)

    message = Message.objects.get(pk=message.pk)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "131047")
    conversation.refresh_from_db()
    assert not conversation.is_window_open


def test_the_claim_loads_what_the_send_needs_and_refuses_a_second_claim(conversation):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.claim import message_claim_for_send

    message = services.message_send_text(conversation=conversation, text="Loaded")
    now = timezone.now()
    lease = timedelta(minutes=5)

    claimed = message_claim_for_send(message_id=message.pk, now=now, lease=lease)

    assert claimed.send_claimed_at == now
    assert (claimed.text, claimed.conversation_id) == ("Loaded", conversation.pk)
    assert claimed.channel.access_token == conversation.channel.access_token  # decrypted
    assert claimed.conversation.contact.phone == conversation.contact.phone
    assert message_claim_for_send(message_id=message.pk, now=now, lease=lease) is None
    later = now + lease + timedelta(seconds=1)  # its worker died: the lease ran out
    assert message_claim_for_send(message_id=message.pk, now=later, lease=lease) is not None

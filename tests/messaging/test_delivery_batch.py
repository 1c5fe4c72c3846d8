"""A send task sends its own message and the other queued messages of its channel that
no task has claimed yet (messaging.claim, messaging.delivery): each message is sent
once, keeps its own outcome, and a batch left by a dead worker comes back by the sweep."""

import itertools
import threading
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from conversations.consent import ConsentUpdate, consent_changes_apply
from conversations.consent_models import ConsentSource, ConsentState
from conversations.models import ContactIdentity, IdentityKind, Message
from messaging import services
from messaging.claim import messages_claim_for_send
from providers.events import MessageStatus
from tests.factories import ContactFactory, ConversationFactory
from tests.markers import postgresql_only
from tests.messaging.conftest import SEND_URL, accepted, graph_error

pytestmark = pytest.mark.django_db

LEASE = services.SEND_CLAIM_LEASE


@pytest.fixture
def customers(conversation):
    """Three customers of one WhatsApp channel, each with an open window."""
    others = []
    for n in (1, 2):
        contact = ContactFactory(organization=conversation.organization, phone=f"+1650555300{n}")
        ContactIdentity.objects.create(
            contact=contact,
            channel=conversation.channel,
            kind=IdentityKind.WA_ID,
            value=f"1650555300{n}",
        )
        others.append(
            ConversationFactory(
                organization=conversation.organization,
                channel=conversation.channel,
                contact=contact,
                last_user_message_at=conversation.last_user_message_at,
                window_expires_at=conversation.window_expires_at,
                is_window_open=True,
            )
        )
    return [conversation, *others]


@pytest.fixture
def retries_queued(monkeypatch):
    """The send tasks queued again (a sibling's retry), instead of run at once."""
    queued = []
    monkeypatch.setattr(
        services,
        "_deliver_later",
        lambda message_id, **options: queued.append((message_id, options)),
    )
    return queued


def _queued(customers) -> list[Message]:
    return [
        services.message_send_text(conversation=c, text=f"Hello {n}")
        for n, c in enumerate(customers)
    ]


def _answers():
    wamids = (f"wamid.batch.{n}" for n in itertools.count())
    return lambda request: accepted(next(wamids))


def _row(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def test_a_task_sends_its_channels_queued_messages_and_their_tasks_send_nothing(customers, graph):
    route = graph.post(SEND_URL).mock(side_effect=_answers())
    first, second, third = _queued(customers)

    # when the first message's task runs, then the others'
    outcomes = [services.message_deliver(message_id=m.pk).outcome for m in (first, second, third)]

    # then it sent all three, once each, and the others' tasks found them claimed
    assert outcomes == ["accepted", "skipped", "skipped"]
    assert route.call_count == 3
    sent_to = [call.request.content for call in route.calls]
    assert len(set(sent_to)) == 3
    ids = [_row(m).provider_message_id for m in (first, second, third)]
    assert ids == ["wamid.batch.0", "wamid.batch.1", "wamid.batch.2"]
    # and each has its own message.sent event
    from outbox.models import OutboxEvent

    sent = OutboxEvent.objects.filter(type="message.sent").values_list(
        "body__message_id", flat=True
    )
    assert sorted(sent) == sorted(m.pk for m in (first, second, third))


def test_the_batch_is_no_larger_than_the_setting(customers, graph, settings):
    settings.SEND_BATCH_SIZE = 2
    route = graph.post(SEND_URL).mock(side_effect=_answers())
    first, second, third = _queued(customers)

    services.message_deliver(message_id=first.pk)

    assert route.call_count == 2
    assert _row(third).send_claimed_at is None  # left for its own task
    assert services.message_deliver(message_id=third.pk).outcome == "accepted"
    assert services.message_deliver(message_id=second.pk).outcome == "skipped"


def test_a_transient_error_inside_a_batch_sets_aside_only_that_message(
    customers, graph, retries_queued
):
    route = graph.post(SEND_URL).mock(
        side_effect=[accepted("wamid.1"), httpx.Response(503), accepted("wamid.3")]
    )
    first, second, third = _queued(customers)

    delivery = services.message_deliver(message_id=first.pk)

    assert delivery.outcome == "accepted"
    assert (_row(first).provider_message_id, _row(third).provider_message_id) == (
        "wamid.1",
        "wamid.3",
    )
    waiting = _row(second)
    assert (waiting.status, waiting.provider_message_id) == (MessageStatus.QUEUED, "")
    # its own task again, after the wait, as its first retry
    assert retries_queued == [(second.pk, {"countdown": 2.0, "retries": 1})]
    # no other batch takes it before then: only never-claimed messages are siblings
    later = services.message_send_text(conversation=customers[0], text="Later")
    route.side_effect = [accepted("wamid.4")]
    assert services.message_deliver(message_id=later.pk).outcome == "accepted"
    assert _row(second).provider_message_id == ""
    # and its retry sends it
    route.side_effect = [accepted("wamid.2")]
    assert services.message_deliver(message_id=second.pk, attempt=1).outcome == "accepted"
    assert _row(second).provider_message_id == "wamid.2"
    assert route.call_count == 5


def test_a_transient_error_of_the_tasks_own_message_retries_it_and_the_rest_go(
    customers, graph, retries_queued
):
    graph.post(SEND_URL).mock(
        side_effect=[
            graph_error(130429, "Rate limit hit"),
            accepted("wamid.2"),
            accepted("wamid.3"),
        ]
    )
    first, second, third = _queued(customers)

    delivery = services.message_deliver(message_id=first.pk)

    assert (delivery.outcome, delivery.retry_in) == ("retry", 2.0)
    assert retries_queued == []  # Celery retries the task itself
    assert [_row(m).provider_message_id for m in (first, second, third)] == [
        "",
        "wamid.2",
        "wamid.3",
    ]


def test_a_permanent_error_inside_a_batch_fails_only_that_message(customers, graph):
    graph.post(SEND_URL).mock(
        side_effect=[
            accepted("wamid.1"),
            graph_error(131026, "Message undeliverable"),
            accepted("wamid.3"),
        ]
    )
    first, second, third = _queued(customers)

    assert services.message_deliver(message_id=first.pk).outcome == "accepted"

    failed = _row(second)
    assert (failed.status, failed.error_code) == (MessageStatus.FAILED, "131026")
    assert [_row(m).provider_message_id for m in (first, third)] == ["wamid.1", "wamid.3"]
    assert services.message_deliver(message_id=second.pk).outcome == "skipped"


def test_a_contact_who_opted_out_inside_a_batch_is_withheld_alone(customers, graph):
    route = graph.post(SEND_URL).mock(side_effect=_answers())
    first, second, third = _queued(customers)
    update = ConsentUpdate(
        organization_id=customers[1].organization_id,
        contact_id=customers[1].contact_id,
        kind="whatsapp",
        scopes=("service",),
        state=ConsentState.OPTED_OUT,
        source=ConsentSource.KEYWORD,
        at=timezone.now(),
    )
    consent_changes_apply(updates=[update])

    assert services.message_deliver(message_id=first.pk).outcome == "accepted"

    withheld = _row(second)
    assert (withheld.status, withheld.error_code) == (MessageStatus.FAILED, "CONTACT_OPTED_OUT")
    assert route.call_count == 2
    assert all(_row(m).provider_message_id for m in (first, third))


def test_a_batch_left_by_a_dead_worker_comes_back_by_the_sweep_and_is_sent_once(
    customers, graph, retries_queued
):
    route = graph.post(SEND_URL).mock(side_effect=_answers())
    first, second, third = _queued(customers)
    # a worker claimed the three, then died before sending anything
    died = timezone.now() - LEASE - timedelta(seconds=1)
    claimed = messages_claim_for_send(message_id=first.pk, now=died, lease=LEASE, siblings=15)
    assert [m.pk for m in claimed] == [first.pk, second.pk, third.pk]

    # the sweep queues each again, and each of those tasks sends its own message
    assert services.messages_queued_sweep() == 3
    assert sorted(pk for pk, _ in retries_queued) == sorted([first.pk, second.pk, third.pk])
    outcomes = [services.message_deliver(message_id=pk).outcome for pk, _ in retries_queued]

    assert outcomes == ["accepted"] * 3
    assert route.call_count == 3
    assert all(_row(m).provider_message_id for m in (first, second, third))


def test_a_live_claim_is_never_a_sibling(customers):
    first, second, third = _queued(customers)
    now = timezone.now()
    assert messages_claim_for_send(message_id=second.pk, now=now, lease=LEASE, siblings=0)

    claimed = messages_claim_for_send(message_id=first.pk, now=now, lease=LEASE, siblings=15)

    assert [m.pk for m in claimed] == [first.pk, third.pk]
    assert messages_claim_for_send(message_id=second.pk, now=now, lease=LEASE, siblings=15) == []


def test_other_channels_messages_are_never_siblings(customers, organization):
    from providers import Provider
    from tests.webhooks.conftest import make_channel

    other = make_channel(organization, Provider.OPENPHONE, access_token="op-key")
    elsewhere = ConversationFactory(
        organization=organization, channel=other, contact=customers[0].contact
    )
    mine = services.message_send_text(conversation=customers[0], text="Mine")
    theirs = services.message_send_text(conversation=elsewhere, text="Theirs")

    claimed = messages_claim_for_send(
        message_id=mine.pk, now=timezone.now(), lease=LEASE, siblings=15
    )

    assert [m.pk for m in claimed] == [mine.pk]
    assert _row(theirs).send_claimed_at is None


@postgresql_only("concurrent claims with SKIP LOCKED; SQLite runs one writer at a time")
@pytest.mark.django_db(transaction=True)
def test_tasks_racing_for_one_channel_never_send_a_message_twice(customers, graph):
    sent, lock = [], threading.Lock()

    def answer(request):
        with lock:
            sent.append(request.content)
            return accepted(f"wamid.race.{len(sent)}")

    graph.post(SEND_URL).mock(side_effect=answer)
    messages = [
        services.message_send_text(conversation=customers[n % 3], text=f"Race {n}")
        for n in range(60)
    ]
    ids = [m.pk for m in messages]

    def worker(mine):
        try:
            for message_id in mine:
                services.message_deliver(message_id=message_id)
        finally:
            connection.close()

    # four workers, each running the tasks of a quarter of the messages, interleaved
    threads = [threading.Thread(target=worker, args=(ids[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sent) == 60
    assert len(set(sent)) == 60  # every text went once
    rows = Message.objects.filter(pk__in=ids)
    assert all(row.provider_message_id.startswith("wamid.race.") for row in rows)


def test_a_status_that_came_first_is_applied_to_its_message_inside_a_batch(customers, graph):
    from django.test import Client

    from conversations.models import Conversation
    from tests.messaging.test_limits_and_statuses import _endpoint, _refused_131047

    graph.post(SEND_URL).mock(
        side_effect=[accepted("wamid.1"), accepted("wamid.2"), accepted("wamid.3")]
    )
    first, second, third = _queued(customers)
    # Meta's refusal of the second arrives before its answer: kept pending
    _endpoint(customers[1]).deliver_text(Client(), _refused_131047("wamid.2"))

    services.message_deliver(message_id=first.pk)

    refused = _row(second)
    assert (refused.status, refused.error_code) == (MessageStatus.FAILED, "131047")
    assert not Conversation.objects.get(pk=customers[1].pk).is_window_open
    # the others are as the provider answered, their windows untouched
    assert [(_row(m).provider_message_id, _row(m).status) for m in (first, third)] == [
        ("wamid.1", MessageStatus.QUEUED),
        ("wamid.3", MessageStatus.QUEUED),
    ]
    assert Conversation.objects.get(pk=customers[0].pk).is_window_open

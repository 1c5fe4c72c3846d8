"""Reading the outbox: every committed event once, in order, none skipped when a
transaction with a smaller id commits after a larger one was read."""

import random
import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction

from outbox.models import OutboxCursor
from outbox.readers import Position, events_consume, events_read, position_now
from outbox.services import event_record
from outbox.types import ConsentBody
from tests.factories import OrganizationFactory
from tests.markers import postgresql_only

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _record(organization_id: int, contact_id: int):
    body = ConsentBody(
        contact_id=contact_id,
        kind="sms",
        scope="marketing",
        state="opted_out",
        previous_state="unknown",
        source="keyword",
        message_id=None,
        changed_at=T0,
    )
    return event_record(type="contact.opted_out", organization_id=organization_id, body=body)


@pytest.mark.django_db
def test_a_page_is_in_order_and_ends_where_the_next_begins():
    organization = OrganizationFactory()
    with transaction.atomic():
        first = _record(organization.pk, 1)
    with transaction.atomic():
        second = _record(organization.pk, 2)

    page = events_read(after=Position(), limit=1)
    assert [e.pk for e in page.events] == [first.pk]
    rest = events_read(after=page.position)
    assert [e.pk for e in rest.events] == [second.pk]
    assert events_read(after=rest.position).events == []


@pytest.mark.django_db
def test_a_reader_of_one_organization_sees_only_its_events():
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    with transaction.atomic():
        _record(theirs.pk, 1)
        event = _record(mine.pk, 2)

    page = events_read(after=Position(), organization_id=mine.pk)
    assert [e.pk for e in page.events] == [event.pk]


def test_a_position_round_trips_through_its_token_and_refuses_anything_else():
    assert Position.parse(Position(12, 345).token) == Position(12, 345)
    for bad in ["", "12", "-1-2", "a-b", "1-2-3", "1 - 2"]:
        with pytest.raises(ValueError, match="Not an outbox position"):
            Position.parse(bad)


@pytest.mark.django_db
def test_a_reader_starting_now_skips_the_past():
    organization = OrganizationFactory()
    with transaction.atomic():
        _record(organization.pk, 1)
    start = position_now()
    with transaction.atomic():
        later = _record(organization.pk, 2)

    assert [e.pk for e in events_read(after=start).events] == [later.pk]


@pytest.mark.django_db
def test_events_consume_moves_the_cursor_with_the_handling():
    organization = OrganizationFactory()
    with transaction.atomic():
        event = _record(organization.pk, 1)
    seen = []

    assert events_consume(name="test", handle=seen.extend) == 1
    assert events_consume(name="test", handle=seen.extend) == 0
    assert [e.pk for e in seen] == [event.pk]
    assert OutboxCursor.objects.get(name="test").event_id == event.pk


@pytest.mark.django_db
def test_a_failed_handling_leaves_the_cursor_where_it_was():
    organization = OrganizationFactory()
    with transaction.atomic():
        _record(organization.pk, 1)

    def fail(events):
        raise RuntimeError("handler died")

    with pytest.raises(RuntimeError):
        events_consume(name="test", handle=fail)
    seen = []
    assert events_consume(name="test", handle=seen.extend) == 1


@postgresql_only("transaction ids and snapshots are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_behind_a_read_one_is_still_read():
    organization = OrganizationFactory()
    started, release = threading.Event(), threading.Event()
    slow = []

    def slow_writer():
        try:
            with transaction.atomic():
                slow.append(_record(organization.pk, 1))  # the smaller id, committed last
                started.set()
                release.wait(10)
        finally:
            connections.close_all()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    started.wait(10)
    with transaction.atomic():
        fast = _record(organization.pk, 2)

    # The slow transaction still runs: nothing is read past it, not even the fast one.
    assert events_read(after=Position()).events == []
    release.set()
    writer.join()
    page = events_read(after=Position())
    assert [e.pk for e in page.events] == [slow[0].pk, fast.pk]


@postgresql_only("transaction ids and snapshots are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_a_reader_lose_and_repeat_nothing():
    organization = OrganizationFactory()
    written, seen, done = [], [], threading.Event()
    lock = threading.Lock()

    def writer(seed: int):
        rng = random.Random(seed)  # noqa: S311 - a shuffle, not a secret
        try:
            for n in range(40):
                with transaction.atomic():
                    event = _record(organization.pk, seed * 1000 + n)
                    time.sleep(rng.random() * 0.004)  # commit in a shuffled order
                with lock:
                    written.append(event.pk)
        finally:
            connections.close_all()

    def reader():
        try:
            while True:
                finished = done.is_set()  # read before: a last pass after the writers
                if events_consume(name="t", handle=_keep(seen)) == 0 and finished:
                    return
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    consumer = threading.Thread(target=reader)
    consumer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    consumer.join(30)
    connection.close()

    assert sorted(seen) == sorted(written)
    assert len(seen) == len(set(seen)) == 160


def _keep(seen: list):
    return lambda events: seen.extend(e.pk for e in events)


@postgresql_only("transaction ids and snapshots are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_reader_started_inside_a_writing_transaction_reads_what_it_records_next():
    organization = OrganizationFactory()
    with transaction.atomic():
        _record(organization.pk, 1)  # this transaction now has its id

        def later_writer():
            try:
                with transaction.atomic():
                    _record(organization.pk, 2)  # begins and ends after ours began
            finally:
                connections.close_all()

        writer = threading.Thread(target=later_writer)
        writer.start()
        writer.join()
        start = position_now()
        mine = _record(organization.pk, 3)
        read = [e.pk for e in events_read(after=start).events]

    assert mine.pk in read

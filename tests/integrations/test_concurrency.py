"""Two workers at once: real transactions, threads, and a mail server that takes its
time, so that both are sending while the other holds a row."""

import threading
import time

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection

from integrations.models import ReplyNotification
from integrations.notifications import (
    reply_events_consume,
    reply_notifications_run,
    reply_notifications_send_due,
)
from tests.integrations.conftest import write
from tests.markers import postgresql_only

pytestmark = [
    pytest.mark.django_db(transaction=True),
    postgresql_only("row locks taken by two connections at once"),
]


class SlowBackend(EmailBackend):
    """Locmem, but each email takes a while to go out."""

    def send_messages(self, messages):
        time.sleep(0.3)
        return super().send_messages(messages)


@pytest.fixture
def slow_mail(settings):
    settings.EMAIL_BACKEND = "tests.integrations.test_concurrency.SlowBackend"


def _both_at_once(target) -> None:
    barrier, errors = threading.Barrier(2), []

    def run():
        try:
            barrier.wait()
            target()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors


def _customers_write(channel, count: int) -> None:
    for n in range(count):
        write(channel, f"Question {n}", phone=f"+1650555{n:04d}", name=f"Customer {n}")


def test_two_senders_at_once_send_each_email_once(team, reader, slow_mail):
    _customers_write(team["channel"], 4)
    reply_events_consume()

    _both_at_once(reply_notifications_send_due)

    assert sorted(e.subject for e in mail.outbox) == [
        f"[Switchboard] Customer {n} wrote on Front desk · WhatsApp" for n in range(4)
    ]
    assert list(ReplyNotification.objects.values_list("sent_count", flat=True)) == [1] * 4


def test_two_ticks_at_once_read_each_message_once_and_mail_it_once(team, reader, slow_mail):
    _customers_write(team["channel"], 4)

    _both_at_once(reply_notifications_run)
    reply_notifications_run()  # whatever one left for the next tick

    assert len(mail.outbox) == 4
    assert sorted(ReplyNotification.objects.values_list("sent_count", flat=True)) == [1] * 4

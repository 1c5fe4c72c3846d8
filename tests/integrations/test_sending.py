"""Deliveries through a real HTTP receiver: order per conversation under retries, a
dead receiver, signatures as a receiver verifies them, the 5-day disable."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from integrations.fanout import deliveries_fan_out
from integrations.models import Delivery, DeliveryStatus
from integrations.sending import deliveries_send_round
from integrations.subscriptions import subscription_rotate_secret, subscription_send_test
from tests.factories import OrganizationFactory
from tests.integrations.conftest import SUBS_T0 as T0
from tests.integrations.conftest import record, subscribe

pytestmark = pytest.mark.django_db

RETRIES = [5, 300, 1800, 7200, 18000, 36000, 36000]


def _run_until(now, *, rounds: int = 20) -> None:
    """Send everything due at `now` (a clock the test moves, not the wall's)."""
    with time_machine.travel(now, tick=False):
        deliveries_fan_out()
        for _ in range(rounds):
            if not deliveries_send_round(now=now):
                return


def test_events_of_a_conversation_arrive_in_order_while_others_pass(receiver):
    organization = OrganizationFactory()
    subscription = subscribe(organization, receiver.url)
    for assignee in (1, 2, 3):
        record(organization, conversation_id=10, assignee=assignee)
    other = record(organization, conversation_id=20, assignee=9)
    unrelated = record(organization, conversation_id=None, assignee=8)
    failing = {"first": True}

    def answer(request):
        if request.event["body"]["assignee_id"] == 1 and failing["first"]:
            return 503, {}, b"busy"
        return 200, {}, b"ok"

    receiver.answer = answer
    _run_until(T0)
    # The first of conversation 10 failed: 2 and 3 wait; 20 and the unrelated one passed.
    got = [(e["conversation_id"], e["body"]["assignee_id"]) for e in receiver.events()]
    assert got.count((10, 1)) == 1
    assert (10, 2) not in got
    assert (10, 3) not in got
    assert (20, 9) in got
    assert (None, 8) in got
    waiting = Delivery.objects.get(subscription=subscription, event_id=other.pk - 2)
    assert waiting.status == DeliveryStatus.PENDING
    assert waiting.attempts == 0

    _run_until(T0 + timedelta(seconds=4))  # before the 5 s retry: still waiting
    assert len(receiver.received) == 3
    failing["first"] = False
    _run_until(T0 + timedelta(seconds=6))
    conversation_10 = [
        e["body"]["assignee_id"] for e in receiver.events() if e["conversation_id"] == 10
    ]
    assert conversation_10 == [1, 1, 2, 3]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert unrelated.pk in {e["id"] for e in receiver.events()}


def test_a_dead_receiver_gets_the_whole_schedule_then_one_alert(receiver, settings):
    organization = OrganizationFactory(alert_emails="ops@example.com")
    subscribe(organization, receiver.url)
    receiver.answer = lambda request: (500, {}, b"down")
    record(organization, conversation_id=1)
    record(organization, conversation_id=2)
    now = T0
    _run_until(now)
    for wait in RETRIES:
        now += timedelta(seconds=wait)
        _run_until(now)
    assert len(receiver.received) == 2 * (1 + len(RETRIES))
    deliveries = list(Delivery.objects.all())
    assert {d.status for d in deliveries} == {DeliveryStatus.DEAD}
    assert {d.attempts for d in deliveries} == {8}
    assert len(mail.outbox) == 1
    assert "dead" in mail.outbox[0].subject
    _run_until(now + timedelta(days=1))
    assert len(receiver.received) == 16
    assert len(mail.outbox) == 1


def test_a_receiver_verifies_with_standardwebhooks_also_during_a_rotation(receiver):
    organization = OrganizationFactory()
    subscription = subscribe(organization, receiver.url)
    old_secret = subscription.secret
    assert old_secret.startswith("whsec_")
    record(organization, conversation_id=1)
    _run_until(T0)
    (first,) = receiver.received
    with time_machine.travel(T0, tick=False):  # the receiver's clock when it arrived
        assert Webhook(old_secret).verify(first.body, first.headers)["type"] == (
            "conversation.assigned"
        )
    assert first.headers["webhook-id"] == f"msg_{first.event['id']}_{subscription.pk}"

    new_secret = subscription_rotate_secret(subscription=subscription, now=T0)
    record(organization, conversation_id=1, assignee=2)
    _run_until(T0 + timedelta(hours=1))
    second = receiver.received[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        Webhook(old_secret).verify(second.body, second.headers)
        Webhook(new_secret).verify(second.body, second.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 32).verify(second.body, second.headers)

    record(organization, conversation_id=1, assignee=3)
    _run_until(T0 + timedelta(hours=25))  # the old one has expired
    third = receiver.received[2]
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        Webhook(new_secret).verify(third.body, third.headers)
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(old_secret).verify(third.body, third.headers)


def test_a_tampered_body_does_not_verify(receiver):
    organization = OrganizationFactory()
    subscription = subscribe(organization, receiver.url)
    with time_machine.travel(T0, tick=False):
        subscription_send_test(subscription=subscription)
    _run_until(T0)
    (request,) = receiver.received
    webhook = Webhook(subscription.secret)
    with time_machine.travel(T0, tick=False):
        assert webhook.verify(request.body, request.headers)["type"] == "test.ping"
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            webhook.verify(request.body.replace(b"test", b"tost"), request.headers)
    # Minutes later the same request is refused as a replay attack would be.
    later = time_machine.travel(T0 + timedelta(minutes=6), tick=False)
    with later, pytest.raises(WebhookVerificationError, match="too old"):
        webhook.verify(request.body, request.headers)


def test_a_subscription_failing_everything_for_5_days_is_disabled_with_an_email(receiver):
    organization = OrganizationFactory(alert_emails="ops@example.com")
    subscription = subscribe(organization, receiver.url)
    receiver.answer = lambda request: (500, {}, b"down")
    now = T0
    for day in range(6):
        record(organization, conversation_id=None, assignee=day)
        _run_until(now + timedelta(days=day))
        subscription.refresh_from_db()
        assert subscription.enabled == (day < 5), day
    assert "disabled" in subscription.disabled_reason.lower() or subscription.disabled_reason
    assert [m.subject for m in mail.outbox if "disabled" in m.subject]
    # Disabled: nothing more is sent, not even what is due.
    count = len(receiver.received)
    record(organization, conversation_id=None, assignee=99)
    _run_until(now + timedelta(days=7))
    assert len(receiver.received) == count


def test_one_success_ends_a_failing_spell(receiver):
    organization = OrganizationFactory()
    subscription = subscribe(organization, receiver.url)
    receiver.answer = lambda request: (500, {}, b"down")
    record(organization, conversation_id=None)
    _run_until(T0)
    subscription.refresh_from_db()
    assert subscription.failing_since == T0
    receiver.answer = lambda request: (204, {}, b"")
    _run_until(T0 + timedelta(seconds=5))
    subscription.refresh_from_db()
    assert subscription.failing_since is None

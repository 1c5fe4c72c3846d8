"""Schedulers running at once, and a reply racing a step: real transactions, threads."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from campaigns import services, steps
from campaigns.models import Enrollment, EnrollmentState, EnrollmentStep, StepKind
from campaigns.scheduler import scheduler_tick
from conversations.models import Direction, Message
from tests.campaigns.conftest import enroll, make_campaign
from tests.campaigns.test_scheduler import reply

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target, *args):
    errors = []

    def run():
        try:
            target(*args)
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_schedulers_at_once_send_each_step_once(sms, openphone, clock):
    campaign = make_campaign(sms, [{"kind": StepKind.TEXT, "text": "Hi {{first_name}}"}])
    enroll(campaign, *({"first_name": f"Lead {n}"} for n in range(30)))
    services.campaign_start(campaign=campaign)
    barrier = threading.Barrier(2)

    def scheduler():
        barrier.wait()
        scheduler_tick(batch_size=4)

    runs = [_in_thread(scheduler), _in_thread(scheduler)]
    for thread, errors in runs:
        thread.join(60)
        assert not errors

    assert openphone.calls.call_count == 30
    assert Message.objects.filter(direction=Direction.OUTBOUND).count() == 30
    assert EnrollmentStep.objects.filter(execution=True).count() == 30
    assert set(Enrollment.objects.values_list("state", flat=True)) == {EnrollmentState.COMPLETED}


def test_a_reply_racing_a_step_lets_at_most_that_step_go(sms, openphone, clock, monkeypatch):
    campaign = make_campaign(
        sms,
        [
            {"kind": StepKind.TEXT, "text": "One"},
            {"kind": StepKind.TEXT, "text": "Two", "delay_amount": 1},
            {"kind": StepKind.TEXT, "text": "Three", "delay_amount": 1},
        ],
    )
    (lead,) = enroll(campaign, {"first_name": "Ada"})
    services.campaign_start(campaign=campaign)
    scheduler_tick()
    clock.move_to(datetime(2026, 3, 5, 10, 1, tzinfo=UTC))
    real_send, racing = steps.items_send, []

    def send_while_the_lead_writes(items):
        # The lead's reply is being filed this very moment, by a webhook worker.
        racing.append(_in_thread(reply, sms, lead, datetime(2026, 3, 5, 10, 0, 30, tzinfo=UTC)))
        time.sleep(0.3)
        racing.append(racing[0][0].is_alive())  # waiting for the conversation's lock
        return real_send(items)

    monkeypatch.setattr(steps, "items_send", send_while_the_lead_writes)
    scheduler_tick()
    (thread, errors), blocked = racing
    thread.join(30)
    assert not errors
    monkeypatch.undo()

    clock.move_to(datetime(2026, 3, 6, 10, 1, tzinfo=UTC))
    scheduler_tick()

    assert blocked
    texts = list(
        Message.objects.filter(direction=Direction.OUTBOUND)
        .order_by("pk")
        .values_list("text", flat=True)
    )
    assert texts == ["One", "Two"]
    lead.refresh_from_db()
    assert lead.state == EnrollmentState.REPLIED
